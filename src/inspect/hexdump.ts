/**
 * `hexdump -C` style text for excerpts of non-FDT blobs: offset, 16 bytes in two groups of 8,
 * `|ascii|`; repeated lines collapse to `*` as hexdump does; a final line with the length.
 */

function line(b: Uint8Array, off: number, base: number): string {
  const n = Math.min(16, b.length - off);
  let hex = '';
  let text = '';
  for (let i = 0; i < 16; i++) {
    if (i === 8) hex += ' ';
    if (i < n) {
      const x = b[off + i]!;
      hex += ` ${x.toString(16).padStart(2, '0')}`;
      text += x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.';
    } else {
      hex += '   ';
    }
  }
  return `${(base + off).toString(16).padStart(8, '0')} ${hex}  |${text}|`;
}

/** The `hexdump -C` text of `bytes` (offsets start at `base`), lines joined with `\n`. */
export function hexdumpC(bytes: Uint8Array, base = 0): string {
  const out: string[] = [];
  let prev = '';
  let starred = false;
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const key = row.length === 16 ? row.join(',') : '';
    if (key !== '' && key === prev) {
      if (!starred) out.push('*');
      starred = true;
      continue;
    }
    prev = key;
    starred = false;
    out.push(line(bytes, off, base));
  }
  out.push((base + bytes.length).toString(16).padStart(8, '0'));
  return out.join('\n');
}
