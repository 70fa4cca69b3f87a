/**
 * KHO radix-tree tracker ABI (kho-v2 … kho-v4, include/linux/kho/abi/kexec_handover.h), byte
 * for byte, for 4 KiB pages.
 *
 * A preserved block of order `o` at physical address `pa` is the key
 * `(1 << (52 - o)) | (pa >> (12 + o))`. The key is looked up in a 6-level tree of page-sized
 * nodes: levels 5..1 are tables of 512 LE64 child physical addresses (0 = empty), level 0 is a
 * 32768-bit bitmap stored as 512 LE64 words (bit `i` = bit `i % 64` of word `i / 64`).
 *
 * Keys stay below 2^53, so they are exact JS numbers. Code that walks keys fast splits them
 * once into two u32 halves (`hi` = bits 32..52, `lo` = bits 0..31) and extracts indices with
 * integer operations; the helpers here do the same. Pure functions over numbers and bytes:
 * nothing here knows about machines.
 */
import { KernelError } from '../util/errno.ts';

/** Page size the ABI is defined for (the tracker's layout depends on it). */
export const KHO_PAGE_SHIFT = 12;
/** Bytes per node page. */
export const KHO_PAGE_SIZE = 4096;
/** Bit of the key that marks order 0: 64 − PAGE_SHIFT. */
export const KHO_ORDER_0_LOG2 = 52;
/** log2 of the entries per intermediate node: log2(PAGE_SIZE / 8). */
export const KHO_TABLE_SIZE_LOG2 = 9;
/** log2 of the bits per leaf: PAGE_SHIFT + 3. */
export const KHO_BITMAP_SIZE_LOG2 = 15;
/** Levels 5..0: ceil((52 − 15) / 9) + 1. */
export const KHO_TREE_MAX_DEPTH = 6;
/** Entries per intermediate node. */
export const KHO_TABLE_ENTRIES = 512;
/** Bits per leaf. */
export const KHO_BITMAP_BITS = 32768;
/** Highest order a key can encode (its order bit is key bit 0). */
export const KHO_MAX_KEY_ORDER = 52;
/** Keys are below this bound (2^53): exact as JS numbers. */
export const KHO_KEY_LIMIT = 0x20_0000_0000_0000;

/** `POW2[k]` = 2^k for k = 0..64, exact. Use instead of `2 ** k` with a variable k. */
export const POW2: Float64Array = (() => {
  const t = new Float64Array(65);
  let v = 1;
  for (let k = 0; k <= 64; k++) {
    t[k] = v;
    v *= 2;
  }
  return t;
})();

/** `INV_POW2[k]` = 2^−k for k = 0..64, exact. */
export const INV_POW2: Float64Array = (() => {
  const t = new Float64Array(65);
  let v = 1;
  for (let k = 0; k <= 64; k++) {
    t[k] = v;
    v /= 2;
  }
  return t;
})();

const TWO32 = 0x1_0000_0000;

/** Bad input to a radix ABI helper (never a raw TypeError/RangeError). */
export class KhoRadixError extends KernelError {
  declare readonly code: 'EINVAL' | 'ERANGE';

  constructor(code: 'EINVAL' | 'ERANGE', detail: string) {
    super(code, detail);
    this.name = 'KhoRadixError';
  }
}

function show(x: unknown): string {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 ? `0x${x.toString(16)}` : String(x);
}

function checkOrder(order: unknown): asserts order is number {
  if (typeof order !== 'number' || !Number.isInteger(order) || order < 0 || order > KHO_MAX_KEY_ORDER) {
    throw new KhoRadixError('EINVAL', `order ${show(order)} outside 0..${KHO_MAX_KEY_ORDER}`);
  }
}

/**
 * The key of a block of `order` at physical address `phys` (any low bits below the block size
 * are discarded, as the kernel does). `phys` must be a non-negative safe integer.
 */
