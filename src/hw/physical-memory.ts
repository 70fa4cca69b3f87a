/**
 * Sparse simulated physical memory: a little-endian (x86-64) byte space of up to 2^52 bytes in
 * 4 KiB pages, where memory costs what it holds.
 *
 * Every page is in one of these states:
 * - untouched: reads as zero, costs nothing;
 * - described: untouched, but covered by a content description (lazy poison reading as
 *   {@link POISON_BYTE}, a repeated pattern, a seeded random stream) in an interval map; its
 *   bytes are generated on every read and cost nothing per page (src/hw/content.ts);
 * - touched: backed by a 4 KiB slot carved from a 1 MiB `Uint32Array` slab.
 *
 * Writing to a page that is not touched materialises it with its current content. A touched
 * page wins over a description that still covers it. Pages are indexed by a two-level Map (pfn
 * high bits, pfn low 20 bits), because one V8 Map tops out at 2^24 entries. Freed slots are
 * reused. See docs/hw.md.
 */
import { CSUM_MOD, csumAdd, csumOfResidue, residueShl8 } from '../util/csum.ts';
import {
  bytesResidue,
  CONTENT_POISON,
  descBytes,
  descPage,
  descResidue,
  descWord,
  patternContent,
  POISON_CONTENT,
  randomContent,
  StreamCache,
  wordsResidue,
  type ContentDesc,
} from './content.ts';
import { KhoMemError, showAddr } from './errors.ts';
import { ExtentMap } from './extent-map.ts';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

/**
 * The byte that poisoned memory reads as: 0xaa, the kernel's `PAGE_POISON`
 * (CONFIG_PAGE_POISONING fills freed pages with it), so a dump of stale memory looks familiar.
 */
export const POISON_BYTE = 0xaa;
/** {@link POISON_BYTE} repeated over a 32-bit word. */
export const POISON_WORD = 0xaaaaaaaa;

/** Highest physical address width: x86-64 MAXPHYADDR. */
export const MAX_PHYS_BITS = 52;
/** Default (and largest) size of the physical address space, 2^52 bytes. */
export const MAX_PHYS_LIMIT = 0x10_0000_0000_0000;

const PAGE_MASK = 4095;
const INV_PAGE = 1 / 4096;
const WORDS_PER_PAGE = 1024;
/** Pages per 1 MiB slab. */
const SLAB_PAGES = 256;
const SLAB_WORDS = SLAB_PAGES * WORDS_PER_PAGE;
/** The index splits a pfn at 20 bits: both levels stay far below the 2^24 Map limit. */
const LO_BITS_MASK = 0xfffff;
const INV_LO_SPAN = 1 / 0x10_0000;
const TWO32 = 0x1_0000_0000;
const TLB_SIZE = 4096;
const TLB_MASK = TLB_SIZE - 1;
const TWO53 = 0x20_0000_0000_0000;

if (new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] !== 0x04) {
  // Byte views of the word slabs assume a little-endian host, as every supported Node host is.
  throw new Error('kho: PhysicalMemory needs a little-endian host');
}

/** Options for a {@link PhysicalMemory}. */
export interface PhysicalMemoryOptions {
  /** Size of the address space in bytes (page multiple, at most 2^52; default 2^52). */
  limit?: number;
}

/** What a run of pages holds (see {@link PhysicalMemory.contentRuns}). */
export type ContentKind = 'zero' | 'data' | 'poison' | 'pattern' | 'random';

/** A run of pfns `[start, end)` of one {@link ContentKind}. */
export interface ContentRun {
  start: number;
  end: number;
  kind: ContentKind;
}

const KIND_NAMES: readonly ContentKind[] = ['poison', 'pattern', 'random'];

/** A copy's source, cut into runs of one kind (see `PhysicalMemory.segments`). */
interface CopySegment {
  a: number;
  b: number;
  desc: ContentDesc | null;
  touched: boolean;
  bytes: Uint8Array | null;
}

/** Counters describing what the memory costs. */
export interface PhysicalMemoryStats {
  touchedPages: number;
  slabs: number;
  freeSlots: number;
  poisonedRanges: number;
  /** Intervals of described pages (poison, patterns, random streams). */
  describedRanges: number;
  /** Bytes held in slabs (1 MiB each). */
  slabBytes: number;
}

/** Sparse, little-endian physical memory; see the module comment for the page states. */
export class PhysicalMemory {
  /** Size of the address space in bytes: valid addresses are `[0, limit)`. */
  readonly limit: number;
  /** Number of pfns, `limit / PAGE_SIZE`. */
  readonly maxPfn: number;

  private readonly index = new Map<number, Map<number, number>>();
  private readonly slabs: Uint32Array[] = [];
  private readonly slabBytes: Uint8Array[] = [];
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private count = 0;

  /**
   * Called with the pfn when a read returns poison (the page still holds nothing but the lazy
   * poison pattern): the sanitizer's page-access tracking of reads of never-preserved memory.
   * Only the poison path pays for it.
   */
  onPoisonRead: ((pfn: number) => void) | null = null;

  private poisonRead(pfn: number): void {
    if (this.onPoisonRead !== null) this.onPoisonRead(pfn);
  }
  /** Cached `page()` views, per slot (created on demand). */
  private readonly views: (Uint32Array | undefined)[] = [];

  /**
   * Described untouched pages: pfn intervals to their content (lazy poison, patterns, seeded
   * random streams). A touched page wins over a description that still covers it.
   */
  private readonly ext = new ExtentMap<ContentDesc>((a, b) => a.sameAs(b));
  /** The last generated stream page (single-word reads of random content stay cheap). */
  private readonly sc = new StreamCache();

