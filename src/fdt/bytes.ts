/**
 * Byte helpers shared by the writers: big-endian stores, names as NUL-free bytes, and
 * libfdt's string-table search.
 */
import { FdtError } from './errors.ts';
import { encodeText } from './text.ts';

/** Store a big-endian u32. */
export function setBe32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

/** Store a big-endian u64 given as a non-negative integer (number below 2^53, or bigint below 2^64). */
export function setBe64(b: Uint8Array, off: number, v: number | bigint): void {
  if (typeof v === 'bigint') {
    setBe32(b, off, Number((v >> 32n) & 0xffffffffn));
    setBe32(b, off + 4, Number(v & 0xffffffffn));
  } else {
    setBe32(b, off, Math.floor(v / 0x1_0000_0000) >>> 0);
    setBe32(b, off + 4, v >>> 0);
  }
}

/** Check a 64-bit argument: a non-negative safe integer, or a bigint in [0, 2^64). */
export function checkU64(v: number | bigint, what: string): void {
  const ok = typeof v === 'bigint' ? v >= 0n && v < 1n << 64n : Number.isSafeInteger(v) && v >= 0;
  if (!ok) throw new FdtError('FDT_ERR_BADVALUE', -1, `${what} ${String(v)} is not an unsigned 64-bit value`);
}

/** Encode a node or property name; names cannot contain NUL (the terminator). */
export function nameBytes(name: string, what: string): Uint8Array {
  if (typeof name !== 'string' || name.includes('\0')) {
    throw new FdtError(
      'FDT_ERR_BADVALUE',
      -1,
      `${what} ${JSON.stringify(name)} must be a string without NUL`,
    );
  }
  return encodeText(name);
}

/**
 * libfdt's fdt_find_string_: the lowest position p in [start, start+size) where `s` followed by
 * NUL occurs (which may be the tail of a longer string), or -1.
 */
export function findString(b: Uint8Array, start: number, size: number, s: Uint8Array): number {
  const len = s.length + 1;
  const last = start + size - len;
  let p = start;
  while (p <= last) {
    // Candidates end at a NUL: find the next NUL at or after p + s.length.
    const nul = b.indexOf(0, p + s.length);
    if (nul < 0 || nul > last + s.length) return -1;
    const cand = nul - s.length;
    let ok = true;
    for (let i = 0; i < s.length; i++) {
      if (b[cand + i] !== s[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return cand;
    p = nul + 1;
  }
  return -1;
}

/** A zeroed buffer of `size` bytes; FDT_ERR_NOSPACE (not a RangeError) when it cannot be had. */
export function allocBuffer(size: number): Uint8Array {
  try {
    return new Uint8Array(size);
  } catch {
    throw new FdtError('FDT_ERR_NOSPACE', -1, `cannot allocate a ${size}-byte buffer`);
  }
}
