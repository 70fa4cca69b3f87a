/**
 * The executor of the shell language (bash semantics, see docs/shell.md): and-or lists with
 * `set -e`, pipelines whose stages run concurrently over bounded pipes, compound commands,
 * assignments, redirections and the command table. Control flow (`exit`, `break`, `continue`,
 * `set -e` stops, Ctrl-C) unwinds with the signals below.
 */
import type {
  AndOrList,
  ArithForCommand,
  CaseCommand,
  Command,
  ForCommand,
  Pipeline,
  Redirect,
  Script,
  SimpleCommand,
  WhileCommand,
  Word,
} from './ast.ts';
import { ArithError, evalArith } from './arith.ts';
import type { CommandContext } from './command.ts';
import { Expander, ExpansionError, type ExpandHost } from './expand.ts';
import { expandGlob, globMatch } from './glob.ts';
import { BrokenPipe, BufferSink, FsError, Interrupted, NULL_SINK, strerror, type Sink } from './io.ts';
import { startCommand, reportCommandFailure } from './console-panic.ts';
import type { Session } from './session.ts';
import { InputStream, Pipe } from './stream.ts';
import { isMachinePath, writeDeniedCode, writeErrorCode, type HostWriter, type VNode } from './vfs.ts';

/** `exit` ran: the shell (or the subshell) ends with `status`. */
export class ExitSignal extends Error {
  readonly status: number;

  constructor(status: number) {
    super(`exit ${status}`);
    this.name = 'ExitSignal';
    this.status = status;
  }
}

/** `break N` / `continue N`. */
class LoopSignal extends Error {
  readonly kind: 'break' | 'continue';
  readonly levels: number;

  constructor(kind: 'break' | 'continue', levels: number) {
    super(kind);
    this.name = 'LoopSignal';
    this.kind = kind;
    this.levels = levels;
  }
}

/** `set -e`: a command failed outside a condition; the shell stops. */
export class ErrexitSignal extends Error {
  readonly status: number;
  readonly list: AndOrList;

  constructor(status: number, list: AndOrList) {
    super(`errexit ${status}`);
    this.name = 'ErrexitSignal';
    this.status = status;
    this.list = list;
  }
}

/** An expansion failed (`${X:?}`, `$((1/0))`): bash's non-interactive shell stops there. */
export class FatalExpansion extends Error {
  readonly status = 1;
  readonly line: number;

  constructor(message: string, line: number) {
    super(message);
    this.name = 'FatalExpansion';
    this.line = line;
  }
}

/** The file descriptors of a running command. */
export interface Io {
  /** Standard input, or null for the terminal (commands read nothing from it). */
  readonly stdin: InputStream | null;
  readonly stdout: Sink;
  readonly stderr: Sink;
}

/** A redirection into a pseudo file: the bytes are written when the command ends. */
type PendingWrite =
  | { readonly fd: number; readonly node: VNode; readonly sink: BufferSink }
  /** A host file (inside the host directory), written as the command writes: closed at its end. */
  | { readonly fd: number; readonly host: HostWriter };

/** How much one command may read as whole standard input (`ctx.stdin`). */
export const WHOLE_INPUT_LIMIT = 64 * 1024 * 1024;
/** How much output a command substitution or a pseudo-file redirection may collect. */
export const CAPTURE_LIMIT = 64 * 1024 * 1024;

/** bash builtins and keywords that kho's shell does not have: named in the error. */
const UNSUPPORTED_BUILTINS = new Set([
  'alias',
  'bg',
  'bind',
  'builtin',
  'caller',
  'command',
  'compgen',
  'complete',
  'compopt',
  'declare',
  'dirs',
  'disown',
  'enable',
  'eval',
  'exec',
  'fc',
  'fg',
  'getopts',
  'hash',
  'history',
  'jobs',
  'kill',
  'let',
  'local',
  'logout',
  'mapfile',
  'popd',
  'pushd',
  'readarray',
  'readonly',
  'return',
  'shopt',
  'source',
  '.',
  'suspend',
  'times',
  'trap',
  'type',
  'typeset',
  'ulimit',
  'umask',
  'unalias',
  'wait',
]);

