/**
 * `lib/test_kho.c` (spec §10.1). Save path: random folios of orders 0..MAX_PAGE_ORDER up to
 * `max_mem`, filled with random bytes and folded into a checksum; `folios_info` (one u64
 * `phys | order` per folio) in a vmalloc area preserved with `kho_preserve_vmalloc`; the test
 * FDT (`kho-test-v1`) in a preserved folio, registered as sub-tree `kho_test`. Restore path (a
 * successor that finds `kho_test`): validate the FDT, restore the vmalloc array and every folio
 * (order checked), checksum, `test_kho: KHO restore succeeded` / `failed`.
 *
 * Recursion (the newer trees' three-boot chain, spec §12): after a successful restore the module
 * saves again with fresh random data from the machine's seeded stream `test_kho/<generation>`,
 * so every generation hands over new folios and every successor tests them (docs/modules.md).
 */
import { decodeKhoVmalloc, encodeKhoVmalloc, KHO_VMALLOC_DESC_SIZE } from '../../abi/kho-vmalloc.ts';
import {
  buildTestKhoTree,
  decodeFolioInfo,
  decodeTestKhoTree,
  encodeFolioInfo,
  KHO_TEST_FDT,
  KHO_TEST_FOLIO_INFO_SIZE,
} from '../../abi/test-kho.ts';
import { buildBlob } from '../../fdt/convert.ts';
import { MAX_PAGE_ORDER } from '../../mm/buddy.ts';
import { GFP_KERNEL, __GFP_NORETRY, __GFP_ZERO } from '../../mm/gfp.ts';
import { ERRNO } from '../../util/errno.ts';
import type { Kernel } from '../kernel.ts';
import { INITCALL, type KernelModule } from '../module.ts';
import { csumPages, CSUM_INIT, fillPages, seed32 } from './folio-data.ts';
import { parseIntParam, readFdtAt } from './mem-blob.ts';

const PAGE_SIZE = 4096;
/** Default `max_mem`: `(PAGE_SIZE << MAX_PAGE_ORDER) * 2` = 8 MiB. */
export const TEST_KHO_DEFAULT_MAX_MEM = (PAGE_SIZE << MAX_PAGE_ORDER) * 2;

/** What the save path preserved (kept by the running kernel for module exit). */
export interface TestKhoSaved {
  folios: { pfn: number; order: number }[];
  bytes: number;
  csum: number;
  /** The test FDT folio and its order. */
  fdtPhys: number;
  fdtOrder: number;
  fdtSize: number;
  /** vmalloc address of `folios_info` and the page holding its `struct kho_vmalloc`. */
  infoVa: number;
  descPhys: number;
}

/** What the restore path found. */
export interface TestKhoRestore {
  ok: boolean;
  folios: number;
  bytes: number;
  expectedCsum: number;
  csum: number;
  /** Why it failed (null on success). */
  error: string | null;
}

/** The module's state in one kernel. */
export interface TestKhoStatus {
  /** `disabled` when KHO is off (init does nothing). */
  path: 'disabled' | 'save' | 'restore';
  restore: TestKhoRestore | null;
  saved: TestKhoSaved | null;
}

const STATE = new WeakMap<Kernel, TestKhoStatus>();

/** test_kho's state in `kernel` (null when the module never ran there). */
export function testKhoStatus(kernel: Kernel): TestKhoStatus | null {
  return STATE.get(kernel) ?? null;
}

function log(k: Kernel, text: string): void {
  k.dmesg.info(`test_kho: ${text}`);
}

/** `get_order(size)`. */
function getOrder(size: number): number {
  let o = 0;
  while (PAGE_SIZE << o < size && o < 40) o++;
  return o;
}

/** Free everything a (partial) save allocated; unpreserve what was preserved. */
function unwind(
  k: Kernel,
  s: TestKhoSaved,
  preserved: { folios: number; info: boolean; fdt: boolean },
): void {
  for (let i = 0; i < s.folios.length; i++) {
    const f = s.folios[i]!;
    if (i < preserved.folios) k.kho.unpreserveFolio(f.pfn, f.order);
    k.buddy.putPage(f.pfn);
  }
  if (preserved.info) k.kho.unpreserveVmalloc(s.descPhys);
  if (s.infoVa !== 0) k.vmalloc.vfree(s.infoVa);
  if (s.descPhys !== 0) k.buddy.freePages(s.descPhys / PAGE_SIZE, 0);
  if (s.fdtPhys !== 0) {
    if (preserved.fdt) k.kho.unpreserveFolio(s.fdtPhys / PAGE_SIZE, s.fdtOrder);
    k.buddy.putPage(s.fdtPhys / PAGE_SIZE);
  }
}

