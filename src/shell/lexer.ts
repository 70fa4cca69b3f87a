/**
 * The shell's tokenizer, one pass over the source (linear in its length): words with their
 * quoting and expansions, operators, redirections. Backslash-newline is removed wherever bash
 * removes it (outside single quotes). Command substitutions `$(…)` are parsed in place by the
 * parser (`subst` callback), as bash does, so their `)` is found by grammar and not by counting.
 *
 * Running out of input inside a construct throws {@link Incomplete}; constructs bash has and kho
 * does not throw {@link ParseError} naming them (never a silent literal).
 */
import type { ParamOp, RedirectOp, Script, Word, WordPart } from './ast.ts';
import { ansiEscape } from './ansi-escape.ts';

/** The input ended inside a construct: `reason` is the open quote or bracket, or `eof`. */
export class Incomplete extends Error {
  readonly reason: string;
  readonly line: number;

  constructor(reason: string, line: number) {
    super(`incomplete input (${reason})`);
    this.name = 'Incomplete';
    this.reason = reason;
    this.line = line;
  }
}

/**
 * A syntax error (`syntax`: bash's "syntax error near unexpected token"), a construct kho's
 * shell does not have (`unsupported`), or another parse-time error bash reports (`other`).
 * `message` is bash's text without the `-bash: line N: ` prefix.
 */
export class ParseError extends Error {
  readonly kind: 'syntax' | 'unsupported' | 'other';
  readonly line: number;

  constructor(kind: 'syntax' | 'unsupported' | 'other', message: string, line: number) {
    super(message);
    this.name = 'ParseError';
    this.kind = kind;
    this.line = line;
  }
}

/** A token. `raw` is the source text; `plain` words have no quoting or expansion (keywords). */
export type Token =
  | {
      readonly t: 'word';
      readonly word: Word;
      readonly raw: string;
      readonly plain: boolean;
      /** `NAME=` / `NAME+=` prefix: an assignment when it comes before the command name. */
      readonly assign: { readonly name: string; readonly append: boolean; readonly value: Word } | null;
      readonly start: number;
      readonly end: number;
      readonly line: number;
    }
  | {
      readonly t: 'op';
      readonly op: string;
      readonly start: number;
      readonly end: number;
      readonly line: number;
    }
  | {
      readonly t: 'redir';
      readonly fd: number | null;
      readonly op: RedirectOp | '&>' | '&>>';
      readonly start: number;
      readonly end: number;
      readonly line: number;
    }
  | { readonly t: 'eof'; readonly start: number; readonly end: number; readonly line: number };

const META = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);

function isNameStart(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_');
}

