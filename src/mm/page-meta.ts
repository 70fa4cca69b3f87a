/**
 * `struct page` as KHO needs it: `private` (u64), refcount, compound order and head flag, a
 * few page flags. Real kernels spend 64 bytes per 4 KiB page on this (the memmap); the model
 * stores it only for pages that have state (allocated heads, KHO-preserved blocks, restored
 * pages). Pages without an entry read as all-zero: refcount 0, private 0, no flags.
 *
 * Storage is struct-of-arrays per 1024-page section (4 MiB of RAM), created on first write and
 * dropped when its last entry is cleared; sections are found through a Map keyed by
 * `pfn / 1024` with a one-entry cache. A section is one 4 KiB buffer (a byte of flags, order,
 * refcount and `private` palette index per page) until a refcount leaves 0..255 (4 KiB more) or
 * it holds more than 255 distinct `private` values (8 KiB more): millions of preserved blocks
 * cost a quarter of the fresh host memory that one array per field did.
 */
import { MmError, checkU } from './mm-error.ts';

/** Page flag: head page of a compound page (folio of order > 0). */
export const PG_HEAD = 0x1;
/** Page flag: the page was restored from a KHO preservation (model bookkeeping). */
export const PG_KHO_RESTORED = 0x2;
/** Internal: the entry has state (so an all-zero entry can be told from a used one). */
const PG_USED = 0x80;

const SEC_SHIFT = 10;
const SEC_PAGES = 1 << SEC_SHIFT;
const SEC_MASK = SEC_PAGES - 1;
const INV_SEC = 1 / SEC_PAGES;
const MAX_PFN = 0x1_0000_0000_00; // 2^40 pfns = 2^52 bytes

/** Byte offsets of the fields in a section's one 4 KiB buffer. */
const F_FLAGS = 0;
const F_ORDER = SEC_PAGES;
const F_REF = 2 * SEC_PAGES; // refcount while every count of the section fits 0..255
const F_PRIV = 3 * SEC_PAGES; // index into the section's palette of `private` values
/** Palette size before a section switches to full `private` arrays. */
const PALETTE_MAX = 255;

/**
 * One section's pages. A page's flags, order, narrow refcount and `private` palette index share
 * one 4 KiB buffer (one host allocation per section). `private` values are few per section (KHO
 * writes magic|order), so each page stores a byte index into a palette of (lo, hi) pairs; wide
 * arrays replace the narrow forms when a refcount leaves 0..255 or the palette fills.
 */
class Section {
  readonly b = new Uint8Array(4 * SEC_PAGES);
  used = 0;
  /** Refcounts as int32 once one did not fit a byte; null before. */
  refWide: Int32Array | null = null;
  /** Palette of `private` values (entry 0 is 0); unused once `privWide` exists. */
  palLo: number[] = [0];
  palHi: number[] = [0];
  /** `private` as [lo, hi] pairs once the palette overflowed; null before. */
  privWide: Uint32Array | null = null;

  ref(i: number): number {
    return this.refWide === null ? this.b[F_REF + i]! : this.refWide[i]!;
  }

  setRef(i: number, n: number): void {
    const v = n | 0; // int32, as the kernel's atomic_t
    if (this.refWide === null) {
      if ((v & ~0xff) === 0) {
        this.b[F_REF + i] = v;
        return;
      }
      const w = new Int32Array(SEC_PAGES);
      for (let k = 0; k < SEC_PAGES; k++) w[k] = this.b[F_REF + k]!;
      this.b.fill(0, F_REF, F_REF + SEC_PAGES);
      this.refWide = w;
    }
    this.refWide[i] = v;
  }

  privLo(i: number): number {
    return this.privWide === null ? this.palLo[this.b[F_PRIV + i]!]! : this.privWide[2 * i]!;
  }

  privHi(i: number): number {
    return this.privWide === null ? this.palHi[this.b[F_PRIV + i]!]! : this.privWide[2 * i + 1]!;
  }

  setPriv(i: number, hi32: number, lo32: number): void {
    const lo = lo32 >>> 0;
    const hi = hi32 >>> 0;
    if (this.privWide === null) {
      const pl = this.palLo;
      const ph = this.palHi;
      let k = 0;
      while (k < pl.length && (pl[k] !== lo || ph[k] !== hi)) k++;
      if (k <= PALETTE_MAX) {
        if (k === pl.length) {
          pl.push(lo);
          ph.push(hi);
        }
        this.b[F_PRIV + i] = k;
        return;
      }
      const w = new Uint32Array(2 * SEC_PAGES);
      for (let j = 0; j < SEC_PAGES; j++) {
        const x = this.b[F_PRIV + j]!;
        w[2 * j] = pl[x]!;
        w[2 * j + 1] = ph[x]!;
      }
      this.b.fill(0, F_PRIV, F_PRIV + SEC_PAGES);
      this.privWide = w;
    }
    this.privWide[2 * i] = lo;
    this.privWide[2 * i + 1] = hi;
  }

