/**
 * vmalloc (mm/vmalloc.c): virtually contiguous kernel memory backed by scattered pages.
 *
 * Areas live in the model's vmalloc window (see address-space.ts), are handed out first-fit
 * from the lowest address, and are followed by a one-page guard unless VM_NO_GUARD. Each area
 * keeps its backing pfns and its mapping page order (0, or 9 for huge mappings); reads and
 * writes through a vmalloc address go to those pages in PhysicalMemory.
 */
import { PAGE_OFFSET, VMALLOC_END, VMALLOC_START, formatVa } from './address-space.ts';
import type { Buddy } from './buddy.ts';
import { GFP_KERNEL, __GFP_COMP, __GFP_NOWARN, __GFP_ZERO } from './gfp.ts';
import { MmError, checkU, show } from './mm-error.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import { fitsNumber, hi32, join64, lo32 } from '../util/u64.ts';

/** vm_struct flags (include/linux/vmalloc.h). */
export const VM_IOREMAP = 0x1;
export const VM_ALLOC = 0x2;
export const VM_MAP = 0x4;
export const VM_USERMAP = 0x8;
export const VM_DMA_COHERENT = 0x10;
export const VM_UNINITIALIZED = 0x20;
export const VM_NO_GUARD = 0x40;
export const VM_KASAN = 0x80;
export const VM_FLUSH_RESET_PERMS = 0x100;
export const VM_MAP_PUT_PAGES = 0x200;
export const VM_ALLOW_HUGE_VMAP = 0x400;
export const VM_SPARSE = 0x1000;

const PAGE_SIZE = 4096;
/** PMD_SIZE: the huge vmalloc mapping size on x86-64. */
const PMD_SIZE = 2 << 20;
const PMD_ORDER = 9;

/** One vmalloc area (`struct vm_struct`). */
export interface VmArea {
  /** Model virtual address of the first byte. */
  readonly addr: number;
  /** Size including the guard page (as the kernel's `vm_struct.size`). */
  readonly size: number;
  readonly flags: number;
  /** Backing pfns, one per 4 KiB page (`area->pages`). */
  readonly pages: Float64Array;
  /** Mapping page order (`vm_area_page_order`): 0, or 9 for PMD mappings. */
  readonly pageOrder: number;
  /** Node the pages were requested from (-1: any). */
  readonly nid: number;
}

/** Options of {@link Vmalloc.vmalloc}. */
export interface VmallocOptions {
  /** GFP mask for the backing pages (default GFP_KERNEL). */
  gfp?: number;
  /** Extra vm flags (VM_ALLOW_HUGE_VMAP, VM_USERMAP, VM_NO_GUARD…); VM_ALLOC is always set. */
  vmFlags?: number;
  /** Node to take pages from (-1 any). */
  nid?: number;
  /** Virtual alignment (power of two, default PAGE_SIZE). */
  align?: number;
}

/** `get_vm_area_size`: usable bytes of an area (without the guard page). */
export function vmAreaSize(a: VmArea): number {
  return (a.flags & VM_NO_GUARD) !== 0 ? a.size : a.size - PAGE_SIZE;
}

/** The vmalloc allocator of one kernel. */
export class Vmalloc {
  private readonly buddy: Buddy;
  private readonly mem: PhysicalMemory;
  private readonly log: (line: string) => void;
  /** Areas ascending by address. */
  private readonly areas: VmArea[] = [];

  /**
   * `log` receives warnings; `fatalSignalPending` is `fatal_signal_pending(current)`, which
   * page allocation for an area checks (mm/vmalloc.c: vm_area_alloc_pages stops, and
   * __vmalloc_area_node fails quietly).
   */
  constructor(
    buddy: Buddy,
    mem: PhysicalMemory,
    opts: { log?: (line: string) => void; fatalSignalPending?: () => boolean } = {},
  ) {
    this.buddy = buddy;
    this.mem = mem;
    this.log = opts.log ?? (() => undefined);
    this.fatalSignalPending = opts.fatalSignalPending ?? (() => false);
  }

  private readonly fatalSignalPending: () => boolean;
  /** Set when the last page allocation stopped on a fatal signal (no warning then). */
  private interrupted = false;

