/**
 * One terminal session on a simulated machine: the shell's state (current directory, variables,
 * positional parameters, `$?`, `set` options), the command table, and running parsed input
 * through the interpreter (src/shell/interp.ts). Interactive (`repl.ts`, the worker) and
 * scripted (`script.ts`) use share it.
 */
import type { Machine } from '../kernel/machine.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { ReleaseProfile } from '../kernel/profile.ts';
import type { Script } from './ast.ts';
import type { ShellCommand } from './command.ts';
import { BrokenPipe, Interrupted, type Sink } from './io.ts';
import { ErrexitSignal, ExitSignal, FatalExpansion, Interpreter, type Io } from './interp.ts';
import type { ParseError } from './lexer.ts';
import { eofMessages, parseNext } from './parser.ts';
import { InputStream } from './stream.ts';
import { fileChunks, MACHINE_EPOCH_MS, normalizePath, Vfs, type VNode } from './vfs.ts';
import { bootFilesFor } from './boot-files.ts';
import { findProgram, programCommand } from './program-command.ts';
import { HostDir } from '../util/host-dir.ts';
import { MachineHaltedError } from './console-panic.ts';
import { userspace } from '../user/userspace.ts';

/** How a session starts. */
export interface SessionOptions {
  machine: Machine;
  /** What a cold (re)boot boots: the machine options' command line and profile. */
  boot: { cmdline: string; profile: ReleaseProfile };
  /**
   * The host directory the shell may use (src/util/host-dir.ts), which is also its home (`~`)
   * and starting directory: a path, or null for none (`--no-host`: home is an empty `/root`).
   */
  home: string | HostDir | null;
  stdout: Sink;
  stderr: Sink;
  /** Terminal width for `ls` columns; null when output is not a terminal (one name per line). */
  columns?: () => number | null;
  /** Commands to add or replace (tests, later helpers). */
  extraCommands?: readonly ShellCommand[];
  /**
   * An interactive shell (a person at a prompt): errors carry no `line N:` and a syntax error
   * does not end the session. Default true.
   */
  interactive?: boolean;
  /** `$0` (default `-bash`, the login shell). */
  scriptName?: string;
}

/** Result of running one text with {@link Session.runText}. */
export interface LineResult {
  /** `$?` after the text. */
  status: number;
}

/** How running one complete command ended. */
export type Outcome =
  | { readonly kind: 'done'; readonly status: number }
  /** `exit` ran. */
  | { readonly kind: 'exit'; readonly status: number }
  /** `set -e` stopped at a failing command. */
  | { readonly kind: 'errexit'; readonly status: number; readonly line: number; readonly text: string }
  /** An expansion error, which ends a non-interactive shell (bash). */
  | { readonly kind: 'fatal'; readonly status: number; readonly line: number }
  /** Ctrl-C. */
  | { readonly kind: 'interrupted' };

/** `set` options. */
export interface ShellOptions {
  errexit: boolean;
  nounset: boolean;
  xtrace: boolean;
}

/** What a subshell restores when it ends. */
export interface SavedState {
  vars: Map<string, string>;
  exported: Set<string>;
  positional: string[];
  cwd: string;
  oldpwd: string;
  options: ShellOptions;
  exitStatus: number | null;
}

/** A terminal session. */
export class Session {
  readonly machine: Machine;
  readonly boot: { cmdline: string; profile: ReleaseProfile };
  readonly home: string;
  readonly vfs: Vfs;
  readonly stdout: Sink;
  readonly stderr: Sink;
  readonly columns: () => number | null;
  /** A person at a prompt (see {@link SessionOptions.interactive}). */
  interactive: boolean;
  /** `$0`. */
  scriptName: string;
  /** Current directory (normalised absolute path). */
  cwd: string;
  /** Previous directory (`cd -`). */
  oldpwd: string;
  /** `$?`. */
  status = 0;
  /** Set by `exit`: the status the session ends with. */
  exitStatus: number | null = null;
  /** Shell variables. */
  vars = new Map<string, string>();
  /** Names marked by `export`. */
  exported = new Set<string>();
  /** `$1`, `$2`… */
  positional: string[] = [];
  /** `set -e`, `set -u`, `set -x`. */
  options: ShellOptions = { errexit: false, nounset: false, xtrace: false };
  /** `$LINENO`: the line of the running command. */
  lineno = 0;
  private loopControl: { kind: 'break' | 'continue'; levels: number } | null = null;
  private readonly commands = new Map<string, ShellCommand>();
  private readonly interp: Interpreter;
  private random = 12345;