  // Last lookup (hits and misses): the hot paths touch the same page many times in a row.
  private cPfn = -1;
  private cSlot = -1;
  private cSlab: Uint32Array = new Uint32Array(0);
  private cBase = 0;
  // Direct-mapped lookup cache (a software TLB) in front of the index, hits and misses alike;
  // kept coherent by materialise() and drop(), the only places a pfn changes state.
  private readonly tlbPfn = new Float64Array(TLB_SIZE).fill(-1);
  private readonly tlbSlot = new Int32Array(TLB_SIZE);
  /** Pages dropped so far (discard or poison); lets callers that cache page views notice. */
  private drops = 0;
  // Last inner index map.
  private cHi = -1;
  private cInner: Map<number, number> | undefined = undefined;

  constructor(opts: PhysicalMemoryOptions = {}) {
    const limit = opts.limit ?? MAX_PHYS_LIMIT;
    if (!Number.isInteger(limit) || limit <= 0 || limit > MAX_PHYS_LIMIT || (limit & PAGE_MASK) !== 0) {
      throw new KhoMemError(
        'EINVAL',
        -1,
        `memory limit ${showAddr(limit)} must be a positive multiple of ${PAGE_SIZE} up to 2^${MAX_PHYS_BITS}`,
      );
    }
    this.limit = limit;
    this.maxPfn = limit / PAGE_SIZE;
  }

  // ---------------------------------------------------------------- checks

  private bad(addr: number, len: number): KhoMemError {
    return new KhoMemError(
      'EFAULT',
      typeof addr === 'number' && Number.isInteger(addr) ? addr : -1,
      `physical access ${showAddr(addr)}+${String(len)} outside [0, ${showAddr(this.limit)})`,
    );
  }

  /** Throws unless `[addr, addr+len)` is an integer range inside the machine. */
  private checkRange(addr: number, len: number): void {
    if (
      !(addr >= 0 && len >= 0 && addr + len <= this.limit) ||
      addr !== Math.floor(addr) ||
      len !== Math.floor(len)
    ) {
      if (!(len >= 0) || len !== Math.floor(len)) {
        throw new KhoMemError('EINVAL', -1, `bad length ${String(len)} at ${showAddr(addr)}`);
      }
      throw this.bad(addr, len);
    }
  }

  private checkPfn(pfn: number): void {
    if (!(pfn >= 0 && pfn < this.maxPfn) || pfn !== Math.floor(pfn)) {
      throw new KhoMemError('EFAULT', -1, `pfn ${showAddr(pfn)} outside [0, ${showAddr(this.maxPfn)})`);
    }
  }

  // ---------------------------------------------------------------- index

  /** Looks `pfn` up and caches the result; returns true when the page is touched. */
  private find(pfn: number): boolean {
    if (pfn === this.cPfn) return this.cSlot >= 0;
    const h = pfn & TLB_MASK;
    let slot: number;
    if (this.tlbPfn[h] === pfn) {
      slot = this.tlbSlot[h]!;
    } else {
      const lo = pfn & LO_BITS_MASK;
      const hi = (pfn - lo) * INV_LO_SPAN;
      let inner = this.cInner;
      if (hi !== this.cHi) {
        inner = this.index.get(hi);
        this.cHi = hi;
        this.cInner = inner;
      }
      slot = (inner === undefined ? undefined : inner.get(lo)) ?? -1;
      this.tlbPfn[h] = pfn;
      this.tlbSlot[h] = slot;
    }
    this.cPfn = pfn;
    this.cSlot = slot;
    if (slot < 0) return false;
    this.cSlab = this.slabs[slot >>> 8]!;
    this.cBase = (slot & (SLAB_PAGES - 1)) << 10;
    return true;
  }

  /** Makes `pfn` touched (zero- or poison-filled) and leaves it in the cache. */
  private materialise(pfn: number): void {
    if (this.find(pfn)) return;
    let slot = this.freeSlots.pop();
    // Reused slots hold old data; fresh slab slots are zero already (no need to write them).
    const dirty = slot !== undefined;
    if (slot === undefined) {
      slot = this.nextSlot++;
      if ((slot & (SLAB_PAGES - 1)) === 0) {
        const slab = new Uint32Array(SLAB_WORDS);
        this.slabs.push(slab);
        this.slabBytes.push(new Uint8Array(slab.buffer));
      }
    }
    const lo = pfn & LO_BITS_MASK;
    const hi = (pfn - lo) * INV_LO_SPAN;
    let inner = this.index.get(hi);
    if (inner === undefined) {
      inner = new Map();
      this.index.set(hi, inner);
    }
    this.cHi = hi;
    this.cInner = inner;
    inner.set(lo, slot);
    this.count++;
    const slab = this.slabs[slot >>> 8]!;
    const base = (slot & (SLAB_PAGES - 1)) << 10;
    const d = this.descAt(pfn);
    if (d !== null) descPage(d, pfn, slab, base, this.sc);
    else if (dirty) slab.fill(0, base, base + WORDS_PER_PAGE);
    this.cPfn = pfn;
    this.cSlot = slot;
    this.cSlab = slab;
    this.cBase = base;
    const h = pfn & TLB_MASK;
    this.tlbPfn[h] = pfn;
    this.tlbSlot[h] = slot;
  }

