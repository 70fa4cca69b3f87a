/**
 * The shell's grammar (bash's, for the constructs kho has): complete commands one at a time, as
 * bash reads them, so a script runs up to its first syntax error and the parse stays linear.
 *
 * `parseNext` returns the next complete command of a text (a list ended by a newline outside
 * any construct), `incomplete` when the text ends inside a construct, or a bash-worded error.
 */
import type {
  AndOrItem,
  AndOrList,
  Command,
  Pipeline,
  Redirect,
  Script,
  SimpleCommand,
  Word,
} from './ast.ts';
import { Incomplete, Lexer, ParseError, type Token } from './lexer.ts';

/** Reserved words that end a compound list. */
const TERMINATORS = new Set(['then', 'else', 'elif', 'fi', 'do', 'done', '}', 'esac']);
/** Reserved words bash has and kho's shell does not. */
const UNSUPPORTED_WORDS: Record<string, string> = {
  select: "`select' loops",
  function: 'function definitions',
  coproc: "coprocesses (`coproc')",
  time: "`time'",
  '[[': "`[[ … ]]' conditional commands (use [ … ])",
};

/** Result of {@link parseNext}. */
export type ParseResult =
  | {
      readonly kind: 'ok';
      readonly list: Script;
      /** Where the command's first token starts and where its text (with its newline) ends. */
      readonly start: number;
      readonly end: number;
    }
  | { readonly kind: 'eof' }
  | { readonly kind: 'incomplete'; readonly reason: string; readonly line: number }
  | { readonly kind: 'error'; readonly error: ParseError; readonly lineText: string };

function tokenText(t: Token): string {
  if (t.t === 'eof') return 'newline';
  if (t.t === 'op') return t.op === '\n' ? 'newline' : t.op;
  if (t.t === 'redir') return t.op === '&>' || t.op === '&>>' ? t.op : t.op === '>&' ? '>&' : t.op;
  return t.raw;
}

function isWord(t: Token, raw?: string): t is Extract<Token, { t: 'word' }> {
  return t.t === 'word' && (raw === undefined || (t.plain && t.raw === raw));
}

function isOp(t: Token, op: string): boolean {
  return t.t === 'op' && t.op === op;
}

/** The recursive-descent parser over a {@link Lexer}. */
class Parser {
  private readonly lx: Lexer;

  constructor(lx: Lexer) {
    this.lx = lx;
    lx.subst = (l) => {
      const body = this.compoundList(new Set());
      const close = l.next();
      if (!isOp(close, ')')) throw this.unexpected(close);
      return body;
    };
    lx.parseText = (text, line) => parseAll(text, line);
  }

  private unexpected(t: Token): Error {
    if (t.t === 'eof') return new Incomplete('eof', t.line);
    return new ParseError('syntax', `syntax error near unexpected token \`${tokenText(t)}'`, t.line);
  }

  private skipNewlines(): void {
    while (isOp(this.lx.peek(), '\n')) this.lx.next();
  }

  /** Where the last complete command started. */
  start = 0;

  /** One complete command at top level, or null at the end of the text. */
  complete(): Script | null {
    this.skipNewlines();
    const first = this.lx.peek();
    if (first.t === 'eof') return null;
    this.start = first.start;
    const lists: AndOrList[] = [];
    for (;;) {
      lists.push(this.andOr());
      const sep = this.lx.peek();
      if (sep.t === 'eof') break;
      if (isOp(sep, '\n')) {
        this.lx.next();
        break;
      }
      if (isOp(sep, ';')) {
        this.lx.next();
        const after = this.lx.peek();
        if (after.t === 'eof') break;
        if (isOp(after, '\n')) {
          this.lx.next();
          break;
        }
        continue;
      }
      if (isOp(sep, '&'))
        throw new ParseError('unsupported', "background jobs (`&'): not supported by kho's shell", sep.line);
      throw this.unexpected(sep);
    }
    return lists;
  }

