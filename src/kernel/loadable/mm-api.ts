/**
 * Memory as a loadable module uses it: the page allocator (`folio_alloc`, `alloc_pages`,
 * `__free_pages`, `folio_put`), vmalloc (`vmalloc`, `vzalloc`, `vfree`, `vmalloc_to_pfn`) and
 * access to physical and vmalloc memory (the model's stand-in for dereferencing pointers).
 * Allocations and frees are recorded in the page history with the calling function; freeing a
 * page that is not in use is the kernel's "Bad page state" report, not an exception.
 */
import { PAGE_SIZE } from '../../hw/physical-memory.ts';
import { GFP_KERNEL, __GFP_ZERO } from '../../mm/gfp.ts';
import { MmError } from '../../mm/mm-error.ts';
import { recordPages, within, type HandleState, type ModuleKernel } from './handle.ts';

/** A folio: `2^order` contiguous pages from `pfn`, allocated and freed as one. */
export interface Folio {
  /** `folio_pfn()`. */
  readonly pfn: number;
  /** `folio_order()`. */
  readonly order: number;
}

/** `PFN_PHYS(folio_pfn(folio))`: the folio's physical address. */
export function folioPhys(folio: Folio): number {
  return folio.pfn * PAGE_SIZE;
}

/** `folio_size()`: bytes in the folio. */
export function folioSize(folio: Folio): number {
  return PAGE_SIZE * 2 ** folio.order;
}

function badPage(s: HandleState, pfn: number, why: string): void {
  s.kernel.dmesg.log('alert', `BUG: Bad page state in process insmod  pfn:${pfn.toString(16)}`);
  s.kernel.dmesg.log('alert', `${s.run.module}: ${why}`);
}

/** `folio_alloc(gfp, order)`: a folio of `2^order` pages, or null. */
export function folioAlloc(k: ModuleKernel, gfp: number, order: number): Folio | null {
  return within(k, folioAlloc, (s) => {
    const pfn = s.kernel.buddy.allocFolio(order, gfp);
    if (pfn === null) return null;
    recordPages(s, folioAlloc, 'alloc', pfn, 2 ** order);
    return { pfn, order };
  });
}

/** `folio_put(folio)`: drop a reference; the last one frees the folio. */
export function folioPut(k: ModuleKernel, folio: Folio): void {
  within(k, folioPut, (s) => {
    const { buddy } = s.kernel;
    const last = buddy.pfnValid(folio.pfn) && buddy.meta.refcount(folio.pfn) === 1;
    try {
      buddy.putPage(folio.pfn);
    } catch (e) {
      if (!(e instanceof MmError)) throw e;
      badPage(s, folio.pfn, e.message);
      return;
    }
    if (last) recordPages(s, folioPut, 'free', folio.pfn, 2 ** folio.order);
  });
}

/** `alloc_pages(gfp, order)`: `2^order` pages (not a folio); the first pfn, or null. */
export function allocPages(k: ModuleKernel, gfp: number, order: number): number | null {
  return within(k, allocPages, (s) => {
    const pfn = s.kernel.buddy.alloc(order, gfp);
    if (pfn !== null) recordPages(s, allocPages, 'alloc', pfn, 2 ** order);
    return pfn;
  });
}

/** `__free_pages(page, order)`: free pages from {@link allocPages} (or restored pages, one block at a time). */
export function freePages(k: ModuleKernel, pfn: number, order: number): void {
  within(k, freePages, (s) => {
    const { buddy } = s.kernel;
    const last = buddy.pfnValid(pfn) && buddy.meta.refcount(pfn) === 1;
    try {
      buddy.freePages(pfn, order);
    } catch (e) {
      if (!(e instanceof MmError)) throw e;
      badPage(s, pfn, e.message);
      return;
    }
    if (last) recordPages(s, freePages, 'free', pfn, 2 ** order);
  });
}

/** `vmalloc(size)`: virtually contiguous memory; its address, or null. */
export function vmalloc(k: ModuleKernel, size: number): number | null {
  return within(k, vmalloc, (s) => {
    const va = s.kernel.vmalloc.vmalloc(size);
    if (va !== null) recordVmallocPages(s, vmalloc, va, 'vmalloc');
    return va;
  });
}

