/**
 * Names and string values in a blob are NUL-terminated byte strings; we present them as JS
 * strings decoded as UTF-8 (ASCII in practice), with a fast path for pure ASCII.
 */

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/** Decode bytes [start, end) of `b`. */
export function decodeText(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = b[i]!;
      if (c >= 0x80) return decoder.decode(b.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(b.subarray(start, end));
}

/** Encode a string as UTF-8 bytes (no terminator). */
export function encodeText(s: string): Uint8Array {
  return encoder.encode(s);
}