  /** A list inside a compound command, up to a terminator in `ends` (or `)`/EOF). */
  compoundList(ends: ReadonlySet<string>): Script {
    this.skipNewlines();
    const lists: AndOrList[] = [];
    for (;;) {
      const t = this.lx.peek();
      if (
        t.t === 'eof' ||
        isOp(t, ')') ||
        isOp(t, ';;') ||
        (t.t === 'word' && t.plain && TERMINATORS.has(t.raw))
      ) {
        if (isOp(t, ';;') && ends.has(';;')) return lists;
        if (lists.length === 0) throw this.unexpected(t);
        if (t.t === 'word' && !ends.has(t.raw)) throw this.unexpected(t);
        return lists;
      }
      lists.push(this.andOr());
      const sep = this.lx.peek();
      if (isOp(sep, ';') || isOp(sep, '\n')) {
        this.lx.next();
        this.skipNewlines();
      } else if (isOp(sep, '&')) {
        throw new ParseError('unsupported', "background jobs (`&'): not supported by kho's shell", sep.line);
      } else if (!(
        sep.t === 'eof' ||
        isOp(sep, ')') ||
        (isOp(sep, ';;') && ends.has(';;')) ||
        (sep.t === 'word' && sep.plain && TERMINATORS.has(sep.raw))
      )) {
        throw this.unexpected(sep);
      }
    }
  }

  private andOr(): AndOrList {
    const first = this.lx.peek();
    const items: AndOrItem[] = [{ op: null, pipeline: this.pipeline() }];
    for (;;) {
      const t = this.lx.peek();
      if (!isOp(t, '&&') && !isOp(t, '||')) break;
      this.lx.next();
      this.skipNewlines();
      items.push({ op: (t as { op: '&&' | '||' }).op, pipeline: this.pipeline() });
    }
    return { items, line: first.line, text: this.lx.src.slice(first.start, this.lx.lastEnd) };
  }

  private pipeline(): Pipeline {
    const first = this.lx.peek();
    let bang = false;
    while (isWord(this.lx.peek(), '!')) {
      this.lx.next();
      bang = !bang;
    }
    const commands: Command[] = [];
    for (;;) {
      commands.push(this.command());
      const t = this.lx.peek();
      if (isOp(t, '|') || isOp(t, '|&')) {
        this.lx.next();
        if (isOp(t, '|&')) {
          // `a |& b` is `a 2>&1 | b`.
          const c = commands[commands.length - 1]!;
          commands[commands.length - 1] = {
            ...c,
            redirects: [...c.redirects, { fd: 2, op: '>&', target: [{ text: '1' }] }],
          };
        }
        this.skipNewlines();
        continue;
      }
      break;
    }
    return { bang, commands, line: first.line };
  }

  private command(): Command {
    const t = this.lx.peek();
    const line = t.line;
    if (t.t === 'op' && t.op === '(') {
      this.lx.next();
      if (this.lx.src[t.end] === '(') {
        // `((` … `))`: an arithmetic command.
        this.lx.reset(t.end + 1);
        const expr = this.lx.arithCommand(t.start);
        return { type: 'arith', expr, redirects: this.redirects(), line };
      }
      const body = this.compoundList(new Set());
      this.expectOp(')');
      return { type: 'group', subshell: true, body, redirects: this.redirects(), line };
    }
    if (t.t === 'word' && t.plain) {
      const unsupported = UNSUPPORTED_WORDS[t.raw];
      if (unsupported !== undefined)
        throw new ParseError('unsupported', `${unsupported}: not supported by kho's shell`, line);
      switch (t.raw) {
        case 'if':
          return this.ifCommand();
        case 'for':
          return this.forCommand();
        case 'while':
        case 'until':
          return this.whileCommand(t.raw === 'until');
        case 'case':
          return this.caseCommand();
        case '{': {
          this.lx.next();
          const body = this.compoundList(new Set(['}']));
          this.expectWord('}');
          return { type: 'group', subshell: false, body, redirects: this.redirects(), line };
        }
        default:
          if (TERMINATORS.has(t.raw)) throw this.unexpected(t);
      }
    }
    return this.simple();
  }

  private expectWord(raw: string): void {
    const t = this.lx.next();
    if (!isWord(t, raw)) throw this.unexpected(t);
  }

  private expectOp(op: string): void {
    const t = this.lx.next();
    if (!isOp(t, op)) throw this.unexpected(t);
  }