  constructor(opts: SessionOptions, commands: readonly ShellCommand[]) {
    this.machine = opts.machine;
    this.boot = opts.boot;
    const hostDir =
      opts.home instanceof HostDir
        ? opts.home
        : new HostDir(opts.home === null ? null : normalizePath('/', opts.home));
    this.home = hostDir.home;
    this.cwd = this.home;
    this.oldpwd = this.home;
    this.stdout = opts.stdout;
    this.stderr = opts.stderr;
    this.columns = opts.columns ?? (() => null);
    this.interactive = opts.interactive ?? true;
    this.scriptName = opts.scriptName ?? '-bash';
    for (const c of [...commands, ...(opts.extraCommands ?? [])]) this.commands.set(c.name, c);
    this.vfs = new Vfs({
      kernel: () => this.kernel,
      bootFiles: (k) => bootFilesFor(k.profile),
      machineNow: () => this.machineNow(),
      hostDir,
    });
    for (const [k, v] of Object.entries({
      USER: 'root',
      LOGNAME: 'root',
      HOSTNAME: 'kho',
      SHELL: '/bin/bash',
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      TERM: 'xterm-256color',
    })) {
      this.vars.set(k, v);
      this.exported.add(k);
    }
    this.exported.add('HOME');
    this.exported.add('PWD');
    this.interp = new Interpreter(this);
  }

  /** The running kernel. */
  get kernel(): Kernel {
    const k = this.machine.kernel;
    if (k === null) throw new MachineHaltedError();
    return k;
  }

  /** Simulated wall-clock time: the epoch plus the running kernel's uptime. */
  machineNow(): number {
    const usec = this.machine.kernel?.dmesg.nowUsec ?? 0;
    return MACHINE_EPOCH_MS + Math.floor(usec / 1000);
  }

