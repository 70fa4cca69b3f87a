/**
 * bash's patterns: `*`, `?` and bracket expressions (`[a-z]`, `[!x]`, `[[:digit:]]`), with `\`
 * quoting the next character (quoted parts of a word reach here escaped). Used for pathname
 * expansion (bash without options: a pattern that matches nothing stays as typed; names starting
 * with `.` only match a pattern component that starts with `.`; matches sorted bytewise) and for
 * `${NAME#PATTERN}`. Works over the terminal's VFS, machine and host alike.
 */

/** Directory listing for the expansion: entry names of `path` (normalised), or null. */
export type ListDir = (path: string) => string[] | null;
/** Whether a path exists. */
export type Exists = (path: string) => boolean;

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: 'A-Za-z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  cntrl: '\\x00-\\x1f\\x7f',
  print: ' -~',
  graph: '!-~',
  word: 'A-Za-z0-9_',
};

function reEscape(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

/** Quote every pattern character of literal text (for quoted parts of a word). */
export function escapeGlob(s: string): string {
  return s.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/** Remove the quoting backslashes of a pattern. */
export function unescapeGlob(p: string): string {
  return p.replace(/\\(.)/gs, '$1');
}

/**
 * A bracket expression starting at `p[i] === '['`: its regex class and the index after `]`, or
 * null when there is no closing `]` (the `[` is then literal).
 */
function bracket(p: string, i: number): { re: string; end: number } | null {
  let j = i + 1;
  let negate = false;
  if (p[j] === '!' || p[j] === '^') {
    negate = true;
    j++;
  }
  let body = '';
  let first = true;
  while (j < p.length) {
    const c = p[j]!;
    if (c === ']' && !first) return { re: `[${negate ? '^' : ''}${body}]`, end: j + 1 };
    first = false;
    if (c === '[' && p[j + 1] === ':') {
      const close = p.indexOf(':]', j + 2);
      const cls = close < 0 ? undefined : CLASSES[p.slice(j + 2, close)];
      if (cls !== undefined) {
        body += cls;
        j = close + 2;
        continue;
      }
    }
    if (c === '\\' && j + 1 < p.length) {
      body += reEscape(p[j + 1]!);
      j += 2;
      continue;
    }
    if (p[j + 1] === '-' && p[j + 2] !== undefined && p[j + 2] !== ']') {
      const hi = p[j + 2] === '\\' ? p[j + 3] : p[j + 2];
      if (hi === undefined) return null;
      if (hi >= c) body += `${reEscape(c)}-${reEscape(hi)}`;
      j += p[j + 2] === '\\' ? 4 : 3;
      continue;
    }
    body += reEscape(c);
    j++;
  }
  return null;
}

/** Regex source for a pattern (`*` crosses `/` unless `path` is set). */
function patternSource(p: string, path: boolean): string {
  let re = '';
  const any = path ? '[^/]' : '[\\s\\S]';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\' && i + 1 < p.length) {
      re += reEscape(p[++i]!);
    } else if (c === '*') {
      re += `${any}*`;
      while (p[i + 1] === '*') i++;
    } else if (c === '?') re += any;
    else if (c === '[') {
      const b = bracket(p, i);
      if (b === null) re += '\\[';
      else {
        re += b.re;
        i = b.end - 1;
      }
    } else re += reEscape(c);
  }
  return re;
}

/** True when the pattern has an unquoted `*`, `?` or a complete bracket expression. */
export function hasGlobChars(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') i++;
    else if (c === '*' || c === '?') return true;
    else if (c === '[' && bracket(p, i) !== null) return true;
  }
  return false;
}

/** A regex matching exactly the strings the pattern matches. */
export function globRegex(p: string): RegExp {
  return new RegExp(`^${patternSource(p, false)}$`);
}

/** Whether `s` matches the whole pattern. */
export function globMatch(p: string, s: string): boolean {
  return globRegex(p).test(s);
}

/**
 * Expand a pathname pattern against the file system. `cwd` is the directory relative patterns
 * start from; results keep the pattern's relative or absolute form. Null when nothing matches
 * (bash then keeps the word as typed).
 */
export function expandGlob(pattern: string, cwd: string, listDir: ListDir, exists: Exists): string[] | null {
  const comps = pattern.split('/');
  const absolute = pattern.startsWith('/');
  if (absolute) comps.shift();
  const join = (base: string, name: string): string =>
    base === '' ? name : base.endsWith('/') ? base + name : `${base}/${name}`;
  const toPath = (shown: string): string =>
    absolute ? shown || '/' : shown === '' ? cwd : `${cwd}/${shown}`;
  let candidates = [absolute ? '/' : ''];
  for (let i = 0; i < comps.length; i++) {
    const comp = comps[i]!;
    const last = i === comps.length - 1;
    if (comp === '') {
      // A trailing slash (`dir/*/`) or doubled slash: keep only directories.
      if (last) candidates = candidates.filter((c) => listDir(toPath(c)) !== null).map((c) => `${c}/`);
      continue;
    }
    if (!hasGlobChars(comp)) {
      const name = unescapeGlob(comp);
      candidates = candidates.map((c) => join(c, name));
      continue;
    }
    const re = new RegExp(`^${patternSource(comp, true)}$`);
    const dotOk = comp.startsWith('.') || comp.startsWith('\\.');
    const next: string[] = [];
    for (const c of candidates) {
      const names = listDir(toPath(c));
      if (names === null) continue;
      for (const n of [...names].sort()) {
        if (n.startsWith('.') && !dotOk) continue;
        if (re.test(n)) next.push(join(c, n));
      }
    }
    candidates = next;
    if (candidates.length === 0) return null;
  }
  const found = candidates.filter((c) => exists(toPath(c)));
  if (found.length === 0) return null;
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