  private ifCommand(): Command {
    const line = this.lx.next().line;
    const branches: { cond: Script; body: Script }[] = [];
    let otherwise: Script | null = null;
    for (;;) {
      const cond = this.compoundList(new Set(['then']));
      this.expectWord('then');
      const body = this.compoundList(new Set(['elif', 'else', 'fi']));
      branches.push({ cond, body });
      const t = this.lx.next();
      if (isWord(t, 'elif')) continue;
      if (isWord(t, 'else')) {
        otherwise = this.compoundList(new Set(['fi']));
        this.expectWord('fi');
        break;
      }
      if (isWord(t, 'fi')) break;
      throw this.unexpected(t);
    }
    return { type: 'if', branches, otherwise, redirects: this.redirects(), line };
  }

  private forCommand(): Command {
    const line = this.lx.next().line;
    const nameTok = this.lx.next();
    if (isOp(nameTok, '(') && this.lx.src[nameTok.end] === '(') {
      this.lx.reset(nameTok.end + 1);
      const exprs = this.lx.arithCommand(nameTok.start);
      if (isOp(this.lx.peek(), ';')) this.lx.next();
      this.skipNewlines();
      this.expectWord('do');
      const body = this.compoundList(new Set(['done']));
      this.expectWord('done');
      return { type: 'arithfor', exprs, body, redirects: this.redirects(), line };
    }
    if (nameTok.t !== 'word') throw this.unexpected(nameTok);
    let items: Word[] | null = null;
    // `for x in a b;`, `for x;`, `for x<newline>do`, `for x do`.
    let t = this.lx.peek();
    if (isOp(t, ';')) {
      this.lx.next();
    } else {
      this.skipNewlines();
      t = this.lx.peek();
      if (isWord(t, 'in')) {
        this.lx.next();
        items = [];
        for (;;) {
          const w = this.lx.peek();
          if (w.t !== 'word') break;
          this.lx.next();
          items.push(w.word);
        }
        const sep = this.lx.next();
        if (!isOp(sep, ';') && !isOp(sep, '\n')) throw this.unexpected(sep);
      }
    }
    this.skipNewlines();
    this.expectWord('do');
    const body = this.compoundList(new Set(['done']));
    this.expectWord('done');
    return { type: 'for', name: nameTok.raw, items, body, redirects: this.redirects(), line };
  }

  private caseCommand(): Command {
    const line = this.lx.next().line;
    const w = this.lx.next();
    if (w.t !== 'word') throw this.unexpected(w);
    this.skipNewlines();
    this.expectWord('in');
    this.skipNewlines();
    const items: { patterns: Word[]; body: Script }[] = [];
    for (;;) {
      const t = this.lx.peek();
      if (isWord(t, 'esac')) {
        this.lx.next();
        break;
      }
      if (isOp(t, '(')) this.lx.next();
      const patterns: Word[] = [];
      for (;;) {
        const p = this.lx.next();
        if (p.t !== 'word') throw this.unexpected(p);
        patterns.push(p.word);
        const sep = this.lx.next();
        if (isOp(sep, ')')) break;
        if (!isOp(sep, '|')) throw this.unexpected(sep);
      }
      this.skipNewlines();
      const next = this.lx.peek();
      const body = isOp(next, ';;') || isWord(next, 'esac') ? [] : this.compoundList(new Set([';;', 'esac']));
      items.push({ patterns, body });
      const end = this.lx.next();
      if (isWord(end, 'esac')) break;
      if (!isOp(end, ';;')) throw this.unexpected(end);
      this.skipNewlines();
    }
    return { type: 'case', word: w.word, items, redirects: this.redirects(), line };
  }

  private whileCommand(until: boolean): Command {
    const line = this.lx.next().line;
    const cond = this.compoundList(new Set(['do']));
    this.expectWord('do');
    const body = this.compoundList(new Set(['done']));
    this.expectWord('done');
    return { type: 'while', until, cond, body, redirects: this.redirects(), line };
  }

