/**
 * `lib/test_kho.c` of current mainline. Save path (`kho_test_save`): random folios of orders
 * 0..MAX_PAGE_ORDER up to `max_mem`, filled with random bytes (`get_random_bytes()`) and folded
 * into a `csum_partial()` checksum; the test FDT (`kho-test-v1`) in a preserved folio; every
 * folio's `phys | order` in a vmalloc array preserved with `kho_preserve_vmalloc`; the FDT
 * registered as sub-tree `kho_test`. Restore path (a successor that finds `kho_test`):
 * validate the FDT, restore the array and every folio (order checked), checksum, and log
 * `KHO restore succeeded` or `KHO restore failed`. A successful restore ends there (the kernel
 * does not save again), so a chain of kexecs alternates save and restore.
 *
 * Model details: the random bytes are a described seeded stream (src/hw/content.ts), so
 * preserving 64 GiB costs no host memory and the checksum of a folio is computed from the
 * description; the folio loops stop on a pending interrupt (Ctrl-C) and unwind through the
 * kernel's own error paths with -EINTR (docs/quirks.md: the kernel's loops do not check for
 * signals); a `max_mem` whose bookkeeping would not fit in host memory is refused up front.
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
import { GFP_KERNEL, __GFP_NORETRY, __GFP_NOWARN, __GFP_ZERO } from '../../mm/gfp.ts';
import { ERRNO } from '../../util/errno.ts';
import { checkHostMemory } from '../../util/host-memory.ts';
import type { LongWork } from '../../util/long-work.ts';
import type { Kernel } from '../kernel.ts';
import { INITCALL, type KernelModule } from '../module.ts';
import { kstrtol } from '../params-kstrtox.ts';
import { readFdtAt } from './mem-blob.ts';

const PAGE_SIZE = 4096;
/** `NR_PAGE_ORDERS`: orders 0..MAX_PAGE_ORDER. */
const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
/** Default `max_mem`: `(PAGE_SIZE << MAX_PAGE_ORDER) * 2` = 8 MiB. */
export const TEST_KHO_DEFAULT_MAX_MEM = (PAGE_SIZE << MAX_PAGE_ORDER) * 2;
/** kmalloc's largest size (`KMALLOC_MAX_SIZE`): `kvmalloc` goes to vmalloc above it. */
const KMALLOC_MAX_SIZE = PAGE_SIZE << MAX_PAGE_ORDER;
/** Host bytes the model spends per data folio (arrays, tracker bits, restore bookkeeping). */
const HOST_BYTES_PER_FOLIO = 96;
/** Folios per interrupt/progress poll (a poll every few milliseconds at most). */
const POLL_EVERY = 256;

/** A `kvmalloc` allocation (`kmalloc` pages, or vmalloc above KMALLOC_MAX_SIZE). */
type KvAlloc = { pfn: number; order: number } | { va: number };

/** What the save path preserved (the module's `kho_test_state`, kept for module exit). */
export interface TestKhoSaved {
  /** Data folios in allocation order: head pfns and orders. */
  pfns: number[];
  orders: number[];
  bytes: number;
  /** `csum_partial()` of every folio, chained in order. */
  csum: number;
  /** Seed of the random stream the folios were filled from (offset 0 at physical address 0). */
  seed: number;
  /** The test FDT folio, its order and the blob size. */
  fdtPhys: number;
  fdtOrder: number;
  fdtSize: number;
  /** vmalloc address of `folios_info` and the page holding its `struct kho_vmalloc`. */
  infoVa: number;
  descPhys: number;
  /** The `folios` array (`kvmalloc_array(max_nr)`). */
  array: KvAlloc | null;
}