  /** All areas, ascending (like /proc/vmallocinfo). */
  list(): readonly VmArea[] {
    return this.areas;
  }

  /** Index of the first area ending above `va`. */
  private indexAfter(va: number): number {
    let lo = 0;
    let hi = this.areas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const a = this.areas[mid]!;
      if (a.addr + a.size <= va) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `find_vm_area`: the area whose range (guard included) contains `va`, or null. */
  findVmArea(va: number): VmArea | null {
    if (typeof va !== 'number' || !Number.isInteger(va)) return null;
    const a = this.areas[this.indexAfter(va)];
    return a !== undefined && a.addr <= va ? a : null;
  }

  /** `alloc_vmap_area`: lowest free `align`-aligned range of `size` bytes; -1 when full. */
  private allocVa(size: number, align: number): number {
    let cur = VMALLOC_START;
    for (const a of this.areas) {
      const cand = Math.ceil(cur / align) * align;
      if (cand + size <= a.addr) return cand;
      cur = a.addr + a.size;
    }
    const cand = Math.ceil(cur / align) * align;
    return cand + size <= VMALLOC_END ? cand : -1;
  }

  private insert(area: VmArea): void {
    this.areas.splice(this.indexAfter(area.addr), 0, area);
  }

  /** Allocate the pages; returns null (after undoing) when any allocation fails. */
  private allocPages(nr: number, order: number, gfp: number, nid: number): Float64Array | null {
    const pages = new Float64Array(nr);
    const step = 1 << order;
    // Higher-order pieces are split so every page is independent (vm_area_alloc_pages).
    const g = (gfp & ~__GFP_COMP) | (order > 0 ? __GFP_NOWARN : 0);
    this.interrupted = false;
    for (let i = 0; i < nr; i += step) {
      const stop = (i & 1023) === 1023 && this.fatalSignalPending();
      if (stop) this.interrupted = true;
      const pfn = stop ? null : this.buddy.alloc(order, g, nid);
      if (pfn === null) {
        for (let j = 0; j < i; j++) this.buddy.freePages(pages[j]!, 0);
        return null;
      }
      if (order > 0) this.buddy.splitPage(pfn, order);
      for (let k = 0; k < step; k++) pages[i + k] = pfn + k;
    }
    return pages;
  }

  /**
   * `__vmalloc_node_range`: `size` bytes (rounded up to pages) of virtually contiguous memory.
   * With VM_ALLOW_HUGE_VMAP and at least 2 MiB, PMD-sized (order-9) pieces are tried first and
   * the area is 2 MiB aligned; on failure it falls back to order-0 pages. Returns the model
   * virtual address, or null (size 0, too large, or out of memory).
   */
  vmalloc(size: number, opts: VmallocOptions = {}): number | null {
    checkU('size', size);
    const gfp = opts.gfp ?? GFP_KERNEL;
    const nid = opts.nid ?? -1;
    const extra = checkU('vmFlags', opts.vmFlags ?? 0, 0xffff);
    const realAlign = checkU('align', opts.align ?? PAGE_SIZE);
    if (!Number.isInteger(Math.log2(realAlign)))
      throw new MmError('EINVAL', `align ${show(realAlign)} is not a power of two`);
    const realSize = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    if (realSize === 0 || realSize / PAGE_SIZE > this.buddy.managedPages) {
      this.log(`vmalloc error: size ${size}, invalid size`);
      return null;
    }
    const flags = VM_ALLOC | extra;
    let order = 0;
    if ((flags & VM_ALLOW_HUGE_VMAP) !== 0 && realSize >= PMD_SIZE) order = PMD_ORDER;
    for (;;) {
      const align = order > 0 ? Math.max(realAlign, PMD_SIZE) : realAlign;
      const bytes = order > 0 ? Math.ceil(realSize / PMD_SIZE) * PMD_SIZE : realSize;
      const pages = this.allocPages(bytes / PAGE_SIZE, order, gfp, nid);
      if (pages === null) {
        if (order > 0) {
          order = 0;
          continue;
        }
        if (!this.interrupted) this.log(`vmalloc error: size ${size}, failed to allocate pages`);
        return null;
      }
      const addr = this.mapArea(pages, bytes, align, flags, order, nid);
      if (addr === null) {
        for (const p of pages) this.buddy.freePages(p, 0);
        return null;
      }
      if ((gfp & __GFP_ZERO) !== 0) for (const p of pages) this.mem.fill(p * PAGE_SIZE, PAGE_SIZE, 0);
      return addr;
    }
  }

  private mapArea(
    pages: Float64Array,
    bytes: number,
    align: number,
    flags: number,
    order: number,
    nid: number,
  ): number | null {
    const guard = (flags & VM_NO_GUARD) !== 0 ? 0 : PAGE_SIZE;
    const addr = this.allocVa(bytes + guard, align);
    if (addr < 0) {
      this.log(`vmalloc_node_range for size ${bytes} failed: Address range restricted`);
      return null;
    }
    this.insert({ addr, size: bytes + guard, flags, pages, pageOrder: order, nid });
    return addr;
  }

  /** `vzalloc`: zeroed. */
  vzalloc(size: number, nid = -1): number | null {
    return this.vmalloc(size, { gfp: GFP_KERNEL | __GFP_ZERO, nid });
  }

  /** `vmalloc_user`: zeroed, VM_USERMAP (which KHO refuses to preserve: kho_preserve_vmalloc()). */
  vmallocUser(size: number): number | null {
    return this.vmalloc(size, { gfp: GFP_KERNEL | __GFP_ZERO, vmFlags: VM_USERMAP });
  }

  /** `vmalloc_huge`: VM_ALLOW_HUGE_VMAP. */
  vmallocHuge(size: number, gfp: number = GFP_KERNEL): number | null {
    return this.vmalloc(size, { gfp, vmFlags: VM_ALLOW_HUGE_VMAP });
  }

  /**
   * `vmap` / `vmap_pages_range`: map existing pages (one pfn per 4 KiB page). `pageOrder` > 0
   * aligns the area to that mapping size (KHO restore maps with the preserved order). With
   * VM_ALLOC in `flags` the area owns its pages (vfree frees them), as a restored vmalloc does;
   * otherwise flags default to VM_MAP and vunmap/vfree leave the pages alone.
   */
  vmap(pfns: ArrayLike<number>, opts: { flags?: number; pageOrder?: number } = {}): number | null {
    const n = pfns.length;
    if (n === 0) return null;
    const order = checkU('pageOrder', opts.pageOrder ?? 0, 18);
    const flags = checkU('flags', opts.flags ?? VM_MAP, 0xffff);
    const pages = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = pfns[i]!;
      if (!this.buddy.pfnValid(p)) throw new MmError('EINVAL', `vmap: pfn ${show(p)} has no struct page`);
      pages[i] = p;
    }
    return this.mapArea(pages, n * PAGE_SIZE, PAGE_SIZE * (1 << order), flags, order, -1);
  }

