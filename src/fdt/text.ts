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

/** Encode a string as UTF-8 bytes (no terminator); short ASCII strings skip TextEncoder's call cost. */
export function encodeText(s: string): Uint8Array {
  const n = s.length;
  if (n > 256) return encoder.encode(s);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}

/** Length in bytes of a string's UTF-8 encoding. */
export function utf8Length(s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return encoder.encode(s).length;
  return n;
}