/** The save path (`kho_test_save`): 0 or -errno. */
export function testKhoSave(k: Kernel, maxMem: number): { rc: number; saved: TestKhoSaved | null } {
  const rng = k.machine.rng(`test_kho/${k.generation}`);
  const mem = k.machine.mem;
  const maxNr = Math.floor(maxMem / PAGE_SIZE);
  const s: TestKhoSaved = {
    folios: [],
    bytes: 0,
    csum: CSUM_INIT,
    fdtPhys: 0,
    fdtOrder: 0,
    fdtSize: 0,
    infoVa: 0,
    descPhys: 0,
  };
  const done = { folios: 0, info: false, fdt: false };
  const fail = (rc: number, why: string): { rc: number; saved: null } => {
    k.dmesg.warn(`test_kho: ${why}: ${rc}`);
    unwind(k, s, done);
    return { rc, saved: null };
  };

  // 2. Random folios up to max_mem.
  while (s.bytes < maxMem && s.folios.length < maxNr) {
    let order = Math.floor(rng() * (MAX_PAGE_ORDER + 1));
    const size = PAGE_SIZE << order;
    if (s.bytes + size > maxMem) {
      const o = getOrder(maxMem - s.bytes);
      order = o > 0 ? o - 1 : 0;
    }
    const pfn = k.buddy.allocFolio(order, GFP_KERNEL | __GFP_NORETRY);
    if (pfn === null) return fail(-ERRNO.ENOMEM, 'failed to allocate folio');
    fillPages(mem, pfn, 1 << order, seed32(rng));
    s.csum = csumPages(mem, pfn, 1 << order, s.csum);
    s.folios.push({ pfn, order });
    s.bytes += PAGE_SIZE << order;
  }
  const nr = s.folios.length;

  // 3. The test FDT folio, preserved.
  s.fdtOrder = getOrder(nr * KHO_TEST_FOLIO_INFO_SIZE + PAGE_SIZE);
  const fdtPfn = k.buddy.allocFolio(s.fdtOrder, GFP_KERNEL | __GFP_ZERO);
  if (fdtPfn === null) return fail(-ERRNO.ENOMEM, 'failed to allocate FDT');
  s.fdtPhys = fdtPfn * PAGE_SIZE;
  let rc = k.kho.preserveFolio(fdtPfn, s.fdtOrder);
  if (rc !== 0) return fail(rc, 'failed to preserve FDT');
  done.fdt = true;

  // 4. folios_info in vmalloc, preserved; each folio recorded and preserved.
  const descPfn = k.buddy.alloc(0, GFP_KERNEL | __GFP_ZERO);
  if (descPfn === null) return fail(-ERRNO.ENOMEM, 'failed to allocate state');
  s.descPhys = descPfn * PAGE_SIZE;
  const va = k.vmalloc.vmalloc(Math.max(nr, 1) * KHO_TEST_FOLIO_INFO_SIZE);
  if (va === null) return fail(-ERRNO.ENOMEM, 'failed to allocate folios_info');
  s.infoVa = va;
  const info = new Uint8Array(Math.max(nr, 1) * KHO_TEST_FOLIO_INFO_SIZE);
  const dv = new DataView(info.buffer);
  for (let i = 0; i < nr; i++) {
    const f = s.folios[i]!;
    const v = encodeFolioInfo(f.pfn * PAGE_SIZE, f.order);
    dv.setUint32(i * 8, v % 0x1_0000_0000, true);
    dv.setUint32(i * 8 + 4, Math.floor(v / 0x1_0000_0000), true);
  }
  k.vmalloc.write(va, info);
  rc = k.kho.preserveVmalloc(va, s.descPhys);
  if (rc !== 0) return fail(rc, 'failed to preserve folios_info');
  done.info = true;
  for (const f of s.folios) {
    rc = k.kho.preserveFolio(f.pfn, f.order);
    if (rc !== 0) return fail(rc, 'failed to preserve folio');
    done.folios++;
  }

  // 5.–6. The FDT, added as sub-tree kho_test.
  const desc = decodeKhoVmalloc(mem.read(s.descPhys, KHO_VMALLOC_DESC_SIZE));
  if (!desc.ok) return fail(-ERRNO.EINVAL, 'bad kho_vmalloc descriptor');
  const blob = buildBlob(buildTestKhoTree({ nrFolios: nr, foliosInfo: desc.value, csum: s.csum }));
  mem.write(s.fdtPhys, blob);
  s.fdtSize = blob.length;
  rc = k.kho.addSubtree(KHO_TEST_FDT, s.fdtPhys, blob.length);
  if (rc !== 0) return fail(rc, 'failed to add sub-tree');
  return { rc: 0, saved: s };
}