  /** Byte view of the touched page that is in the cache. */
  private cachedBytes(): { bytes: Uint8Array; off: number } {
    return { bytes: this.slabBytes[this.cSlot >>> 8]!, off: this.cBase << 2 };
  }

  // ---------------------------------------------------------------- descriptions

  /** The description of untouched page `pfn` (poison, pattern, random), or null (zero). */
  private descAt(pfn: number): ContentDesc | null {
    return this.ext.size === 0 ? null : this.ext.get(pfn);
  }

  /** True when `pfn` lies in a poisoned range (whether or not it is touched). */
  private inPoisonList(pfn: number): boolean {
    const d = this.descAt(pfn);
    return d !== null && d.kind === CONTENT_POISON;
  }

  /** The u32 at `addr` (within one page) of an untouched page under `d`. */
  private descU32(d: ContentDesc, addr: number, pfn: number): number {
    if (d.kind === CONTENT_POISON) {
      this.poisonRead(pfn);
      return POISON_WORD;
    }
    const sh = (addr & 3) << 3;
    if (sh === 0) return descWord(d, addr, this.sc);
    const lo = descWord(d, addr - (addr & 3), this.sc);
    const hi = descWord(d, addr - (addr & 3) + 4, this.sc);
    return ((lo >>> sh) | (hi << (32 - sh))) >>> 0;
  }

  // ---------------------------------------------------------------- byte and word access

  /** Reads one byte. */
  readU8(addr: number): number {
    if (!(addr >= 0 && addr < this.limit) || addr !== Math.floor(addr)) throw this.bad(addr, 1);
    const off = addr & PAGE_MASK;
    const pfn = (addr - off) * INV_PAGE;
    if (!this.find(pfn)) {
      const d = this.descAt(pfn);
      if (d === null) return 0;
      if (d.kind === CONTENT_POISON) {
        this.poisonRead(pfn);
        return POISON_BYTE;
      }
      return (descWord(d, addr - (addr & 3), this.sc) >>> ((addr & 3) << 3)) & 0xff;
    }
    return (this.cSlab[this.cBase + (off >>> 2)]! >>> ((off & 3) << 3)) & 0xff;
  }

  /** Writes one byte; `v` is an integer in [-128, 255] (stored modulo 256). */
  writeU8(addr: number, v: number): void {
    if (!(addr >= 0 && addr < this.limit) || addr !== Math.floor(addr)) throw this.bad(addr, 1);
    if (!(v >= -128 && v <= 255) || v !== Math.floor(v)) throw badValue(addr, v, 'u8');
    const off = addr & PAGE_MASK;
    const pfn = (addr - off) * INV_PAGE;
    if (pfn !== this.cPfn || this.cSlot < 0) this.materialise(pfn);
    const i = this.cBase + (off >>> 2);
    const sh = (off & 3) << 3;
    const slab = this.cSlab;
    slab[i] = (slab[i]! & ~(0xff << sh)) | ((v & 0xff) << sh);
  }

  /** Reads a little-endian u16 at any alignment. */
  readU16(addr: number): number {
    if (!(addr >= 0 && addr <= this.limit - 2) || addr !== Math.floor(addr)) throw this.bad(addr, 2);
    return this.readU8(addr) | (this.readU8(addr + 1) << 8);
  }

  /** Writes a little-endian u16 at any alignment; `v` is an integer in [-2^15, 2^16). */
  writeU16(addr: number, v: number): void {
    if (!(addr >= 0 && addr <= this.limit - 2) || addr !== Math.floor(addr)) throw this.bad(addr, 2);
    if (!(v >= -0x8000 && v <= 0xffff) || v !== Math.floor(v)) throw badValue(addr, v, 'u16');
    this.writeU8(addr, v & 0xff);
    this.writeU8(addr + 1, (v >>> 8) & 0xff);
  }

  /** Reads a little-endian u32 at any alignment (page-crossing too). */
  readU32(addr: number): number {
    if (!(addr >= 0 && addr <= this.limit - 4) || addr !== Math.floor(addr)) throw this.bad(addr, 4);
    const off = addr & PAGE_MASK;
    if (off > PAGE_SIZE - 4) return this.readU32Slow(addr);
    const pfn = (addr - off) * INV_PAGE;
    if (!this.find(pfn)) {
      const d = this.descAt(pfn);
      return d === null ? 0 : this.descU32(d, addr, pfn);
    }
    const i = this.cBase + (off >>> 2);
    const sh = (off & 3) << 3;
    if (sh === 0) return this.cSlab[i]!;
    return ((this.cSlab[i]! >>> sh) | (this.cSlab[i + 1]! << (32 - sh))) >>> 0;
  }

  private readU32Slow(addr: number): number {
    return (
      (this.readU8(addr) |
        (this.readU8(addr + 1) << 8) |
        (this.readU8(addr + 2) << 16) |
        (this.readU8(addr + 3) << 24)) >>>
      0
    );
  }

