/**
 * Descriptions of generated memory content (docs/hw.md, "Described pages"): physical memory
 * whose bytes follow a rule (lazy poison, a repeated pattern, a seeded random stream) is kept as
 * the rule, not as bytes. A description is immutable and position-aware: the content at
 * physical address `a` is a function of the description and `a` alone, so a copy of described
 * memory is the same description shifted, and reading or checksumming a range costs no storage.
 *
 * Sums: every function here that sums returns the residue modulo 2^32 − 1 of the range's
 * bytes weighted by their absolute alignment (a byte at address `a` weighs 256^(a mod 4)),
 * which is the sum of the aligned little-endian 32-bit words with partial words at the edges.
 * src/util/csum.ts turns such a residue into what x86-64 `csum_partial()` returns.
 *
 * The random stream is built so that its sums are cheap: it is a sequence of 32-byte blocks of
 * eight 32-bit words; seven words come from a counter-based hash of (seed, stream page, word),
 * the eighth makes the block's word sum ≡ T(j) = c0 + j·c1 (mod 2^32 − 1) for block j. Reads
 * generate any word in O(1) (a block at most); the sum of any run of whole blocks is a closed
 * formula, so checksumming gigabytes of test data costs microseconds.
 */
import { CSUM_MOD, modM, residueShl8 } from '../util/csum.ts';

/** Kinds of description. */
export const CONTENT_POISON = 0;
export const CONTENT_PATTERN = 1;
export const CONTENT_RANDOM = 2;
export type ContentKindCode = typeof CONTENT_POISON | typeof CONTENT_PATTERN | typeof CONTENT_RANDOM;

const M = CSUM_MOD;
const TWO32 = 0x1_0000_0000;
const GOLDEN = 0x9e3779b9 | 0;

