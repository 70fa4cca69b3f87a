/**
 * Sparse simulated physical memory: a little-endian (x86-64) byte space of up to 2^52 bytes in
 * 4 KiB pages, where only pages that were written cost memory.
 *
 * Every page is in one of three states:
 * - untouched: reads as zero, costs nothing;
 * - poisoned: untouched but inside a poisoned range, reads as {@link POISON_BYTE}, costs nothing
 *   (only an entry in a sorted interval list);
 * - touched: backed by a 4 KiB slot carved from a 1 MiB `Uint32Array` slab.
 *
 * Writing to an untouched page materialises it filled with zeros, to a poisoned page filled with
 * the poison pattern. A touched page wins over the poison list (the list may still cover it).
 * Pages are indexed by a two-level Map (pfn high bits, pfn low 20 bits), because one V8 Map tops
 * out at 2^24 entries. Freed slots are reused. See docs/hw.md.
 */
import { KhoMemError, showAddr } from './errors.ts';

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

/** Counters describing what the memory costs. */
export interface PhysicalMemoryStats {
  touchedPages: number;
  slabs: number;
  freeSlots: number;
  poisonedRanges: number;
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

  /** Poisoned pfn ranges `[pStart[i], pEnd[i])`, sorted, disjoint, not adjacent. */
  private pStart: number[] = [];
  private pEnd: number[] = [];

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
    if (this.inPoisonList(pfn)) slab.fill(POISON_WORD, base, base + WORDS_PER_PAGE);
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

  // ---------------------------------------------------------------- poison list

