/**
 * A sparse bitset with fast "lowest set bit" search: the buddy allocator's free-area index.
 * The kernel keeps free blocks on linked lists threaded through `struct page`; the model has
 * no per-page objects, so each (order, migratetype) free area is a set of block indices.
 *
 * Layout: bits are grouped in chunks of 2^15 (4 KiB of leaf words), allocated on first use.
 * Each chunk carries a 32-word summary (bit = leaf word non-zero) and one top word (bit =
 * summary word non-zero), so finding the lowest set bit inside a chunk is three `clz32`s.
 * Non-empty chunks are marked in a dense bitmap over chunks, scanned from a low-water hint.
 * Indices must be below 2^32.
 */

const CHUNK_SHIFT = 15;
const CHUNK_BITS = 1 << CHUNK_SHIFT;
const LEAF_WORDS = CHUNK_BITS >>> 5; // 1024
const SUM_OFF = LEAF_WORDS; // 32 summary words
const TOP_OFF = SUM_OFF + 32;
const CNT_OFF = TOP_OFF + 1;
const CHUNK_WORDS = CNT_OFF + 1;

/** Index of the lowest set bit of a non-zero 32-bit word. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** A set of integers in `[0, size)`, size up to 2^32. */
export class FreeBitmap {
  /** Universe size. */
  readonly size: number;
  private readonly chunks: (Uint32Array | undefined)[];
  private readonly nonEmpty: Uint32Array;
  /** Lowest word of `nonEmpty` that may be non-zero. */
  private hint: number;
  private total = 0;

  constructor(size: number) {
    this.size = size;
    const nchunks = Math.ceil(size / CHUNK_BITS);
    this.chunks = new Array<Uint32Array | undefined>(nchunks).fill(undefined);
    this.nonEmpty = new Uint32Array(Math.ceil(nchunks / 32));
    this.hint = this.nonEmpty.length;
  }

  /** Number of set bits. */
  get count(): number {
    return this.total;
  }

  /** Number of allocated chunks (memory cost: about 4 KiB each). */
  get chunkCount(): number {
    let n = 0;
    for (const c of this.chunks) if (c !== undefined) n++;
    return n;
  }

  /** True when bit `i` is set. */
  test(i: number): boolean {
    const c = this.chunks[i >>> CHUNK_SHIFT];
    if (c === undefined) return false;
    return (c[(i >>> 5) & (LEAF_WORDS - 1)]! & (1 << (i & 31))) !== 0;
  }

  /** Set bit `i`; returns false when it was already set. */
  set(i: number): boolean {
    const ci = i >>> CHUNK_SHIFT;
    let c = this.chunks[ci];
    if (c === undefined) {
      c = new Uint32Array(CHUNK_WORDS);
      this.chunks[ci] = c;
    }
    const w = (i >>> 5) & (LEAF_WORDS - 1);
    const m = 1 << (i & 31);
    const old = c[w]!;
    if ((old & m) !== 0) return false;
    c[w] = old | m;
    if (old === 0) {
      const sw = w >>> 5;
      const so = c[SUM_OFF + sw]!;
      c[SUM_OFF + sw] = so | (1 << (w & 31));
      if (so === 0) c[TOP_OFF]! |= 1 << sw;
    }
    if (c[CNT_OFF]!++ === 0) {
      const nw = ci >>> 5;
      this.nonEmpty[nw]! |= 1 << (ci & 31);
      if (nw < this.hint) this.hint = nw;
    }
    this.total++;
    return true;
  }

  /** Clear bit `i`; returns false when it was not set. */
  clear(i: number): boolean {
    const ci = i >>> CHUNK_SHIFT;
    const c = this.chunks[ci];
    if (c === undefined) return false;
    const w = (i >>> 5) & (LEAF_WORDS - 1);
    const m = 1 << (i & 31);
    const old = c[w]!;
    if ((old & m) === 0) return false;
    const nw = old & ~m;
    c[w] = nw;
    if (nw === 0) {
      const sw = w >>> 5;
      const so = c[SUM_OFF + sw]! & ~(1 << (w & 31));
      c[SUM_OFF + sw] = so;
      if (so === 0) c[TOP_OFF]! &= ~(1 << sw);
    }
    if (--c[CNT_OFF]! === 0) {
      this.nonEmpty[ci >>> 5]! &= ~(1 << (ci & 31));
      // Keep the (empty) chunk: a free area that empties tends to refill at the same place.
    }
    this.total--;
    return true;
  }

