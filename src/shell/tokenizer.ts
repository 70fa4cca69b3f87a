/**
 * The shell's command-line grammar, a small subset of bash: words with single quotes, double
 * quotes and backslash escapes; `$?`, `$NAME` and `${NAME}` expanded at run time; `~` at a word's
 * start; `#` comments; redirections `>`, `>>`, `<`, `2>`, `2>>`, `2>&1`; pipes `|`; lists with
 * `;`, `&&`, `||` and newlines. No globbing, no subshells, no here-documents.
 *
 * `parseLine` returns a syntax tree, `incomplete` when the text needs a continuation line (an
 * open quote, a trailing backslash or a trailing `|`/`&&`/`||`), or a syntax error worded as
 * bash words it.
 */

/**
 * A piece of a word: literal text, a parameter to expand (`?`, `HOME`, ...), `~`, or an
 * unquoted glob character (`*` or `?`) for pathname expansion.
 */
export type WordPart =
  | { readonly text: string }
  | { readonly param: string }
  | { readonly tilde: true }
  | { readonly glob: '*' | '?' };

/** One shell word before expansion. */
export type Word = readonly WordPart[];

/** A redirection: `fd op target`; `dup` (2>&1) carries the source fd in `target`. */
export interface Redirect {
  readonly fd: number;
  readonly op: '>' | '>>' | '<' | '>&';
  readonly target: Word;
}

/** A simple command: words and redirections. */
export interface SimpleCommand {
  readonly words: readonly Word[];
  readonly redirects: readonly Redirect[];
}

/** Commands joined by `|`. */
export interface Pipeline {
  readonly commands: readonly SimpleCommand[];
}

/** Pipelines joined by `&&`/`||` (the first has op null). */
export interface AndOrItem {
  readonly op: '&&' | '||' | null;
  readonly pipeline: Pipeline;
}

/** A full line: and-or lists separated by `;` or newlines. */
export type CommandList = readonly (readonly AndOrItem[])[];

/** Result of {@link parseLine}. */
export type ParseResult =
  | { readonly kind: 'ok'; readonly list: CommandList }
  | { readonly kind: 'incomplete'; readonly reason: string }
  | { readonly kind: 'error'; readonly message: string };

type Token =
  | { readonly t: 'word'; readonly word: Word }
  | { readonly t: 'op'; readonly op: string }
  | { readonly t: 'redir'; readonly fd: number; readonly op: '>' | '>>' | '<' | '>&' };

type LexResult =
  | { readonly kind: 'ok'; readonly tokens: Token[] }
  | { readonly kind: 'incomplete'; readonly reason: string };

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const METAS = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>']);

/** Append literal text to the word, merging with a previous literal part. */
function pushText(parts: WordPart[], s: string): void {
  const last = parts[parts.length - 1];
  if (last !== undefined && 'text' in last) parts[parts.length - 1] = { text: last.text + s };
  else parts.push({ text: s });
}

/** Read a `$` expansion at `i` (pointing after the `$`); returns the new index. */
function readDollar(src: string, i: number, parts: WordPart[]): number {
  const c = src[i];
  if (c === '?' || c === '$' || c === '#' || (c !== undefined && /[0-9]/.test(c))) {
    parts.push({ param: c });
    return i + 1;
  }
  if (c === '{') {
    const end = src.indexOf('}', i + 1);
    if (end > i + 1) {
      parts.push({ param: src.slice(i + 1, end) });
      return end + 1;
    }
    pushText(parts, '$');
    return i;
  }
  if (c !== undefined && NAME_START.test(c)) {
    let j = i + 1;
    while (j < src.length && NAME_CHAR.test(src[j]!)) j++;
    parts.push({ param: src.slice(i, j) });
    return j;
  }
  pushText(parts, '$');
  return i;
}

