/**
 * bash's `test` and `[ … ]`: POSIX's rules by argument count (0–4), then a full expression
 * with `!`, `-a`, `-o` and parentheses; file tests over the terminal's file system (as root:
 * every existing file is readable and writable), string and integer comparisons. Errors as
 * bash words them (`[: missing `]'`, `a: integer expression expected`), status 2.
 */
import type { CommandContext, ShellCommand } from '../command.ts';
import type { VNode } from '../vfs.ts';

const UNARY = new Set('abcdefghkprstuwxzGLNOSnov'.split('').map((c) => `-${c}`));
const BINARY = new Set([
  '=',
  '==',
  '!=',
  '<',
  '>',
  '-eq',
  '-ne',
  '-lt',
  '-le',
  '-gt',
  '-ge',
  '-nt',
  '-ot',
  '-ef',
]);

/** A usage error: bash prints `-bash: NAME: MESSAGE` and returns 2. */
class TestError extends Error {}

function integer(s: string): bigint {
  const t = s.trim();
  if (!/^[-+]?[0-9]+$/.test(t)) throw new TestError(`${s}: integer expression expected`);
  const v = BigInt(t);
  if (v > 0x7fff_ffff_ffff_ffffn || v < -0x8000_0000_0000_0000n)
    throw new TestError(`${s}: integer expression expected`);
  return v;
}

class Tester {
  private readonly ctx: CommandContext;
  private readonly args: readonly string[];
  private pos = 0;

  constructor(ctx: CommandContext, args: readonly string[]) {
    this.ctx = ctx;
    this.args = args;
  }

  private node(path: string, follow = true): VNode | null {
    if (path === '') return null;
    const s = this.ctx.session;
    try {
      return follow ? s.lookup(path) : s.vfs.resolveNoFollow(s.abs(path));
    } catch {
      return null;
    }
  }

  unary(op: string, a: string): boolean {
    switch (op) {
      case '-z':
        return a === '';
      case '-n':
        return a !== '';
      case '-o':
        return (this.ctx.session.options as unknown as Record<string, boolean>)[a] === true;
      case '-v':
        return this.ctx.session.getVar(a) !== undefined;
      case '-t':
        return false;
      case '-L':
      case '-h': {
        const n = this.node(a, false);
        return n?.type === 'file' && n.kind === 'symlink';
      }
      default:
        break;
    }
    const n = this.node(a);
    if (n === null) return false;
    const isDev = n.type === 'file' && n.rdev !== undefined;
    switch (op) {
      case '-a':
      case '-e':
      case '-r':
      case '-w':
        return true;
      case '-f':
        return n.type === 'file' && !isDev;
      case '-d':
        return n.type === 'dir';
      case '-c':
        return isDev;
      case '-b':
        return false;
      case '-p':
      case '-S':
      case '-N':
        return false;
      case '-s':
        return n.type === 'file' ? n.size > 0 : (n.size ?? 0) > 0;
      case '-x':
        return n.type === 'dir' || (n.mode & 0o111) !== 0;
      case '-g':
        return (n.mode & 0o2000) !== 0;
      case '-u':
        return (n.mode & 0o4000) !== 0;
      case '-k':
        return (n.mode & 0o1000) !== 0;
      case '-O':
        return n.uid === 0;
      case '-G':
        return n.gid === 0;
      default:
        return false;
    }
  }

  binary(a: string, op: string, b: string): boolean {
    switch (op) {
      case '=':
      case '==':
        return a === b;
      case '!=':
        return a !== b;
      case '<':
        return a < b;
      case '>':
        return a > b;
      case '-eq':
        return integer(a) === integer(b);
      case '-ne':
        return integer(a) !== integer(b);
      case '-lt':
        return integer(a) < integer(b);
      case '-le':
        return integer(a) <= integer(b);
      case '-gt':
        return integer(a) > integer(b);
      case '-ge':
        return integer(a) >= integer(b);
      case '-nt':
      case '-ot': {
        const x = this.node(a);
        const y = this.node(b);
        if (x === null || y === null) return op === '-nt' ? x !== null : y !== null;
        return op === '-nt' ? x.mtime > y.mtime : x.mtime < y.mtime;
      }
      case '-ef': {
        const s = this.ctx.session;
        return this.node(a) !== null && this.node(b) !== null && s.abs(a) === s.abs(b);
      }
      default:
        return false;
    }
  }

