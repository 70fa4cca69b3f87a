/**
 * vmalloc preservation (kernel/liveupdate/kexec_handover.c: kho_preserve_vmalloc()): the area's pages are
 * preserved in pieces of 2^order pages and listed in a chain of one-page `kho_vmalloc_chunk`s (511 entries
 * each); the 16-byte `struct kho_vmalloc` descriptor is written at a physical address the caller chooses
 * (usually inside its own serialized data). Layout constants from src/abi/kho-vmalloc.ts.
 */
import { KHO_VMALLOC_ALLOC, KHO_VMALLOC_HUGE_VMAP, KHO_VMALLOC_SIZE } from '../abi/kho-vmalloc.ts';
import { GFP_KERNEL, __GFP_ZERO } from '../mm/gfp.ts';
import { VM_ALLOC, VM_ALLOW_HUGE_VMAP } from '../mm/vmalloc.ts';
import { buddyOf, type KhoContext } from './context.ts';
import { preservePages, unpreservePages } from './preserve.ts';

const PAGE_SIZE = 4096;
const EINVAL = 22;
const ENOMEM = 12;
const EOPNOTSUPP = 95;
/** `KHO_VMALLOC_SUPPORTED_FLAGS`. */
const SUPPORTED = VM_ALLOC | VM_ALLOW_HUGE_VMAP;

/** vm flags → descriptor flags (`vmalloc_flags_to_kho`). */
export function vmallocFlagsToKho(vmFlags: number): number {
  let f = 0;
  if ((vmFlags & VM_ALLOC) !== 0) f |= KHO_VMALLOC_ALLOC;
  if ((vmFlags & VM_ALLOW_HUGE_VMAP) !== 0) f |= KHO_VMALLOC_HUGE_VMAP;
  return f;
}

/** Descriptor flags → vm flags (`kho_flags_to_vmalloc`): unknown bits are dropped. */
export function khoFlagsToVmalloc(flags: number): number {
  let f = 0;
  if ((flags & KHO_VMALLOC_ALLOC) !== 0) f |= VM_ALLOC;
  if ((flags & KHO_VMALLOC_HUGE_VMAP) !== 0) f |= VM_ALLOW_HUGE_VMAP;
  return f;
}

/** `new_vmalloc_chunk(cur)`: a zeroed page, preserved as 1 page, linked after `cur`. 0 on failure. */
function newChunk(ctx: KhoContext, cur: number): number {
  const buddy = buddyOf(ctx);
  const pfn = buddy.alloc(0, GFP_KERNEL | __GFP_ZERO);
  if (pfn === null) return 0;
  if (preservePages(ctx, pfn, 1) !== 0) {
    buddy.freePages(pfn, 0);
    return 0;
  }
  const phys = pfn * PAGE_SIZE;
  if (cur !== 0) ctx.mem.writeU64(cur, phys);
  return phys;
}

/**
 * `kho_preserve_vmalloc(ptr, out)`: 0, -EINVAL (not a vmalloc area), -EOPNOTSUPP (other vm
 * flags), -ENOMEM or preserve's error. `first` is written as soon as the first chunk exists;
 * `total_pages`, `flags`, `order` only on success, so the unwind after an error reads the order
 * the caller left in the descriptor (QUIRK).
 */
export function preserveVmalloc(ctx: KhoContext, va: number, descPhys: number): number {
  const vm = ctx.vmalloc;
  const area = vm === null ? null : vm.findVmArea(va);
  if (area === null) return -EINVAL;
  if ((area.flags & ~SUPPORTED) !== 0) return -EOPNOTSUPP;
  const flags = vmallocFlagsToKho(area.flags);
  const order = area.pageOrder;
  let chunk = newChunk(ctx, 0);
  if (chunk === 0) return -ENOMEM;
  ctx.mem.writeU64(descPhys, chunk);
  const per = 2 ** order;
  const nr = area.pages.length;
  let idx = 0;
  let err = 0;
  for (let i = 0; i < nr; i += per) {
    const pfn = area.pages[i]!;
    err = preservePages(ctx, pfn, per);
    if (err !== 0) break;
    ctx.mem.writeU64(chunk + 8 + idx * 8, pfn * PAGE_SIZE);
    idx++;
    if (idx === KHO_VMALLOC_SIZE) {
      // A full chunk always gets a successor, even when no entry follows.
      chunk = newChunk(ctx, chunk);
      if (chunk === 0) {
        err = -ENOMEM;
        break;
      }
      idx = 0;
    }
  }
  if (err !== 0) {
    unpreserveVmalloc(ctx, descPhys);
    return err;
  }
  ctx.mem.writeU32(descPhys + 8, nr);
  ctx.mem.writeU16(descPhys + 12, flags);
  ctx.mem.writeU16(descPhys + 14, order);
  return 0;
}

/**
 * `kho_unpreserve_vmalloc(p)`: for each chunk, unpreserve it and its non-zero entries
 * (2^order pages each, order read from the descriptor), then free the chunk page.
 */
export function unpreserveVmalloc(ctx: KhoContext, descPhys: number): void {
  const mem = ctx.mem;
  const order = mem.readU16(descPhys + 14);
  const per = order <= 31 ? 2 ** order : 1;
  const buddy = buddyOf(ctx);
  let chunk = mem.readU64(descPhys);
  const seen = new Set<number>();
  while (chunk !== 0 && !seen.has(chunk)) {
    seen.add(chunk);
    const cpfn = Math.floor(chunk / PAGE_SIZE);
    unpreservePages(ctx, cpfn, 1);
    for (let i = 0; i < KHO_VMALLOC_SIZE; i++) {
      const p = mem.readU64(chunk + 8 + i * 8);
      if (p === 0) break;
      unpreservePages(ctx, Math.floor(p / PAGE_SIZE), per);
    }
    const next = mem.readU64(chunk);
    if (buddy.meta.refcount(cpfn) > 0) buddy.freePages(cpfn, 0);
    chunk = next;
  }
}
