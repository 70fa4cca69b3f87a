/**
 * The kernel's string-to-number helpers as the command-line handlers use them (lib/kstrtox.c,
 * lib/vsprintf.c, lib/cmdline.c): `kstrtobool`, `kstrtoull`/`kstrtouint`, `simple_strtoull` and
 * `memparse`. Written from their documented behaviour: strict `kstrto*` (whole string, one
 * optional trailing newline, overflow is an error) versus lenient `simple_strtoull`/`memparse`
 * (stop at the first non-digit, overflow wraps modulo 2^64, report where parsing stopped).
 *
 * Values are BigInt here because this is the parsing edge and u64 arithmetic must wrap exactly
 * like C (`kho_scratch=16E,0,0` sums to 0 and is rejected).
 */

/** Failure of a strict `kstrto*` call: the errno name the kernel returns (negated). */
export type KstrtoxError = 'EINVAL' | 'ERANGE';

/** Result of a strict conversion. */
export type KstrtoxResult<T> = { ok: true; value: T } | { ok: false; error: KstrtoxError };

const U64_MASK = (1n << 64n) - 1n;

/** Digit value of a character in bases up to 16 (`_parse_integer`), or 16 when it is not a digit. */
function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lc = c | 0x20;
  if (lc >= 0x61 && lc <= 0x66) return lc - 0x61 + 10;
  return 16;
}

function isXDigit(c: number): boolean {
  return digitValue(c) < 16;
}

/**
 * `_parse_integer_fixup_radix`: with base 0 pick 16 for `0x` followed by a hex digit, 8 for a
 * leading `0`, else 10; with base 16 skip a `0x` prefix. Returns the base and the index of the
 * first digit.
 */
export function fixupRadix(s: string, pos: number, base: number): { base: number; pos: number } {
  let b = base;
  const c0 = s.charCodeAt(pos);
  const c1 = s.charCodeAt(pos + 1);
  if (b === 0) {
    if (c0 === 0x30) {
      b = (c1 | 0x20) === 0x78 && isXDigit(s.charCodeAt(pos + 2)) ? 16 : 8;
    } else {
      b = 10;
    }
  }
  let p = pos;
  if (b === 16 && c0 === 0x30 && (c1 | 0x20) === 0x78) p += 2;
  return { base: b, pos: p };
}

/**
 * `_parse_integer`: consume digits of `base` from `pos`. Returns the value modulo 2^64, the number
 * of digits consumed and whether the true value overflowed 64 bits.
 */
export function parseInteger(
  s: string,
  pos: number,
  base: number,
): { value: bigint; digits: number; overflow: boolean } {
  const bigBase = BigInt(base);
  let value = 0n;
  let overflow = false;
  let i = pos;
  while (i < s.length) {
    const d = digitValue(s.charCodeAt(i));
    if (d >= base) break;
    const next = value * bigBase + BigInt(d);
    if (next > U64_MASK) overflow = true;
    value = next & U64_MASK;
    i++;
  }
  return { value, digits: i - pos, overflow };
}

/**
 * `kstrtoull(s, base)`: an optional leading `+`, digits of `base` (0 = C notation), at most one
 * trailing `\n`, nothing else. Overflow → ERANGE; no digits or trailing garbage → EINVAL.
 */
export function kstrtoull(s: string, base: number): KstrtoxResult<bigint> {
  let pos = s.charCodeAt(0) === 0x2b ? 1 : 0;
  const fixed = fixupRadix(s, pos, base);
  pos = fixed.pos;
  const r = parseInteger(s, pos, fixed.base);
  if (r.overflow) return { ok: false, error: 'ERANGE' };
  if (r.digits === 0) return { ok: false, error: 'EINVAL' };
  pos += r.digits;
  if (s.charCodeAt(pos) === 0x0a) pos++;
  if (pos !== s.length) return { ok: false, error: 'EINVAL' };
  return { ok: true, value: r.value };
}

/** `kstrtouint(s, base)`: `kstrtoull` plus ERANGE when the value does not fit in 32 bits. */
export function kstrtouint(s: string, base = 10): KstrtoxResult<number> {
  const r = kstrtoull(s, base);
  if (!r.ok) return r;
  if (r.value > 0xffff_ffffn) return { ok: false, error: 'ERANGE' };
  return { ok: true, value: Number(r.value) };
}

/**
 * `kstrtoint(s, base)`: `kstrtoll` (a leading `-` negates the unsigned parse that follows it,
 * which may not start with `+`) plus ERANGE outside the 32-bit signed range.
 */