  private redirect(t: Extract<Token, { t: 'redir' }>, out: Redirect[]): void {
    const target = this.lx.next();
    if (target.t === 'eof')
      throw new ParseError('syntax', "syntax error near unexpected token `newline'", target.line);
    if (target.t !== 'word') throw this.unexpected(target);
    if (t.op === '&>' || t.op === '&>>') {
      out.push({ fd: 1, op: t.op === '&>' ? '>' : '>>', target: target.word });
      out.push({ fd: 2, op: '>&', target: [{ text: '1' }] });
      return;
    }
    const fd = t.fd ?? (t.op === '<' || t.op === '<<<' ? 0 : t.op === '>&' && this.isInputDup(t) ? 0 : 1);
    if (fd > 2) {
      throw new ParseError(
        'unsupported',
        `file descriptor ${fd}: not supported by kho's shell (only 0, 1 and 2)`,
        t.line,
      );
    }
    if (t.op === '>&' && !/^[0-9]+$|^-$/.test(target.raw)) {
      // `>&FILE` is `&>FILE`.
      out.push({ fd: 1, op: '>', target: target.word });
      out.push({ fd: 2, op: '>&', target: [{ text: '1' }] });
      return;
    }
    out.push({ fd, op: t.op, target: target.word });
  }

  private isInputDup(t: Extract<Token, { t: 'redir' }>): boolean {
    return this.lx.src[t.start + (t.fd === null ? 0 : String(t.fd).length)] === '<';
  }

  private redirects(): Redirect[] {
    const out: Redirect[] = [];
    for (;;) {
      const t = this.lx.peek();
      if (t.t !== 'redir') return out;
      this.lx.next();
      this.redirect(t, out);
    }
  }

  private simple(): SimpleCommand {
    const first = this.lx.peek();
    const assigns: { name: string; value: Word; append?: boolean }[] = [];
    const words: Word[] = [];
    const redirects: Redirect[] = [];
    for (;;) {
      const t = this.lx.peek();
      if (t.t === 'word') {
        this.lx.next();
        if (words.length === 0 && t.assign !== null) {
          assigns.push(t.assign.append ? { ...t.assign } : { name: t.assign.name, value: t.assign.value });
          continue;
        }
        words.push(t.word);
        if (words.length === 1 && assigns.length === 0 && isOp(this.lx.peek(), '(')) {
          const open = this.lx.peek();
          if (this.lx.src.slice(open.end).trimStart().startsWith(')'))
            throw new ParseError(
              'unsupported',
              `\`${t.raw} ()': function definitions: not supported by kho's shell`,
              t.line,
            );
          this.lx.next();
          throw this.unexpected(open);
        }
      } else if (t.t === 'redir') {
        this.lx.next();
        this.redirect(t, redirects);
      } else break;
    }
    if (words.length === 0 && assigns.length === 0 && redirects.length === 0)
      throw this.unexpected(this.lx.peek());
    return { type: 'simple', assigns, words, redirects, line: first.line };
  }
}

/**
 * Parse the next complete command of `src` from `pos`. `final` says no more text will follow
 * (a trailing continuation then just ends the text); `line` is the line number at `pos`.
 */
export function parseNext(src: string, pos = 0, opts: { final?: boolean; line?: number } = {}): ParseResult {
  const lx = new Lexer(src, { pos, final: opts.final ?? true, line: opts.line ?? 1 });
  const p = new Parser(lx);
  try {
    const list = p.complete();
    if (list === null) return { kind: 'eof' };
    return { kind: 'ok', list, start: p.start, end: lx.consumedTo() };
  } catch (err) {
    if (err instanceof Incomplete) return { kind: 'incomplete', reason: err.reason, line: err.line };
    if (err instanceof ParseError)
      return { kind: 'error', error: err, lineText: lineText(src, pos, opts.line ?? 1, err.line) };
    throw err;
  }
}

/** The text of line `want`, scanning from `pos` (at line `line`). */
function lineText(src: string, pos: number, line: number, want: number): string {
  let start = pos;
  for (let l = line; l < want; l++) {
    const nl = src.indexOf('\n', start);
    if (nl < 0) break;
    start = nl + 1;
  }
  const end = src.indexOf('\n', start);
  return src.slice(start, end < 0 ? src.length : end);
}

/** Parse a whole text (command substitutions in backquotes, tests); throws ParseError/Incomplete. */
export function parseAll(src: string, line = 1): Script {
  const lx = new Lexer(src, { line });
  const p = new Parser(lx);
  const out: AndOrList[] = [];
  for (;;) {
    const list = p.complete();
    if (list === null) return out;
    out.push(...list);
  }
}

/** The bash message for input that ended inside `reason` (an open quote or bracket, or eof). */
export function eofMessages(reason: string): string[] {
  if (reason === 'eof' || reason === '\\') return ['syntax error: unexpected end of file'];
  return [`unexpected EOF while looking for matching \`${reason}'`];
}