  /** Index of the first poison range whose end is > pfn. */
  private pLower(pfn: number): number {
    const ends = this.pEnd;
    let lo = 0;
    let hi = ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True when `pfn` lies in the poison list (whether or not it is touched). */
  private inPoisonList(pfn: number): boolean {
    if (this.pEnd.length === 0) return false;
    const i = this.pLower(pfn);
    return i < this.pStart.length && this.pStart[i]! <= pfn;
  }

  /** Adds `[a, b)` (pfns) to the poison list, merging neighbours. */
  private pAdd(a: number, b: number): void {
    if (a >= b) return;
    // First range with end >= a (touching counts, so adjacent ranges merge).
    let i = this.pLower(a);
    if (i > 0 && this.pEnd[i - 1]! === a) i--;
    let j = i;
    let s = a;
    let e = b;
    while (j < this.pStart.length && this.pStart[j]! <= b) {
      s = Math.min(s, this.pStart[j]!);
      e = Math.max(e, this.pEnd[j]!);
      j++;
    }
    this.pStart.splice(i, j - i, s);
    this.pEnd.splice(i, j - i, e);
  }

  /** Removes `[a, b)` (pfns) from the poison list, splitting ranges. */
  private pRemove(a: number, b: number): void {
    if (a >= b || this.pEnd.length === 0) return;
    const i = this.pLower(a);
    let j = i;
    const keepS: number[] = [];
    const keepE: number[] = [];
    while (j < this.pStart.length && this.pStart[j]! < b) {
      const s = this.pStart[j]!;
      const e = this.pEnd[j]!;
      if (s < a) {
        keepS.push(s);
        keepE.push(a);
      }
      if (e > b) {
        keepS.push(b);
        keepE.push(e);
      }
      j++;
    }
    if (j === i) return;
    this.pStart.splice(i, j - i, ...keepS);
    this.pEnd.splice(i, j - i, ...keepE);
  }

  // ---------------------------------------------------------------- byte and word access

  /** Reads one byte. */
  readU8(addr: number): number {
    if (!(addr >= 0 && addr < this.limit) || addr !== Math.floor(addr)) throw this.bad(addr, 1);
    const off = addr & PAGE_MASK;
    const pfn = (addr - off) * INV_PAGE;
    if (!this.find(pfn)) {
      if (!this.inPoisonList(pfn)) return 0;
      this.poisonRead(pfn);
      return POISON_BYTE;
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
      if (!this.inPoisonList(pfn)) return 0;
      this.poisonRead(pfn);
      return POISON_WORD;
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
      } else if (this.inPoisonList(pfn)) {
        this.poisonRead(pfn);
        out.fill(POISON_BYTE, done, done + n);
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
   * Sets `len` bytes to `byte`. Filling whole untouched pages with zero leaves them untouched
   * (and clears their poison), so zeroing a huge range costs nothing.
   */
  fill(addr: number, len: number, byte: number): void {
    this.checkRange(addr, len);
    if (!(byte >= -128 && byte <= 255) || byte !== Math.floor(byte)) throw badValue(addr, byte, 'u8');
    const b = byte & 0xff;
    if (len === 0) return;
    const end = addr + len;
    // Whole pages inside the range.
    const first = Math.ceil(addr * INV_PAGE);
    const last = Math.floor(end * INV_PAGE);
    if (b === 0 && first < last) {
      this.fillPartial(addr, Math.min(end, first * PAGE_SIZE), 0);
      this.pRemove(first, last);
      this.forTouchedIn(first, last, (pfn) => {
        this.find(pfn);
        this.cSlab.fill(0, this.cBase, this.cBase + WORDS_PER_PAGE);
      });
      this.fillPartial(Math.max(addr, last * PAGE_SIZE), end, 0);
      return;
    }
    this.fillPartial(addr, end, b);
  }

  /** Fills `[a, e)` page by page, materialising pages unless a zero fill changes nothing. */
  private fillPartial(a: number, e: number, b: number): void {
    while (a < e) {
      const off = a & PAGE_MASK;
      const pfn = (a - off) * INV_PAGE;
      const n = Math.min(e - a, PAGE_SIZE - off);
      if (b === 0 && !this.find(pfn) && !this.inPoisonList(pfn)) {
        a += n; // zero into a page that reads as zero: nothing to store
        continue;
      }
      this.materialise(pfn);
      const { bytes, off: base } = this.cachedBytes();
      bytes.fill(b, base + off, base + off + n);
      a += n;
    }
  }

  /** Copies `len` bytes from `src` to `dst`; overlapping ranges behave like `memmove`. */
  copy(dst: number, src: number, len: number): void {
    this.checkRange(src, len);
    this.checkRange(dst, len);
    if (len === 0 || dst === src) return;
    if (dst + len <= src || src + len <= dst) {
      this.copyDisjoint(dst, src, len);
      return;
    }
    const backward = dst > src;
    let remaining = len;
    while (remaining > 0) {
      let s: number;
      let d: number;
      let n: number;
      if (backward) {
        const se = src + remaining;
        const de = dst + remaining;
        n = Math.min(remaining, se & PAGE_MASK || PAGE_SIZE, de & PAGE_MASK || PAGE_SIZE);
        s = se - n;
        d = de - n;
      } else {
        s = src + (len - remaining);
        d = dst + (len - remaining);
        n = Math.min(remaining, PAGE_SIZE - (s & PAGE_MASK), PAGE_SIZE - (d & PAGE_MASK));
      }
      this.copyChunk(d, s, n);
      remaining -= n;
    }
  }

  /**
   * Copies between disjoint ranges in time proportional to the touched source pages: runs of
   * untouched source pages become zero fills (free on untouched destinations) or poison fills.
   */
  private copyDisjoint(dst: number, src: number, len: number): void {
    const end = src + len;
    const touched: number[] = [];
    this.forTouchedIn(Math.floor(src * INV_PAGE), Math.ceil(end * INV_PAGE), (pfn) => {
      touched.push(pfn);
    });
    touched.sort((a, b) => a - b);
    let cur = src;
    for (const pfn of touched) {
      const ps = Math.max(pfn * PAGE_SIZE, src);
      const pe = Math.min(ps - (ps & PAGE_MASK) + PAGE_SIZE, end);
      if (cur < ps) this.copyUntouched(dst + (cur - src), cur, ps - cur);
      for (let s = ps; s < pe;) {
        const d = dst + (s - src);
        const n = Math.min(pe - s, PAGE_SIZE - (d & PAGE_MASK));
        this.copyChunk(d, s, n);
        s += n;
      }
      cur = pe;
    }
    if (cur < end) this.copyUntouched(dst + (cur - src), cur, end - cur);
  }

  /** Copies from a source range whose pages are all untouched (zero or poison). */
  private copyUntouched(d: number, s: number, n: number): void {
    const e = s + n;
    // Snapshot the poisoned parts first: zero fills of the destination edit the poison list.
    const parts: number[] = [];
    for (let i = this.pLower(Math.floor(s * INV_PAGE)); i < this.pStart.length; i++) {
      const ps = Math.max(this.pStart[i]! * PAGE_SIZE, s);
      if (ps >= e) break;
      parts.push(ps, Math.min(this.pEnd[i]! * PAGE_SIZE, e));
    }
    let cur = s;
    for (let k = 0; k < parts.length; k += 2) {
      const ps = parts[k]!;
      const pe = parts[k + 1]!;
      if (cur < ps) this.fill(d + (cur - s), ps - cur, 0);
      this.poisonRead(Math.floor(ps * INV_PAGE));
      this.fill(d + (ps - s), pe - ps, POISON_BYTE);
      cur = pe;
    }
    if (cur < e) this.fill(d + (cur - s), e - cur, 0);
  }

  /** Copies a chunk that crosses no page boundary on either side. */
  private copyChunk(d: number, s: number, n: number): void {
    const soff = s & PAGE_MASK;
    const spfn = (s - soff) * INV_PAGE;
    if (!this.find(spfn)) {
      const poisoned = this.inPoisonList(spfn);
      if (poisoned) this.poisonRead(spfn);
      this.fill(d, n, poisoned ? POISON_BYTE : 0);
      return;
    }
    const srcBytes = this.slabBytes[this.cSlot >>> 8]!;
    const sbase = (this.cBase << 2) + soff;
    const doff = d & PAGE_MASK;
    this.materialise((d - doff) * INV_PAGE);
    const { bytes, off } = this.cachedBytes();
    if (bytes === srcBytes) bytes.copyWithin(off + doff, sbase, sbase + n);
    else bytes.set(srcBytes.subarray(sbase, sbase + n), off + doff);
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

  /** The page's words when touched, `null` when it reads as zero or poison. Never materialises. */
  peekPage(pfn: number): Uint32Array | null {
    this.checkPfn(pfn);
    if (!this.find(pfn)) return null;
    return this.page(pfn);
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

  /** Forgets a page: it reads as zero again (and is no longer poisoned). */
  discard(pfn: number): void {
    this.checkPfn(pfn);
    this.drop(pfn);
    if (this.pEnd.length !== 0) this.pRemove(pfn, pfn + 1);
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
    const end = start + len;
    const first = Math.ceil(start * INV_PAGE);
    const last = Math.floor(end * INV_PAGE);
    if (first >= last) {
      this.fillPartial(start, end, POISON_BYTE);
      return;
    }
    this.fillPartial(start, first * PAGE_SIZE, POISON_BYTE);
    this.fillPartial(last * PAGE_SIZE, end, POISON_BYTE);
    this.forTouchedIn(first, last, (pfn) => {
      this.drop(pfn);
    });
    this.pAdd(first, last);
  }

  /**
   * Clears the lazy poison of untouched pages wholly inside `[start, start+len)` (rounded inward
   * to whole pages): they read as zero again. Touched pages keep their content.
   */
  unpoison(start: number, len: number): void {
    this.checkRange(start, len);
    const first = Math.ceil(start * INV_PAGE);
    const last = Math.floor((start + len) * INV_PAGE);
    this.pRemove(first, last);
  }

  /** True when the page is untouched and reads as poison. */
  isPoisoned(pfn: number): boolean {
    this.checkPfn(pfn);
    return !this.find(pfn) && this.inPoisonList(pfn);
  }

  /** The poison list as byte ranges `[start, end)`, ascending (may cover touched pages). */
  poisonedRanges(): { start: number; end: number }[] {
    return this.pStart.map((s, i) => ({ start: s * PAGE_SIZE, end: this.pEnd[i]! * PAGE_SIZE }));
  }

  /** What the memory costs right now. */
  stats(): PhysicalMemoryStats {
    return {
      touchedPages: this.count,
      slabs: this.slabs.length,
      freeSlots: this.freeSlots.length,
      poisonedRanges: this.pStart.length,
      slabBytes: this.slabs.length * SLAB_WORDS * 4,
    };
  }
}

function badValue(addr: number, v: number, kind: string): KhoMemError {
  return new KhoMemError('EINVAL', -1, `value ${String(v)} does not fit a ${kind} (at ${showAddr(addr)})`);
}