  /** POSIX's rules for up to four arguments, then the full grammar. */
  run(): boolean {
    const a = this.args;
    switch (a.length) {
      case 0:
        return false;
      case 1:
        return a[0] !== '';
      case 2:
        return this.two(a[0]!, a[1]!);
      case 3:
        return this.three(a[0]!, a[1]!, a[2]!);
      case 4:
        if (a[0] === '!') return !this.three(a[1]!, a[2]!, a[3]!);
        if (a[0] === '(' && a[3] === ')') return this.two(a[1]!, a[2]!);
        break;
      default:
        break;
    }
    const v = this.or();
    if (this.pos < a.length) throw new TestError('too many arguments');
    return v;
  }

  private two(x: string, y: string): boolean {
    if (x === '!') return y === '';
    if (UNARY.has(x)) return this.unary(x, y);
    throw new TestError(`${x}: unary operator expected`);
  }

  private three(x: string, op: string, y: string): boolean {
    if (BINARY.has(op)) return this.binary(x, op, y);
    if (op === '-a') return x !== '' && y !== '';
    if (op === '-o') return x !== '' || y !== '';
    if (x === '!') return !this.two(op, y);
    if (x === '(' && y === ')') return op !== '';
    throw new TestError(`${op}: binary operator expected`);
  }

  private or(): boolean {
    let v = this.and();
    while (this.args[this.pos] === '-o') {
      this.pos++;
      const r = this.and();
      v = v || r;
    }
    return v;
  }

  private and(): boolean {
    let v = this.term();
    while (this.args[this.pos] === '-a') {
      this.pos++;
      const r = this.term();
      v = v && r;
    }
    return v;
  }

  private term(): boolean {
    const a = this.args;
    const t = a[this.pos];
    if (t === undefined) throw new TestError('argument expected');
    if (t === '!') {
      this.pos++;
      return !this.term();
    }
    if (t === '(') {
      this.pos++;
      const v = this.or();
      if (a[this.pos] !== ')') throw new TestError("`)' expected");
      this.pos++;
      return v;
    }
    const op = a[this.pos + 1];
    if (op !== undefined && BINARY.has(op) && a[this.pos + 2] !== undefined) {
      this.pos += 3;
      return this.binary(t, op, a[this.pos - 1]!);
    }
    if (UNARY.has(t) && a[this.pos + 1] !== undefined) {
      this.pos += 2;
      return this.unary(t, a[this.pos - 1]!);
    }
    this.pos++;
    return t !== '';
  }
}

function make(name: 'test' | '['): ShellCommand {
  return {
    name,
    usage: name === 'test' ? 'test EXPR' : '[ EXPR ]',
    summary: 'evaluate a conditional expression (files: -e -f -d -s …; strings; integers: -eq -lt …)',
    builtin: true,
    run(args, ctx) {
      let list = args;
      if (name === '[') {
        if (args[args.length - 1] !== ']') {
          ctx.stderr.write(`${ctx.session.errorPrefix()}[: missing \`]'\n`);
          return 2;
        }
        list = args.slice(0, -1);
      }
      try {
        return new Tester(ctx, list).run() ? 0 : 1;
      } catch (err) {
        if (!(err instanceof TestError)) throw err;
        ctx.stderr.write(`${ctx.session.errorPrefix()}${name}: ${err.message}\n`);
        return 2;
      }
    },
  };
}

export const test = make('test');
export const bracket = make('[');
