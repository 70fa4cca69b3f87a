/**
 * Splitting a kernel command line into parameters, as `parse_args()`/`next_arg()` do
 * (kernel/params.c, lib/cmdline.c): whitespace separates parameters except inside double quotes;
 * a parameter is `name`, `name=value`, `"name=value with spaces"` or `name="value with spaces"`;
 * the quotes that wrap the whole parameter or the whole value are removed, other quotes stay;
 * a bare `--` ends the kernel's parameters and the rest belongs to init.
 */

/** One kernel parameter as `next_arg()` hands it to a handler. */
export interface CmdlineParam {
  /** The name (text before the first `=`), quotes removed. */
  name: string;
  /** The value after the first `=`, quotes removed; `null` when there was no `=`. */
  value: string | null;
}

/** The kernel's `isspace()` for the ASCII range (space, \t, \n, \v, \f, \r). */
export function isKernelSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** `skip_spaces()`: index of the first non-space character at or after `pos`. */
export function skipSpaces(s: string, pos: number): number {
  let i = pos;
  while (i < s.length && isKernelSpace(s.charCodeAt(i))) i++;
  return i;
}

/**
 * `next_arg()`: read one parameter starting at `pos` (which must not be a space) and return it
 * with the index of the next parameter (trailing spaces skipped).
 */
export function nextArg(s: string, pos: number): { param: CmdlineParam; next: number } {
  let start = pos;
  let inQuote = false;
  let quoted = false;
  if (s.charCodeAt(start) === 0x22) {
    start++;
    inQuote = true;
    quoted = true;
  }
  // `equals` is relative to `start`; 0 doubles as "none", so a leading '=' is not a separator.
  let equals = 0;
  let i = 0;
  for (; start + i < s.length; i++) {
    const c = s.charCodeAt(start + i);
    if (isKernelSpace(c) && !inQuote) break;
    if (equals === 0 && c === 0x3d) equals = i;
    if (c === 0x22) inQuote = !inQuote;
  }
  // The token is s[start, start+i); the C code cuts it with NULs, we cut with slice bounds.
  let tokenEnd = start + i;
  const lastIsQuote = i > 0 && s.charCodeAt(start + i - 1) === 0x22;
  let name: string;
  let value: string | null;
  if (equals === 0) {
    if (quoted && lastIsQuote) tokenEnd--;
    name = s.slice(start, tokenEnd);
    value = null;
  } else {
    name = s.slice(start, start + equals);
    let valStart = start + equals + 1;
    let valEnd = tokenEnd;
    let stripped = false;
    if (s.charCodeAt(valStart) === 0x22 && valStart < tokenEnd) {
      valStart++;
      // The closing quote goes only if it is a different character from the opening one.
      if (lastIsQuote && start + i - 1 >= valStart) {
        valEnd--;
        stripped = true;
      }
    }
    // A whole-parameter quote ends the token too; C cuts at the same byte again (a no-op when the
    // value's own closing quote was already cut there).
    if (!stripped && quoted && lastIsQuote) valEnd--;
    value = s.slice(valStart, Math.max(valStart, valEnd));
  }
  let next = start + i;
  if (next < s.length) next++;
  return { param: { name, value }, next: skipSpaces(s, next) };
}

/** The command line split like `parse_args()`: kernel parameters, then what follows `--`. */
export interface SplitCmdline {
  /** Parameters before a bare `--`, in order. */
  params: CmdlineParam[];
  /** True when a bare `--` was seen. */
  hasDashes: boolean;
  /** The text after `--` (leading spaces skipped), as `parse_args()` returns it. */
  afterDashes: string;
}

/** `parse_args()` tokenisation: split `cmdline` into parameters, stopping at a bare `--`. */
export function splitCmdline(cmdline: string): SplitCmdline {
  const params: CmdlineParam[] = [];
  let pos = skipSpaces(cmdline, 0);
  while (pos < cmdline.length) {
    const { param, next } = nextArg(cmdline, pos);
    pos = next;
    if (param.value === null && param.name === '--') {
      return { params, hasDashes: true, afterDashes: cmdline.slice(pos) };
    }
    params.push(param);
  }
  return { params, hasDashes: false, afterDashes: '' };
}

/**
 * Split the init part (after `--`) into words with the same quoting rules, as `set_init_arg()`
 * receives them (`name=value` rejoined, quotes removed). A second bare `--` ends it again and
 * whatever follows is dropped, as in `start_kernel()`.
 */
export function splitInitArgs(text: string): string[] {
  const { params } = splitCmdline(text);
  return params.map((p) => (p.value === null ? p.name : `${p.name}=${p.value}`));
}

/**
 * `parameq()`: parameter names compare equal when they differ only in `-` versus `_`
 * (`kho-scratch=` is `kho_scratch=`).
 */
export function parameq(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === 0x2d) x = 0x5f;
    if (y === 0x2d) y = 0x5f;
    if (x !== y) return false;
  }
  return true;
}
