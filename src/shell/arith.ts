/**
 * bash's shell arithmetic (`$(( ))`, `(( ))`): 64-bit signed integers that wrap, C's operators
 * and precedence with `**`, assignments (`=`, `+=`, …, `++`, `--`), `a ? b : c`, `,`, numbers in
 * base 10, `0x` hex, leading-0 octal and `BASE#DIGITS`; a variable's value is itself evaluated
 * as an expression. Errors carry bash's wording (`division by 0 (error token is "0")`).
 */

/** Variables of the shell, as the evaluator sees them. */
export interface ArithVars {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
}

/** An arithmetic error; `message` is bash's text without the `-bash: ` prefix. */
export class ArithError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArithError';
  }
}

const OPS = [
  '<<=',
  '>>=',
  '**',
  '++',
  '--',
  '<<',
  '>>',
  '<=',
  '>=',
  '==',
  '!=',
  '&&',
  '||',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '^=',
  '|=',
];
const ASSIGN = new Set(['=', '+=', '-=', '*=', '/=', '%=', '<<=', '>>=', '&=', '^=', '|=']);

type Tok = { k: 'num'; v: bigint } | { k: 'name'; v: string } | { k: 'op'; v: string } | { k: 'end' };

const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);

/** `a ** b` in wrapping 64-bit arithmetic (square and multiply). */
function powWrap(a: bigint, b: bigint): bigint {
  let r = 1n;
  let x = a;
  for (let e = b; e > 0n; e >>= 1n) {
    if ((e & 1n) === 1n) r = wrap(r * x);
    x = wrap(x * x);
  }
  return r;
}

/** Parse a bash integer constant (errors worded as bash words them). */
function parseNumber(text: string): bigint {
  const bad = (): never => {
    throw new ArithError(`${text}: value too great for base (error token is "${text}")`);
  };
  const hash = text.indexOf('#');
  if (hash > 0) {
    const base = Number(text.slice(0, hash));
    if (!/^[0-9]+$/.test(text.slice(0, hash)) || base < 2 || base > 64)
      throw new ArithError(`${text}: invalid arithmetic base (error token is "${text}")`);
    let v = 0n;
    for (const ch of text.slice(hash + 1)) {
      let d: number;
      if (ch >= '0' && ch <= '9') d = ch.charCodeAt(0) - 48;
      else if (ch >= 'a' && ch <= 'z') d = ch.charCodeAt(0) - 97 + 10;
      else if (ch >= 'A' && ch <= 'Z')
        d = base <= 36 ? ch.charCodeAt(0) - 65 + 10 : ch.charCodeAt(0) - 65 + 36;
      else if (ch === '@') d = 62;
      else if (ch === '_') d = 63;
      else return bad();
      if (d >= base) return bad();
      v = wrap(v * BigInt(base) + BigInt(d));
    }
    return v;
  }
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) return wrap(BigInt(text));
  if (/^0[0-7]*$/.test(text)) return wrap(BigInt(`0o${text.slice(1) || '0'}`));
  if (/^[1-9][0-9]*$/.test(text)) return wrap(BigInt(text));
  return bad();
}

class Evaluator {
  private readonly src: string;
  private readonly vars: ArithVars;
  private readonly depth: number;
  private pos = 0;
  private tokStart = 0;
  private prevStart = 0;
  private tok: Tok = { k: 'end' };

  constructor(src: string, vars: ArithVars, depth: number) {
    // bash's messages show the expression without its leading blanks.
    this.src = src.trimStart();
    this.vars = vars;
    this.depth = depth;
    this.advance();
  }

  private rest(from = this.tok.k === 'end' ? this.prevStart : this.tokStart): string {
    return this.src.slice(from);
  }

  private syntax(kind: 'operand expected' | 'in expression' | 'invalid arithmetic operator'): never {
    const msg = kind === 'in expression' ? 'syntax error in expression' : `syntax error: ${kind}`;
    throw new ArithError(`${this.src}: ${msg} (error token is "${this.rest()}")`);
  }