  /** Writes a little-endian u32 at any alignment; `v` is an integer in [-2^31, 2^32). */
  writeU32(addr: number, v: number): void {
    if (!(addr >= 0 && addr <= this.limit - 4) || addr !== Math.floor(addr)) throw this.bad(addr, 4);
    if (v !== v >>> 0 && v !== (v | 0)) throw badValue(addr, v, 'u32');
    const off = addr & PAGE_MASK;
    if (off > PAGE_SIZE - 4) {
      this.writeU8(addr, v & 0xff);
      this.writeU8(addr + 1, (v >>> 8) & 0xff);
      this.writeU8(addr + 2, (v >>> 16) & 0xff);
      this.writeU8(addr + 3, (v >>> 24) & 0xff);
      return;
    }
    const pfn = (addr - off) * INV_PAGE;
    if (pfn !== this.cPfn || this.cSlot < 0) this.materialise(pfn);
    const i = this.cBase + (off >>> 2);
    const sh = (off & 3) << 3;
    const slab = this.cSlab;
    if (sh === 0) {
      slab[i] = v;
      return;
    }
    // Split across two words: low part into the top of word i, high part into word i+1.
    const keep = (1 << sh) - 1; // bytes of word i below the value
    slab[i] = (slab[i]! & keep) | (v << sh);
    slab[i + 1] = (slab[i + 1]! & ~keep) | (v >>> (32 - sh));
  }

  /** Reads a little-endian u64 as a number; throws `ERANGE` when it is 2^53 or more. */
  readU64(addr: number): number {
    if (!(addr >= 0 && addr <= this.limit - 8) || addr !== Math.floor(addr)) throw this.bad(addr, 8);
    const lo = this.readU32(addr);
    const hi = this.readU32(addr + 4);
    if (hi >= 0x20_0000) {
      throw new KhoMemError(
        'ERANGE',
        addr,
        `u64 at ${showAddr(addr)} is 0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}, not below 2^53`,
      );
    }
    return hi * TWO32 + lo;
  }

  /** Reads a little-endian u64 as a BigInt (any value; for display and hostile input). */
  readU64Big(addr: number): bigint {
    if (!(addr >= 0 && addr <= this.limit - 8) || addr !== Math.floor(addr)) throw this.bad(addr, 8);
    return (BigInt(this.readU32(addr + 4)) << 32n) | BigInt(this.readU32(addr));
  }

  /** Writes a non-negative integer below 2^53 as a little-endian u64. */
  writeU64(addr: number, v: number): void {
    if (!(addr >= 0 && addr <= this.limit - 8) || addr !== Math.floor(addr)) throw this.bad(addr, 8);
    if (!(v >= 0 && v < TWO53) || v !== Math.floor(v)) throw badValue(addr, v, 'u64');
    const lo = v >>> 0;
    this.writeU32(addr, lo);
    this.writeU32(addr + 4, (v - lo) / TWO32);
  }

  /** Writes a u64 given as two 32-bit halves (any 64-bit value). */
  writeU64Halves(addr: number, lo: number, hi: number): void {
    if (!(addr >= 0 && addr <= this.limit - 8) || addr !== Math.floor(addr)) throw this.bad(addr, 8);
    this.writeU32(addr, lo);
    this.writeU32(addr + 4, hi);
  }

  // ---------------------------------------------------------------- ranges