  /** Zero every field of page `i`. */
  clear(i: number): void {
    this.b[F_FLAGS + i] = 0;
    this.b[F_ORDER + i] = 0;
    this.b[F_REF + i] = 0;
    this.b[F_PRIV + i] = 0;
    if (this.refWide !== null) this.refWide[i] = 0;
    if (this.privWide !== null) {
      this.privWide[2 * i] = 0;
      this.privWide[2 * i + 1] = 0;
    }
  }
}

/** Sparse per-page metadata. */
export class PageMeta {
  private readonly sections = new Map<number, Section>();
  private cacheKey = -1;
  private cacheSec: Section | undefined = undefined;
  private entries = 0;
  /** Keys of sections that became empty; swept in batches so alloc/free pairs do not churn. */
  private emptied: number[] = [];

  /** Number of pages that have an entry. */
  get count(): number {
    return this.entries;
  }

  /** Number of allocated sections (memory cost; empty ones are dropped in batches). */
  get sectionCount(): number {
    return this.sections.size;
  }

  private sec(pfn: number): Section | undefined {
    const key = Math.floor(pfn * INV_SEC);
    if (key === this.cacheKey) return this.cacheSec;
    const s = this.sections.get(key);
    this.cacheKey = key;
    this.cacheSec = s;
    return s;
  }

  private secW(pfn: number): Section {
    let s = this.sec(pfn);
    if (s === undefined) {
      if (!(pfn >= 0 && pfn < MAX_PFN && Number.isInteger(pfn))) checkU('pfn', pfn, MAX_PFN - 1);
      s = new Section();
      const key = Math.floor(pfn * INV_SEC);
      this.sections.set(key, s);
      this.cacheKey = key;
      this.cacheSec = s;
    }
    return s;
  }

  /** Index inside the section; exact for any pfn below 2^53. */
  private static idx(pfn: number): number {
    return (pfn - Math.floor(pfn * INV_SEC) * SEC_PAGES) & SEC_MASK;
  }

  private touch(s: Section, i: number): void {
    if ((s.b[F_FLAGS + i]! & PG_USED) === 0) {
      s.b[F_FLAGS + i] = PG_USED;
      s.used++;
      this.entries++;
    }
  }

  /** True when the page has any state. */
  has(pfn: number): boolean {
    const s = this.sec(pfn);
    return s !== undefined && (s.b[F_FLAGS + PageMeta.idx(pfn)]! & PG_USED) !== 0;
  }

  /** Low 32 bits of `page->private`. */
  privateLo(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.privLo(PageMeta.idx(pfn));
  }

  /** High 32 bits of `page->private`. */
  privateHi(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.privHi(PageMeta.idx(pfn));
  }

  /** `set_page_private` with the value as two 32-bit halves. */
  setPrivate(pfn: number, hi: number, lo: number): void {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    s.setPriv(i, hi, lo);
  }

  /** `page_ref_count`. */
  refcount(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.ref(PageMeta.idx(pfn));
  }

  /** `set_page_count`. */
  setRefcount(pfn: number, n: number): void {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    s.setRef(i, n);
  }

  /** `page_ref_inc`; returns the new count. */
  getPage(pfn: number): number {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    s.setRef(i, s.ref(i) + 1);
    return s.ref(i);
  }

  /** `page_ref_dec_return`; throws EINVAL on a page whose count is already 0. */
  putPage(pfn: number): number {
    const s = this.sec(pfn);
    const i = PageMeta.idx(pfn);
    if (s === undefined || s.ref(i) <= 0) {
      throw new MmError('EINVAL', `put_page on pfn 0x${pfn.toString(16)} with refcount 0 (bad page state)`);
    }
    s.setRef(i, s.ref(i) - 1);
    return s.ref(i);
  }

  /** Page flags (PG_HEAD, PG_KHO_RESTORED). */
  flags(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.b[F_FLAGS + PageMeta.idx(pfn)]! & ~PG_USED;
  }

  /** Set page flags. */
  setFlags(pfn: number, f: number): void {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    s.b[F_FLAGS + i]! |= f & 0x7f;
  }