  private advance(): void {
    const s = this.src;
    while (this.pos < s.length && /\s/.test(s[this.pos]!)) this.pos++;
    this.prevStart = this.tokStart;
    this.tokStart = this.pos;
    if (this.pos >= s.length) {
      this.tok = { k: 'end' };
      return;
    }
    const c = s[this.pos]!;
    if (c >= '0' && c <= '9') {
      let j = this.pos;
      while (j < s.length && /[0-9a-zA-Z@_#]/.test(s[j]!)) j++;
      const text = s.slice(this.pos, j);
      this.pos = j;
      this.tok = { k: 'num', v: parseNumber(text) };
      return;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = this.pos;
      while (j < s.length && /[A-Za-z0-9_]/.test(s[j]!)) j++;
      this.tok = { k: 'name', v: s.slice(this.pos, j) };
      this.pos = j;
      return;
    }
    for (const op of OPS) {
      if (s.startsWith(op, this.pos)) {
        // `++`/`--` only next to a name (`1++2` is `1 + +2`, as bash reads it).
        if (
          (op === '++' || op === '--') &&
          this.tok.k !== 'name' &&
          !/^\s*[A-Za-z_]/.test(s.slice(this.pos + 2))
        )
          continue;
        this.pos += op.length;
        this.tok = { k: 'op', v: op };
        return;
      }
    }
    if ('+-*/%<>=!~&^|?:,()'.includes(c)) {
      this.pos++;
      this.tok = { k: 'op', v: c };
      return;
    }
    this.syntax('invalid arithmetic operator');
  }

  /** The current token (a method, so narrowing does not survive advance()). */
  private cur(): Tok {
    return this.tok;
  }

  private isOp(v: string): boolean {
    return this.tok.k === 'op' && this.tok.v === v;
  }

  /** The whole expression (an empty one is 0). */
  run(): bigint {
    if (this.tok.k === 'end') return 0n;
    const v = this.comma(true);
    if (this.cur().k !== 'end') this.syntax('in expression');
    return v;
  }

  private varValue(name: string, live: boolean): bigint {
    if (!live) return 0n;
    const raw = this.vars.get(name);
    if (raw === undefined || raw.trim() === '') return 0n;
    if (/^\s*-?[0-9]+\s*$/.test(raw)) return wrap(BigInt(raw.trim()));
    if (this.depth > 1024)
      throw new ArithError(`${name}: expression recursion level exceeded (error token is "${name}")`);
    return new Evaluator(raw, this.vars, this.depth + 1).run();
  }

  private comma(live: boolean): bigint {
    let v = this.assign(live);
    while (this.isOp(',')) {
      this.advance();
      v = this.assign(live);
    }
    return v;
  }

  private assign(live: boolean): bigint {
    if (this.tok.k === 'name') {
      const save = { pos: this.pos, tokStart: this.tokStart, tok: this.tok };
      const name = this.tok.v;
      this.advance();
      const t = this.cur();
      if (t.k === 'op' && ASSIGN.has(t.v)) {
        const op = t.v;
        this.advance();
        const rhsStart = this.tokStart;
        const rhs = this.assign(live);
        if (!live) return rhs;
        const v = op === '=' ? rhs : this.binary(op.slice(0, -1), this.varValue(name, true), rhs, rhsStart);
        this.vars.set(name, String(v));
        return v;
      }
      this.pos = save.pos;
      this.tokStart = save.tokStart;
      this.tok = save.tok;
    }
    return this.ternary(live);
  }

  private ternary(live: boolean): bigint {
    const c = this.level(0, live);
    if (!this.isOp('?')) return c;
    this.advance();
    const a = this.comma(live && c !== 0n);
    if (!this.isOp(':')) this.syntax('in expression');
    this.advance();
    const b = this.assign(live && c === 0n);
    return c !== 0n ? a : b;
  }

  private static readonly LEVELS: readonly (readonly string[])[] = [
    ['||'],
    ['&&'],
    ['|'],
    ['^'],
    ['&'],
    ['==', '!='],
    ['<', '>', '<=', '>='],
    ['<<', '>>'],
    ['+', '-'],
    ['*', '/', '%'],
  ];

  private level(n: number, live: boolean): bigint {
    if (n >= Evaluator.LEVELS.length) return this.power(live);
    const ops = Evaluator.LEVELS[n]!;
    let v = this.level(n + 1, live);
    while (this.tok.k === 'op' && ops.includes(this.tok.v)) {
      const op = this.tok.v;
      this.advance();
      const rhsStart = this.tokStart;
      if (op === '||') {
        const r = this.level(n + 1, live && v === 0n);
        v = v !== 0n || r !== 0n ? 1n : 0n;
      } else if (op === '&&') {
        const r = this.level(n + 1, live && v !== 0n);
        v = v !== 0n && r !== 0n ? 1n : 0n;
      } else {
        const r = this.level(n + 1, live);
        v = live ? this.binary(op, v, r, rhsStart) : 0n;
      }
    }
    return v;
  }

  private binary(op: string, a: bigint, b: bigint, rhsStart: number): bigint {
    switch (op) {
      case '+':
        return wrap(a + b);
      case '-':
        return wrap(a - b);
      case '*':
        return wrap(a * b);
      case '/':
      case '%':
        if (b === 0n)
          throw new ArithError(`${this.src}: division by 0 (error token is "${this.rest(rhsStart)}")`);
        if (op === '/') return wrap(a / b);
        return wrap(a % b);
      case '<<':
        return wrap(a << (b & 63n));
      case '>>':
        return wrap(a >> (b & 63n));
      case '<':
        return a < b ? 1n : 0n;
      case '>':
        return a > b ? 1n : 0n;
      case '<=':
        return a <= b ? 1n : 0n;
      case '>=':
        return a >= b ? 1n : 0n;
      case '==':
        return a === b ? 1n : 0n;
      case '!=':
        return a !== b ? 1n : 0n;
      case '&':
        return a & b;
      case '|':
        return a | b;
      case '^':
        return a ^ b;
      case '**':
        if (b < 0n)
          throw new ArithError(`${this.src}: exponent less than 0 (error token is "${this.rest(rhsStart)}")`);
        return powWrap(a, b);
      default:
        throw new ArithError(`${this.src}: syntax error in expression (error token is "${op}")`);
    }
  }

  private power(live: boolean): bigint {
    const base = this.unary(live);
    if (!this.isOp('**')) return base;
    this.advance();
    const rhsStart = this.tokStart;
    const exp = this.power(live);
    return live ? this.binary('**', base, exp, rhsStart) : 0n;
  }

  private unary(live: boolean): bigint {
    if (this.tok.k === 'op') {
      const op = this.tok.v;
      if (op === '!' || op === '~' || op === '-' || op === '+') {
        this.advance();
        const v = this.unary(live);
        if (op === '!') return v === 0n ? 1n : 0n;
        if (op === '~') return ~v;
        return op === '-' ? wrap(-v) : v;
      }
      if (op === '++' || op === '--') {
        this.advance();
        const t = this.cur();
        if (t.k !== 'name') return this.syntax('operand expected');
        const name = t.v;
        this.advance();
        const v = wrap(this.varValue(name, live) + (op === '++' ? 1n : -1n));
        if (live) this.vars.set(name, String(v));
        return v;
      }
    }
    return this.postfix(live);
  }

  private postfix(live: boolean): bigint {
    if (this.tok.k === 'name') {
      const name = this.tok.v;
      this.advance();
      if (this.isOp('++') || this.isOp('--')) {
        const inc = this.isOp('++') ? 1n : -1n;
        this.advance();
        const v = this.varValue(name, live);
        if (live) this.vars.set(name, String(wrap(v + inc)));
        return v;
      }
      return this.varValue(name, live);
    }
    if (this.tok.k === 'num') {
      const v = this.tok.v;
      this.advance();
      return v;
    }
    if (this.isOp('(')) {
      this.advance();
      const v = this.comma(live);
      if (!this.isOp(')')) this.syntax('in expression');
      this.advance();
      return v;
    }
    return this.syntax('operand expected');
  }
}

/** Evaluate `expr` (already parameter-expanded) with the shell's variables. */
export function evalArith(expr: string, vars: ArithVars): bigint {
  return new Evaluator(expr, vars, 0).run();
}
