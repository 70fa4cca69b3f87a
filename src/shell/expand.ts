/**
 * Word expansion in bash's order: brace expansion, tilde, parameters, command and arithmetic
 * substitution, field splitting of unquoted results on IFS, pathname expansion, quote removal.
 * The interpreter supplies variables, positional parameters, command substitution and the file
 * system through {@link ExpandHost}.
 */
import type { ParamOp, Script, Word, WordPart } from './ast.ts';
import { ArithError, evalArith } from './arith.ts';
import { braceExpand } from './brace.ts';
import { escapeGlob, globRegex, hasGlobChars } from './glob.ts';

/** What expansion needs from the shell. */
export interface ExpandHost {
  /** A variable or special parameter (`?`, `#`, `$`, `0`, `1`…); undefined when unset. */
  getVar(name: string): string | undefined;
  setVar(name: string, value: string): void;
  /** `$1`… */
  positional(): readonly string[];
  /** `~`. */
  readonly home: string;
  /** `set -u`. */
  readonly nounset: boolean;
  /** Run a command substitution; its standard output. */
  substitute(script: Script): Promise<string>;
  /** Pathname expansion of a pattern (quoted characters escaped); null when nothing matches. */
  glob(pattern: string): string[] | null;
}

/** An expansion error: bash prints `-bash: MESSAGE` and the command fails with status 1. */
export class ExpansionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpansionError';
  }
}

interface Field {
  text: string;
  pat: string;
  glob: boolean;
}

const DEFAULT_IFS = ' \t\n';

/** Builds the fields of one word. */
class Fields {
  readonly out: Field[] = [];
  private cur: Field | null = null;
  private readonly ifs: string;

  constructor(ifs: string) {
    this.ifs = ifs;
  }

  private field(): Field {
    this.cur ??= { text: '', pat: '', glob: false };
    return this.cur;
  }

  /** Quoted or literal text: never split or globbed; even '' makes a field. */
  literal(s: string): void {
    const f = this.field();
    f.text += s;
    f.pat += escapeGlob(s);
  }

  /** An unquoted glob character of the word itself. */
  globChar(c: string): void {
    const f = this.field();
    f.text += c;
    f.pat += c;
    f.glob = true;
  }

  end(): void {
    if (this.cur !== null) this.out.push(this.cur);
    this.cur = null;
  }

  /** An unquoted expansion result: split on IFS; its pattern characters are live. */
  unquoted(value: string): void {
    const ifs = this.ifs;
    let i = 0;
    const n = value.length;
    const isWs = (c: string): boolean => (c === ' ' || c === '\t' || c === '\n') && ifs.includes(c);
    while (i < n) {
      const c = value[i]!;
      if (isWs(c)) {
        while (i < n && isWs(value[i]!)) i++;
        if (i < n && ifs.includes(value[i]!) && !isWs(value[i]!)) {
          this.field();
          i++;
          while (i < n && isWs(value[i]!)) i++;
        }
        this.end();
        continue;
      }
      if (ifs.includes(c)) {
        this.field();
        this.end();
        i++;
        while (i < n && isWs(value[i]!)) i++;
        continue;
      }
      let j = i;
      while (j < n && !ifs.includes(value[j]!)) j++;
      const piece = value.slice(i, j);
      const f = this.field();
      f.text += piece;
      f.pat += piece;
      if (/[*?[]/.test(piece)) f.glob = true;
      i = j;
    }
  }
}

/** The shell's expansion of words against an {@link ExpandHost}. */
export class Expander {
  private readonly host: ExpandHost;

  constructor(host: ExpandHost) {
    this.host = host;
  }

  private ifs(): string {
    return this.host.getVar('IFS') ?? DEFAULT_IFS;
  }

  /** Command arguments: every expansion, field splitting and pathname expansion. */
  async words(words: readonly Word[]): Promise<string[]> {
    const out: string[] = [];
    for (const w of words) {
      for (const b of braceExpand(w)) out.push(...(await this.word(b)));
    }
    return out;
  }

  /** One word (after brace expansion) into fields. */
  private async word(w: Word): Promise<string[]> {
    // A fast path for plain literal words.
    if (w.length === 1 && 'text' in w[0]!) return [w[0].text];
    const f = new Fields(this.ifs());
    if (this.isQuotedAtOnly(w) && this.host.positional().length === 0) return [];
    await this.parts(w, f, false);
    f.end();
    const out: string[] = [];
    for (const field of f.out) {
      if (field.glob && hasGlobChars(field.pat)) {
        const m = this.host.glob(field.pat);
        if (m !== null) {
          out.push(...m);
          continue;
        }
      }
      out.push(field.text);
    }
    return out;
  }

  /** `"$@"` alone (with empty quotes around at most) expands to nothing when there are no parameters. */
  private isQuotedAtOnly(w: Word): boolean {
    let at = false;
    for (const p of w) {
      if ('param' in p && p.param === '@' && p.quoted && p.op === undefined) at = true;
      else if (!('text' in p && p.text === '')) return false;
    }
    return at;
  }