export function kstrtoint(s: string, base = 10): KstrtoxResult<number> {
  const neg = s.charCodeAt(0) === 0x2d;
  if (neg && s.charCodeAt(1) === 0x2b) return { ok: false, error: 'EINVAL' };
  const r = kstrtoull(neg ? s.slice(1) : s, base);
  if (!r.ok) return r;
  const v = neg ? -r.value : r.value;
  if (v < -0x8000_0000n || v > 0x7fff_ffffn) return { ok: false, error: 'ERANGE' };
  return { ok: true, value: Number(v) };
}

/**
 * `kstrtol(s, base)` (`kstrtoll` on 64-bit): like {@link kstrtoint} with the 64-bit signed
 * range; the value as a BigInt.
 */
export function kstrtol(s: string, base = 10): KstrtoxResult<bigint> {
  const neg = s.charCodeAt(0) === 0x2d;
  if (neg && s.charCodeAt(1) === 0x2b) return { ok: false, error: 'EINVAL' };
  const r = kstrtoull(neg ? s.slice(1) : s, base);
  if (!r.ok) return r;
  const v = neg ? -r.value : r.value;
  if (v < -(2n ** 63n) || v > 2n ** 63n - 1n) return { ok: false, error: 'ERANGE' };
  return { ok: true, value: v };
}

/** Options of {@link kstrtobool}. */
export interface KstrtoboolOptions {
  /**
   * Accept `e`/`E` (enable → true) and `d`/`D` (disable → false). Added to lib/kstrtox.c in
   * late 2025; the KHO-era kernels this model follows have it, so the default is true.
   */
  enableDisable?: boolean;
}

/**
 * `kstrtobool(s)`: only the first character matters (`1 y Y t T` true, `0 n N f F` false, plus
 * `e E`/`d D` when enabled), except `o`/`O` which needs a second `n`/`N` (on) or `f`/`F` (off).
 * Anything else, including the empty string, is EINVAL.
 */
export function kstrtobool(s: string, opts: KstrtoboolOptions = {}): KstrtoxResult<boolean> {
  const ed = opts.enableDisable ?? true;
  const c = s.charAt(0);
  switch (c) {
    case '1':
    case 'y':
    case 'Y':
    case 't':
    case 'T':
      return { ok: true, value: true };
    case '0':
    case 'n':
    case 'N':
    case 'f':
    case 'F':
      return { ok: true, value: false };
    case 'e':
    case 'E':
      return ed ? { ok: true, value: true } : { ok: false, error: 'EINVAL' };
    case 'd':
    case 'D':
      return ed ? { ok: true, value: false } : { ok: false, error: 'EINVAL' };
    case 'o':
    case 'O': {
      const c1 = s.charAt(1);
      if (c1 === 'n' || c1 === 'N') return { ok: true, value: true };
      if (c1 === 'f' || c1 === 'F') return { ok: true, value: false };
      return { ok: false, error: 'EINVAL' };
    }
    default:
      return { ok: false, error: 'EINVAL' };
  }
}

/** Result of a lenient parse: the value (mod 2^64) and the index just after what was consumed. */
export interface LenientParse {
  value: bigint;
  /** Index in the input just past the consumed characters (`*endp` / `*retptr`). */
  end: number;
}

/**
 * `simple_strtoull(s + pos, &endp, base)`: no sign, C notation when `base` is 0, stops at the
 * first non-digit, overflow silently wraps. When no digit follows, `end` is where the digits
 * would have started (after a skipped `0x` with base 16).
 */
export function simpleStrtoull(s: string, pos = 0, base = 0): LenientParse {
  const fixed = fixupRadix(s, pos, base);
  const r = parseInteger(s, fixed.pos, fixed.base);
  return { value: r.value, end: fixed.pos + r.digits };
}

const SUFFIX_SHIFT: Readonly<Record<string, bigint>> = {
  K: 10n,
  k: 10n,
  M: 20n,
  m: 20n,
  G: 30n,
  g: 30n,
  T: 40n,
  t: 40n,
  P: 50n,
  p: 50n,
  E: 60n,
  e: 60n,
};

/** Result of {@link memparse}. */
export interface MemparseResult extends LenientParse {
  /** The value as a JS number (exact below 2^53, rounded above). */
  num: number;
  /** Characters consumed (`end - pos`); 0 means nothing was recognised. */
  consumed: number;
}

/**
 * `memparse(s + pos, &retptr)`: `simple_strtoull` in C notation, then one optional suffix
 * `K M G T P E` (any case) shifting left by 10·n bits, wrapping modulo 2^64. A suffix is consumed
 * even when no digit preceded it (`"K"` parses as 0 with one character consumed), as in C.
 */
export function memparse(s: string, pos = 0): MemparseResult {
  const r = simpleStrtoull(s, pos, 0);
  let value = r.value;
  let end = r.end;
  const shift = SUFFIX_SHIFT[s.charAt(end)];
  if (shift !== undefined) {
    value = (value << shift) & U64_MASK;
    end++;
  }
  return { value, end, num: Number(value), consumed: end - pos };
}