  private unlink(va: number, what: string): VmArea | null {
    const i = this.indexAfter(va);
    const a = this.areas[i];
    if (a?.addr !== va) {
      this.log(`WARNING: Trying to ${what}() nonexistent vm area (${formatVa(va)})`);
      return null;
    }
    this.areas.splice(i, 1);
    return a;
  }

  /** `vfree`: unmap the area starting at `va`; owned pages (VM_ALLOC) drop a reference each. */
  vfree(va: number): void {
    if (va === 0) return;
    const a = this.unlink(va, 'vfree');
    if (a === null) return;
    // VM_ALLOC pages are independent order-0 pages (split at allocation): free them directly.
    if ((a.flags & VM_ALLOC) !== 0) for (const p of a.pages) this.buddy.freePages(p, 0);
    else if ((a.flags & VM_MAP_PUT_PAGES) !== 0) for (const p of a.pages) this.buddy.putPage(p);
  }

  /** `vunmap`: unmap without touching the pages. */
  vunmap(va: number): void {
    this.unlink(va, 'vunmap');
  }

  /** `vmalloc_to_pfn`: the pfn backing `va`; EFAULT when unmapped (or in the guard page). */
  vmallocToPfn(va: number): number {
    const a = this.findVmArea(va);
    if (a !== null) {
      const i = Math.floor((va - a.addr) / PAGE_SIZE);
      if (i < a.pages.length) return a.pages[i]!;
    }
    throw new MmError('EFAULT', `${formatVa(va)} is not a mapped vmalloc address`);
  }