  /**
   * Set bits `[i, i + n)`; returns how many were newly set. Whole words are filled at once,
   * which is how boot inserts millions of MAX_ORDER blocks cheaply.
   */
  setRun(i: number, n: number): number {
    let added = 0;
    let p = i;
    const end = i + n;
    while (p < end) {
      if ((p & 31) !== 0 || end - p < 32) {
        if (this.set(p)) added++;
        p++;
        continue;
      }
      const ci = p >>> CHUNK_SHIFT;
      let c = this.chunks[ci];
      if (c === undefined) {
        c = new Uint32Array(CHUNK_WORDS);
        this.chunks[ci] = c;
      }
      const w = (p >>> 5) & (LEAF_WORDS - 1);
      const old = c[w]!;
      const fresh = 32 - popcount(old);
      if (fresh !== 0) {
        c[w] = 0xffffffff;
        if (old === 0) {
          const sw = w >>> 5;
          c[SUM_OFF + sw]! |= 1 << (w & 31);
          c[TOP_OFF]! |= 1 << sw;
        }
        if (c[CNT_OFF] === 0) {
          const nw = ci >>> 5;
          this.nonEmpty[nw]! |= 1 << (ci & 31);
          if (nw < this.hint) this.hint = nw;
        }
        c[CNT_OFF]! += fresh;
        this.total += fresh;
        added += fresh;
      }
      p += 32;
    }
    return added;
  }

  /** Lowest set bit of a non-empty chunk. */
  private static lowestIn(c: Uint32Array): number {
    const sw = ctz(c[TOP_OFF]!);
    const w = (sw << 5) | ctz(c[SUM_OFF + sw]!);
    return (w << 5) | ctz(c[w]!);
  }

  /** The lowest set bit, or -1 when empty. */
  findFirst(): number {
    if (this.total === 0) return -1;
    const ne = this.nonEmpty;
    let h = this.hint;
    while (ne[h] === 0) h++;
    this.hint = h;
    const ci = (h << 5) | ctz(ne[h]!);
    return ci * CHUNK_BITS + FreeBitmap.lowestIn(this.chunks[ci]!);
  }

  /** The lowest set bit in `[from, limit)`, or -1. */
  nextSet(from: number, limit: number): number {
    let i = from;
    const end = Math.min(limit, this.size);
    while (i < end) {
      const ci = i >>> CHUNK_SHIFT;
      const c = this.chunks[ci];
      const chunkEnd = (ci + 1) * CHUNK_BITS;
      if (c === undefined || c[CNT_OFF] === 0) {
        i = chunkEnd;
        continue;
      }
      // Scan leaf words from i's word; summaries let us skip empty words 32 at a time.
      let w = (i >>> 5) & (LEAF_WORDS - 1);
      let bits = c[w]! & (-1 << (i & 31));
      for (;;) {
        if (bits !== 0) {
          const r = ci * CHUNK_BITS + ((w << 5) | ctz(bits));
          return r < end ? r : -1;
        }
        w++;
        if (w >= LEAF_WORDS) break;
        if ((w & 31) === 0 && c[SUM_OFF + (w >>> 5)] === 0) {
          w += 31;
          continue;
        }
        bits = c[w]!;
      }
      i = chunkEnd;
    }
    return -1;
  }

  /** Every set bit, ascending (tests and debugging; may be large). */
  *values(): Generator<number> {
    let i = this.nextSet(0, this.size);
    while (i >= 0) {
      yield i;
      i = this.nextSet(i + 1, this.size);
    }
  }
}