function isCompound(c: Command): boolean {
  return (
    c.type === 'if' ||
    c.type === 'for' ||
    c.type === 'arithfor' ||
    c.type === 'case' ||
    c.type === 'while' ||
    (c.type === 'group' && !c.subshell)
  );
}

/** Quote an argument for `set -x` output as bash does for simple cases. */
function traceQuote(a: string): string {
  return a === '' || /[^A-Za-z0-9_@%+=:,./-]/.test(a) ? `'${a.replace(/'/g, "'\\''")}'` : a;
}

/** Runs parsed scripts on a {@link Session}. */
export class Interpreter {
  private readonly s: Session;
  /** Nesting of loops (for `break`/`continue` outside one). */
  loopDepth = 0;
  /** Status of the last command substitution (an assignment-only command returns it). */
  private substStatus: number | null = null;

  constructor(session: Session) {
    this.s = session;
  }

  /** The status of the last command substitution since the command began, if any. */
  private lastSubstStatus(): number | null {
    return this.substStatus;
  }

  /** Expansion with `io` for command substitutions. */
  private expander(io: Io): Expander {
    const s = this.s;
    const host: ExpandHost = {
      getVar: (n) => s.getVar(n),
      setVar: (n, v) => {
        s.setVar(n, v);
      },
      positional: () => s.positional,
      home: s.home,
      nounset: s.options.nounset,
      substitute: (script) => this.substitute(script, io),
      glob: (pattern) =>
        expandGlob(
          pattern,
          s.cwd,
          (p) => s.listDir(p),
          (p) => s.exists(p),
        ),
    };
    return new Expander(host);
  }