  /** Physical address backing `va`. */
  vmallocToPhys(va: number): number {
    return this.vmallocToPfn(va) * PAGE_SIZE + (va - Math.floor(va / PAGE_SIZE) * PAGE_SIZE);
  }

  /** Run `fn(phys, off, n)` for each page-sized piece of `[va, va+len)`. */
  private walk(va: number, len: number, fn: (phys: number, off: number, n: number) => void): void {
    checkU('len', len);
    let done = 0;
    while (done < len) {
      const a = va + done;
      const inPage = a - Math.floor(a / PAGE_SIZE) * PAGE_SIZE;
      const n = Math.min(len - done, PAGE_SIZE - inPage);
      fn(this.vmallocToPfn(a) * PAGE_SIZE + inPage, done, n);
      done += n;
    }
  }

  /** Read `len` bytes through a vmalloc address. */
  read(va: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.walk(va, len, (phys, off, n) => {
      out.set(this.mem.read(phys, n), off);
    });
    return out;
  }

  /** Write bytes through a vmalloc address. */
  write(va: number, bytes: Uint8Array): void {
    this.walk(va, bytes.length, (phys, off, n) => {
      this.mem.write(phys, bytes.subarray(off, off + n));
    });
  }

  /** Fill `len` bytes through a vmalloc address. */
  fill(va: number, len: number, byte: number): void {
    this.walk(va, len, (phys, _off, n) => {
      this.mem.fill(phys, n, byte);
    });
  }

  /** Little-endian u32 at a vmalloc address. */
  readU32(va: number): number {
    const b = this.read(va, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  /** Store a little-endian u32 at a vmalloc address. */
  writeU32(va: number, v: number): void {
    this.write(va, new Uint8Array([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]));
  }

  /** Little-endian u64 at a vmalloc address; ERANGE when it does not fit below 2^53. */
  readU64(va: number): number {
    const lo = this.readU32(va);
    const hi = this.readU32(va + 4);
    if (!fitsNumber(hi)) throw new MmError('ERANGE', `u64 at ${formatVa(va)} exceeds 2^53`);
    return join64(hi, lo);
  }

  /** Store a little-endian u64 (a non-negative integer below 2^53) at a vmalloc address. */
  writeU64(va: number, v: number): void {
    checkU('value', v, Number.MAX_SAFE_INTEGER);
    this.writeU32(va, lo32(v));
    this.writeU32(va + 4, hi32(v));
  }

  /** The text of /proc/vmallocinfo (real addresses, pages, flags that it names). */
  vmallocinfo(): string {
    let s = '';
    for (const a of this.areas) {
      const end = a.addr + a.size;
      let line = `${formatVa(a.addr)}-${formatVa(end)} ${String(a.size).padStart(7)}`;
      if (a.pages.length !== 0) line += ` pages=${a.pages.length}`;
      if ((a.flags & VM_IOREMAP) !== 0) line += ' ioremap';
      if ((a.flags & VM_ALLOC) !== 0) line += ' vmalloc';
      if ((a.flags & VM_MAP) !== 0) line += ' vmap';
      if ((a.flags & VM_USERMAP) !== 0) line += ' user';
      const perNode = new Map<number, number>();
      for (const p of a.pages) {
        const nid = this.buddy.nidOf(p);
        perNode.set(nid, (perNode.get(nid) ?? 0) + 1);
      }
      for (const [nid, n] of [...perNode].sort((x, y) => x[0] - y[0])) if (nid >= 0) line += ` N${nid}=${n}`;
      s += `${line}\n`;
    }
    return s;
  }
}

/** The direct-map address of a pfn (for callers that mix vmalloc and lowmem pointers). */
export function pfnToVirt(pfn: number): number {
  return PAGE_OFFSET + pfn * PAGE_SIZE;
}