  /** Copies `len` bytes out of memory (never materialises pages). */
  read(addr: number, len: number): Uint8Array {
    this.checkRange(addr, len);
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const off = a & PAGE_MASK;
      const pfn = (a - off) * INV_PAGE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      if (this.find(pfn)) {
        const { bytes, off: base } = this.cachedBytes();
        out.set(bytes.subarray(base + off, base + off + n), done);
      } else {
        const d = this.descAt(pfn);
        if (d !== null) {
          if (d.kind === CONTENT_POISON) this.poisonRead(pfn);
          descBytes(d, a, n, out, done, this.sc);
        }
      }
      done += n;
    }
    return out;
  }

  /** Copies `bytes` into memory at `addr`. */
  write(addr: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) {
      throw new KhoMemError('EINVAL', -1, `write at ${showAddr(addr)}: bytes must be a Uint8Array`);
    }
    const len = bytes.length;
    this.checkRange(addr, len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const off = a & PAGE_MASK;
      const pfn = (a - off) * INV_PAGE;
      const n = Math.min(len - done, PAGE_SIZE - off);
      this.materialise(pfn);
      const { bytes: dst, off: base } = this.cachedBytes();
      dst.set(bytes.subarray(done, done + n), base + off);
      done += n;
    }
  }

  /**
   * Sets `len` bytes to `byte`. Whole pages are not materialised: a zero fill leaves them
   * untouched (clearing any description or poison), another byte describes them as a pattern;
   * touched pages are written in place. Zeroing or filling a terabyte costs nothing.
   */
  fill(addr: number, len: number, byte: number): void {
    this.checkRange(addr, len);
    if (!(byte >= -128 && byte <= 255) || byte !== Math.floor(byte)) throw badValue(addr, byte, 'u8');
    const b = byte & 0xff;
    if (len === 0) return;
    if (b !== 0) {
      this.describe(addr, len, patternContent(b * 0x01010101));
      return;
    }
    this.split(
      addr,
      len,
      (a, e) => {
        this.fillPartial(a, e, 0);
      },
      (first, last) => {
        this.ext.remove(first, last);
        this.forTouchedIn(first, last, (pfn) => {
          this.find(pfn);
          this.cSlab.fill(0, this.cBase, this.cBase + WORDS_PER_PAGE);
        });
      },
    );
  }

  /** Cuts `[addr, addr+len)` into the partial pages at its edges and the whole pages inside. */
  private split(
    addr: number,
    len: number,
    edge: (a: number, e: number) => void,
    whole: (first: number, last: number) => void,
  ): void {
    const end = addr + len;
    const first = Math.ceil(addr * INV_PAGE);
    const last = Math.floor(end * INV_PAGE);
    if (first >= last) {
      edge(addr, end);
      return;
    }
    edge(addr, first * PAGE_SIZE);
    whole(first, last);
    edge(last * PAGE_SIZE, end);
  }

  /**
   * Fills `[addr, addr+len)` with the seeded random stream `seed` whose offset 0 sits at physical
   * address `origin` (default `addr`): `get_random_bytes()`-like content (docs/hw.md). Whole
   * pages are described, not materialised. The bytes depend only on `seed`, `origin` and the
   * address, so fills of one stream at different places never repeat each other, and adjacent
   * fills of one stream are one description.
   */
  fillRandom(addr: number, len: number, seed: number, origin = addr): void {
    this.checkRange(addr, len);
    if (!Number.isInteger(seed)) throw badValue(addr, seed, 'seed');
    if (!Number.isSafeInteger(origin) || origin > addr) throw badValue(addr, origin, 'stream origin');
    if (len === 0) return;
    this.describe(addr, len, randomContent(seed >>> 0, origin));
  }

  /** Fills `[a, e)` page by page, materialising pages unless a zero fill changes nothing. */
  private fillPartial(a: number, e: number, b: number): void {
    while (a < e) {
      const off = a & PAGE_MASK;
      const pfn = (a - off) * INV_PAGE;
      const n = Math.min(e - a, PAGE_SIZE - off);
      if (b === 0 && !this.find(pfn) && this.descAt(pfn) === null) {
        a += n; // zero into a page that reads as zero: nothing to store
        continue;
      }
      this.materialise(pfn);
      const { bytes, off: base } = this.cachedBytes();
      bytes.fill(b, base + off, base + off + n);
      a += n;
    }
  }

  /**
   * Gives `[addr, addr+len)` the content `d`: whole pages are described (touched ones are
   * generated in place, since a touched page wins over a description), partial pages at the
   * edges are materialised and written.
   */
  private describe(addr: number, len: number, d: ContentDesc): void {
    this.split(
      addr,
      len,
      (a, e) => {
        this.writeDesc(a, e, d);
      },
      (first, last) => {
        this.ext.set(first, last, d);
        this.forTouchedIn(first, last, (pfn) => {
          this.find(pfn);
          descPage(d, pfn, this.cSlab, this.cBase, this.sc);
        });
      },
    );
  }

  /** Writes `d`'s bytes into `[a, e)`, materialising the pages. */
  private writeDesc(a: number, e: number, d: ContentDesc): void {
    while (a < e) {
      const off = a & PAGE_MASK;
      const pfn = (a - off) * INV_PAGE;
      const n = Math.min(e - a, PAGE_SIZE - off);
      this.materialise(pfn);
      const { bytes, off: base } = this.cachedBytes();
      descBytes(d, a, n, bytes, base + off, this.sc);
      a += n;
    }
  }

  /** Copies `len` bytes from `src` to `dst`; overlapping ranges behave like `memmove`. */
  copy(dst: number, src: number, len: number): void {
    this.checkRange(src, len);
    this.checkRange(dst, len);
    if (len === 0 || dst === src) return;
    const overlap = !(dst + len <= src || src + len <= dst);
    // The source as segments, in order; an overlapping copy snapshots touched bytes first.
    const segs = this.segments(src, len, overlap);
    const delta = dst - src;
    for (const g of segs) {
      const d = g.a + delta;
      const n = g.b - g.a;
      if (g.desc !== null) {
        if (g.desc.kind === CONTENT_POISON) this.poisonRead(Math.floor(g.a * INV_PAGE));
        this.describe(d, n, g.desc.shifted(delta));
      } else if (g.bytes !== null) this.write(d, g.bytes);
      else if (g.touched) this.copyTouched(d, g.a, n);
      else this.fill(d, n, 0);
    }
  }

  /**
   * The source range `[src, src+len)` cut into runs of one kind: zero, described (one
   * description each), or touched (one page each, with a copy of its bytes when `snapshot`).
   * Time follows the touched pages and descriptions in the range, not its length.
   */
  private segments(src: number, len: number, snapshot: boolean): CopySegment[] {
    const end = src + len;
    const p0 = Math.floor(src * INV_PAGE);
    const p1 = Math.ceil(end * INV_PAGE);
    const touched: number[] = [];
    this.forTouchedIn(p0, p1, (pfn) => {
      touched.push(pfn);
    });
    touched.sort((a, b) => a - b);
    const runs = this.ext.runs(p0, p1);
    const out: CopySegment[] = [];
    let ri = 0;
    const untouched = (a: number, b: number): void => {
      // [a, b) holds no touched page: zero gaps and described parts.
      let cur = a;
      while (ri < runs.length && runs[ri]!.e * PAGE_SIZE <= a) ri++;
      for (let k = ri; k < runs.length; k++) {
        const r = runs[k]!;
        const rs = Math.max(r.s * PAGE_SIZE, a);
        if (rs >= b) break;
        const re = Math.min(r.e * PAGE_SIZE, b);
        if (cur < rs) out.push({ a: cur, b: rs, desc: null, touched: false, bytes: null });
        out.push({ a: rs, b: re, desc: r.v, touched: false, bytes: null });
        cur = re;
      }
      if (cur < b) out.push({ a: cur, b, desc: null, touched: false, bytes: null });
    };
    let cur = src;
    for (const pfn of touched) {
      const ps = Math.max(pfn * PAGE_SIZE, src);
      const pe = Math.min((pfn + 1) * PAGE_SIZE, end);
      if (cur < ps) untouched(cur, ps);
      out.push({ a: ps, b: pe, desc: null, touched: true, bytes: snapshot ? this.read(ps, pe - ps) : null });
      cur = pe;
    }
    if (cur < end) untouched(cur, end);
    return out;
  }

  /** Copies bytes of one touched source page to `d` (disjoint ranges), page piece by piece. */
  private copyTouched(d: number, s: number, n: number): void {
    const spfn = Math.floor(s * INV_PAGE);
    this.find(spfn);
    const srcBytes = this.slabBytes[this.cSlot >>> 8]!;
    const sbase = (this.cBase << 2) + (s - spfn * PAGE_SIZE);
    let done = 0;
    while (done < n) {
      const a = d + done;
      const doff = a & PAGE_MASK;
      const k = Math.min(n - done, PAGE_SIZE - doff);
      this.materialise((a - doff) * INV_PAGE);
      const { bytes, off } = this.cachedBytes();
      bytes.set(srcBytes.subarray(sbase + done, sbase + done + k), off + doff);
      done += k;
    }
  }

  // ---------------------------------------------------------------- checksums

  /**
   * x86-64 `csum_partial(phys_to_virt(addr), len, sum)` over physical memory (src/util/csum.ts):
   * the ones'-complement sum of the range's little-endian words folded to 32 bits. Described
   * ranges are summed from their description (whole random blocks by formula), touched pages
   * word by word; nothing is materialised.
   */
  csumPartial(addr: number, len: number, sum = 0): number {
    this.checkRange(addr, len);
    let res = this.absResidue(addr, len);
    // csum_partial's words start at `addr`: undo the absolute alignment weights.
    res = residueShl8(res, (4 - (addr & 3)) & 3);
    const nonzero = res !== 0 || this.anyNonzero(addr, len);
    return csumAdd(sum >>> 0, csumOfResidue(res, nonzero));
  }

  /** Residue modulo 2^32 − 1 of `[addr, addr+len)`, each byte weighted 256^(address mod 4). */
  private absResidue(addr: number, len: number): number {
    if (len === 0) return 0;
    const end = addr + len;
    const p0 = Math.floor(addr * INV_PAGE);
    const p1 = Math.ceil(end * INV_PAGE);
    let acc = 0;
    this.ext.forEachIn(p0, p1, (s, e, d) => {
      acc += descResidue(d, Math.max(s * PAGE_SIZE, addr), Math.min(e * PAGE_SIZE, end), this.sc);
      if (acc >= 2 ** 52) acc %= CSUM_MOD;
    });
    const touched: number[] = [];
    this.forTouchedIn(p0, p1, (pfn) => {
      touched.push(pfn);
    });
    for (const pfn of touched) {
      const a = Math.max(pfn * PAGE_SIZE, addr);
      const b = Math.min((pfn + 1) * PAGE_SIZE, end);
      this.find(pfn);
      const w = this.cSlab;
      const base = this.cBase;
      let r: number;
      if (b - a === PAGE_SIZE) r = wordsResidue(w, base, WORDS_PER_PAGE);
      else {
        const bytes = this.slabBytes[this.cSlot >>> 8]!;
        r = bytesResidue(bytes, (base << 2) + (a - pfn * PAGE_SIZE), b - a, a);
      }
      // A touched page wins over a description that still covers it: take that part out.
      const d = this.descAt(pfn);
      if (d !== null) r += CSUM_MOD - descResidue(d, a, b, this.sc);
      acc += r;
      if (acc >= 2 ** 52) acc %= CSUM_MOD;
    }
    return acc % CSUM_MOD;
  }

  /** True when a byte of `[addr, addr+len)` is non-zero (only asked when the residue is 0). */
  private anyNonzero(addr: number, len: number): boolean {
    const end = addr + len;
    const p0 = Math.floor(addr * INV_PAGE);
    const p1 = Math.ceil(end * INV_PAGE);
    const touched: number[] = [];
    this.forTouchedIn(p0, p1, (pfn) => {
      touched.push(pfn);
    });
    for (const pfn of touched) {
      this.find(pfn);
      const bytes = this.slabBytes[this.cSlot >>> 8]!;
      const o = (this.cBase << 2) - pfn * PAGE_SIZE;
      const a = Math.max(pfn * PAGE_SIZE, addr);
      const b = Math.min((pfn + 1) * PAGE_SIZE, end);
      for (let i = o + a; i < o + b; i++) if (bytes[i] !== 0) return true;
    }
    for (const r of this.ext.runs(p0, p1)) {
      for (let pfn = r.s; pfn < r.e; pfn++) {
        if (this.find(pfn)) continue; // touched: checked above
        const a = Math.max(pfn * PAGE_SIZE, addr);
        const b = Math.min((pfn + 1) * PAGE_SIZE, end);
        // A whole described page is never all zero: a pattern word is non-zero, poison is 0xaa,
        // and of a random page's 128 blocks (sums c0 + j·c1, c1 ≢ 0) at most one sums to 0.
        if (b - a === PAGE_SIZE) return true;
        if (this.readNoHook(a, b - a).some((x) => x !== 0)) return true;
      }
    }
    return false;
  }

  /**
   * Run `fn` with the poison-read hook detached: looking at memory (internal checks, views,
   * Tab completion) is not an access by the running kernel.
   */
  quietly<T>(fn: () => T): T {
    const hook = this.onPoisonRead;
    this.onPoisonRead = null;
    try {
      return fn();
    } finally {
      this.onPoisonRead = hook;
    }
  }

  /** `read` without the poison-read hook (internal checks are not successor reads). */
  private readNoHook(addr: number, len: number): Uint8Array {
    return this.quietly(() => this.read(addr, len));
  }

  // ---------------------------------------------------------------- pages

  /**
   * The page's 1024 little-endian words, materialised. The view stays valid until the page is
   * discarded or poisoned; after that its slot may be reused by another page.
   */
  page(pfn: number): Uint32Array {
    this.checkPfn(pfn);
    this.materialise(pfn);
    const slot = this.cSlot;
    let v = this.views[slot];
    if (v === undefined) {
      v = this.cSlab.subarray(this.cBase, this.cBase + WORDS_PER_PAGE);
      this.views[slot] = v;
    }
    return v;
  }

  /**
   * The page's words without materialising it: the live view of a touched page, a fresh copy
   * of a described page's generated words (pattern or random), `null` when it reads as zero or
   * poison.
   */
  peekPage(pfn: number): Uint32Array | null {
    this.checkPfn(pfn);
    if (this.find(pfn)) return this.page(pfn);
    const d = this.descAt(pfn);
    if (d === null || d.kind === CONTENT_POISON) return null;
    const out = new Uint32Array(WORDS_PER_PAGE);
    descPage(d, pfn, out, 0, this.sc);
    return out;
  }

  /**
   * Copies the page's content into `out` (1024 words) without materialising it, whatever its
   * state; returns false (and leaves `out` alone) when the page reads as zero. Poison counts
   * as content here and does not call {@link onPoisonRead} (dumps are not successor reads).
   */
  readPage(pfn: number, out: Uint32Array): boolean {
    this.checkPfn(pfn);
    if (this.find(pfn)) {
      out.set(this.cSlab.subarray(this.cBase, this.cBase + WORDS_PER_PAGE));
      return true;
    }
    const d = this.descAt(pfn);
    if (d === null) return false;
    descPage(d, pfn, out, 0, this.sc);
    return true;
  }

  /**
   * Consecutive pages from `pfn` (at most `max`) that read as zero without storage: untouched
   * and not described. `hexdump` skips them as a run of zeros.
   */
  zeroPagesFrom(pfn: number, max: number): number {
    this.checkPfn(pfn);
    let n = 0;
    while (n < max && pfn + n < this.maxPfn && !this.find(pfn + n) && this.descAt(pfn + n) === null) n++;
    return n;
  }

  /**
   * What `[first, end)` (pfns) holds, as ascending runs of one kind each: `zero` (untouched),
   * `data` (touched), `poison`, `pattern`, `random` (described). Costs time per touched page
   * and per description, not per page: a memory map of a terabyte is cheap.
   */
  contentRuns(first: number, end: number): ContentRun[] {
    this.checkPfn(first);
    if (end > this.maxPfn || end < first || !Number.isInteger(end)) throw this.bad(end * PAGE_SIZE, 0);
    const out: ContentRun[] = [];
    const push = (s: number, e: number, kind: ContentKind): void => {
      if (s >= e) return;
      const last = out[out.length - 1];
      if (last !== undefined && last.end === s && last.kind === kind) last.end = e;
      else out.push({ start: s, end: e, kind });
    };
    const touched: number[] = [];
    this.forTouchedIn(first, end, (pfn) => {
      touched.push(pfn);
    });
    touched.sort((a, b) => a - b);
    const runs = this.ext.runs(first, end);
    let ri = 0;
    const untouched = (a: number, b: number): void => {
      let cur = a;
      while (ri < runs.length && runs[ri]!.e <= a) ri++;
      for (let k = ri; k < runs.length && runs[k]!.s < b; k++) {
        const r = runs[k]!;
        const rs = Math.max(r.s, a);
        const re = Math.min(r.e, b);
        push(cur, rs, 'zero');
        push(rs, re, KIND_NAMES[r.v.kind]!);
        cur = re;
      }
      push(cur, b, 'zero');
    };
    let cur = first;
    for (const pfn of touched) {
      untouched(cur, pfn);
      push(pfn, pfn + 1, 'data');
      cur = pfn + 1;
    }
    untouched(cur, end);
    return out;
  }

  /** True when the page is backed by storage. */
  isTouched(pfn: number): boolean {
    this.checkPfn(pfn);
    return this.find(pfn);
  }

  /** Number of touched pages. */
  get touchedCount(): number {
    return this.count;
  }

  /**
   * Counts pages dropped by `discard` or `poison` so far. A caller that caches `page()` views
   * can compare it to detect that a view may now alias another page's slot.
   */
  get dropEpoch(): number {
    return this.drops;
  }

  /** Touched pfns, ascending. */
  touchedPfns(): number[] {
    const out: number[] = [];
    for (const [hi, inner] of this.index) {
      const base = hi * 0x10_0000;
      for (const lo of inner.keys()) out.push(base + lo);
    }
    return out.sort((a, b) => a - b);
  }

  /** Calls `fn(pfn, words)` for every touched page, ascending by pfn. */
  forEachTouched(fn: (pfn: number, words: Uint32Array) => void): void {
    for (const pfn of this.touchedPfns()) {
      if (this.find(pfn)) fn(pfn, this.page(pfn));
    }
  }

  /** Forgets a page: it reads as zero again (no longer poisoned or described). */
  discard(pfn: number): void {
    this.checkPfn(pfn);
    this.drop(pfn);
    if (this.ext.size !== 0) this.ext.remove(pfn, pfn + 1);
  }

  /** Power off: every page reads as zero again and no storage is held but the free slots. */
  clear(): void {
    for (const pfn of this.touchedPfns()) this.drop(pfn);
    this.ext.clear();
  }

  /** Frees a touched page's slot; the page then reads as zero or poison, per the list. */
  private drop(pfn: number): void {
    if (!this.find(pfn)) return;
    const lo = pfn & LO_BITS_MASK;
    const hi = (pfn - lo) * INV_LO_SPAN;
    const inner = this.index.get(hi)!;
    inner.delete(lo);
    if (inner.size === 0) {
      this.index.delete(hi);
      this.cHi = -1;
      this.cInner = undefined;
    }
    this.freeSlots.push(this.cSlot);
    this.count--;
    this.drops++;
    this.cPfn = -1;
    this.cSlot = -1;
    const h = pfn & TLB_MASK;
    if (this.tlbPfn[h] === pfn) this.tlbSlot[h] = -1;
  }

  /** Calls `fn` for each touched pfn in `[a, b)` (order unspecified); `fn` may drop pages. */
  private forTouchedIn(a: number, b: number, fn: (pfn: number) => void): void {
    if (this.count === 0 || a >= b) return;
    if (b - a <= 4 * this.count) {
      for (let pfn = a; pfn < b; pfn++) if (this.find(pfn)) fn(pfn);
      return;
    }
    const hits: number[] = [];
    for (const [hi, inner] of this.index) {
      const base = hi * 0x10_0000;
      if (base + 0x10_0000 <= a || base >= b) continue;
      for (const lo of inner.keys()) {
        const pfn = base + lo;
        if (pfn >= a && pfn < b) hits.push(pfn);
      }
    }
    for (const pfn of hits) fn(pfn);
  }

  // ---------------------------------------------------------------- poison

  /**
   * Poisons `[start, start+len)`: whole pages inside drop their content and read as
   * {@link POISON_BYTE} without costing storage; partial pages at the edges get the pattern
   * written into them (materialising them).
   */
  poison(start: number, len: number): void {
    this.checkRange(start, len);
    if (len === 0) return;
    this.split(
      start,
      len,
      (a, e) => {
        this.fillPartial(a, e, POISON_BYTE);
      },
      (first, last) => {
        this.forTouchedIn(first, last, (pfn) => {
          this.drop(pfn);
        });
        this.ext.set(first, last, POISON_CONTENT);
      },
    );
  }

  /**
   * Poisons whole pages: every pfn range `[starts[k], ends[k])` (sorted by start, disjoint)
   * drops its content and reads as {@link POISON_BYTE}, as `poison` of each range would, in
   * one pass over the description map (the sanitizer poisons millions of gaps at a jump).
   */
  poisonPages(starts: ArrayLike<number>, ends: ArrayLike<number>, n: number): void {
    for (let k = 0; k < n; k++) {
      const a = starts[k]!;
      const b = ends[k]!;
      if (!(a >= 0 && a <= b && b <= this.maxPfn) || (k > 0 && a < ends[k - 1]!)) {
        throw new KhoMemError(
          'EINVAL',
          -1,
          `poison ranges must be sorted, disjoint pfn ranges inside memory`,
        );
      }
    }
    // One merge of the sorted touched pages with the ranges: a touched page inside a range loses
    // its content (asking per range would cost per range, and there may be millions).
    if (this.count !== 0) {
      let k = 0;
      for (const pfn of this.touchedPfns()) {
        while (k < n && ends[k]! <= pfn) k++;
        if (k === n) break;
        if (starts[k]! <= pfn) this.drop(pfn);
      }
    }
    this.ext.setMany(starts, ends, n, POISON_CONTENT);
  }

  /**
   * Clears the lazy poison of untouched pages wholly inside `[start, start+len)` (rounded inward
   * to whole pages): they read as zero again. Touched pages keep their content.
   */
  unpoison(start: number, len: number): void {
    this.checkRange(start, len);
    const first = Math.ceil(start * INV_PAGE);
    const last = Math.floor((start + len) * INV_PAGE);
    for (const r of this.ext.runs(first, last)) {
      if (r.v.kind === CONTENT_POISON) this.ext.remove(r.s, r.e);
    }
  }

  /** True when the page is untouched and reads as poison. */
  isPoisoned(pfn: number): boolean {
    this.checkPfn(pfn);
    return !this.find(pfn) && this.inPoisonList(pfn);
  }

  /** The poison list as byte ranges `[start, end)`, ascending (may cover touched pages). */
  poisonedRanges(): { start: number; end: number }[] {
    const out: { start: number; end: number }[] = [];
    for (const r of this.ext.all()) {
      if (r.v.kind !== CONTENT_POISON) continue;
      const last = out[out.length - 1];
      // Poison runs split only by other descriptions; adjacent ones read as one range.
      if (last !== undefined && last.end === r.s * PAGE_SIZE) last.end = r.e * PAGE_SIZE;
      else out.push({ start: r.s * PAGE_SIZE, end: r.e * PAGE_SIZE });
    }
    return out;
  }

  /** What the memory costs right now. */
  stats(): PhysicalMemoryStats {
    return {
      touchedPages: this.count,
      slabs: this.slabs.length,
      freeSlots: this.freeSlots.length,
      poisonedRanges: this.poisonedRanges().length,
      describedRanges: this.ext.size,
      slabBytes: this.slabs.length * SLAB_WORDS * 4,
    };
  }
}

function badValue(addr: number, v: number, kind: string): KhoMemError {
  return new KhoMemError('EINVAL', -1, `value ${String(v)} does not fit a ${kind} (at ${showAddr(addr)})`);
}
