/**
 * bash's backslash escapes shared by `$'…'` quoting and the `printf` format: the letters, octal
 * (up to three digits), `\xHH`, `\uHHHH`, `\UHHHHHHHH`, and — in `$'…'` only — `\cX` (the
 * control character). An unknown escape stays as written, backslash included.
 */
const SIMPLE: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  e: '\x1b',
  E: '\x1b',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

const isHex = (c: string | undefined): boolean => c !== undefined && /[0-9a-fA-F]/.test(c);

/** Digits of `s` from `from` while `ok` holds, at most `max`; returns the end index. */
function run(s: string, from: number, max: number, ok: (c: string) => boolean): number {
  let j = from;
  while (j < s.length && j < from + max && ok(s[j]!)) j++;
  return j;
}

/**
 * Decode the escape whose backslash is at `s[i]`: its text and the index after it. A trailing
 * lone backslash is itself.
 */
export function ansiEscape(s: string, i: number, opts: { control: boolean }): { text: string; next: number } {
  const d = s[i + 1];
  if (d === undefined) return { text: '\\', next: i + 1 };
  const simple = SIMPLE[d];
  if (simple !== undefined) return { text: simple, next: i + 2 };
  if (d >= '0' && d <= '7') {
    const j = run(s, i + 1, 3, (c) => c >= '0' && c <= '7');
    return { text: String.fromCharCode(parseInt(s.slice(i + 1, j), 8) & 0xff), next: j };
  }
  const hexDigits = d === 'x' ? 2 : d === 'u' ? 4 : d === 'U' ? 8 : 0;
  if (hexDigits > 0 && isHex(s[i + 2])) {
    const j = run(s, i + 2, hexDigits, (c) => isHex(c));
    const code = parseInt(s.slice(i + 2, j), 16);
    return {
      text: d === 'x' ? String.fromCharCode(code) : String.fromCodePoint(Math.min(code, 0x10ffff)),
      next: j,
    };
  }
  if (opts.control && d === 'c' && i + 2 < s.length) {
    return { text: String.fromCharCode(s.charCodeAt(i + 2) & 0x1f), next: i + 3 };
  }
  return { text: `\\${d}`, next: i + 2 };
}
