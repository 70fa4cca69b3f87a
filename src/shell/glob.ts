/**
 * Pathname expansion for unquoted `*` and `?` (bash without options: a pattern that matches
 * nothing stays as typed; names starting with `.` only match a pattern that starts with `.`;
 * matches sorted bytewise). Works over the terminal's VFS, machine and host alike.
 */
import type { Word } from './tokenizer.ts';

/** One character of an expanded word and whether it is an unquoted glob character. */
interface GlobChar {
  readonly c: string;
  readonly glob: boolean;
}

/** Directory listing for the expansion: entry names of `path` (normalised), or null. */
export type ListDir = (path: string) => string[] | null;
/** Whether a path exists. */
export type Exists = (path: string) => boolean;

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function componentRegex(comp: readonly GlobChar[]): RegExp {
  let re = '^';
  for (const g of comp) re += g.glob ? (g.c === '*' ? '.*' : '.') : escapeRe(g.c);
  return new RegExp(`${re}$`, 's');
}

/** True when the word has an unquoted glob character. */
export function hasGlob(w: Word): boolean {
  return w.some((p) => 'glob' in p);
}

/**
 * Expand `chars` (the word after parameter expansion) against the file system. `cwd` is the
 * directory relative patterns start from; results keep the pattern's relative or absolute form.
 */
export function expandGlob(
  chars: readonly GlobChar[],
  cwd: string,
  listDir: ListDir,
  exists: Exists,
): string[] {
  const literal = chars.map((g) => g.c).join('');
  const comps: GlobChar[][] = [[]];
  for (const g of chars) {
    if (g.c === '/' && !g.glob) comps.push([]);
    else comps[comps.length - 1]!.push(g);
  }
  const absolute = literal.startsWith('/');
  if (absolute) comps.shift();
  const join = (base: string, name: string): string =>
    base === '' ? name : base.endsWith('/') ? base + name : `${base}/${name}`;
  const toPath = (shown: string): string =>
    absolute ? shown || '/' : shown === '' ? cwd : `${cwd}/${shown}`;
  let candidates = [absolute ? '/' : ''];
  for (let i = 0; i < comps.length; i++) {
    const comp = comps[i]!;
    const last = i === comps.length - 1;
    if (comp.length === 0) {
      // A trailing slash (`dir/*/`) or doubled slash: keep only directories.
      if (last) candidates = candidates.filter((c) => listDir(toPath(c)) !== null).map((c) => `${c}/`);
      continue;
    }
    if (!comp.some((g) => g.glob)) {
      const name = comp.map((g) => g.c).join('');
      candidates = candidates.map((c) => join(c, name));
      continue;
    }
    const re = componentRegex(comp);
    const dotOk = comp[0]!.c === '.' && !comp[0]!.glob;
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
    if (candidates.length === 0) return [literal];
  }
  const found = candidates.filter((c) => exists(toPath(c)));
  if (found.length === 0) return [literal];
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The characters of a word with parameters, `~` and glob flags resolved. */
export function globChars(w: Word, param: (name: string) => string, home: string): GlobChar[] {
  const out: GlobChar[] = [];
  for (const p of w) {
    const text = 'text' in p ? p.text : 'param' in p ? param(p.param) : 'tilde' in p ? home : null;
    if (text !== null) for (const c of text) out.push({ c, glob: false });
    else if ('glob' in p) out.push({ c: p.glob, glob: true });
  }
  return out;
}