export function encodeKey(phys: number, order: number): number {
  checkOrder(order);
  if (typeof phys !== 'number' || !Number.isSafeInteger(phys) || phys < 0) {
    throw new KhoRadixError('EINVAL', `physical address ${show(phys)} is not an integer in [0, 2^53)`);
  }
  return POW2[KHO_ORDER_0_LOG2 - order]! + Math.floor(phys * INV_POW2[KHO_PAGE_SHIFT + order]!);
}

/** A decoded key: a block of `2^order` pages at `phys`. */
export interface KhoBlock {
  /** Block start. Exact, but above 2^53 (not a safe integer) for blocks beyond 2^53. */
  phys: number;
  order: number;
}

/** 1-based index of the highest set bit of a key in [1, 2^53) (the kernel's `fls64`). */
export function keyFls(key: number): number {
  if (key >= TWO32) return 64 - Math.clz32(Math.floor(key * INV_POW2[32]!));
  return 32 - Math.clz32(key);
}

function checkKey(key: unknown): asserts key is number {
  if (typeof key !== 'number' || !Number.isInteger(key) || key < 1 || key >= KHO_KEY_LIMIT) {
    throw new KhoRadixError('ERANGE', `radix key ${show(key)} outside [1, 2^53)`);
  }
}

/** Order of a key: `52 − fls64(key) + 1`. */
export function keyOrder(key: number): number {
  checkKey(key);
  return KHO_ORDER_0_LOG2 + 1 - keyFls(key);
}

/** Decode a key: `order = 53 − fls64(key)`, `phys = (key << (12 + order)) mod 2^64`. */
export function decodeKey(key: number): KhoBlock {
  const order = keyOrder(key);
  const index = key - POW2[KHO_ORDER_0_LOG2 - order]!;
  return { phys: index * POW2[KHO_PAGE_SHIFT + order]!, order };
}

/** The two u32 halves of a key (or of any integer below 2^53): `{ hi, lo }`. */
export function splitKey(key: number): { hi: number; lo: number } {
  const lo = key >>> 0;
  return { hi: (key - lo) * INV_POW2[32]!, lo };
}

/** Table index at `level` (1..5) from the key halves: `(key >> (15 + 9·(level − 1))) & 511`. */
export function levelIndexHalves(hi: number, lo: number, level: number): number {
  switch (level) {
    case 1:
      return (lo >>> 15) & 511;
    case 2:
      return (lo >>> 24) | ((hi & 1) << 8);
    case 3:
      return (hi >>> 1) & 511;
    case 4:
      return (hi >>> 10) & 511;
    case 5:
      return (hi >>> 19) & 511;
    default:
      throw new KhoRadixError('EINVAL', `radix level ${show(level)} outside 1..5`);
  }
}

/** Table index of `key` at `level` (1..5). */
export function levelIndex(key: number, level: number): number {
  checkKey(key);
  const { hi, lo } = splitKey(key);
  return levelIndexHalves(hi, lo, level);
}

/** Bit index of `key` in its leaf: `key & 0x7FFF`. */
export function leafBit(key: number): number {
  checkKey(key);
  return key & 0x7fff;
}

/** The path of a key: table indices for levels 5, 4, 3, 2, 1 and the leaf bit. */
export interface KhoKeyPath {
  /** `[L5, L4, L3, L2, L1]`. */
  levels: [number, number, number, number, number];
  bit: number;
}

/** Table indices (levels 5..1) and leaf bit of a key. */
export function keyPath(key: number): KhoKeyPath {
  checkKey(key);
  const { hi, lo } = splitKey(key);
  return {
    levels: [
      levelIndexHalves(hi, lo, 5),
      levelIndexHalves(hi, lo, 4),
      levelIndexHalves(hi, lo, 3),
      levelIndexHalves(hi, lo, 2),
      levelIndexHalves(hi, lo, 1),
    ],
    bit: lo & 0x7fff,
  };
}

/**
 * The key at a tree position: `levels` = `[L5, L4, L3, L2, L1]` indices, `bit` = leaf bit.
 * Root indices ≥ 4 give keys ≥ 2^53 (no valid order); those throw ERANGE.
 */