/** Split `src` into tokens. */
function lex(src: string): LexResult {
  const tokens: Token[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '\n') {
      tokens.push({ t: 'op', op: '\n' });
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === ';') {
      tokens.push({ t: 'op', op: src[i + 1] === ';' ? ';;' : ';' });
      i += src[i + 1] === ';' ? 2 : 1;
      continue;
    }
    if (c === '&') {
      if (src[i + 1] === '&') {
        tokens.push({ t: 'op', op: '&&' });
        i += 2;
      } else {
        tokens.push({ t: 'op', op: '&' });
        i++;
      }
      continue;
    }
    if (c === '|') {
      if (src[i + 1] === '|') {
        tokens.push({ t: 'op', op: '||' });
        i += 2;
      } else {
        tokens.push({ t: 'op', op: '|' });
        i++;
      }
      continue;
    }
    // Redirections, optionally preceded by a single-digit fd (`2>`).
    let fd = -1;
    let j = i;
    if (/[0-9]/.test(c) && (src[i + 1] === '>' || src[i + 1] === '<')) {
      fd = Number(c);
      j = i + 1;
    }
    const r = src[j];
    if (r === '>' || r === '<') {
      if (r === '<') {
        tokens.push({ t: 'redir', fd: fd < 0 ? 0 : fd, op: '<' });
        i = j + 1;
      } else if (src[j + 1] === '>') {
        tokens.push({ t: 'redir', fd: fd < 0 ? 1 : fd, op: '>>' });
        i = j + 2;
      } else if (src[j + 1] === '&') {
        tokens.push({ t: 'redir', fd: fd < 0 ? 1 : fd, op: '>&' });
        i = j + 2;
      } else {
        tokens.push({ t: 'redir', fd: fd < 0 ? 1 : fd, op: '>' });
        i = j + 1;
      }
      continue;
    }
    // A word.
    const parts: WordPart[] = [];
    if (c === '~' && (i + 1 >= n || src[i + 1] === '/' || METAS.has(src[i + 1]!))) {
      parts.push({ tilde: true });
      i++;
    }
    while (i < n && !METAS.has(src[i]!)) {
      const d = src[i]!;
      if (d === '\\') {
        if (i + 1 >= n) return { kind: 'incomplete', reason: 'backslash' };
        if (src[i + 1] !== '\n') pushText(parts, src[i + 1]!);
        i += 2;
      } else if (d === "'") {
        const end = src.indexOf("'", i + 1);
        if (end < 0) return { kind: 'incomplete', reason: "'" };
        pushText(parts, src.slice(i + 1, end));
        i = end + 1;
      } else if (d === '"') {
        i++;
        let closed = false;
        // An empty "" still makes a word.
        pushText(parts, '');
        while (i < n) {
          const e = src[i]!;
          if (e === '"') {
            closed = true;
            i++;
            break;
          }
          if (e === '\\' && i + 1 < n && '$`"\\\n'.includes(src[i + 1]!)) {
            if (src[i + 1] !== '\n') pushText(parts, src[i + 1]!);
            i += 2;
          } else if (e === '$') {
            i = readDollar(src, i + 1, parts);
          } else {
            pushText(parts, e);
            i++;
          }
        }
        if (!closed) return { kind: 'incomplete', reason: '"' };
      } else if (d === '$') {
        i = readDollar(src, i + 1, parts);
      } else if (d === '*' || d === '?') {
        parts.push({ glob: d });
        i++;
      } else {
        pushText(parts, d);
        i++;
      }
    }
    tokens.push({ t: 'word', word: parts });
  }
  return { kind: 'ok', tokens };
}

function isNewline(tok: Token | undefined): boolean {
  return tok?.t === 'op' && tok.op === '\n';
}

function tokenText(tok: Token | undefined): string {
  if (tok === undefined) return 'newline';
  if (tok.t === 'op') return tok.op === '\n' ? 'newline' : tok.op;
  if (tok.t === 'redir') return tok.op === '>&' ? '>&' : tok.op;
  return wordText(tok.word);
}

/** The literal text of a word (parameters shown as `$NAME`), for messages. */
export function wordText(w: Word): string {
  return w
    .map((p) => ('text' in p ? p.text : 'param' in p ? `$${p.param}` : 'glob' in p ? p.glob : '~'))
    .join('');
}

function syntaxError(tok: Token | undefined): ParseResult {
  return { kind: 'error', message: `syntax error near unexpected token \`${tokenText(tok)}'` };
}

/** Parse one line (or several lines joined with `\n`) of shell input. */
export function parseLine(src: string): ParseResult {
  const lx = lex(src);
  if (lx.kind === 'incomplete') return lx;
  const toks = lx.tokens;
  const list: AndOrItem[][] = [];
  let pos = 0;
  while (pos < toks.length) {
    // Blank lines separate nothing; a `;` with no command before it is a syntax error.
    const first = toks[pos]!;
    if (first.t === 'op' && first.op === '\n') {
      pos++;
      continue;
    }
    const andOr: AndOrItem[] = [];
    let op: '&&' | '||' | null = null;
    for (;;) {
      const commands: SimpleCommand[] = [];
      for (;;) {
        const words: Word[] = [];
        const redirects: Redirect[] = [];
        while (pos < toks.length) {
          const tok = toks[pos]!;
          if (tok.t === 'word') {
            words.push(tok.word);
            pos++;
          } else if (tok.t === 'redir') {
            const target = toks[pos + 1];
            if (target?.t !== 'word') return syntaxError(target);
            redirects.push({ fd: tok.fd, op: tok.op, target: target.word });
            pos += 2;
          } else break;
        }
        if (words.length === 0 && redirects.length === 0) return syntaxError(toks[pos]);
        commands.push({ words, redirects });
        const next = toks[pos];
        if (next?.t === 'op' && next.op === '|') {
          pos++;
          while (isNewline(toks[pos])) pos++;
          if (pos >= toks.length) return { kind: 'incomplete', reason: '|' };
          continue;
        }
        break;
      }
      andOr.push({ op, pipeline: { commands } });
      const next = toks[pos];
      if (next?.t === 'op' && (next.op === '&&' || next.op === '||')) {
        op = next.op;
        pos++;
        while (isNewline(toks[pos])) pos++;
        if (pos >= toks.length) return { kind: 'incomplete', reason: op };
        continue;
      }
      break;
    }
    list.push(andOr);
    const sep = toks[pos];
    if (sep === undefined) break;
    if (sep.t === 'op' && (sep.op === ';' || sep.op === '\n')) {
      pos++;
      continue;
    }
    if (sep.t === 'op' && sep.op === '&')
      return { kind: 'error', message: 'background jobs (&) are not supported' };
    return syntaxError(sep);
  }
  return { kind: 'ok', list };
}

/** The bash message for input that ended inside `reason` (an open quote or operator). */
export function eofMessage(reason: string): string {
  if (reason === "'" || reason === '"') return `unexpected EOF while looking for matching \`${reason}'`;
  return 'syntax error: unexpected end of file';
}