/** murmur3's 32-bit finaliser. */
function fmix(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** `(a · b) mod (2^32 − 1)` for a, b in [0, 2^32): exact in doubles by splitting b. */
function mulMod(a: number, b: number): number {
  const bh = Math.floor(b / 0x1_0000);
  const bl = b & 0xffff;
  return modM(modM(a * bh) * 0x1_0000 + a * bl);
}

/** `j mod (2^32 − 1)` for 0 ≤ j < 2^53 (2^32 ≡ 1). */
function reduce(j: number): number {
  const lo = j % TWO32;
  return modM((j - lo) / TWO32 + lo);
}

/**
 * One description. Create with {@link poisonContent}, {@link patternContent} or
 * {@link randomContent}; `shifted` gives the description of the same bytes moved by a copy.
 */
export class ContentDesc {
  readonly kind: ContentKindCode;
  /** Poison and pattern: the 32-bit little-endian word at every 4-aligned address. */
  readonly word: number;
  /** Random: the seed (u32). */
  readonly seed: number;
  /** Random: the physical byte address of stream offset 0 (any integer, for shifted copies). */
  readonly base: number;
  // Random: derived constants (block sums c0 + j·c1; page-key mixers).
  readonly c0: number;
  readonly c1: number;
  readonly sA: number;
  readonly sB: number;

  constructor(kind: ContentKindCode, word: number, seed: number, base: number) {
    this.kind = kind;
    this.word = word >>> 0;
    this.seed = seed >>> 0;
    this.base = base;
    const s = this.seed;
    this.c0 = kind === CONTENT_RANDOM ? 1 + ((fmix(s ^ 0x2545f491) >>> 0) % (M - 1)) : 0;
    this.c1 = kind === CONTENT_RANDOM ? 1 + ((fmix(s + 0x68e31da4) >>> 0) % (M - 1)) : 0;
    this.sA = fmix(s ^ 0x6b686f21);
    this.sB = fmix((s + 0x7f4a7c15) | 0);
  }

  /** The description of these bytes after a copy by `delta` bytes (dst − src). */
  shifted(delta: number): ContentDesc {
    if (delta === 0 && this.kind !== CONTENT_POISON) return this;
    if (this.kind === CONTENT_RANDOM) return new ContentDesc(CONTENT_RANDOM, 0, this.seed, this.base + delta);
    // A copied pattern (or poison: copies of stale bytes are ordinary data) rotates with the offset.
    return patternContent(residueShl8Word(this.word, ((delta % 4) + 4) % 4));
  }

  /** True when two descriptions give the same bytes at every address. */
  sameAs(o: ContentDesc): boolean {
    if (o === this) return true;
    if (o.kind !== this.kind) return false;
    if (this.kind === CONTENT_RANDOM) return o.seed === this.seed && o.base === this.base;
    return o.word === this.word;
  }
}

/** Rotate a 32-bit word left by 8k bits (the pattern word seen k bytes further on). */
function residueShl8Word(w: number, k: number): number {
  return residueShl8(w >>> 0, k);
}

/** The lazy poison: 0xaa bytes (POISON_BYTE), a page state of its own (see PhysicalMemory). */
export const POISON_CONTENT = new ContentDesc(CONTENT_POISON, 0xaaaaaaaa, 0, 0);

const patterns = new Map<number, ContentDesc>();

/** Every 4-aligned word reads `word` (a byte fill is `byte × 0x01010101`); never 0 (zero is untouched). */
export function patternContent(word: number): ContentDesc {
  const w = word >>> 0;
  let d = patterns.get(w);
  if (d === undefined) {
    d = new ContentDesc(CONTENT_PATTERN, w, 0, 0);
    if (patterns.size < 4096) patterns.set(w, d);
  }
  return d;
}

/** The seeded random stream that starts at physical address `base`. */
export function randomContent(seed: number, base: number): ContentDesc {
  return new ContentDesc(CONTENT_RANDOM, 0, seed, base);
}

// ------------------------------------------------------------------ the random stream

/** Words per stream page; a stream page is 4 KiB. */
const PW = 1024;

/**
 * Generate stream page `q` (0 ≤ q < 2^41) of `d` into `out[o .. o+1024)`: seven hashed words
 * and one balancing word per 32-byte block.
 */
export function genStreamPage(d: ContentDesc, q: number, out: Uint32Array, o: number): void {
  const qLo = q % TWO32;
  const qHi = (q - qLo) / TWO32;
  const kA = fmix((fmix(qLo ^ d.sA) + Math.imul(qHi ^ 0x165667b1, GOLDEN)) | 0);
  const kB = fmix(kA ^ d.sB);
  const c1 = d.c1;
  // T for the page's first block j = q·128.
  let t = modM(d.c0 + mulMod(reduce(q * 128), c1));
  for (let r0 = 0; r0 < PW; r0 += 8) {
    let s = 0;
    for (let k = 0; k < 7; k++) {
      let h = (kA + Math.imul(r0 + k, GOLDEN)) | 0;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      const w = (h ^ kB) >>> 0;
      out[o + r0 + k] = w;
      s += w;
    }
    // s < 7·2^32 < 8·M, so t + 8M − s is positive and exact.
    out[o + r0 + 7] = (t + 8 * M - s) % M;
    t += c1;
    if (t >= M) t -= M;
  }
}

/** A one-page cache of generated stream pages (reads of single words stay O(1) amortised). */
export class StreamCache {
  private desc: ContentDesc | null = null;
  private q = -1;
  readonly words = new Uint32Array(PW);
  readonly bytes = new Uint8Array(this.words.buffer);

  /** Stream page `q` of `d`, generated unless it is the one already held. */
  page(d: ContentDesc, q: number): Uint32Array {
    if (this.desc !== d || this.q !== q) {
      genStreamPage(d, q, this.words, 0);
      this.desc = d;
      this.q = q;
    }
    return this.words;
  }
}

// ------------------------------------------------------------------ bytes of a description

/**
 * Write the bytes of `d` for physical addresses `[addr, addr+len)` into `out[o ..]`.
 */
export function descBytes(
  d: ContentDesc,
  addr: number,
  len: number,
  out: Uint8Array,
  o: number,
  cache: StreamCache,
): void {
  if (len <= 0) return;
  if (d.kind !== CONTENT_RANDOM) {
    const w = d.word;
    const b0 = w & 0xff;
    if (w === b0 * 0x01010101) {
      out.fill(b0, o, o + len);
      return;
    }
    for (let i = 0; i < len; i++) out[o + i] = (w >>> (((addr + i) & 3) << 3)) & 0xff;
    return;
  }
  let s = addr - d.base; // stream byte offset
  let done = 0;
  while (done < len) {
    const q = Math.floor(s / 4096);
    const off = s - q * 4096;
    const n = Math.min(len - done, 4096 - off);
    const bytes = cache.bytes;
    cache.page(d, q);
    out.set(bytes.subarray(off, off + n), o + done);
    done += n;
    s += n;
  }
}

/** Fill a whole 1024-word page view with `d`'s content at physical page `pfn`. */
export function descPage(d: ContentDesc, pfn: number, out: Uint32Array, o: number, cache: StreamCache): void {
  if (d.kind !== CONTENT_RANDOM) {
    out.fill(d.word, o, o + PW);
    return;
  }
  const s = pfn * 4096 - d.base;
  if (s % 4096 === 0) {
    genStreamPage(d, s / 4096, out, o);
    return;
  }
  const tmp = new Uint8Array(4096);
  descBytes(d, pfn * 4096, 4096, tmp, 0, cache);
  out.set(new Uint32Array(tmp.buffer), o);
}

/** The 32-bit word at 4-aligned physical address `addr` under `d`. */
export function descWord(d: ContentDesc, addr: number, cache: StreamCache): number {
  if (d.kind !== CONTENT_RANDOM) return d.word;
  const s = addr - d.base;
  if ((s & 3) === 0) {
    const q = Math.floor(s / 4096);
    return cache.page(d, q)[(s - q * 4096) >>> 2]!;
  }
  const b = new Uint8Array(4);
  descBytes(d, addr, 4, b, 0, cache);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

// ------------------------------------------------------------------ sums

/** Residue of bytes `b[i]` at addresses `addr + i`, each weighted 256^(address mod 4). */
export function bytesResidue(b: Uint8Array, o: number, len: number, addr: number): number {
  let acc = 0;
  for (let i = 0; i < len; i++) acc += b[o + i]! * 2 ** (((addr + i) & 3) << 3);
  return modM(acc);
}

/** Residue of `n` consecutive words of a page view. */
export function wordsResidue(w: Uint32Array, from: number, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += w[from + i]!;
  return modM(acc);
}

/** Σ_{j=j0}^{j1−1} (c0 + j·c1) mod (2^32 − 1): the sum of whole stream blocks. */
function blocksResidue(d: ContentDesc, j0: number, j1: number): number {
  const n = BigInt(j1 - j0);
  if (n <= 0n) return 0;
  const mm = BigInt(M);
  const sj = ((BigInt(j0) + BigInt(j1) - 1n) * n) / 2n;
  return Number((n * BigInt(d.c0) + sj * BigInt(d.c1)) % mm);
}

/**
 * Residue of `d`'s bytes over physical `[a, b)` (absolute alignment weights). Pattern: whole
 * words times the word plus the edges. Random: whole stream blocks by formula, the partial
 * blocks at the edges generated; the result is moved from stream alignment to address alignment.
 */
export function descResidue(d: ContentDesc, a: number, b: number, cache: StreamCache): number {
  if (b <= a) return 0;
  if (d.kind !== CONTENT_RANDOM) {
    const w = d.word;
    const wa = Math.ceil(a / 4) * 4;
    const wb = Math.floor(b / 4) * 4;
    if (wb <= wa) return edgeResidue(d, a, b, cache);
    let acc = modM(mulMod(reduce((wb - wa) / 4), w));
    acc += edgeResidue(d, a, wa, cache) + edgeResidue(d, wb, b, cache);
    return modM(acc);
  }
  // Whole stream blocks by formula (in stream alignment, moved to address alignment: stream
  // offset s sits at address s + base), the partial blocks at the edges generated.
  const j0 = Math.ceil((a - d.base) / 32);
  const j1 = Math.floor((b - d.base) / 32);
  if (j1 <= j0) return edgeResidue(d, a, b, cache);
  const blocks = residueShl8(blocksResidue(d, j0, j1), ((d.base % 4) + 4) % 4);
  const head = edgeResidue(d, a, d.base + j0 * 32, cache);
  const tail = edgeResidue(d, d.base + j1 * 32, b, cache);
  return modM(blocks + head + tail);
}

function edgeResidue(d: ContentDesc, a: number, b: number, cache: StreamCache): number {
  if (b <= a) return 0;
  const tmp = new Uint8Array(b - a);
  descBytes(d, a, b - a, tmp, 0, cache);
  return bytesResidue(tmp, 0, b - a, a);
}