  /** Expand with errors turned into the shell's fatal expansion error. */
  private async expand<T>(line: number, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof ExpansionError) throw new FatalExpansion(err.message, line);
      throw err;
    }
  }

  /** Run a list; its status. */
  async script(script: Script, io: Io, cond: boolean): Promise<number> {
    let status = 0;
    for (const list of script) status = await this.andOr(list, io, cond);
    return status;
  }

  private async andOr(list: AndOrList, io: Io, cond: boolean): Promise<number> {
    const s = this.s;
    let status = s.status;
    const items = list.items;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (item.op === '&&' && status !== 0) continue;
      if (item.op === '||' && status === 0) continue;
      const last = i === items.length - 1;
      status = await this.pipeline(item.pipeline, io, cond || !last);
      s.status = status;
      if (last && !cond && s.options.errexit && status !== 0 && !item.pipeline.bang) {
        const p = item.pipeline;
        if (p.commands.length > 1 || !isCompound(p.commands[0]!)) throw new ErrexitSignal(status, list);
      }
    }
    return status;
  }

  private async pipeline(p: Pipeline, io: Io, cond: boolean): Promise<number> {
    let status: number;
    const c = cond || p.bang;
    if (p.commands.length === 1) status = await this.command(p.commands[0]!, io, c);
    else status = await this.pipe(p, io);
    return p.bang ? (status === 0 ? 1 : 0) : status;
  }

  /** Stages run concurrently (each as a subshell), joined by bounded pipes. */
  private async pipe(p: Pipeline, io: Io): Promise<number> {
    const s = this.s;
    const saved = s.saveState();
    const n = p.commands.length;
    const pipes = Array.from({ length: n - 1 }, () => new Pipe());
    const stages = p.commands.map(async (cmd, i) => {
      const stageIo: Io = {
        stdin: i === 0 ? io.stdin : pipes[i - 1]!.reader,
        stdout: i === n - 1 ? io.stdout : pipes[i]!.writer,
        stderr: io.stderr,
      };
      try {
        return await this.command(cmd, stageIo, true);
      } catch (err) {
        if (err instanceof BrokenPipe) return 141;
        if (err instanceof ExitSignal) return err.status;
        if (err instanceof LoopSignal) return 0;
        throw err;
      } finally {
        if (i < n - 1) pipes[i]!.closeWrite();
        if (i > 0) pipes[i - 1]!.reader.close();
      }
    });
    const results = await Promise.allSettled(stages);
    s.restoreState(saved);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    const last = results[n - 1]!;
    return last.status === 'fulfilled' ? last.value : 1;
  }

  private async command(c: Command, io: Io, cond: boolean): Promise<number> {
    this.s.checkInterrupt();
    if (c.type === 'simple') return this.simple(c, io);
    const r = await this.redirections(c.redirects, io, c.line);
    if (r === null) return 1;
    let status: number;
    try {
      switch (c.type) {
        case 'if':
          status = await this.ifCommand(c.branches, c.otherwise, r.io, cond);
          break;
        case 'for':
          status = await this.forCommand(c, r.io, cond);
          break;
        case 'while':
          status = await this.whileCommand(c, r.io, cond);
          break;
        case 'arithfor':
          status = await this.arithFor(c, r.io, cond);
          break;
        case 'case':
          status = await this.caseCommand(c, r.io, cond);
          break;
        case 'group':
          status = c.subshell
            ? await this.subshell(c.body, r.io, cond)
            : await this.script(c.body, r.io, cond);
          break;
        case 'arith': {
          const expr = await this.expand(c.line, () => this.expander(r.io).string(c.expr));
          const v = this.arith(expr, r.io, c.line);
          status = v === null || v === 0n ? 1 : 0;
          break;
        }
      }
    } finally {
      await this.commit(r.pending, null, false, io.stderr);
    }
    return status;
  }

  private arithVars(): { get(n: string): string | undefined; set(n: string, v: string): void } {
    return {
      get: (n) => this.s.getVar(n),
      set: (n, v) => {
        this.s.setVar(n, v);
      },
    };
  }

  private async ifCommand(
    branches: readonly { cond: Script; body: Script }[],
    otherwise: Script | null,
    io: Io,
    cond: boolean,
  ): Promise<number> {
    for (const b of branches) {
      if ((await this.script(b.cond, io, true)) === 0) return this.script(b.body, io, cond);
    }
    return otherwise === null ? 0 : this.script(otherwise, io, cond);
  }

  /** Run a loop body; 'break' or 'continue' when a LoopSignal for this loop arrived. */
  private async loopBody(
    body: Script,
    io: Io,
    cond: boolean,
  ): Promise<{ status: number; signal: 'break' | 'continue' | null }> {
    this.loopDepth++;
    try {
      return { status: await this.script(body, io, cond), signal: null };
    } catch (err) {
      if (!(err instanceof LoopSignal)) throw err;
      if (err.levels > 1) throw new LoopSignal(err.kind, err.levels - 1);
      return { status: 0, signal: err.kind };
    } finally {
      this.loopDepth--;
    }
  }

  private async forCommand(c: ForCommand, io: Io, cond: boolean): Promise<number> {
    const s = this.s;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c.name)) {
      io.stderr.write(`${s.errorPrefix(c.line)}\`${c.name}': not a valid identifier\n`);
      return 1;
    }
    const items =
      c.items === null
        ? [...s.positional]
        : await this.expand(c.line, () => this.expander(io).words(c.items!));
    let status = 0;
    for (const item of items) {
      s.checkInterrupt();
      s.setVar(c.name, item);
      const r = await this.loopBody(c.body, io, cond);
      status = r.status;
      if (r.signal === 'break') break;
    }
    return status;
  }

  /** Evaluate an arithmetic expression; an error is printed and gives null. */
  private arith(expr: string, io: Io, line: number): bigint | null {
    try {
      return evalArith(expr, this.arithVars());
    } catch (err) {
      if (!(err instanceof ArithError)) throw err;
      io.stderr.write(`${this.s.errorPrefix(line)}${err.message}\n`);
      return null;
    }
  }

  private async arithFor(c: ArithForCommand, io: Io, cond: boolean): Promise<number> {
    const text = await this.expand(c.line, () => this.expander(io).string(c.exprs));
    const parts = text.split(';');
    if (parts.length !== 3) {
      io.stderr.write(`${this.s.errorPrefix(c.line)}syntax error: arithmetic expression required\n`);
      return 1;
    }
    const [init, test, step] = parts as [string, string, string];
    if (this.arith(init, io, c.line) === null) return 1;
    let status = 0;
    for (;;) {
      this.s.checkInterrupt();
      const t = test.trim() === '' ? 1n : this.arith(test, io, c.line);
      if (t === null) return 1;
      if (t === 0n) break;
      const r = await this.loopBody(c.body, io, cond);
      status = r.status;
      if (r.signal === 'break') break;
      if (this.arith(step, io, c.line) === null) return 1;
    }
    return status;
  }

  private async caseCommand(c: CaseCommand, io: Io, cond: boolean): Promise<number> {
    const exp = this.expander(io);
    const word = await this.expand(c.line, () => exp.string(c.word));
    for (const item of c.items) {
      for (const p of item.patterns) {
        const pat = await this.expand(c.line, () => exp.pattern(p));
        if (globMatch(pat, word)) return this.script(item.body, io, cond);
      }
    }
    return 0;
  }

  private async whileCommand(c: WhileCommand, io: Io, cond: boolean): Promise<number> {
    let status = 0;
    for (;;) {
      this.s.checkInterrupt();
      const test = await this.script(c.cond, io, true);
      if ((test === 0) === c.until) break;
      const r = await this.loopBody(c.body, io, cond);
      status = r.status;
      if (r.signal === 'break') break;
    }
    return status;
  }

  private async subshell(body: Script, io: Io, cond: boolean): Promise<number> {
    const s = this.s;
    const saved = s.saveState();
    try {
      return await this.script(body, io, cond);
    } catch (err) {
      if (err instanceof ExitSignal) return err.status;
      if (err instanceof ErrexitSignal) return err.status;
      if (err instanceof LoopSignal) return 0;
      throw err;
    } finally {
      s.restoreState(saved);
    }
  }

  /** `$(…)`: the output of `script` run as a subshell (without `set -e`, as bash does). */
  private async substitute(script: Script, io: Io): Promise<string> {
    const s = this.s;
    const sink = new BufferSink(CAPTURE_LIMIT);
    const saved = s.saveState();
    s.options.errexit = false;
    let status: number;
    try {
      status = await this.script(script, { stdin: io.stdin, stdout: sink, stderr: io.stderr }, false);
    } catch (err) {
      if (err instanceof ExitSignal) status = err.status;
      else if (err instanceof LoopSignal) status = 0;
      else if (err instanceof FsError && err.code === 'EFBIG')
        throw new ExpansionError('command substitution: output larger than 64 MiB');
      else throw err;
    } finally {
      s.restoreState(saved);
    }
    s.status = status;
    this.substStatus = status;
    return sink.text();
  }

  private async simple(c: SimpleCommand, io: Io): Promise<number> {
    const s = this.s;
    s.lineno = c.line;
    this.substStatus = null;
    const exp = this.expander(io);
    const argv = await this.expand(c.line, () => exp.words(c.words));
    const assigns: { name: string; value: string }[] = [];
    for (const a of c.assigns) {
      let value = await this.expand(c.line, () => exp.string(a.value));
      if ((a as { append?: boolean }).append === true) value = (s.getVar(a.name) ?? '') + value;
      assigns.push({ name: a.name, value });
    }
    if (argv.length === 0) {
      for (const a of assigns) s.setVar(a.name, a.value);
      const r = await this.redirections(c.redirects, io, c.line);
      if (r === null) return 1;
      await this.commit(r.pending, null, false, io.stderr);
      return this.lastSubstStatus() ?? 0;
    }
    if (s.options.xtrace) io.stderr.write(`+ ${argv.map(traceQuote).join(' ')}\n`);
    const r = await this.redirections(c.redirects, io, c.line);
    if (r === null) return 1;
    // Assignments before a command hold for that command only.
    const saved = assigns.map((a) => ({ name: a.name, value: s.getVar(a.name) }));
    for (const a of assigns) s.setVar(a.name, a.value);
    let status: number;
    try {
      status = await this.run(argv, r.io, r.pending);
    } finally {
      for (const a of saved) {
        if (a.value === undefined) s.unsetVar(a.name);
        else s.setVar(a.name, a.value);
      }
    }
    if (s.exitStatus !== null) throw new ExitSignal(s.exitStatus);
    const lc = s.takeLoopControl();
    if (lc !== null && this.loopDepth > 0) throw new LoopSignal(lc.kind, Math.min(lc.levels, this.loopDepth));
    s.checkInterrupt();
    return status;
  }

  /** Run a command by name with its redirected I/O. */
  private async run(argv: string[], io: Io, pending: readonly PendingWrite[]): Promise<number> {
    const s = this.s;
    const name = argv[0]!;
    const command = s.command(name);
    if (command === undefined) {
      if (UNSUPPORTED_BUILTINS.has(name))
        io.stderr.write(`${s.errorPrefix()}${name}: not supported by kho's shell\n`);
      else io.stderr.write(`${s.errorPrefix()}${name}: command not found\n`);
      await this.commit(pending, name, false, io.stderr);
      return UNSUPPORTED_BUILTINS.has(name) ? 2 : 127;
    }
    let stdin: Uint8Array | null = null;
    if (command.stdin === 'whole' && io.stdin !== null) {
      try {
        stdin = await io.stdin.readAll(WHOLE_INPUT_LIMIT);
      } catch (err) {
        if (!(err instanceof FsError)) throw err;
        io.stderr.write(`${name}: -: ${strerror(err.code)}\n`);
        return 1;
      }
    }
    const ctx: CommandContext = {
      session: s,
      stdin,
      input: command.stdin === 'stream' ? io.stdin : null,
      stdout: io.stdout,
      stderr: io.stderr,
      checkInterrupt: () => {
        s.checkInterrupt();
      },
    };
    let status: number;
    try {
      status = startCommand(ctx, name, command) ?? (await command.run(argv.slice(1), ctx));
    } catch (err) {
      if (err instanceof BrokenPipe || err instanceof Interrupted) throw err;
      if (err instanceof FsError && err.code === 'EFBIG') {
        // A capture (a substitution, a redirection into a pseudo file) overflowed.
        io.stderr.write(
          `${command.builtin === true ? s.errorPrefix() : ''}${name}: write error: ${strerror(err.code)}\n`,
        );
        status = 1;
      } else status = reportCommandFailure(ctx, name, err);
    }
    const wst = await this.commit(pending, name, command.builtin === true, io.stderr);
    return wst !== 0 && status === 0 ? wst : status;
  }

  /** Open the redirections; null (after bash's message) when one fails. */
  private async redirections(
    redirects: readonly Redirect[],
    io: Io,
    line: number,
  ): Promise<{ io: Io; pending: PendingWrite[] } | null> {
    if (redirects.length === 0) return { io, pending: [] };
    const s = this.s;
    let { stdin, stdout, stderr } = io;
    const pending: PendingWrite[] = [];
    const exp = this.expander(io);
    for (const r of redirects) {
      if (r.op === '<<<') {
        const text = await this.expand(line, () => exp.string(r.target));
        stdin = InputStream.of(new TextEncoder().encode(`${text}\n`));
        continue;
      }
      const words = await this.expand(line, () => exp.words([r.target]));
      if (words.length !== 1) {
        io.stderr.write(`${s.errorPrefix()}${rawWord(r.target)}: ambiguous redirect\n`);
        return null;
      }
      const target = words[0]!;
      if (r.op === '>&') {
        if (target === '-') {
          if (r.fd === 0) stdin = InputStream.of(new Uint8Array(0));
          else if (r.fd === 1) stdout = NULL_SINK;
          else stderr = NULL_SINK;
          continue;
        }
        const from = target === '0' ? null : target === '1' ? stdout : target === '2' ? stderr : undefined;
        if (from === undefined || (from === null && r.fd !== 0)) {
          io.stderr.write(
            `${s.errorPrefix()}${target}: ${/^[0-9]+$/.test(target) ? 'Bad file descriptor' : 'ambiguous redirect'}\n`,
          );
          return null;
        }
        if (r.fd === 1 && from !== null) stdout = from;
        else if (r.fd === 2 && from !== null) stderr = from;
        continue;
      }
      if (target === '') {
        io.stderr.write(`${s.errorPrefix()}: No such file or directory\n`);
        return null;
      }
      let node: VNode | null;
      try {
        node = s.lookup(target);
      } catch (err) {
        io.stderr.write(
          `${s.errorPrefix()}${target}: ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`,
        );
        return null;
      }
      if (r.op === '<') {
        if (node === null) {
          io.stderr.write(`${s.errorPrefix()}${target}: No such file or directory\n`);
          return null;
        }
        try {
          stdin = s.openInput(node);
        } catch (err) {
          io.stderr.write(`${s.errorPrefix()}${target}: ${strerror(writeErrorCode(err) ?? 'EIO')}\n`);
          return null;
        }
        if (r.fd !== 0) {
          io.stderr.write(`${s.errorPrefix()}${r.fd}: not supported by kho's shell (input on fd ${r.fd})\n`);
          return null;
        }
        continue;
      }
      const abs = s.abs(target);
      if (!isMachinePath(abs) && node?.type !== 'dir') {
        // A host file: through the host directory's checks, written as the command writes.
        let w: HostWriter;
        try {
          w = s.vfs.openHostWrite(abs, r.op === '>>');
        } catch (err) {
          io.stderr.write(
            `${s.errorPrefix()}${target}: ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`,
          );
          await this.commit(pending, null, false, io.stderr);
          return null;
        }
        pending.push({ fd: r.fd, host: w });
        if (r.fd === 1) stdout = w;
        else if (r.fd === 2) stderr = w;
        continue;
      }
      // A regular file on the machine's disk (/etc) may be created; `>>` adds to one.
      node ??= s.vfs.creatable(abs);
      if (r.op === '>>' && node?.type === 'file' && node.append !== undefined)
        node = { ...node, write: node.append };
      const code = openForWriteError(node, abs);
      if (code !== null) {
        io.stderr.write(`${s.errorPrefix()}${target}: ${strerror(code)}\n`);
        await this.commit(pending, null, false, io.stderr);
        return null;
      }
      if (node!.type === 'file' && node!.kind === 'null') {
        if (r.fd === 1) stdout = NULL_SINK;
        else if (r.fd === 2) stderr = NULL_SINK;
        continue;
      }
      const sink = new BufferSink(CAPTURE_LIMIT);
      pending.push({ fd: r.fd, node: node!, sink });
      if (r.fd === 1) stdout = sink;
      else if (r.fd === 2) stderr = sink;
    }
    return { io: { stdin, stdout, stderr }, pending };
  }

  /** Deliver buffered output to redirected pseudo files; a failing write handler is a write error. */
  private async commit(
    pending: readonly PendingWrite[],
    name: string | null,
    builtin: boolean,
    stderr: Sink,
  ): Promise<number> {
    let status = 0;
    for (const c of pending) {
      if ('host' in c) {
        c.host.close();
        continue;
      }
      const data = c.sink.bytes();
      if (data.length === 0 || c.node.type !== 'file') continue;
      const write = c.node.write;
      try {
        // A proc file without a write op opens fine; the write answers EIO (verified as root).
        if (write === undefined) throw new FsError(c.node.kind === 'procfs' ? 'EIO' : 'EBADF');
        write(data);
      } catch (err) {
        const code = writeErrorCode(err);
        if (code === null) throw err;
        const who = name === null ? this.s.errorPrefix() : `${builtin ? this.s.errorPrefix() : ''}${name}: `;
        const msg = `${who}write error: ${strerror(code)}\n`;
        (c.fd === 2 || stderr === c.sink ? this.s.stderr : stderr).write(msg);
        status = 1;
      }
    }
    return Promise.resolve(status);
  }
}

function rawWord(w: Word): string {
  return w
    .map((p) =>
      'text' in p
        ? p.text
        : 'glob' in p
          ? p.glob
          : 'brace' in p
            ? p.brace
            : 'tilde' in p
              ? '~'
              : 'param' in p
                ? `$${p.param}`
                : '$(…)',
    )
    .join('');
}

/** Why opening `node` (at `abs`) for writing fails, or null when it can be written. */
function openForWriteError(node: VNode | null, abs: string): string | null {
  if (node === null) {
    // Creating a file: /proc's lookup answers ENOENT; debugfs, sysfs and the other machine
    // directories have no `create` inode operation (EACCES).
    if (abs.startsWith('/proc/') || abs === '/proc') return 'ENOENT';
    return 'EACCES';
  }
  if (node.type === 'dir') return 'EISDIR';
  if (node.write === undefined && node.kind !== 'procfs') return writeDeniedCode(node);
  return null;
}
