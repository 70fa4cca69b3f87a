/**
 * The KHO API as a loadable module calls it (include/linux/kexec_handover.h), over the running
 * kernel's `Kho` (src/kho/kho.ts): the kernel's names in TypeScript casing, a `ModuleKernel`
 * handle first, results as the kernel returns them (0 or -errno; null where the kernel returns
 * NULL). Every page operation is recorded in the page history with the calling function.
 */
import { ERRNO } from '../../util/errno.ts';
import { PAGE_SIZE } from '../../hw/physical-memory.ts';
import { callerOf, recordPages, within, type HandleState, type ModuleKernel } from './handle.ts';
import { KHO_PAGE_MAGIC } from '../../abi/kho-page.ts';
import type { PageOp } from './history.ts';
import type { Folio } from './mm-api.ts';

/** `sizeof(struct kho_vmalloc)`: the descriptor `preserveVmalloc` writes (first, total_pages, flags, order). */
export const KHO_VMALLOC_DESC_SIZE = 16;

function isInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isFolio(f: unknown): f is Folio {
  return typeof f === 'object' && f !== null && isInt((f as Folio).pfn) && isInt((f as Folio).order);
}

/** `kho_is_enabled()`: KHO is on in this kernel (`kho=on`). */
export function khoIsEnabled(k: ModuleKernel): boolean {
  return within(k, khoIsEnabled, (s) => s.kernel.kho.isEnabled());
}

/** `is_kho_boot()`: this kernel was started by a kexec that handed over KHO data. */
export function isKhoBoot(k: ModuleKernel): boolean {
  return within(k, isKhoBoot, (s) => s.kernel.kho.isKhoBoot());
}

/** `kho_preserve_folio(folio)`: keep the folio's memory and order for the next kernel. 0 or -errno. */
export function preserveFolio(k: ModuleKernel, folio: Folio): number {
  return within(k, preserveFolio, (s) => {
    if (!isFolio(folio)) return -ERRNO.EINVAL;
    const rc = s.kernel.kho.preserveFolio(folio.pfn, folio.order);
    if (rc === 0) recordPages(s, preserveFolio, 'preserve', folio.pfn, 2 ** folio.order);
    return rc;
  });
}

/** `kho_unpreserve_folio(folio)`: undo {@link preserveFolio} (same folio). */
export function unpreserveFolio(k: ModuleKernel, folio: Folio): void {
  within(k, unpreserveFolio, (s) => {
    if (!isFolio(folio)) return;
    s.kernel.kho.unpreserveFolio(folio.pfn, folio.order);
    recordPages(s, unpreserveFolio, 'unpreserve', folio.pfn, 2 ** folio.order);
  });
}

/** `kho_preserve_pages(page, nr_pages)`: keep `nr` order-0 pages from `pfn`. 0 or -errno. */
export function preservePages(k: ModuleKernel, pfn: number, nr: number): number {
  return within(k, preservePages, (s) => {
    const rc = s.kernel.kho.preservePages(pfn, nr);
    if (rc === 0 && nr > 0) recordPages(s, preservePages, 'preserve', pfn, nr);
    return rc;
  });
}

/** `kho_unpreserve_pages(page, nr_pages)`: undo {@link preservePages} (same range). */
export function unpreservePages(k: ModuleKernel, pfn: number, nr: number): void {
  within(k, unpreservePages, (s) => {
    s.kernel.kho.unpreservePages(pfn, nr);
    if (isInt(pfn) && isInt(nr) && nr > 0) recordPages(s, unpreservePages, 'unpreserve', pfn, nr);
  });
}

/** Record `op` for every run of contiguous pages of the vmalloc area at `va`. */
function recordArea(s: HandleState, site: (...args: never[]) => unknown, op: PageOp, va: number): void {
  const area = s.kernel.vmalloc.findVmArea(va);
  if (area === null) return;
  const p = area.pages;
  let i = 0;
  while (i < p.length) {
    let j = i + 1;
    while (j < p.length && p[j] === p[j - 1]! + 1) j++;
    recordPages(s, site, op, p[i]!, j - i);
    i = j;
  }
}

/**
 * `kho_preserve_vmalloc(ptr, preservation)`: keep the pages of the vmalloc area at `va`; the
 * 16-byte `struct kho_vmalloc` that finds them again is written at physical address `descPhys`
 * (inside memory the module preserves itself). 0 or -errno.
 */
export function preserveVmalloc(k: ModuleKernel, va: number, descPhys: number): number {
  return within(k, preserveVmalloc, (s) => {
    if (!isInt(descPhys)) return -ERRNO.EINVAL;
    const rc = s.kernel.kho.preserveVmalloc(va, descPhys);
    if (rc === 0) recordArea(s, preserveVmalloc, 'preserve', va);
    return rc;
  });
}

/** `kho_unpreserve_vmalloc(preservation)`: undo {@link preserveVmalloc} given its descriptor. */
export function unpreserveVmalloc(k: ModuleKernel, descPhys: number): void {
  within(k, unpreserveVmalloc, (s) => {
    if (!isInt(descPhys)) return;
    s.kernel.kho.unpreserveVmalloc(descPhys);
  });
}

/**
 * `kho_alloc_preserve(size)`: a zeroed, preserved folio of at least `size` bytes. Its physical
 * address, or -errno (the kernel's ERR_PTR).
 */
export function allocPreserve(k: ModuleKernel, size: number): number {
  return within(k, allocPreserve, (s) => {
    const phys = s.kernel.kho.allocPreserve(size);
    if (phys >= 0) {
      const pfn = phys / PAGE_SIZE;
      const nr = 2 ** s.kernel.buddy.meta.order(pfn);
      recordPages(s, allocPreserve, 'alloc', pfn, nr);
      recordPages(s, allocPreserve, 'preserve', pfn, nr);
    }
    return phys;
  });
}