/** The restore path (`kho_test_restore`) for the sub-tree at `phys`. */
export function testKhoRestore(k: Kernel, phys: number, size: number): TestKhoRestore {
  const r: TestKhoRestore = { ok: false, folios: 0, bytes: 0, expectedCsum: 0, csum: CSUM_INIT, error: null };
  const mem = k.machine.mem;
  const failed = (why: string): TestKhoRestore => {
    r.error = why;
    r.csum >>>= 0;
    return r;
  };
  const tree = readFdtAt(mem, phys, Math.max(size, PAGE_SIZE << MAX_PAGE_ORDER));
  if (typeof tree === 'number') return failed('kho_test FDT is not a valid FDT');
  const st = decodeTestKhoTree(tree);
  if (!st.ok) return failed(`kho_test FDT: ${st.error.message}`);
  r.expectedCsum = st.value.csum;

  // kho_restore_vmalloc reads the descriptor from memory: copy it into a scratch page.
  const tmp = k.buddy.alloc(0, GFP_KERNEL | __GFP_ZERO);
  if (tmp === null) return failed('no memory for the descriptor');
  mem.write(tmp * PAGE_SIZE, encodeKhoVmalloc(st.value.foliosInfo));
  const va = k.kho.restoreVmalloc(tmp * PAGE_SIZE);
  k.buddy.freePages(tmp, 0);
  if (va === null) return failed('kho_restore_vmalloc failed');
  const nr = st.value.nrFolios;
  if (nr * KHO_TEST_FOLIO_INFO_SIZE > st.value.foliosInfo.totalPages * PAGE_SIZE) {
    k.vmalloc.vfree(va);
    return failed(`nr_folios ${nr} exceeds folios_info`);
  }
  const info = k.vmalloc.read(va, nr * KHO_TEST_FOLIO_INFO_SIZE);
  k.vmalloc.vfree(va);
  const dv = new DataView(info.buffer, info.byteOffset, info.byteLength);
  let csum = CSUM_INIT;
  for (let i = 0; i < nr; i++) {
    const v = dv.getUint32(i * 8 + 4, true) * 0x1_0000_0000 + dv.getUint32(i * 8, true);
    const { phys: fphys, order } = decodeFolioInfo(v);
    const pfn = k.kho.restoreFolio(fphys);
    if (pfn === null) return failed(`folio ${i} at 0x${fphys.toString(16)}: kho_restore_folio failed`);
    const got = k.buddy.meta.order(pfn);
    if (got !== order) {
      k.buddy.putPage(pfn);
      return failed(`folio ${i} at 0x${fphys.toString(16)}: order ${got}, expected ${order}`);
    }
    csum = csumPages(mem, pfn, 1 << order, csum);
    r.folios++;
    r.bytes += PAGE_SIZE << order;
    k.buddy.putPage(pfn);
  }
  r.csum = csum >>> 0;
  if (r.csum !== r.expectedCsum)
    return failed(`checksum 0x${r.csum.toString(16)} != 0x${r.expectedCsum.toString(16)}`);
  r.ok = true;
  return r;
}

function init(k: Kernel, params: ReadonlyMap<string, string>): number {
  const raw = params.get('max_mem') ?? String(TEST_KHO_DEFAULT_MAX_MEM);
  const parsed = parseIntParam(raw);
  if (parsed === null || parsed <= 0) {
    k.dmesg.warn(`test_kho: \`${raw}' invalid for parameter \`max_mem'`);
    return -ERRNO.EINVAL;
  }
  const maxMem = Math.ceil(parsed / PAGE_SIZE) * PAGE_SIZE;
  const status: TestKhoStatus = { path: 'disabled', restore: null, saved: null };
  STATE.set(k, status);
  if (!k.kho.isEnabled()) return 0;

  const got = k.kho.retrieveSubtree(KHO_TEST_FDT);
  if ('size' in got) {
    status.path = 'restore';
    const r = testKhoRestore(k, got.phys, got.size);
    status.restore = r;
    if (!r.ok) {
      log(k, r.error ?? 'restore failed');
      log(k, 'KHO restore failed');
      return -ERRNO.EINVAL;
    }
    log(k, `restored ${r.folios} folios (${r.bytes} bytes), checksum 0x${r.csum.toString(16)}`);
    log(k, 'KHO restore succeeded');
  } else if (got.errno !== -ERRNO.ENOENT) {
    k.dmesg.warn(`test_kho: failed to retrieve ${KHO_TEST_FDT} FDT: ${got.errno}`);
    return got.errno;
  } else {
    status.path = 'save';
  }
  // Save (first boot) or save again for the next generation (recursion).
  const s = testKhoSave(k, maxMem);
  if (s.rc !== 0) return s.rc;
  status.saved = s.saved;
  log(
    k,
    `preserved ${s.saved!.folios.length} folios (${s.saved!.bytes} bytes), checksum 0x${s.saved!.csum.toString(16)}`,
  );
  return 0;
}

function exit(k: Kernel): void {
  const st = STATE.get(k);
  const s = st?.saved ?? null;
  if (st === undefined || s === null) return;
  k.kho.removeSubtree(s.fdtPhys);
  unwind(k, s, { folios: s.folios.length, info: true, fdt: true });
  st.saved = null;
}

/** The `test_kho` module. */
export const testKhoModule: KernelModule = {
  name: 'test_kho',
  description: 'KHO test module',
  params: ['max_mem'],
  paramSpecs: [
    {
      name: 'max_mem',
      description: 'Maximal memory to preserve (bytes)',
      default: String(TEST_KHO_DEFAULT_MAX_MEM),
    },
  ],
  initcall: INITCALL.device,
  init,
  exit,
};
