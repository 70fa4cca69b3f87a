/**
 * Bounds-checked little-endian field access for the ABI codecs. Every reader throws
 * {@link AbiError} (never RangeError); decoders catch it with `decodeWith`.
 */
import { AbiError } from './errors.ts';
import { hi32, lo32 } from '../util/u64.ts';

/** Largest value a u64 field may hold to be returned as an exact JS number. */
export const MAX_SAFE_U64 = Number.MAX_SAFE_INTEGER;

/** A DataView over exactly the bytes of `b`. */
export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Throw TRUNCATED unless `b` has at least `need` bytes from `off`. */
export function need(b: Uint8Array, off: number, len: number, structure: string): void {
  if (off < 0 || off + len > b.length) {
    throw new AbiError(
      'TRUNCATED',
      structure,
      off,
      `needs ${len} bytes at offset ${off}, have ${Math.max(0, b.length - off)}`,
    );
  }
}

/** Read a u32 LE field. */
export function getU32(b: Uint8Array, off: number, structure: string, field: string): number {
  need(b, off, 4, `${structure}.${field}`);
  return viewOf(b).getUint32(off, true);
}

/** Read a u16 LE field. */
export function getU16(b: Uint8Array, off: number, structure: string, field: string): number {
  need(b, off, 2, `${structure}.${field}`);
  return viewOf(b).getUint16(off, true);
}

/** Read a u64 LE field that must fit in 53 bits (addresses, sizes, counts). */
export function getU64(b: Uint8Array, off: number, structure: string, field: string): number {
  need(b, off, 8, `${structure}.${field}`);
  const v = viewOf(b);
  const lo = v.getUint32(off, true);
  const hi = v.getUint32(off + 4, true);
  if (hi >= 0x20_0000) {
    const big = (BigInt(hi) << 32n) | BigInt(lo);
    throw new AbiError('TOO_BIG', structure, off, `${field} = 0x${big.toString(16)} does not fit in 53 bits`);
  }
  return hi * 0x1_0000_0000 + lo;
}

/** Throw BAD_VALUE unless `x` is an integer in [0, max]. */
export function checkRange(x: number, max: number, structure: string, field: string): void {
  if (!Number.isInteger(x) || x < 0 || x > max) {
    throw new AbiError('BAD_VALUE', structure, -1, `${field} = ${x} is not an integer in [0, ${max}]`);
  }
}

/** Write a u64 LE field (the value must be an integer in [0, 2^53)). */
export function putU64(v: DataView, off: number, x: number, structure: string, field: string): void {
  checkRange(x, MAX_SAFE_U64, structure, field);
  v.setUint32(off, lo32(x), true);
  v.setUint32(off + 4, hi32(x), true);
}

/** Write a u32 LE field. */
export function putU32(v: DataView, off: number, x: number, structure: string, field: string): void {
  checkRange(x, 0xffff_ffff, structure, field);
  v.setUint32(off, x, true);
}

/** Write a u16 LE field. */
export function putU16(v: DataView, off: number, x: number, structure: string, field: string): void {
  checkRange(x, 0xffff, structure, field);
  v.setUint16(off, x, true);
}

/** Read `len` bytes at `phys` through a reader, throwing UNREADABLE when it cannot. */
export function readPhys(
  read: (phys: number, len: number) => Uint8Array | null,
  phys: number,
  len: number,
  structure: string,
): Uint8Array {
  let b: Uint8Array | null;
  try {
    b = read(phys, len);
  } catch {
    // A reader that throws (e.g. on an address outside the image) counts as unreadable.
    b = null;
  }
  if (b === null || b.length < len) {
    throw new AbiError('UNREADABLE', structure, phys, `cannot read ${len} bytes`);
  }
  return b;
}

/** `strnlen(b + off, max)`: bytes before the first NUL, at most `max` (and the bytes present). */
export function strnlen(b: Uint8Array, off: number, max: number): number {
  const end = Math.min(b.length, off + max);
  for (let i = off; i < end; i++) if (b[i] === 0) return i - off;
  return Math.max(0, end - off);
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** The text of a fixed-size `char[max]` field: bytes up to the first NUL, decoded as UTF-8. */
export function getCString(
  b: Uint8Array,
  off: number,
  max: number,
  structure: string,
  field: string,
): string {
  need(b, off, max, `${structure}.${field}`);
  return utf8.decode(b.subarray(off, off + strnlen(b, off, max)));
}

/** The bytes of a string or byte argument (strings as UTF-8). */
export function cStringBytes(s: string | Uint8Array): Uint8Array {
  return typeof s === 'string' ? new TextEncoder().encode(s) : s;
}

/**
 * Write a `char[max]` field: the bytes, NUL-padded. `max` bytes exactly (no NUL) are allowed, as
 * a C caller can fill the whole array; more are BAD_VALUE.
 */
export function putCString(
  b: Uint8Array,
  off: number,
  s: string | Uint8Array,
  max: number,
  structure: string,
  field: string,
): void {
  const bytes = cStringBytes(s);
  if (bytes.length > max) {
    throw new AbiError(
      'BAD_VALUE',
      structure,
      off,
      `${field} is ${bytes.length} bytes, the field holds ${max}`,
    );
  }
  need(b, off, max, `${structure}.${field}`);
  b.fill(0, off, off + max);
  b.set(bytes, off);
}

/** Read any u64 LE field as a BigInt (tokens, opaque handles: every value is valid). */
export function getU64Big(b: Uint8Array, off: number, structure: string, field: string): bigint {
  need(b, off, 8, `${structure}.${field}`);
  return viewOf(b).getBigUint64(off, true);
}

/** Write a u64 LE field from a BigInt or a safe integer (BAD_VALUE outside [0, 2^64)). */
export function putU64Big(
  v: DataView,
  off: number,
  x: bigint | number,
  structure: string,
  field: string,
): void {
  const big = typeof x === 'bigint' ? x : Number.isSafeInteger(x) ? BigInt(x) : -1n;
  if (big < 0n || big > 0xffff_ffff_ffff_ffffn) {
    throw new AbiError('BAD_VALUE', structure, off, `${field} = ${x} is not a u64`);
  }
  v.setBigUint64(off, big, true);
}

/** Read an s32 LE field. */
export function getS32(b: Uint8Array, off: number, structure: string, field: string): number {
  need(b, off, 4, `${structure}.${field}`);
  return viewOf(b).getInt32(off, true);
}

/** Write an s32 LE field. */
export function putS32(v: DataView, off: number, x: number, structure: string, field: string): void {
  if (!Number.isInteger(x) || x < -0x8000_0000 || x > 0x7fff_ffff) {
    throw new AbiError('BAD_VALUE', structure, off, `${field} = ${x} is not an s32`);
  }
  v.setInt32(off, x, true);
}