/** What the restore path found. */
export interface TestKhoRestore {
  ok: boolean;
  /** 0 or the -errno `kho_test_restore` returned. */
  rc: number;
  /** Folios restored and checksummed (the loop stops at the first bad one). */
  folios: number;
  bytes: number;
  expectedCsum: number;
  csum: number;
  /** Why it failed, for reports and tests (the kernel logs only `KHO restore failed`). */
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

/** `get_order(size)`. */
function getOrder(size: number): number {
  let o = 0;
  while (PAGE_SIZE * 2 ** o < size && o < 52) o++;
  return o;
}

/** `kvmalloc_array(n, size, GFP_KERNEL)`: kmalloc pages up to KMALLOC_MAX_SIZE, else vmalloc. */
function kvmalloc(k: Kernel, bytes: number): KvAlloc | null {
  const size = Math.max(bytes, 1);
  if (size <= KMALLOC_MAX_SIZE) {
    const order = getOrder(size);
    // kvmalloc_node_noprof() (mm/slub.c): above a page the kmalloc attempt is quiet, as vmalloc follows.
    const pfn = k.buddy.alloc(order, GFP_KERNEL | __GFP_NORETRY | (size > PAGE_SIZE ? __GFP_NOWARN : 0));
    if (pfn !== null) return { pfn, order };
  }
  const va = k.vmalloc.vmalloc(size);
  return va === null ? null : { va };
}

function kvfree(k: Kernel, a: KvAlloc | null): void {
  if (a === null) return;
  if ('va' in a) k.vmalloc.vfree(a.va);
  else k.buddy.freePages(a.pfn, a.order);
}

/**
 * The model's interrupt check inside test_kho's loops (KernelOptions.interruptibleTestKho): a
 * built-in test_kho runs at boot, where no process can be interrupted.
 */
function interrupted(k: Kernel, w: LongWork, done: number): boolean {
  return w.step(done) && k.machine.buildOptions.interruptibleTestKho && k.machine.signalPending();
}

/** `kho_test_generate_data`: 0, -ENOMEM (all folios put back) or -EINTR (the same unwinding). */
function generateData(k: Kernel, s: TestKhoSaved, maxMem: number): number {
  const rng = k.machine.rng(`test_kho/${k.generation}`);
  const mem = k.machine.mem;
  s.seed = Math.floor(rng() * 0x1_0000_0000) >>> 0;
  let csum = 0;
  let alloc = 0;
  let rc = 0;
  const w = k.machine.work.start('test_kho: generating data', maxMem, 'bytes');
  while (alloc < maxMem) {
    let order = Math.floor(rng() * 0x1_0000_0000) % NR_PAGE_ORDERS;
    // get_order() rounds up: stay below max_mem.
    if (alloc + PAGE_SIZE * 2 ** order > maxMem) {
      order = getOrder(maxMem - alloc);
      if (order !== 0) order--;
    }
    const size = PAGE_SIZE * 2 ** order;
    const pfn = k.buddy.allocFolio(order, GFP_KERNEL | __GFP_NORETRY);
    if (pfn === null) {
      rc = -ERRNO.ENOMEM;
      break;
    }
    s.pfns.push(pfn);
    s.orders.push(order);
    // get_random_bytes(): one stream for the whole save, indexed by physical address.
    mem.fillRandom(pfn * PAGE_SIZE, size, s.seed, 0);
    csum = mem.csumPartial(pfn * PAGE_SIZE, size, csum);
    alloc += size;
    if (s.pfns.length % POLL_EVERY === 0 && interrupted(k, w, alloc)) {
      rc = -ERRNO.EINTR;
      break;
    }
  }
  w.end(alloc);
  if (rc !== 0) {
    // err_free_folios: folio_put every folio; nr_folios = 0.
    for (const pfn of s.pfns) k.buddy.putPage(pfn);
    s.pfns.length = 0;
    s.orders.length = 0;
    return rc;
  }
  s.bytes = alloc;
  s.csum = csum;
  return 0;
}

/** `kho_test_unpreserve_data`: unpreserve the first `n` folios and the array; vfree it. */
function unpreserveData(k: Kernel, s: TestKhoSaved, n: number): void {
  for (let i = 0; i < n; i++) k.kho.unpreserveFolio(s.pfns[i]!, s.orders[i]!);
  k.kho.unpreserveVmalloc(s.descPhys);
  k.vmalloc.vfree(s.infoVa);
  freeDesc(k, s);
  s.infoVa = 0;
}

/** The model's page for `struct kho_vmalloc` goes with the array. */
function freeDesc(k: Kernel, s: TestKhoSaved): void {
  if (s.descPhys !== 0) k.buddy.freePages(s.descPhys / PAGE_SIZE, 0);
  s.descPhys = 0;
}

/** `kho_test_preserve_data`: the `folios_info` array, preserved, and every folio. */
function preserveData(k: Kernel, s: TestKhoSaved): number {
  const nr = s.pfns.length;
  const va = k.vmalloc.vmalloc(nr * KHO_TEST_FOLIO_INFO_SIZE);
  if (va === null) return -ERRNO.ENOMEM;
  // The model keeps `struct kho_vmalloc` in a page of its own (the kernel in kho_test_state).
  const descPfn = k.buddy.alloc(0, GFP_KERNEL | __GFP_ZERO);
  if (descPfn === null) {
    k.vmalloc.vfree(va);
    return -ERRNO.ENOMEM;
  }
  s.descPhys = descPfn * PAGE_SIZE;
  let rc = k.kho.preserveVmalloc(va, s.descPhys);
  if (rc !== 0) {
    k.vmalloc.vfree(va);
    freeDesc(k, s);
    return rc;
  }
  s.infoVa = va;
  const info = new Uint8Array(nr * KHO_TEST_FOLIO_INFO_SIZE);
  const dv = new DataView(info.buffer);
  const w = k.machine.work.start('test_kho: preserving folios', nr);
  let done = 0;
  for (let i = 0; i < nr; i++) {
    const v = encodeFolioInfo(s.pfns[i]! * PAGE_SIZE, s.orders[i]!);
    dv.setUint32(i * 8, v % 0x1_0000_0000, true);
    dv.setUint32(i * 8 + 4, Math.floor(v / 0x1_0000_0000), true);
    rc = k.kho.preserveFolio(s.pfns[i]!, s.orders[i]!);
    if (rc === 0) done++;
    if (rc === 0 && done % POLL_EVERY === 0 && interrupted(k, w, done)) rc = -ERRNO.EINTR;
    if (rc !== 0) break;
  }
  w.end(done);
  k.vmalloc.write(va, info);
  if (rc !== 0) {
    // err_unpreserve: kho_test_unpreserve_data frees folios_info.
    unpreserveData(k, s, done);
    return rc;
  }
  return 0;
}

/** `kho_test_preserve`: FDT folio, data, FDT contents, sub-tree; unwinds on failure. */
function preserve(k: Kernel, s: TestKhoSaved): number {
  const nr = s.pfns.length;
  const fdtSize = nr * KHO_TEST_FOLIO_INFO_SIZE + PAGE_SIZE;
  s.fdtOrder = getOrder(fdtSize);
  const fdtPfn = k.buddy.allocFolio(s.fdtOrder, GFP_KERNEL);
  if (fdtPfn === null) return -ERRNO.ENOMEM;
  s.fdtPhys = fdtPfn * PAGE_SIZE;
  const putFdt = (rc: number): number => {
    k.buddy.putPage(fdtPfn);
    s.fdtPhys = 0;
    return rc;
  };
  let rc = k.kho.preserveFolio(fdtPfn, s.fdtOrder);
  if (rc !== 0) return putFdt(rc);
  rc = preserveData(k, s);
  if (rc === 0) {
    const mem = k.machine.mem;
    const desc = decodeKhoVmalloc(mem.read(s.descPhys, KHO_VMALLOC_DESC_SIZE));
    if (!desc.ok) rc = -ERRNO.EINVAL;
    else {
      // kho_test_prepare_fdt: fdt_create() … fdt_finish() in the folio.
      const blob = buildBlob(buildTestKhoTree({ nrFolios: nr, foliosInfo: desc.value, csum: s.csum }));
      mem.write(s.fdtPhys, blob);
      s.fdtSize = blob.length;
      rc = k.kho.addSubtree(KHO_TEST_FDT, s.fdtPhys, blob.length);
    }
    if (rc !== 0) unpreserveData(k, s, nr); // err_unpreserve_data
  }
  if (rc !== 0) {
    k.kho.unpreserveFolio(fdtPfn, s.fdtOrder); // err_unpreserve_fdt
    return putFdt(rc); // err_free_fdt
  }
  return 0;
}

/**
 * The save path (`kho_test_save`): 0 or -errno. On failure after the data was generated the
 * kernel frees only the `folios` array: the data folios stay allocated (leaked), as in
 * lib/test_kho.c.
 */
export function testKhoSave(k: Kernel, maxMemParam: number): { rc: number; saved: TestKhoSaved | null } {
  const maxMem = Math.ceil(maxMemParam / PAGE_SIZE) * PAGE_SIZE; // PAGE_ALIGN
  const maxNr = maxMem / PAGE_SIZE;
  const s: TestKhoSaved = {
    pfns: [],
    orders: [],
    bytes: 0,
    csum: 0,
    seed: 0,
    fdtPhys: 0,
    fdtOrder: 0,
    fdtSize: 0,
    infoVa: 0,
    descPhys: 0,
    array: null,
  };
  // A negative max_mem makes max_nr huge as an unsigned count: kvmalloc_array() fails.
  if (maxNr < 0) return { rc: -ERRNO.ENOMEM, saved: null };
  // The model's own limit: the folios it would track must fit in host memory. Folios can only
  // come from free memory, so that bounds their number too.
  const avgFolio = (PAGE_SIZE * (2 ** NR_PAGE_ORDERS - 1)) / NR_PAGE_ORDERS;
  const freeBytes = k.buddy.meminfo().MemFree * 1024;
  const folios = Math.ceil(Math.min(maxMem, freeBytes) / avgFolio) + NR_PAGE_ORDERS;
  checkHostMemory(`test_kho max_mem=${maxMemParam}`, folios * HOST_BYTES_PER_FOLIO, true);
  s.array = kvmalloc(k, maxNr * 8);
  if (s.array === null) return { rc: -ERRNO.ENOMEM, saved: null };
  let rc = generateData(k, s, maxMem);
  if (rc === 0) rc = preserve(k, s);
  if (rc !== 0) {
    kvfree(k, s.array); // err_free_folios: kvfree(folios) only
    return { rc, saved: null };
  }
  return { rc: 0, saved: s };
}

/** The restore path (`kho_test_restore`) for the sub-tree at `phys`. */
export function testKhoRestore(k: Kernel, phys: number): TestKhoRestore {
  const r: TestKhoRestore = { ok: false, rc: 0, folios: 0, bytes: 0, expectedCsum: 0, csum: 0, error: null };
  const mem = k.machine.mem;
  const failed = (why: string): TestKhoRestore => {
    r.error = why;
    r.rc = -ERRNO.EINVAL;
    return r;
  };
  // fdt_path_offset(fdt, "/") probes the header: the size comes from the blob itself.
  const tree = readFdtAt(mem, phys, 64 << 20);
  if (typeof tree === 'number') return failed('kho_test FDT is not a valid FDT');
  const st = decodeTestKhoTree(tree);
  if (!st.ok) return failed(`kho_test FDT: ${st.error.message}`);
  r.expectedCsum = st.value.csum;

  // kho_restore_vmalloc reads the descriptor from memory: the model copies the property into
  // a scratch page (the kernel passes the property's address inside the FDT).
  const tmp = k.buddy.alloc(0, GFP_KERNEL | __GFP_ZERO);
  if (tmp === null) return failed('no memory for the descriptor');
  mem.write(tmp * PAGE_SIZE, encodeKhoVmalloc(st.value.foliosInfo));
  const va = k.kho.restoreVmalloc(tmp * PAGE_SIZE);
  k.buddy.freePages(tmp, 0);
  if (va === null) return failed('kho_restore_vmalloc failed');
  const nr = st.value.nrFolios;
  const capacity = Math.floor((st.value.foliosInfo.totalPages * PAGE_SIZE) / KHO_TEST_FOLIO_INFO_SIZE);
  const info = k.vmalloc.read(va, Math.min(nr, capacity) * KHO_TEST_FOLIO_INFO_SIZE);
  const dv = new DataView(info.buffer, info.byteOffset, info.byteLength);
  let csum = 0;
  const w = k.machine.work.start('test_kho: restoring folios', nr);
  for (let i = 0; i < nr; i++) {
    if (i >= capacity) {
      // The kernel would read past the array (into the vmalloc guard page).
      r.error = `nr_folios ${nr} exceeds folios_info (${capacity} entries)`;
      break;
    }
    const v = dv.getUint32(i * 8 + 4, true) * 0x1_0000_0000 + dv.getUint32(i * 8, true);
    const { phys: fphys, order } = decodeFolioInfo(v);
    const pfn = k.kho.restoreFolio(fphys);
    if (pfn === null) {
      r.error = `folio ${i} at 0x${fphys.toString(16)}: kho_restore_folio failed`;
      break;
    }
    const got = k.buddy.meta.order(pfn);
    if (got !== order) {
      // The kernel breaks out here without putting the folio back.
      r.error = `folio ${i} at 0x${fphys.toString(16)}: order ${got}, expected ${order}`;
      break;
    }
    csum = mem.csumPartial(fphys, PAGE_SIZE * 2 ** order, csum);
    r.folios++;
    r.bytes += PAGE_SIZE * 2 ** order;
    k.buddy.putPage(pfn);
    if (i % POLL_EVERY === 0 && interrupted(k, w, i)) {
      r.error = 'interrupted';
      w.end(r.folios);
      k.vmalloc.vfree(va);
      r.rc = -ERRNO.EINTR;
      return r;
    }
  }
  w.end(r.folios);
  k.vmalloc.vfree(va);
  r.csum = csum;
  if (csum !== r.expectedCsum) {
    return failed(r.error ?? `checksum 0x${csum.toString(16)} != 0x${r.expectedCsum.toString(16)}`);
  }
  r.ok = true;
  return r;
}

function init(k: Kernel, params: ReadonlyMap<string, string>): number {
  const raw = params.get('max_mem') ?? String(TEST_KHO_DEFAULT_MAX_MEM);
  // module_param(max_mem, long, 0644): kstrtol(val, 0), no size suffixes.
  const parsed = kstrtol(raw, 0);
  if (!parsed.ok) {
    k.dmesg.err(`test_kho: \`${raw}' invalid for parameter \`max_mem'`);
    return -ERRNO.EINVAL;
  }
  const status: TestKhoStatus = { path: 'disabled', restore: null, saved: null };
  STATE.set(k, status);
  if (!k.kho.isEnabled()) return 0;

  const got = k.kho.retrieveSubtree(KHO_TEST_FDT);
  if ('size' in got) {
    status.path = 'restore';
    const r = testKhoRestore(k, got.phys);
    status.restore = r;
    if (!r.ok) {
      k.dmesg.err('test_kho: KHO restore failed');
      return r.rc;
    }
    k.dmesg.info('test_kho: KHO restore succeeded');
    return 0;
  }
  if (got.errno !== -ERRNO.ENOENT) {
    k.dmesg.warn(`test_kho: failed to retrieve ${KHO_TEST_FDT} FDT: ${got.errno}`);
    return got.errno;
  }
  status.path = 'save';
  const max = Number(parsed.value);
  const s = testKhoSave(k, max);
  status.saved = s.saved;
  return s.rc;
}

function exit(k: Kernel): void {
  const st = STATE.get(k);
  const s = st?.saved ?? null;
  // After a restore (or with KHO off) the kernel's exit would unpreserve a NULL folio and
  // oops (lib/test_kho.c: kho_test_cleanup); the model does nothing (docs/quirks.md).
  if (st === undefined || s === null) return;
  k.kho.removeSubtree(s.fdtPhys);
  // kho_test_cleanup
  unpreserveData(k, s, s.pfns.length);
  for (const pfn of s.pfns) k.buddy.putPage(pfn);
  kvfree(k, s.array);
  k.kho.unpreserveFolio(s.fdtPhys / PAGE_SIZE, s.fdtOrder);
  k.buddy.putPage(s.fdtPhys / PAGE_SIZE);
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