  /** The command table (for `help` and completion). */
  commandList(): ShellCommand[] {
    return [...this.commands.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Look a command up by name (an installed program of the machine when no command has it). */
  command(name: string): ShellCommand | undefined {
    const c = this.commands.get(name);
    if (c !== undefined) return c;
    const path = findProgram(name, (p) => this.abs(p));
    return path === null ? undefined : programCommand(name, path);
  }

  /** Normalise a path typed by the user against the current directory. */
  abs(path: string): string {
    return normalizePath(this.cwd, path);
  }

  /** Resolve a typed path (null when missing; FsError ENOTDIR through a file). */
  lookup(path: string): VNode | null {
    return this.vfs.resolve(this.abs(path));
  }

  /** Entry names of a directory (absolute path), or null (pathname expansion). */
  listDir(path: string): string[] | null {
    try {
      const n = this.vfs.resolve(normalizePath('/', path));
      return n?.type === 'dir' ? n.names() : null;
    } catch {
      return null;
    }
  }

  /** Whether a path exists, without following a final symlink (pathname expansion). */
  exists(path: string): boolean {
    try {
      return this.vfs.resolveNoFollow(normalizePath('/', path)) !== null;
    } catch {
      return false;
    }
  }

  /** A stream over a file's content (`< FILE`); a directory reads as empty here. */
  openInput(node: VNode): InputStream {
    if (node.type === 'dir') return InputStream.of(new Uint8Array(0));
    return InputStream.chunks(fileChunks(node));
  }

  /** The prompt, bash style: `root@kho:~# `. */
  prompt(): string {
    return `root@kho:${this.displayCwd()}# `;
  }

  /** The current directory with the home prefix shown as `~`. */
  displayCwd(): string {
    if (this.cwd === this.home) return '~';
    if (this.home !== '/' && this.cwd.startsWith(`${this.home}/`))
      return `~${this.cwd.slice(this.home.length)}`;
    return this.cwd;
  }

  /** A new login after a reboot or kexec: back to the home directory. */
  relogin(): void {
    this.oldpwd = this.home;
    this.cwd = this.home;
  }

  /**
   * bash's prefix for a shell error at `line` (default: the running command's): `-bash: `, or
   * `-bash: line N: ` when the shell is not interactive (scripts), as bash prints them.
   */
  errorPrefix(line = this.lineno): string {
    return this.interactive ? '-bash: ' : `-bash: line ${line}: `;
  }

  /** A variable or special parameter; undefined when unset. */
  getVar(name: string): string | undefined {
    switch (name) {
      case '?':
        return String(this.status);
      case '#':
        return String(this.positional.length);
      case '$': {
        // The terminal's shell is the login shell process programs are started from.
        const k = this.machine.kernel;
        return k === null ? '1' : String(userspace(k).login().pid);
      }
      case '!':
        return '';
      case '-':
        return `${this.options.errexit ? 'e' : ''}hB${this.options.nounset ? 'u' : ''}${this.options.xtrace ? 'x' : ''}${this.interactive ? 'i' : ''}`;
      case '0':
        return this.scriptName;
      case 'PWD':
        return this.cwd;
      case 'OLDPWD':
        return this.oldpwd;
      case 'HOME':
        return this.vars.get('HOME') ?? this.home;
      case 'LINENO':
        return String(this.lineno);
      case 'RANDOM':
        // A deterministic generator: runs repeat exactly.
        this.random = (this.random * 1103515245 + 12345) & 0x7fffffff;
        return String((this.random >> 16) & 0x7fff);
      default:
        if (/^[1-9][0-9]*$/.test(name)) return this.positional[Number(name) - 1];
        return this.vars.get(name);
    }
  }

  /** Assign a variable. */
  setVar(name: string, value: string): void {
    if (name === 'PWD' || name === 'OLDPWD' || name === 'RANDOM' || name === 'LINENO') return;
    this.vars.set(name, value);
  }

  /** `unset NAME`. */
  unsetVar(name: string): void {
    this.vars.delete(name);
    this.exported.delete(name);
  }

  /** State a subshell restores. */
  saveState(): SavedState {
    return {
      vars: new Map(this.vars),
      exported: new Set(this.exported),
      positional: [...this.positional],
      cwd: this.cwd,
      oldpwd: this.oldpwd,
      options: { ...this.options },
      exitStatus: this.exitStatus,
    };
  }

  /** Undo what a subshell changed. */
  restoreState(s: SavedState): void {
    this.vars = s.vars;
    this.exported = s.exported;
    this.positional = s.positional;
    this.cwd = s.cwd;
    this.oldpwd = s.oldpwd;
    this.options = s.options;
    this.exitStatus = s.exitStatus;
  }

  /** `break N`/`continue N` ran (the interpreter unwinds to the loop). */
  requestLoopControl(kind: 'break' | 'continue', levels: number): void {
    this.loopControl = { kind, levels };
  }

  /** Take a pending `break`/`continue`. */
  takeLoopControl(): { kind: 'break' | 'continue'; levels: number } | null {
    const l = this.loopControl;
    this.loopControl = null;
    return l;
  }

  /** Inside a `for`/`while` loop? */
  inLoop(): boolean {
    return this.interp.loopDepth > 0;
  }

  /** Ctrl-C is pending: stop the running work (src/util/interrupt.ts). */
  checkInterrupt(): void {
    if (this.machine.interrupt.pending()) throw new Interrupted();
  }

  private topIo(): Io {
    return { stdin: null, stdout: this.stdout, stderr: this.stderr };
  }

  /** Run one parsed complete command. */
  async execute(list: Script): Promise<Outcome> {
    try {
      const status = await this.interp.script(list, this.topIo(), false);
      return { kind: 'done', status };
    } catch (err) {
      if (err instanceof ExitSignal) {
        this.exitStatus = err.status;
        return { kind: 'exit', status: err.status };
      }
      if (err instanceof ErrexitSignal) {
        this.status = err.status;
        return { kind: 'errexit', status: err.status, line: err.list.line, text: err.list.text };
      }
      if (err instanceof FatalExpansion) {
        this.stderr.write(`${this.errorPrefix(err.line)}${err.message}\n`);
        this.status = 1;
        return { kind: 'fatal', status: 1, line: err.line };
      }
      if (err instanceof Interrupted) {
        this.status = 130;
        return { kind: 'interrupted' };
      }
      if (err instanceof BrokenPipe) {
        // The terminal's own output has gone (`kho shell | head`): end quietly, as SIGPIPE does.
        this.exitStatus = 141;
        return { kind: 'exit', status: 141 };
      }
      throw err;
    }
  }

  /**
   * Run a shell script file as `sh NAME ARGS…` does, in a subshell of this session: `$0` is
   * `name`, `$@` the arguments, and its variables, options and directory go away with it. A
   * syntax error ends it with status 2, `exit N` with N, a failure under `set -e` with that
   * failure's status; else the last command's status.
   */
  async runScriptFile(text: string, name: string, args: readonly string[], io: Io): Promise<number> {
    const saved = this.saveState();
    const savedName = this.scriptName;
    const savedLine = this.lineno;
    this.positional = [...args];
    this.scriptName = name;
    this.options = { errexit: false, nounset: false, xtrace: false };
    let status = 0;
    try {
      let pos = 0;
      let line = 1;
      for (;;) {
        const r = parseNext(text, pos, { final: true, line });
        if (r.kind === 'eof') break;
        if (r.kind === 'incomplete' || r.kind === 'error') {
          if (r.kind === 'incomplete') this.reportEof(r.reason, r.line);
          else this.reportParseError(r.error, r.lineText);
          status = 2;
          break;
        }
        for (let i = pos; i < r.end; i++) if (text.charCodeAt(i) === 10) line++;
        pos = r.end;
        try {
          status = await this.interp.script(r.list, io, false);
        } catch (err) {
          if (err instanceof ExitSignal || err instanceof ErrexitSignal) {
            status = err.status;
            break;
          }
          throw err;
        }
      }
    } finally {
      this.restoreState(saved);
      this.scriptName = savedName;
      this.lineno = savedLine;
    }
    this.status = status;
    return status;
  }

  /** Print a parse error as bash does (`-bash: line N: …`, then the line in scripts). */
  reportParseError(err: ParseError, lineText: string): void {
    this.stderr.write(`${this.errorPrefix(err.line)}${err.message}\n`);
    if (!this.interactive && err.kind === 'syntax')
      this.stderr.write(`${this.errorPrefix(err.line)}\`${lineText}'\n`);
  }

  /** Print bash's messages for input that ended inside a construct. */
  reportEof(reason: string, line: number): void {
    for (const m of eofMessages(reason)) this.stderr.write(`${this.errorPrefix(line)}${m}\n`);
  }

  /**
   * Parse and run a complete text (several commands and lines allowed), as typed at the
   * prompt: a syntax error or an expansion error ends the text; `exit` sets {@link exitStatus}.
   */
  async runText(text: string): Promise<LineResult> {
    let pos = 0;
    let line = 1;
    for (;;) {
      const r = parseNext(text, pos, { final: true, line });
      if (r.kind === 'eof') break;
      if (r.kind === 'incomplete') {
        this.reportEof(r.reason, r.line);
        this.status = 2;
        break;
      }
      if (r.kind === 'error') {
        this.reportParseError(r.error, r.lineText);
        this.status = 2;
        break;
      }
      for (let i = pos; i < r.end; i++) if (text.charCodeAt(i) === 10) line++;
      pos = r.end;
      const o = await this.execute(r.list);
      if (o.kind === 'errexit') {
        this.exitStatus = o.status;
        break;
      }
      if (o.kind !== 'done') break;
    }
    return { status: this.status };
  }
}