function isNameChar(c: string | undefined): boolean {
  return isNameStart(c) || (c !== undefined && c >= '0' && c <= '9');
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Append literal text, merging with a previous literal part. */
function pushText(parts: WordPart[], s: string): void {
  const last = parts[parts.length - 1];
  if (last !== undefined && 'text' in last) parts[parts.length - 1] = { text: last.text + s };
  else parts.push({ text: s });
}

/** `$'…'` escapes (bash's ANSI-C quoting). */
function ansiC(body: string): string {
  let out = '';
  let i = 0;
  while (i < body.length) {
    if (body[i] !== '\\' || i + 1 >= body.length) {
      out += body[i++]!;
      continue;
    }
    const e = ansiEscape(body, i, { control: true });
    out += e.text;
    i = e.next;
  }
  return out;
}

/** The tokenizer over one source text. */
export class Lexer {
  readonly src: string;
  pos: number;
  /** No more input will come: a trailing backslash-newline just ends the text. */
  readonly final: boolean;
  /** Parses a command substitution's body from the current position through its `)`. */
  subst: (lx: Lexer) => Script = () => {
    throw new Error('no parser attached');
  };
  /** Parses a backquoted command's text. */
  parseText: (text: string, line: number) => Script = () => {
    throw new Error('no parser attached');
  };
  private peeked: Token | null = null;
  /** End of the last token handed out by next(). */
  lastEnd = 0;
  private lineCursor = 0;
  private lineAtCursor: number;

  constructor(src: string, opts: { pos?: number; final?: boolean; line?: number } = {}) {
    this.src = src;
    this.pos = opts.pos ?? 0;
    this.final = opts.final ?? true;
    this.lineCursor = this.pos;
    this.lineAtCursor = opts.line ?? 1;
  }

  /** The 1-based line of `pos` (a cursor that moves with the queries, so a pass stays linear). */
  lineOf(pos: number): number {
    while (this.lineCursor < pos) {
      if (this.src.charCodeAt(this.lineCursor) === 10) this.lineAtCursor++;
      this.lineCursor++;
    }
    while (this.lineCursor > pos) {
      this.lineCursor--;
      if (this.src.charCodeAt(this.lineCursor) === 10) this.lineAtCursor--;
    }
    return this.lineAtCursor;
  }

  /** The current line. */
  get line(): number {
    return this.lineOf(this.pos);
  }

  /** The next token without consuming it. */
  peek(): Token {
    this.peeked ??= this.lex();
    return this.peeked;
  }

  /** Consume and return the next token. */
  next(): Token {
    const t = this.peek();
    this.peeked = null;
    this.lastEnd = t.end;
    return t;
  }

  /** Forget a peeked token and continue lexing at `pos`. */
  reset(pos: number): void {
    this.peeked = null;
    this.pos = pos;
  }

  /** Where the consumed text ends (the start of a peeked token, else the cursor). */
  consumedTo(): number {
    return this.peeked?.start ?? this.pos;
  }

  /** `((…))` as a command: the expression after `((` through the closing `))`. */
  arithCommand(start: number): Word {
    this.peeked = null;
    const w = this.arithBody(start);
    this.lastEnd = this.pos;
    return w;
  }

  /** Skip backslash-newline pairs at the cursor. */
  private skipCont(): void {
    const s = this.src;
    while (s.charCodeAt(this.pos) === 92 && s.charCodeAt(this.pos + 1) === 10) {
      if (this.pos + 2 >= s.length && !this.final) throw new Incomplete('\\', this.line);
      this.pos += 2;
    }
  }

  /** The character at the cursor after continuations. */
  private cur(): string | undefined {
    this.skipCont();
    return this.src[this.pos];
  }

  /** Input ended inside a construct that started at `start` (bash names that line). */
  private incomplete(reason: string, start = this.pos): Incomplete {
    return new Incomplete(reason, this.lineOf(start));
  }

  private unsupported(what: string, pos = this.pos): ParseError {
    return new ParseError('unsupported', `${what}: not supported by kho's shell`, this.lineOf(pos));
  }

  private lex(): Token {
    // Blanks and comments.
    for (;;) {
      const c = this.cur();
      if (c === ' ' || c === '\t') this.pos++;
      else if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else break;
    }
    const start = this.pos;
    const line = this.line;
    const c = this.src[this.pos];
    if (c === undefined) return { t: 'eof', start, end: start, line };
    const op = (o: string, end: number): Token => {
      this.pos = end;
      return { t: 'op', op: o, start, end, line };
    };
    /** The character after the one at `at`, past continuations; leaves the cursor on it. */
    const after = (at: number): string | undefined => {
      this.pos = at + 1;
      return this.cur();
    };
    switch (c) {
      case '\n':
        return op('\n', start + 1);
      case ';': {
        if (after(start) === ';') {
          const p = this.pos;
          if (after(p) === '&') throw this.unsupported("`;;&' (case fall-through)", start);
          return op(';;', p + 1);
        }
        if (this.src[this.pos] === '&') throw this.unsupported("`;&' (case fall-through)", start);
        return op(';', start + 1);
      }
      case '&': {
        const d = after(start);
        if (d === '&') return op('&&', this.pos + 1);
        if (d === '>') {
          const p = this.pos;
          const append = after(p) === '>';
          this.pos = append ? this.pos + 1 : p + 1;
          return { t: 'redir', fd: null, op: append ? '&>>' : '&>', start, end: this.pos, line };
        }
        return op('&', start + 1);
      }
      case '|': {
        const d = after(start);
        if (d === '|') return op('||', this.pos + 1);
        if (d === '&') return op('|&', this.pos + 1);
        return op('|', start + 1);
      }
      case '(':
        return op('(', start + 1);
      case ')':
        return op(')', start + 1);
      default:
        break;
    }
    if (c === '<' || c === '>') return this.redirect(start, null, line);
    // An all-digit word directly followed by < or > is a file descriptor number.
    if (isDigit(c)) {
      let j = this.pos;
      while (isDigit(this.src[j])) j++;
      if (this.src[j] === '<' || this.src[j] === '>') {
        const fd = Number(this.src.slice(this.pos, j));
        this.pos = j;
        return this.redirect(start, fd, line);
      }
    }
    return this.word(start, line);
  }

  private redirect(start: number, fd: number | null, line: number): Token {
    const c = this.src[this.pos]!;
    this.pos++;
    const tok = (op: RedirectOp | '&>' | '&>>'): Token => ({
      t: 'redir',
      fd,
      op,
      start,
      end: this.pos,
      line,
    });
    const d = this.cur();
    if (c === '<') {
      if (d === '<') {
        this.pos++;
        if (this.cur() === '<') {
          this.pos++;
          return tok('<<<');
        }
        throw this.unsupported('here-documents (<<)', start);
      }
      if (d === '&') {
        this.pos++;
        return tok('>&');
      }
      if (d === '>') throw this.unsupported("`<>' (open for reading and writing)", start);
      if (d === '(') throw this.unsupported('process substitution <(…)', start);
      return tok('<');
    }
    if (d === '>') {
      this.pos++;
      return tok('>>');
    }
    if (d === '&') {
      this.pos++;
      return tok('>&');
    }
    if (d === '|') {
      this.pos++;
      return tok('>');
    }
    if (d === '(') throw this.unsupported('process substitution >(…)', start);
    return tok('>');
  }

  private word(start: number, line: number): Token {
    const parts: WordPart[] = [];
    let plain = true;
    let assign: { name: string; append: boolean } | null = null;
    // NAME= or NAME+= at the start: a possible assignment.
    if (isNameStart(this.src[this.pos])) {
      let j = this.pos + 1;
      while (isNameChar(this.src[j])) j++;
      const append = this.src[j] === '+' && this.src[j + 1] === '=';
      if (this.src[j] === '=' || append) {
        const name = this.src.slice(this.pos, j);
        this.pos = j + (append ? 2 : 1);
        assign = { name, append };
        if (this.src[this.pos] === '(') throw this.unsupported(`arrays (${name}=(…))`, start);
      }
    }
    if (assign === null && this.src[this.pos] === '~') {
      const d = this.src[this.pos + 1];
      if (d === undefined || d === '/' || META.has(d)) {
        parts.push({ tilde: true });
        this.pos++;
      }
    }
    for (;;) {
      const c = this.cur();
      if (c === undefined || META.has(c)) break;
      switch (c) {
        case '\\': {
          const d = this.src[this.pos + 1];
          if (d === undefined) {
            // A backslash as the very last character stays literal (bash).
            pushText(parts, '\\');
            this.pos++;
          } else {
            pushText(parts, d);
            this.pos += 2;
          }
          plain = false;
          break;
        }
        case "'": {
          const end = this.src.indexOf("'", this.pos + 1);
          if (end < 0) throw this.incomplete("'", this.pos);
          pushText(parts, this.src.slice(this.pos + 1, end));
          this.pos = end + 1;
          plain = false;
          break;
        }
        case '"':
          this.dquote(parts);
          plain = false;
          break;
        case '$':
          if (this.dollar(parts, false)) plain = false;
          break;
        case '`':
          this.backquote(parts, false);
          plain = false;
          break;
        case '*':
        case '?':
        case '[':
          parts.push({ glob: c });
          this.pos++;
          break;
        case '{':
        case '}':
        case ',':
          parts.push({ brace: c });
          this.pos++;
          break;
        default:
          pushText(parts, c);
          this.pos++;
      }
    }
    const end = this.pos;
    let word: Word = parts;
    let a: { name: string; append: boolean; value: Word } | null = null;
    if (assign !== null) {
      // The parts are the value; as an ordinary word, `NAME=` comes first.
      a = { name: assign.name, append: assign.append, value: parts };
      const head: WordPart[] = [{ text: `${assign.name}${assign.append ? '+=' : '='}` }];
      for (const p of parts) {
        if ('text' in p) pushText(head, p.text);
        else head.push(p);
      }
      word = head;
    }
    return { t: 'word', word, raw: this.src.slice(start, end), plain, assign: a, start, end, line };
  }

  /** A double-quoted string at the cursor (on `"`). */
  private dquote(parts: WordPart[]): void {
    const start = this.pos;
    this.pos++;
    // An empty "" still makes a word.
    pushText(parts, '');
    for (;;) {
      const c = this.cur();
      if (c === undefined) throw this.incomplete('"', start);
      if (c === '"') {
        this.pos++;
        return;
      }
      if (c === '\\') {
        const d = this.src[this.pos + 1];
        if (d === '$' || d === '`' || d === '"' || d === '\\') {
          pushText(parts, d);
          this.pos += 2;
        } else {
          pushText(parts, '\\');
          this.pos++;
        }
      } else if (c === '$') this.dollar(parts, true);
      else if (c === '`') this.backquote(parts, true);
      else {
        pushText(parts, c);
        this.pos++;
      }
    }
  }

  /** A `$` expansion at the cursor; false when the `$` is literal. */
  private dollar(parts: WordPart[], quoted: boolean): boolean {
    const start = this.pos;
    this.pos++;
    const c = this.cur();
    if (c === '(') {
      if (this.src[this.pos + 1] === '(') {
        this.pos += 2;
        parts.push({ arith: this.arithBody(start), quoted });
        return true;
      }
      this.pos++;
      parts.push({ subst: this.substBody(), quoted });
      return true;
    }
    if (c === '{') {
      this.braceParam(parts, quoted, start);
      return true;
    }
    if (c === "'" && !quoted) {
      const end = this.findSingleQuoteEnd(this.pos + 1);
      pushText(parts, ansiC(this.src.slice(this.pos + 1, end)));
      this.pos = end + 1;
      return true;
    }
    if (c === '"' && !quoted) {
      this.dquote(parts);
      return true;
    }
    if (c !== undefined && '?#@*$!-'.includes(c)) {
      parts.push({ param: c, quoted });
      this.pos++;
      return true;
    }
    if (isDigit(c)) {
      parts.push({ param: c!, quoted });
      this.pos++;
      return true;
    }
    if (isNameStart(c)) {
      let j = this.pos + 1;
      while (isNameChar(this.src[j])) j++;
      parts.push({ param: this.src.slice(this.pos, j), quoted });
      this.pos = j;
      return true;
    }
    pushText(parts, '$');
    return false;
  }

  /** End of `$'…'` (a `\'` does not end it). */
  private findSingleQuoteEnd(from: number): number {
    for (let i = from; i < this.src.length; i++) {
      if (this.src[i] === '\\') i++;
      else if (this.src[i] === "'") return i;
    }
    throw this.incomplete("'", from - 1);
  }

  /** The body of `$(…)`, after the `(`. */
  private substBody(): Script {
    try {
      return this.subst(this);
    } catch (err) {
      if (err instanceof Incomplete && err.reason === 'eof') throw new Incomplete(')', err.line);
      throw err;
    }
  }

  /** `$((…))` after the `((`: the expression as a word (parameters and substitutions inside). */
  private arithBody(start: number): Word {
    const parts: WordPart[] = [];
    let depth = 0;
    for (;;) {
      const c = this.cur();
      if (c === undefined) throw this.incomplete(')', start);
      if (c === ')') {
        if (depth === 0) {
          this.pos++;
          if (this.cur() === undefined) throw this.incomplete(')', start);
          if (this.cur() !== ')')
            throw new ParseError('syntax', `syntax error near unexpected token \`)'`, this.lineOf(start));
          this.pos++;
          return parts;
        }
        depth--;
      } else if (c === '(') depth++;
      if (c === '$') {
        this.dollar(parts, true);
        continue;
      }
      if (c === '`') {
        this.backquote(parts, true);
        continue;
      }
      if (c === '"') {
        // Quotes inside arithmetic only group; their content is part of the expression.
        const inner: WordPart[] = [];
        this.dquote(inner);
        for (const p of inner) {
          if ('text' in p) pushText(parts, p.text);
          else parts.push(p);
        }
        continue;
      }
      pushText(parts, c);
      this.pos++;
    }
  }

  /** `${…}` at the cursor (on `{`); `start` is the `$`. */
  private braceParam(parts: WordPart[], quoted: boolean, start: number): void {
    this.pos++;
    const s = this.src;
    let length = false;
    if (s[this.pos] === '#' && s[this.pos + 1] !== '}' && !/[-=?+:#%]/.test(s[this.pos + 1] ?? '')) {
      length = true;
      this.pos++;
    } else if (s[this.pos] === '#' && s[this.pos + 1] === '#' && s[this.pos + 2] === '}') {
      // ${##}: the length of $#.
      length = true;
      this.pos++;
    }
    if (s[this.pos] === '!' && s[this.pos + 1] !== '}')
      throw this.unsupported(`\`${this.rawParam(start)}' (indirect expansion)`, start);
    let name: string;
    const c = s[this.pos];
    if (isNameStart(c)) {
      let j = this.pos + 1;
      while (isNameChar(s[j])) j++;
      name = s.slice(this.pos, j);
      this.pos = j;
    } else if (isDigit(c)) {
      let j = this.pos + 1;
      while (isDigit(s[j])) j++;
      name = String(Number(s.slice(this.pos, j)));
      this.pos = j;
    } else if (c !== undefined && '?#@*$!-'.includes(c)) {
      name = c;
      this.pos++;
    } else if (c === undefined) throw this.incomplete('}', start);
    else throw this.badSubstitution(start);
    const d = s[this.pos];
    if (d === undefined) throw this.incomplete('}', start);
    if (d === '}') {
      this.pos++;
      parts.push(length ? { param: name, quoted, op: { kind: 'length' } } : { param: name, quoted });
      return;
    }
    if (length) throw this.badSubstitution(start);
    if (d === '[') throw this.unsupported(`\`${this.rawParam(start)}' (arrays)`, start);
    let op: ParamOp;
    const opWord = (): Word => this.wordUntilBrace(quoted, start);
    if (d === ':' && '-=+?'.includes(s[this.pos + 1] ?? '')) {
      const k = s[this.pos + 1]!;
      this.pos += 2;
      op = { kind: opKind(k), colon: true, word: opWord() };
    } else if ('-=+?'.includes(d)) {
      this.pos++;
      op = { kind: opKind(d), colon: false, word: opWord() };
    } else if (d === '#' || d === '%') {
      const longest = s[this.pos + 1] === d;
      this.pos += longest ? 2 : 1;
      op = { kind: 'trim', from: d === '#' ? 'prefix' : 'suffix', longest, word: opWord() };
    } else if (d === ':') throw this.unsupported(`\`${this.rawParam(start)}' (substrings)`, start);
    else if (d === '/') throw this.unsupported(`\`${this.rawParam(start)}' (pattern substitution)`, start);
    else if (d === '^' || d === ',')
      throw this.unsupported(`\`${this.rawParam(start)}' (case modification)`, start);
    else if (d === '@') throw this.unsupported(`\`${this.rawParam(start)}' (transformations)`, start);
    else throw this.badSubstitution(start);
    parts.push({ param: name, quoted, op });
  }

  /** The source of `${…}` from `start` (for messages), or up to the end of the line. */
  private rawParam(start: number): string {
    const end = this.src.indexOf('}', start);
    const nl = this.src.indexOf('\n', start);
    const stop = end >= 0 && (nl < 0 || end < nl) ? end + 1 : nl >= 0 ? nl : this.src.length;
    return this.src.slice(start, stop);
  }

  private badSubstitution(start: number): ParseError {
    return new ParseError('other', `${this.rawParam(start)}: bad substitution`, this.lineOf(start));
  }

  /** The word of `${NAME:-WORD}` up to the closing `}`. */
  private wordUntilBrace(quoted: boolean, start: number): Word {
    const parts: WordPart[] = [];
    pushText(parts, '');
    for (;;) {
      const c = this.cur();
      if (c === undefined) throw this.incomplete('}', start);
      if (c === '}') {
        this.pos++;
        return parts;
      }
      if (c === '\\') {
        const d = this.src[this.pos + 1];
        if (d === undefined) throw this.incomplete('}', start);
        pushText(parts, d);
        this.pos += 2;
      } else if (c === "'" && !quoted) {
        const end = this.src.indexOf("'", this.pos + 1);
        if (end < 0) throw this.incomplete("'", start);
        pushText(parts, this.src.slice(this.pos + 1, end));
        this.pos = end + 1;
      } else if (c === '"') this.dquote(parts);
      else if (c === '$') this.dollar(parts, quoted);
      else if (c === '`') this.backquote(parts, quoted);
      else if (!quoted && (c === '*' || c === '?' || c === '[')) {
        parts.push({ glob: c });
        this.pos++;
      } else {
        pushText(parts, c);
        this.pos++;
      }
    }
  }

  /** `` `…` `` at the cursor: bash's old command substitution. */
  private backquote(parts: WordPart[], quoted: boolean): void {
    const line = this.line;
    const start = this.pos;
    let i = this.pos + 1;
    let text = '';
    for (;;) {
      const c = this.src[i];
      if (c === undefined) throw this.incomplete('`', start);
      if (c === '`') break;
      if (c === '\\' && (this.src[i + 1] === '`' || this.src[i + 1] === '\\' || this.src[i + 1] === '$')) {
        text += this.src[i + 1]!;
        i += 2;
      } else {
        text += c;
        i++;
      }
    }
    this.pos = i + 1;
    parts.push({ subst: this.parseText(text, line), quoted });
  }
}

function opKind(c: string): 'default' | 'assign' | 'alternate' | 'error' {
  return c === '-' ? 'default' : c === '=' ? 'assign' : c === '+' ? 'alternate' : 'error';
}
