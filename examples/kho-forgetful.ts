/**
 * kho_forgetful: a broken KHO consumer, for `kho check` to catch.
 *
 * It hands over a header (preserved with kho_alloc_preserve) that points to a message page.
 * The message page is allocated and written, but never preserved: after a kexec its content is
 * whatever the old kernel left, which the sanitizer poisons. `kho check` reports the read of
 * the unpreserved page, naming the function that read it (read_message) and the page's history.
 */
import {
  ERRNO,
  GFP_KERNEL,
  PAGE_SIZE,
  addSubtree,
  allocPages,
  allocPreserve,
  defineModule,
  khoIsEnabled,
  physRead,
  physReadU32,
  physReadU64,
  physWrite,
  physWriteU32,
  physWriteU64,
  prInfo,
  prWarn,
  restoreFree,
  retrieveSubtree,
  type ModuleKernel,
} from 'kho';

const SUBTREE = 'kho_forgetful';

function save_message(k: ModuleKernel): number {
  const hdr = allocPreserve(k, 16);
  const pfn = allocPages(k, GFP_KERNEL, 0);
  if (hdr < 0 || pfn === null) return -ERRNO.ENOMEM;
  const text = new TextEncoder().encode(`hello from generation ${k.generation}`);
  physWrite(k, pfn * PAGE_SIZE, text);
  physWriteU64(k, hdr, pfn * PAGE_SIZE);
  physWriteU32(k, hdr + 8, text.length);
  // BUG: the message page is not preserved; preservePages(k, pfn, 1) is missing.
  return addSubtree(k, SUBTREE, hdr, 16);
}

function read_message(k: ModuleKernel, hdr: number): string {
  const phys = physReadU64(k, hdr);
  const len = physReadU32(k, hdr + 8);
  return new TextDecoder().decode(physRead(k, phys, Math.min(len, PAGE_SIZE)));
}

export default defineModule({
  name: 'kho_forgetful',
  description: 'forgets to preserve the page its hand-over points to',
  init(k) {
    if (!khoIsEnabled(k)) return 0;
    const found = retrieveSubtree(k, SUBTREE);
    if (found.err === 0) {
      const msg = read_message(k, found.phys);
      if (msg.startsWith('hello')) prInfo(k, `previous kernel says: ${msg}`);
      else prWarn(k, 'the message from the previous kernel is garbage');
      restoreFree(k, found.phys);
    }
    return save_message(k);
  },
});
