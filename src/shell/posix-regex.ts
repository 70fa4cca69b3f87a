/**
 * POSIX regular expressions for `grep`, basic (BRE) and extended (ERE) with GNU's extensions
 * (`\+ \? \|` in BRE, `\w \W \s \S \b \B \< \> \` \'`), matched by a Thompson NFA: every
 * match costs O(pattern × line), so no pattern can make a line take exponential time (GNU grep
 * uses a DFA for the same guarantee; JavaScript's RegExp backtracks). Leftmost-longest match
 * extents (POSIX's rule) serve `grep -o`. Back-references are not regular and are refused.
 * Error texts are glibc's regcomp messages as GNU grep 3.8 prints them.
 */

/** A pattern that does not compile; `message` is grep's text (`Unmatched ( or \(`). */
export class RegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegexError';
  }
}

/** glibc's RE_DUP_MAX: the largest count in `{m,n}`. */
const DUP_MAX = 32767;
/** The most NFA states one pattern may compile to (GNU: "Regular expression too big"). */
const MAX_STATES = 200_000;

type Pred = (c: number) => boolean;
type AssertKind =
  'bol' | 'eol' | 'wordb' | 'notwordb' | 'wordstart' | 'wordend' | 'notafterword' | 'notbeforeword';

type Node =
  | { readonly k: 'char'; readonly pred: Pred }
  | { readonly k: 'empty' }
  | { readonly k: 'cat'; readonly items: readonly Node[] }
  | { readonly k: 'alt'; readonly items: readonly Node[] }
  | { readonly k: 'rep'; readonly node: Node; readonly min: number; readonly max: number }
  | { readonly k: 'assert'; readonly kind: AssertKind };

/** Options of {@link compile}. */
export interface RegexOptions {
  extended: boolean;
  ignoreCase: boolean;
  /** `grep -w`: the match must not touch word characters on either side. */
  word?: boolean;
  /** `grep -x`: the match must be the whole line. */
  line?: boolean;
  /** Warnings grep prints and goes on (`* at start of expression`). */
  warn?: (message: string) => void;
}

const isWordChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

const CLASSES: Record<string, Pred> = {
  alpha: (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  digit: (c) => c >= 48 && c <= 57,
  alnum: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  upper: (c) => c >= 65 && c <= 90,
  lower: (c) => c >= 97 && c <= 122,
  space: (c) => c === 32 || (c >= 9 && c <= 13),
  blank: (c) => c === 32 || c === 9,
  punct: (c) =>
    (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126),
  print: (c) => c >= 32 && c <= 126,
  graph: (c) => c >= 33 && c <= 126,
  cntrl: (c) => c < 32 || c === 127,
  xdigit: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102),
};