/** `vzalloc(size)`: {@link vmalloc}, zeroed. */
export function vzalloc(k: ModuleKernel, size: number): number | null {
  return within(k, vzalloc, (s) => {
    const va = s.kernel.vmalloc.vzalloc(size);
    if (va !== null) recordVmallocPages(s, vzalloc, va, 'vmalloc');
    return va;
  });
}

/** `vfree(addr)`: free a vmalloc area (also one mapped by `restoreVmalloc`). */
export function vfree(k: ModuleKernel, va: number): void {
  within(k, vfree, (s) => {
    recordVmallocPages(s, vfree, va, 'vfree');
    s.kernel.vmalloc.vfree(va);
  });
}

function recordVmallocPages(
  s: HandleState,
  site: (...args: never[]) => unknown,
  va: number,
  op: 'vmalloc' | 'vfree',
): void {
  const area = s.kernel.vmalloc.findVmArea(va);
  if (area === null) return;
  const p = area.pages;
  for (let i = 0; i < p.length;) {
    let j = i + 1;
    while (j < p.length && p[j] === p[j - 1]! + 1) j++;
    recordPages(s, site, op, p[i]!, j - i);
    i = j;
  }
}

/** `vmalloc_to_pfn(addr)`: the page frame behind a vmalloc address. */
export function vmallocToPfn(k: ModuleKernel, va: number): number {
  return within(k, vmallocToPfn, (s) => s.kernel.vmalloc.vmallocToPfn(va));
}

/** Read `len` bytes of physical memory at `phys`. */
export function physRead(k: ModuleKernel, phys: number, len: number): Uint8Array {
  return within(k, physRead, (s) => s.kernel.machine.mem.read(phys, len));
}

/** Write `bytes` to physical memory at `phys`. */
export function physWrite(k: ModuleKernel, phys: number, bytes: Uint8Array): void {
  within(k, physWrite, (s) => {
    s.kernel.machine.mem.write(phys, bytes);
  });
}

/** `memcpy` between physical addresses (`len` bytes from `src` to `dst`). */
export function physCopy(k: ModuleKernel, dst: number, src: number, len: number): void {
  within(k, physCopy, (s) => {
    s.kernel.machine.mem.copy(dst, src, len);
  });
}

/** Read a little-endian u32 at `phys`. */
export function physReadU32(k: ModuleKernel, phys: number): number {
  return within(k, physReadU32, (s) => s.kernel.machine.mem.readU32(phys));
}

/** Write a little-endian u32 at `phys`. */
export function physWriteU32(k: ModuleKernel, phys: number, value: number): void {
  within(k, physWriteU32, (s) => {
    s.kernel.machine.mem.writeU32(phys, value);
  });
}

/** Read a little-endian u64 at `phys` (exact below 2^53). */
export function physReadU64(k: ModuleKernel, phys: number): number {
  return within(k, physReadU64, (s) => s.kernel.machine.mem.readU64(phys));
}

/** Write a little-endian u64 at `phys` (a safe integer). */
export function physWriteU64(k: ModuleKernel, phys: number, value: number): void {
  within(k, physWriteU64, (s) => {
    s.kernel.machine.mem.writeU64(phys, value);
  });
}

/** Read `len` bytes at vmalloc address `va`. */
export function vmRead(k: ModuleKernel, va: number, len: number): Uint8Array {
  return within(k, vmRead, (s) => s.kernel.vmalloc.read(va, len));
}

/** Write `bytes` at vmalloc address `va`. */
export function vmWrite(k: ModuleKernel, va: number, bytes: Uint8Array): void {
  within(k, vmWrite, (s) => {
    s.kernel.vmalloc.write(va, bytes);
  });
}

/** Default allocation flags of the examples: `GFP_KERNEL` and `GFP_KERNEL | __GFP_ZERO`. */
export { GFP_KERNEL, __GFP_ZERO };