export function keyFromPath(levels: readonly number[], bit: number): number {
  if (levels.length !== 5 || !levels.every((i) => Number.isInteger(i) && i >= 0 && i < 512)) {
    throw new KhoRadixError('EINVAL', `radix path [${levels.join(',')}] is not 5 indices in 0..511`);
  }
  if (!Number.isInteger(bit) || bit < 0 || bit >= KHO_BITMAP_BITS) {
    throw new KhoRadixError('EINVAL', `leaf bit ${show(bit)} outside 0..32767`);
  }
  let prefix = 0;
  for (const i of levels) prefix = prefix * 512 + i;
  const key = prefix * KHO_BITMAP_BITS + bit;
  if (key >= KHO_KEY_LIMIT) throw new KhoRadixError('ERANGE', `radix key ${show(key)} ≥ 2^53`);
  return key;
}

// ---- node and leaf byte layout --------------------------------------------------------------

/** Byte offset of entry `index` in an intermediate node (LE64 child physical address). */
export function nodeEntryOffset(index: number): number {
  return index * 8;
}

/** Where leaf bit `bit` lives: LE64 word, bit in that word, byte offset and bit in that byte. */
export function leafBitLocation(bit: number): {
  word: number;
  bitInWord: number;
  byteOffset: number;
  bitInByte: number;
} {
  return { word: bit >>> 6, bitInWord: bit & 63, byteOffset: bit >>> 3, bitInByte: bit & 7 };
}

function checkPageBytes(bytes: Uint8Array): DataView {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KHO_PAGE_SIZE) {
    throw new KhoRadixError('EINVAL', `a radix node is exactly ${KHO_PAGE_SIZE} bytes`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Decode an intermediate node: its 512 entries. Each is a number (0 = empty) when it fits in
 * 53 bits, else a bigint (hostile input; such a pointer is beyond any machine).
 */
export function decodeNode(bytes: Uint8Array): (number | bigint)[] {
  const view = checkPageBytes(bytes);
  const out: (number | bigint)[] = [];
  for (let i = 0; i < KHO_TABLE_ENTRIES; i++) {
    const lo = view.getUint32(i * 8, true);
    const hi = view.getUint32(i * 8 + 4, true);
    out.push(hi < 0x20_0000 ? hi * TWO32 + lo : view.getBigUint64(i * 8, true));
  }
  return out;
}

/** Encode an intermediate node from `[index, childPhys]` pairs (other entries 0). */
export function encodeNode(entries: Iterable<readonly [number, number]>): Uint8Array {
  const bytes = new Uint8Array(KHO_PAGE_SIZE);
  const view = new DataView(bytes.buffer);
  for (const [index, phys] of entries) {
    if (!Number.isInteger(index) || index < 0 || index >= KHO_TABLE_ENTRIES) {
      throw new KhoRadixError('EINVAL', `node index ${show(index)} outside 0..511`);
    }
    if (!Number.isSafeInteger(phys) || phys < 0) {
      throw new KhoRadixError('EINVAL', `child address ${show(phys)} is not an integer in [0, 2^53)`);
    }
    const lo = phys >>> 0;
    view.setUint32(index * 8, lo, true);
    view.setUint32(index * 8 + 4, (phys - lo) * INV_POW2[32]!, true);
  }
  return bytes;
}

/** Decode a leaf: its set bits, ascending. */
export function decodeLeaf(bytes: Uint8Array): number[] {
  checkPageBytes(bytes);
  const out: number[] = [];
  for (let i = 0; i < KHO_PAGE_SIZE; i++) {
    let b = bytes[i]!;
    while (b !== 0) {
      const low = b & -b;
      out.push(i * 8 + 31 - Math.clz32(low));
      b ^= low;
    }
  }
  return out;
}

/** Encode a leaf with the given bits set. */
export function encodeLeaf(bits: Iterable<number>): Uint8Array {
  const bytes = new Uint8Array(KHO_PAGE_SIZE);
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0 || bit >= KHO_BITMAP_BITS) {
      throw new KhoRadixError('EINVAL', `leaf bit ${show(bit)} outside 0..32767`);
    }
    bytes[bit >>> 3]! |= 1 << (bit & 7);
  }
  return bytes;
}