function lowerCode(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function upperCode(c: number): number {
  return c >= 97 && c <= 122 ? c - 32 : c;
}

/** The parser of one pattern. */
class Parser {
  private readonly p: string;
  private readonly ere: boolean;
  private readonly icase: boolean;
  private readonly warn: (m: string) => void;
  private i = 0;
  private depth = 0;

  constructor(p: string, opts: RegexOptions) {
    this.p = p;
    this.ere = opts.extended;
    this.icase = opts.ignoreCase;
    this.warn = opts.warn ?? (() => undefined);
  }

  parse(): Node {
    const n = this.alternation();
    if (this.i < this.p.length) {
      // Only an unmatched close can stop the top level.
      throw new RegexError('Unmatched ) or \\)');
    }
    return n;
  }

  private literal(ch: number): Node {
    if (this.icase) {
      const l = lowerCode(ch);
      const u = upperCode(ch);
      return { k: 'char', pred: (c) => c === l || c === u };
    }
    return { k: 'char', pred: (c) => c === ch };
  }

  /** At `|` (ERE) or `\|` (BRE)? */
  private atAlt(): boolean {
    return this.ere ? this.p[this.i] === '|' : this.p[this.i] === '\\' && this.p[this.i + 1] === '|';
  }

  /** At `)` (ERE, inside a group) or `\)` (BRE)? */
  private atClose(): boolean {
    if (this.ere) return this.p[this.i] === ')' && this.depth > 0;
    return this.p[this.i] === '\\' && this.p[this.i + 1] === ')';
  }

  private alternation(): Node {
    const items: Node[] = [this.concat()];
    while (this.atAlt()) {
      this.i += this.ere ? 1 : 2;
      items.push(this.concat());
    }
    return items.length === 1 ? items[0]! : { k: 'alt', items };
  }

  private concat(): Node {
    const items: Node[] = [];
    const start = this.i;
    while (this.i < this.p.length && !this.atAlt() && !this.atClose()) {
      if (!this.ere && this.p[this.i] === '\\' && this.p[this.i + 1] === ')') break;
      const atStart = this.i === start;
      let atom = this.atom(atStart);
      if (atom === null) continue;
      atom = this.repeats(atom);
      items.push(atom);
    }
    if (items.length === 0) return { k: 'empty' };
    return items.length === 1 ? items[0]! : { k: 'cat', items };
  }

  /** Postfix repetition operators after an atom. */
  private repeats(atom: Node): Node {
    let a = atom;
    for (;;) {
      const c = this.p[this.i];
      if (c === '*') {
        this.i++;
        a = { k: 'rep', node: a, min: 0, max: Infinity };
      } else if (this.ere && (c === '+' || c === '?')) {
        this.i++;
        a = { k: 'rep', node: a, min: c === '+' ? 1 : 0, max: c === '?' ? 1 : Infinity };
      } else if (!this.ere && c === '\\' && (this.p[this.i + 1] === '+' || this.p[this.i + 1] === '?')) {
        const d = this.p[this.i + 1];
        this.i += 2;
        a = { k: 'rep', node: a, min: d === '+' ? 1 : 0, max: d === '?' ? 1 : Infinity };
      } else if (this.ere ? c === '{' : c === '\\' && this.p[this.i + 1] === '{') {
        const b = this.interval();
        if (b === null) return a;
        a = { k: 'rep', node: a, min: b.min, max: b.max };
      } else return a;
    }
  }

  /** `{m}`, `{m,}`, `{m,n}` (`\{…\}` in BRE); null when an ERE `{` is literal. */
  private interval(): { min: number; max: number } | null {
    const save = this.i;
    this.i += this.ere ? 1 : 2;
    const m = /^([0-9]*)(,([0-9]*))?/.exec(this.p.slice(this.i))!;
    const close = this.ere ? '}' : '\\}';
    this.i += m[0].length;
    if (!this.p.startsWith(close, this.i) || (m[1] === '' && (this.ere || m[2] === undefined))) {
      if (this.ere) {
        // GNU: an ERE `{` that does not start an interval is an ordinary character.
        this.i = save;
        return null;
      }
      throw new RegexError(this.i >= this.p.length ? 'Unmatched \\{' : 'Invalid content of \\{\\}');
    }
    this.i += close.length;
    const min = m[1] === '' ? 0 : Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    if (min > DUP_MAX || (max !== Infinity && max > DUP_MAX))
      throw new RegexError('Regular expression too big');
    if (max < min) throw new RegexError('Invalid content of \\{\\}');
    return { min, max };
  }

  /** One atom, or null for something that produced nothing (a leading ERE `*`). */
  private atom(atStart: boolean): Node | null {
    const p = this.p;
    const c = p[this.i]!;
    if (c === '\\') return this.escape(atStart);
    if (c === '[') return this.bracket();
    if (c === '.') {
      this.i++;
      return { k: 'char', pred: () => true };
    }
    if (c === '^') {
      // ERE: always an anchor; BRE: only first in an expression (GNU).
      if (this.ere || atStart) {
        this.i++;
        return { k: 'assert', kind: 'bol' };
      }
    }
    if (c === '$') {
      const rest = p.slice(this.i + 1);
      if (this.ere || rest === '' || rest.startsWith('\\)') || rest.startsWith('\\|')) {
        this.i++;
        return { k: 'assert', kind: 'eol' };
      }
    }
    if (this.ere) {
      if (c === '(') {
        this.i++;
        this.depth++;
        const inner = this.alternation();
        if (p[this.i] !== ')') throw new RegexError('Unmatched ( or \\(');
        this.i++;
        this.depth--;
        return inner;
      }
      if ((c === '*' || c === '+' || c === '?') && atStart) {
        this.warn(`${c} at start of expression`);
        this.i++;
        return null;
      }
      if (c === '{' && atStart && /^\{[0-9]*(,[0-9]*)?\}/.test(p.slice(this.i))) {
        this.warn('{...} at start of expression');
        this.i = p.indexOf('}', this.i) + 1;
        return null;
      }
    } else if (c === '*' && atStart) {
      // BRE: a leading `*` is an ordinary character.
      this.i++;
      return this.literal(42);
    }
    this.i++;
    return this.literal(c.charCodeAt(0));
  }

  private escape(atStart: boolean): Node | null {
    const p = this.p;
    const d = p[this.i + 1];
    if (d === undefined) throw new RegexError('Trailing backslash');
    this.i += 2;
    if (!this.ere && d === '(') {
      this.depth++;
      const inner = this.alternation();
      if (!(p[this.i] === '\\' && p[this.i + 1] === ')')) throw new RegexError('Unmatched ( or \\(');
      this.i += 2;
      this.depth--;
      return inner;
    }
    if (!this.ere && d === ')') throw new RegexError('Unmatched ) or \\)');
    if (!this.ere && d === '{' && atStart) return this.literal(123);
    if (d >= '1' && d <= '9')
      throw new RegexError("back-references (\\1…\\9) are not supported by kho's grep");
    switch (d) {
      case 'w':
        return { k: 'char', pred: isWordChar };
      case 'W':
        return { k: 'char', pred: (c) => !isWordChar(c) };
      case 's':
        return { k: 'char', pred: CLASSES['space']! };
      case 'S':
        return { k: 'char', pred: (c) => !CLASSES['space']!(c) };
      case 'b':
        return { k: 'assert', kind: 'wordb' };
      case 'B':
        return { k: 'assert', kind: 'notwordb' };
      case '<':
        return { k: 'assert', kind: 'wordstart' };
      case '>':
        return { k: 'assert', kind: 'wordend' };
      case '`':
        return { k: 'assert', kind: 'bol' };
      case "'":
        return { k: 'assert', kind: 'eol' };
      default:
        return this.literal(d.charCodeAt(0));
    }
  }

  /** A bracket expression at `[`. */
  private bracket(): Node {
    const p = this.p;
    let j = this.i + 1;
    let negate = false;
    if (p[j] === '^') {
      negate = true;
      j++;
    }
    const preds: Pred[] = [];
    let first = true;
    for (;;) {
      if (j >= p.length) throw new RegexError('Unmatched [, [^, [:, [., or [=');
      const c = p[j]!;
      if (c === ']' && !first) {
        j++;
        break;
      }
      first = false;
      if (c === '[' && (p[j + 1] === ':' || p[j + 1] === '=' || p[j + 1] === '.')) {
        const kind = p[j + 1]!;
        const end = p.indexOf(`${kind}]`, j + 2);
        if (end < 0) throw new RegexError('Unmatched [, [^, [:, [., or [=');
        const name = p.slice(j + 2, end);
        j = end + 2;
        if (kind === ':') {
          const cls = CLASSES[name];
          if (cls === undefined) throw new RegexError('Invalid character class name');
          if (this.icase && (name === 'upper' || name === 'lower')) preds.push(CLASSES['alpha']!);
          else preds.push(cls);
        } else {
          if (name.length !== 1) throw new RegexError('Invalid collation character');
          const code = name.charCodeAt(0);
          preds.push((x) => x === code);
        }
        continue;
      }
      const lo = c.charCodeAt(0);
      j++;
      if (p[j] === '-' && p[j + 1] !== undefined && p[j + 1] !== ']') {
        let hi: number;
        if (p[j + 1] === '[' && p[j + 2] === '.') {
          const end = p.indexOf('.]', j + 3);
          if (end < 0) throw new RegexError('Unmatched [, [^, [:, [., or [=');
          hi = p.charCodeAt(j + 3);
          j = end + 2;
        } else {
          hi = p.charCodeAt(j + 1);
          j += 2;
        }
        if (hi < lo) throw new RegexError('Invalid range end');
        const a = lo;
        preds.push((x) => x >= a && x <= hi);
        continue;
      }
      const code = lo;
      preds.push((x) => x === code);
    }
    this.i = j;
    const icase = this.icase;
    const inSet = (c: number): boolean => {
      for (const f of preds) if (f(c)) return true;
      return false;
    };
    const pred: Pred = icase ? (c) => inSet(c) || inSet(lowerCode(c)) || inSet(upperCode(c)) : inSet;
    return { k: 'char', pred: negate ? (c) => !pred(c) && c !== 10 : pred };
  }
}

/** NFA states: a character test, a fork, an assertion, or the match. */
const CHAR = 0;
const SPLIT = 1;
const ASSERT = 2;
const MATCH = 3;

/** A compiled pattern. */
export class PosixRegex {
  private readonly kind: number[] = [];
  private readonly out1: number[] = [];
  private readonly out2: number[] = [];
  private readonly preds: (Pred | null)[] = [];
  private readonly asserts: (AssertKind | null)[] = [];
  private readonly start: number;
  // Simulation scratch (sparse sets of states with their match start positions).
  private cur: Int32Array = new Int32Array(0);
  private nxt: Int32Array = new Int32Array(0);
  private curStart: Int32Array = new Int32Array(0);
  private nxtStart: Int32Array = new Int32Array(0);
  private mark: Int32Array = new Int32Array(0);
  private stack: Int32Array = new Int32Array(0);
  private gen = 0;

  constructor(node: Node) {
    const frag = this.build(node);
    const m = this.add(MATCH, -1, -1, null, null);
    this.patch(frag.outs, m);
    this.start = frag.start;
    const n = this.kind.length;
    this.cur = new Int32Array(n);
    this.nxt = new Int32Array(n);
    this.curStart = new Int32Array(n);
    this.nxtStart = new Int32Array(n);
    this.mark = new Int32Array(n);
    this.stack = new Int32Array(2 * n + 2);
  }

  private add(kind: number, o1: number, o2: number, pred: Pred | null, as: AssertKind | null): number {
    if (this.kind.length >= MAX_STATES) throw new RegexError('Regular expression too big');
    this.kind.push(kind);
    this.out1.push(o1);
    this.out2.push(o2);
    this.preds.push(pred);
    this.asserts.push(as);
    return this.kind.length - 1;
  }

  /** Dangling exits are encoded as [state, which] pairs. */
  private patch(outs: readonly (readonly [number, 1 | 2])[], to: number): void {
    for (const [s, w] of outs) {
      if (w === 1) this.out1[s] = to;
      else this.out2[s] = to;
    }
  }

  private build(n: Node): { start: number; outs: (readonly [number, 1 | 2])[] } {
    switch (n.k) {
      case 'char': {
        const s = this.add(CHAR, -1, -1, n.pred, null);
        return { start: s, outs: [[s, 1]] };
      }
      case 'assert': {
        const s = this.add(ASSERT, -1, -1, null, n.kind);
        return { start: s, outs: [[s, 1]] };
      }
      case 'empty': {
        const s = this.add(SPLIT, -1, -1, null, null);
        // A split whose both exits go on: patch only out1, out2 mirrors it later.
        return {
          start: s,
          outs: [
            [s, 1],
            [s, 2],
          ],
        };
      }
      case 'cat': {
        let first: { start: number; outs: (readonly [number, 1 | 2])[] } | null = null;
        let outs: (readonly [number, 1 | 2])[] = [];
        for (const item of n.items) {
          const f = this.build(item);
          if (first === null) first = f;
          else this.patch(outs, f.start);
          outs = f.outs;
        }
        return { start: first!.start, outs };
      }
      case 'alt': {
        const frags = n.items.map((x) => this.build(x));
        let start = frags[frags.length - 1]!.start;
        for (let i = frags.length - 2; i >= 0; i--)
          start = this.add(SPLIT, frags[i]!.start, start, null, null);
        return { start, outs: frags.flatMap((f) => f.outs) };
      }
      case 'rep': {
        const { node, min, max } = n;
        const parts: Node[] = [];
        for (let i = 0; i < min; i++) parts.push(node);
        if (max === Infinity) {
          const f = this.build(node);
          const s = this.add(SPLIT, f.start, -1, null, null);
          this.patch(f.outs, s);
          const star = { start: s, outs: [[s, 2] as const] };
          if (parts.length === 0) return star;
          const head = this.build({ k: 'cat', items: parts });
          this.patch(head.outs, star.start);
          return { start: head.start, outs: star.outs };
        }
        // min copies, then (max - min) nested optional copies.
        let tail: { start: number; outs: (readonly [number, 1 | 2])[] } | null = null;
        for (let i = 0; i < max - min; i++) {
          const f = this.build(node);
          if (tail !== null) this.patch(f.outs, tail.start);
          const s = this.add(SPLIT, f.start, -1, null, null);
          tail = { start: s, outs: [[s, 2], ...(tail === null ? f.outs : tail.outs)] };
        }
        if (parts.length === 0) return tail ?? this.build({ k: 'empty' });
        const head = this.build({ k: 'cat', items: parts });
        if (tail === null) return head;
        this.patch(head.outs, tail.start);
        return { start: head.start, outs: tail.outs };
      }
    }
  }

  private holds(kind: AssertKind, line: string, pos: number): boolean {
    const before = pos > 0 && isWordChar(line.charCodeAt(pos - 1));
    const after = pos < line.length && isWordChar(line.charCodeAt(pos));
    switch (kind) {
      case 'bol':
        return pos === 0;
      case 'eol':
        return pos === line.length;
      case 'wordb':
        return before !== after;
      case 'notwordb':
        return before === after;
      case 'wordstart':
        return !before && after;
      case 'wordend':
        return before && !after;
      case 'notafterword':
        return !before;
      case 'notbeforeword':
        return !after;
    }
  }

  /** Add state `s` (and what it reaches without input) to the next set. */
  private addThread(
    s: number,
    line: string,
    pos: number,
    start: number,
    set: Int32Array,
    starts: Int32Array,
    n: number,
  ): number {
    // An explicit stack: a long chain of empty moves must not overflow the JS stack.
    const stack = this.stack;
    let sp = 0;
    stack[sp++] = s;
    let count = n;
    while (sp > 0) {
      const st = stack[--sp]!;
      if (st < 0 || this.mark[st] === this.gen) continue;
      this.mark[st] = this.gen;
      const k = this.kind[st]!;
      if (k === SPLIT) {
        stack[sp++] = this.out2[st]!;
        stack[sp++] = this.out1[st]!;
      } else if (k === ASSERT) {
        if (this.holds(this.asserts[st]!, line, pos)) stack[sp++] = this.out1[st]!;
      } else {
        set[count] = st;
        starts[count] = start;
        count++;
      }
    }
    return count;
  }

  /**
   * The leftmost-longest match in `line` as [start, end), or null. `from` is where the search
   * starts (for `grep -o`'s next match); `check` is called between positions (Ctrl-C).
   */
  exec(line: string, from = 0, check?: () => void): [number, number] | null {
    let ncur = 0;
    let bestStart = -1;
    let bestEnd = -1;
    for (let i = from; i <= line.length; i++) {
      if ((i & 0xfff) === 0 && check !== undefined) check();
      this.gen++;
      // States reached by transitions keep their (earlier) starts; a new start comes last.
      let nn = 0;
      for (let t = 0; t < ncur; t++) {
        const st = this.cur[t]!;
        nn = this.addThreadFrom(st, line, i, this.curStart[t]!, nn);
      }
      if (bestStart < 0) nn = this.addThread(this.start, line, i, i, this.nxt, this.nxtStart, nn);
      for (let t = 0; t < nn; t++) {
        if (this.kind[this.nxt[t]!] === MATCH) {
          const st = this.nxtStart[t]!;
          if (bestStart < 0 || st < bestStart || (st === bestStart && i > bestEnd)) {
            bestStart = st;
            bestEnd = i;
          }
        }
      }
      // Swap: the reached states become current; advance over the character at i.
      [this.cur, this.nxt] = [this.nxt, this.cur];
      [this.curStart, this.nxtStart] = [this.nxtStart, this.curStart];
      if (i === line.length) break;
      const c = line.charCodeAt(i);
      let keep = 0;
      for (let t = 0; t < nn; t++) {
        const st = this.cur[t]!;
        if (this.kind[st] !== CHAR) continue;
        if (bestStart >= 0 && this.curStart[t]! > bestStart) continue;
        if (this.preds[st]!(c)) {
          // Stage the successor; its closure is taken at position i + 1.
          this.cur[keep] = this.out1[st]!;
          this.curStart[keep] = this.curStart[t]!;
          keep++;
        }
      }
      ncur = keep;
      if (ncur === 0 && bestStart >= 0) break;
    }
    return bestStart < 0 ? null : [bestStart, bestEnd];
  }

  private addThreadFrom(st: number, line: string, pos: number, start: number, n: number): number {
    return this.addThread(st, line, pos, start, this.nxt, this.nxtStart, n);
  }

  /** Whether `line` has a match. */
  test(line: string, check?: () => void): boolean {
    return this.exec(line, 0, check) !== null;
  }
}

/** Compile one or more patterns (grep's newline-separated or `-e` patterns: any may match). */
export function compile(patterns: readonly string[], opts: RegexOptions): PosixRegex {
  const alts = patterns.map((p) => new Parser(p, opts).parse());
  let node: Node = alts.length === 1 ? alts[0]! : { k: 'alt', items: alts };
  if (opts.line === true)
    node = { k: 'cat', items: [{ k: 'assert', kind: 'bol' }, node, { k: 'assert', kind: 'eol' }] };
  else if (opts.word === true)
    node = {
      k: 'cat',
      items: [{ k: 'assert', kind: 'notafterword' }, node, { k: 'assert', kind: 'notbeforeword' }],
    };
  return new PosixRegex(node);
}

/** `grep -F`: a fixed string as a pattern (each character literal). */
export function fixedPattern(s: string, extended: boolean): string {
  return s.replace(extended ? /[\\^$.*+?()[\]{}|]/g : /[\\^$.*[\]]/g, (c) => `\\${c}`);
}