  /** Clear page flags. */
  clearFlags(pfn: number, f: number): void {
    const s = this.sec(pfn);
    if (s !== undefined) s.b[F_FLAGS + PageMeta.idx(pfn)]! &= ~(f & 0x7f);
  }

  /** The order stored with the page (compound order of a head, allocation order of a block). */
  order(pfn: number): number {
    const s = this.sec(pfn);
    return s === undefined ? 0 : s.b[F_ORDER + PageMeta.idx(pfn)]!;
  }

  /** Store an order with the page. */
  setOrder(pfn: number, order: number): void {
    const s = this.secW(pfn);
    const i = PageMeta.idx(pfn);
    this.touch(s, i);
    s.b[F_ORDER + i] = order;
  }

  /**
   * The head of the compound page containing `pfn`, or -1: `pfn` itself when it is a head,
   * otherwise the nearest aligned head below whose order covers `pfn` (orders up to 40, since
   * restored KHO folios may exceed MAX_PAGE_ORDER).
   */
  compoundHead(pfn: number): number {
    if ((this.flags(pfn) & PG_HEAD) !== 0) return pfn;
    let block = 1;
    for (let o = 1; o <= 40; o++) {
      block *= 2;
      const head = Math.floor(pfn / block) * block;
      if (head !== pfn && (this.flags(head) & PG_HEAD) !== 0 && this.order(head) >= o) return head;
    }
    return -1;
  }

  /** Forget everything about one page. */
  clear(pfn: number): void {
    const s = this.sec(pfn);
    if (s === undefined) return;
    const i = PageMeta.idx(pfn);
    if ((s.b[F_FLAGS + i]! & PG_USED) === 0) return;
    s.clear(i);
    this.entries--;
    if (--s.used === 0) {
      this.emptied.push(Math.floor(pfn * INV_SEC));
      if (this.emptied.length > 64) this.sweep();
    }
  }

  /** Drop sections that are still empty (all their arrays are zero again). */
  private sweep(): void {
    for (const key of this.emptied) {
      const s = this.sections.get(key);
      if (s === undefined || s.used !== 0) continue;
      this.sections.delete(key);
      if (this.cacheKey === key) {
        this.cacheKey = -1;
        this.cacheSec = undefined;
      }
    }
    this.emptied = [];
  }

  /** Sections overlapping `[startPfn, endPfn)` as `[key, section]`, ascending by key. */
  private overlapping(startPfn: number, endPfn: number): [number, Section][] {
    const k0 = Math.floor(startPfn * INV_SEC);
    const k1 = Math.floor((endPfn - 1) * INV_SEC);
    const out: [number, Section][] = [];
    if (k1 - k0 < this.sections.size) {
      for (let k = k0; k <= k1; k++) {
        const s = this.sections.get(k);
        if (s !== undefined) out.push([k, s]);
      }
      return out;
    }
    for (const [k, s] of this.sections) if (k >= k0 && k <= k1) out.push([k, s]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Forget every page in `[startPfn, endPfn)`; costs only for sections that exist. */
  clearRange(startPfn: number, endPfn: number): void {
    if (this.entries === 0 || startPfn >= endPfn) return;
    if (endPfn - startPfn <= 64) {
      for (let p = startPfn; p < endPfn; p++) this.clear(p);
      return;
    }
    for (const [key, s] of this.overlapping(startPfn, endPfn)) {
      if (s.used === 0) continue;
      const base = key * SEC_PAGES;
      const a = Math.max(startPfn, base);
      const b = Math.min(endPfn, base + SEC_PAGES);
      for (let p = a; p < b; p++) this.clear(p);
    }
  }

  /** First pfn in `[startPfn, endPfn)` with a refcount above 0, or -1. */
  firstReferenced(startPfn: number, endPfn: number): number {
    if (this.entries === 0 || startPfn >= endPfn) return -1;
    for (const [key, s] of this.overlapping(startPfn, endPfn)) {
      const base = key * SEC_PAGES;
      const a = Math.max(startPfn, base) - base;
      const b = Math.min(endPfn, base + SEC_PAGES) - base;
      for (let i = a; i < b; i++) if (s.ref(i) > 0) return base + i;
    }
    return -1;
  }

  /** Pfns that have an entry, ascending (tests and debugging). */
  pfns(): number[] {
    const out: number[] = [];
    const keys = [...this.sections.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const s = this.sections.get(key)!;
      for (let i = 0; i < SEC_PAGES; i++)
        if ((s.b[F_FLAGS + i]! & PG_USED) !== 0) out.push(key * SEC_PAGES + i);
    }
    return out;
  }
}
