/**
 * 64-bit values as JS numbers.
 *
 * Physical addresses, sizes and radix keys stay below 2^53, so they are exact `number`s.
 * Memory and FDT blobs store them as two 32-bit halves; this module is the one place that
 * splits and joins them, and the one place that falls back to BigInt for values that do not
 * fit (only for display of hostile input).
 */

/** 2^32 as a number. */
export const TWO32 = 0x1_0000_0000;

/** Join two 32-bit halves into a number; exact only when `hi < 2^21`. */
export function join64(hi: number, lo: number): number {
  return hi * TWO32 + (lo >>> 0);
}

/** The high 32 bits of a non-negative integer below 2^53. */
export function hi32(x: number): number {
  return Math.floor(x / TWO32) >>> 0;
}

/** The low 32 bits of a non-negative integer below 2^53. */
export function lo32(x: number): number {
  return x >>> 0;
}

/** True when a 64-bit value given as halves fits exactly in a JS number. */
export function fitsNumber(hi: number): boolean {
  return hi >>> 0 < 0x20_0000;
}

/** Read a little-endian u64 as a number; throws RangeError-free `null` when it does not fit. */
export function readU64LE(view: DataView, off: number): number | null {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  return fitsNumber(hi) ? join64(hi, lo) : null;
}

/** Read a big-endian u64 as a number, or `null` when it does not fit in 53 bits. */
export function readU64BE(view: DataView, off: number): number | null {
  const hi = view.getUint32(off, false);
  const lo = view.getUint32(off + 4, false);
  return fitsNumber(hi) ? join64(hi, lo) : null;
}

/** Read any u64 as a BigInt (edges only: display, parsing). */
export function readU64Big(view: DataView, off: number, littleEndian: boolean): bigint {
  return view.getBigUint64(off, littleEndian);
}

/** Write a non-negative integer below 2^53 as a little-endian u64. */
export function writeU64LE(view: DataView, off: number, x: number): void {
  view.setUint32(off, lo32(x), true);
  view.setUint32(off + 4, hi32(x), true);
}

/** Write a non-negative integer below 2^53 as a big-endian u64. */
export function writeU64BE(view: DataView, off: number, x: number): void {
  view.setUint32(off, hi32(x), false);
  view.setUint32(off + 4, lo32(x), false);
}

/** `0x…` lowercase hex of a non-negative integer or BigInt, no padding (the kernel's `%llx`). */
export function hex(x: number | bigint): string {
  return `0x${x.toString(16)}`;
}

/** Lowercase hex padded to `width` digits, with a `0x` prefix. */
export function hexPad(x: number | bigint, width: number): string {
  return `0x${x.toString(16).padStart(width, '0')}`;
}