  /** A word without splitting or pathname expansion (assignments, here-strings). */
  async string(w: Word): Promise<string> {
    const f = new Fields('');
    await this.parts(w, f, true);
    f.end();
    return f.out.map((x) => x.text).join(' ');
  }

  /** A pattern (for `${NAME#PATTERN}`): quoted characters escaped, the rest live. */
  async pattern(w: Word): Promise<string> {
    const f = new Fields('');
    await this.parts(w, f, false);
    f.end();
    return f.out.map((x) => x.pat).join(' ');
  }

  private async parts(w: Word, f: Fields, noSplit: boolean): Promise<void> {
    for (const p of w) await this.part(p, f, noSplit);
  }

  private async part(p: WordPart, f: Fields, noSplit: boolean): Promise<void> {
    if ('text' in p) f.literal(p.text);
    else if ('glob' in p) {
      if (noSplit) f.literal(p.glob);
      else f.globChar(p.glob);
    } else if ('brace' in p) f.literal(p.brace);
    else if ('tilde' in p) f.literal(this.host.home);
    else if ('subst' in p) {
      const out = (await this.host.substitute(p.subst)).replace(/\n+$/, '');
      this.value(out, p.quoted || noSplit, f);
    } else if ('arith' in p) {
      const expr = await this.string(p.arith);
      let v: bigint;
      try {
        v = evalArith(expr, {
          get: (n) => this.host.getVar(n),
          set: (n, val) => {
            this.host.setVar(n, val);
          },
        });
      } catch (err) {
        if (err instanceof ArithError) throw new ExpansionError(err.message);
        throw err;
      }
      this.value(String(v), p.quoted || noSplit, f);
    } else await this.param(p, f, noSplit);
  }

  private value(v: string, quoted: boolean, f: Fields): void {
    if (quoted) f.literal(v);
    else f.unquoted(v);
  }

  private async param(
    p: { readonly param: string; readonly quoted: boolean; readonly op?: ParamOp },
    f: Fields,
    noSplit: boolean,
  ): Promise<void> {
    const quoted = p.quoted || noSplit;
    const name = p.param;
    if ((name === '@' || name === '*') && p.op === undefined) {
      const args = this.host.positional();
      if (name === '@' && p.quoted) {
        args.forEach((a, i) => {
          if (i > 0) f.end();
          f.literal(a);
        });
        return;
      }
      const sep = name === '*' && quoted ? (this.ifs()[0] ?? '') : ' ';
      this.value(args.join(sep), quoted, f);
      return;
    }
    let v = this.host.getVar(name);
    const op = p.op;
    if (op === undefined) {
      if (v === undefined && this.host.nounset && !/^[?#$!-]$/.test(name))
        throw new ExpansionError(`${name}: unbound variable`);
      this.value(v ?? '', quoted, f);
      return;
    }
    if (op.kind === 'length') {
      const len = name === '@' || name === '*' ? this.host.positional().length : codePoints(v ?? '');
      this.value(String(len), quoted, f);
      return;
    }
    if (op.kind === 'trim') {
      const pat = await this.pattern(op.word);
      this.value(trim(v ?? '', pat, op.from, op.longest), quoted, f);
      return;
    }
    const missing = v === undefined || (op.colon && v === '');
    switch (op.kind) {
      case 'default':
        if (missing) await this.parts(op.word, f, quoted);
        else this.value(v!, quoted, f);
        return;
      case 'assign':
        if (missing) {
          v = await this.string(op.word);
          this.host.setVar(name, v);
        }
        this.value(v!, quoted, f);
        return;
      case 'alternate':
        if (!missing) await this.parts(op.word, f, quoted);
        return;
      case 'error': {
        if (!missing) {
          this.value(v!, quoted, f);
          return;
        }
        const msg = await this.string(op.word);
        throw new ExpansionError(
          `${name}: ${msg !== '' ? msg : op.colon ? 'parameter null or not set' : 'parameter not set'}`,
        );
      }
    }
  }
}

/** `${v#pat}`, `${v##pat}`, `${v%pat}`, `${v%%pat}`. */
function trim(v: string, pat: string, from: 'prefix' | 'suffix', longest: boolean): string {
  const src = globRegex(pat).source.slice(1, -1);
  const lazy = src.replace(/\[\\s\\S\]\*/g, '[\\s\\S]*?');
  if (from === 'prefix') {
    const m = new RegExp(`^(?:${longest ? src : lazy})`).exec(v);
    return m === null ? v : v.slice(m[0].length);
  }
  const m = new RegExp(longest ? `(?:${lazy})$` : `^[\\s\\S]*((?:${lazy})$)`).exec(v);
  if (m === null) return v;
  return longest ? v.slice(0, m.index) : v.slice(0, v.length - m[1]!.length);
}

/** The number of characters (code points) in `s`, as `${#NAME}` counts them. */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}