/** `kho_unpreserve_free(mem)`: unpreserve and free memory from {@link allocPreserve}. */
export function unpreserveFree(k: ModuleKernel, phys: number): void {
  within(k, unpreserveFree, (s) => {
    if (!isInt(phys) || phys === 0) return;
    const pfn = Math.floor(phys / PAGE_SIZE);
    const meta = s.kernel.buddy.meta;
    const head = meta.compoundHead(pfn);
    const h = head >= 0 ? head : pfn;
    const nr = 2 ** (head >= 0 ? meta.order(head) : 0);
    s.kernel.kho.unpreserveFree(phys);
    recordPages(s, unpreserveFree, 'unpreserve', h, nr);
    recordPages(s, unpreserveFree, 'free', h, nr);
  });
}

/**
 * `kho_add_subtree(name, blob, size)`: publish a blob of `size` bytes at `phys` under `name` in
 * the hand-over FDT (the blob's pages must be preserved too). 0, -EEXIST or -ENOMEM.
 */
export function addSubtree(k: ModuleKernel, name: string, phys: number, size: number): number {
  return within(k, addSubtree, (s) => {
    const err = s.kernel.kho.addSubtree(name, phys, size);
    s.run.added.push({ name, err, caller: callerOf(addSubtree) });
    return err;
  });
}

/** `kho_remove_subtree(blob)`: withdraw the sub-tree whose blob is at `phys`. */
export function removeSubtree(k: ModuleKernel, phys: number): void {
  within(k, removeSubtree, (s) => {
    const before = [...s.kernel.kho.ctx.subtrees.values()].find((t) => t.phys === phys)?.name;
    s.kernel.kho.removeSubtree(phys);
    if (before !== undefined && !s.kernel.kho.ctx.subtrees.has(before)) s.run.removed.push(before);
  });
}

/** What {@link retrieveSubtree} found: `err` 0 with the blob's address and size, or -errno. */
export interface SubtreeLocation {
  /** 0, -ENOENT (no such sub-tree, or not a KHO boot) or -EINVAL (broken entry). */
  err: number;
  /** Physical address of the blob (0 when not found). */
  phys: number;
  /** Size in bytes (0 on kernels whose ABI records none: kho-v2). */
  size: number;
}

/** `kho_retrieve_subtree(name, &phys, &size)`: find a sub-tree the previous kernel published. */
export function retrieveSubtree(k: ModuleKernel, name: string): SubtreeLocation {
  return within(k, retrieveSubtree, (s) => {
    const r = s.kernel.kho.retrieveSubtree(name);
    const out: SubtreeLocation =
      'size' in r ? { err: 0, phys: r.phys, size: r.size } : { err: r.errno, phys: r.phys ?? 0, size: 0 };
    s.run.retrieved.push({ name, err: out.err, caller: callerOf(retrieveSubtree) });
    return out;
  });
}

function noteRestore(
  s: HandleState,
  site: (...args: never[]) => unknown,
  pfn: number | null,
  phys: number,
  nr: number,
): void {
  if (pfn !== null) recordPages(s, site, 'restore', pfn, nr);
  else if (isInt(phys)) recordPages(s, site, 'restore-failed', Math.floor(phys / PAGE_SIZE), Math.max(nr, 1));
}

/** `kho_restore_folio(phys)`: take back a folio the previous kernel preserved; null when there is none. */
export function restoreFolio(k: ModuleKernel, phys: number): Folio | null {
  return within(k, restoreFolio, (s) => {
    const pfn = s.kernel.kho.restoreFolio(phys);
    const order = pfn === null ? 0 : s.kernel.buddy.meta.order(pfn);
    noteRestore(s, restoreFolio, pfn, phys, 2 ** order);
    return pfn === null ? null : { pfn, order };
  });
}

/** `kho_restore_pages(phys, nr_pages)`: take back preserved pages; the first pfn, or null. */
export function restorePages(k: ModuleKernel, phys: number, nr: number): number | null {
  return within(k, restorePages, (s) => {
    const pfn = s.kernel.kho.restorePages(phys, nr);
    noteRestore(s, restorePages, pfn, phys, nr);
    return pfn;
  });
}

/**
 * `kho_restore_vmalloc(preservation)`: map a preserved vmalloc area again from its descriptor at
 * `descPhys`; the new virtual address, or null.
 */
export function restoreVmalloc(k: ModuleKernel, descPhys: number): number | null {
  return within(k, restoreVmalloc, (s) => {
    const va = s.kernel.kho.restoreVmalloc(descPhys);
    if (va !== null) recordArea(s, restoreVmalloc, 'restore', va);
    else if (isInt(descPhys))
      recordPages(s, restoreVmalloc, 'restore-failed', Math.floor(descPhys / PAGE_SIZE), 1);
    return va;
  });
}

/** `kho_restore_free(mem)`: restore memory from the previous kernel's {@link allocPreserve} and free it. */
export function restoreFree(k: ModuleKernel, phys: number): void {
  within(k, restoreFree, (s) => {
    if (!isInt(phys) || phys === 0) return;
    const pfn = Math.floor(phys / PAGE_SIZE);
    const meta = s.kernel.buddy.meta;
    const ok = s.kernel.buddy.pfnOnline(pfn) && meta.privateHi(pfn) >>> 0 === KHO_PAGE_MAGIC;
    const nr = ok ? 2 ** (meta.privateLo(pfn) >>> 0) : 1;
    s.kernel.kho.restoreFree(phys);
    recordPages(s, restoreFree, ok ? 'restore' : 'restore-failed', pfn, nr);
    if (ok) recordPages(s, restoreFree, 'free', pfn, nr);
  });
}
