/**
 * One terminal session on a simulated machine: the current directory, `$?`, the command table
 * and the executor for parsed lines (lists, `&&`/`||`, pipes, redirections). Interactive
 * (`repl.ts`) and scripted (`script.ts`) use share it. Commands run synchronously against the
 * machine; the executor is async only so a command may await (e.g. a lazily loaded module).
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Machine } from '../kernel/machine.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { ReleaseProfile } from '../kernel/profile.ts';
import type { CommandContext, ShellCommand } from './command.ts';
import { BufferSink, FsError, NULL_SINK, strerror, type Sink } from './io.ts';
import {
  eofMessage,
  parseLine,
  type CommandList,
  type Pipeline,
  type SimpleCommand,
  type Word,
} from './tokenizer.ts';
import { MACHINE_EPOCH_MS, normalizePath, Vfs, writeDeniedCode, writeErrorCode, type VNode } from './vfs.ts';
import { bootFilesFor } from './boot-files.ts';
import { expandGlob, globChars, hasGlob } from './glob.ts';
import { haltedRefusal, MachineHaltedError, reportCommandFailure } from './console-panic.ts';

/** How a session starts. */
export interface SessionOptions {
  machine: Machine;
  /** What a cold (re)boot boots: the machine options' command line and profile. */
  boot: { cmdline: string; profile: ReleaseProfile };
  /** The home directory (`~`), a host path; also the starting directory. */
  home: string;
  stdout: Sink;
  stderr: Sink;
  /** Terminal width for `ls` columns; null when output is not a terminal (one name per line). */
  columns?: () => number | null;
  /** Commands to add or replace (tests, later helpers). */
  extraCommands?: readonly ShellCommand[];
}

/** Result of running one parsed line. */
export interface LineResult {
  /** `$?` after the line. */
  status: number;
  /** True when a failing command would stop a `set -e` script. */
  errexit: boolean;
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
  /** Current directory (normalised absolute path). */
  cwd: string;
  /** Previous directory (`cd -`). */
  oldpwd: string;
  /** `$?`. */
  status = 0;
  /** Set by `exit`: the status the session ends with. */
  exitStatus: number | null = null;
  private readonly commands = new Map<string, ShellCommand>();

  constructor(opts: SessionOptions, commands: readonly ShellCommand[]) {
    this.machine = opts.machine;
    this.boot = opts.boot;
    this.home = normalizePath('/', opts.home);
    this.cwd = this.home;
    this.oldpwd = this.home;
    this.stdout = opts.stdout;
    this.stderr = opts.stderr;
    this.columns = opts.columns ?? (() => null);
    for (const c of [...commands, ...(opts.extraCommands ?? [])]) this.commands.set(c.name, c);
    this.vfs = new Vfs({
      kernel: () => this.kernel,
      bootFiles: (k) => bootFilesFor(k.profile),
      machineNow: () => this.machineNow(),
    });
  }

  /** The running kernel. */
  get kernel(): Kernel {
    const k = this.machine.kernel;
    if (k === null) throw new MachineHaltedError();
    return k;
  }

  /** Simulated wall-clock time: the epoch plus the running kernel's uptime. */
  machineNow(): number {
    const recs = this.machine.kernel?.dmesg.records;
    const usec = recs !== undefined && recs.length > 0 ? recs[recs.length - 1]!.usec : 0;
    return MACHINE_EPOCH_MS + Math.floor(usec / 1000);
  }

  /** The command table (for `help` and completion). */
  commandList(): ShellCommand[] {
    return [...this.commands.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Look a command up by name. */
  command(name: string): ShellCommand | undefined {
    return this.commands.get(name);
  }

  /** Normalise a path typed by the user against the current directory. */
  abs(path: string): string {
    return normalizePath(this.cwd, path);
  }

  /** Resolve a typed path (null when missing; FsError ENOTDIR through a file). */
  lookup(path: string): VNode | null {
    return this.vfs.resolve(this.abs(path));
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

  /** Parse and run one complete input (several lines allowed). */
  async runText(text: string): Promise<LineResult> {
    const parsed = parseLine(text);
    if (parsed.kind === 'incomplete') {
      this.stderr.write(`-bash: ${eofMessage(parsed.reason)}\n`);
      this.status = 2;
      return { status: 2, errexit: true };
    }
    if (parsed.kind === 'error') {
      this.stderr.write(`-bash: ${parsed.message}\n`);
      this.status = 2;
      return { status: 2, errexit: true };
    }
    return this.execute(parsed.list);
  }

  /**
   * Run a parsed list. With `errexit` (`set -e`, scripts) the first failing command stops the
   * list; interactively every element runs and `errexit` only reports that one failed.
   */
  async execute(list: CommandList, opts: { errexit?: boolean } = {}): Promise<LineResult> {
    let errexit = false;
    for (const andOr of list) {
      let lastRanIsFinal = false;
      for (let i = 0; i < andOr.length; i++) {
        const item = andOr[i]!;
        if (item.op === '&&' && this.status !== 0) continue;
        if (item.op === '||' && this.status === 0) continue;
        this.status = await this.runPipeline(item.pipeline);
        lastRanIsFinal = i === andOr.length - 1;
        if (this.exitStatus !== null) return { status: this.status, errexit: false };
      }
      // `set -e`: a failure counts unless it came from a non-final part of an && / || chain.
      if (this.status !== 0 && lastRanIsFinal) {
        errexit = true;
        if (opts.errexit === true) break;
      }
    }
    return { status: this.status, errexit };
  }

  private async runPipeline(p: Pipeline): Promise<number> {
    let input: Uint8Array | null = null;
    let status = 0;
    for (let i = 0; i < p.commands.length; i++) {
      const last = i === p.commands.length - 1;
      const pipeOut = last ? null : new BufferSink();
      status = await this.runSimple(p.commands[i]!, input, pipeOut);
      input = pipeOut === null ? null : pipeOut.bytes();
    }
    return status;
  }

  /** Expand a word: parameters and `~`. */
  expandWord(w: Word): string {
    let s = '';
    for (const part of w) {
      if ('text' in part) s += part.text;
      else if ('tilde' in part) s += this.home;
      else if ('glob' in part) s += part.glob;
      else s += this.param(part.param);
    }
    return s;
  }

  /** Expand a command argument: like {@link expandWord}, plus pathname expansion. */
  expandArg(w: Word): string[] {
    if (!hasGlob(w)) return [this.expandWord(w)];
    const listDir = (path: string): string[] | null => {
      try {
        const n = this.vfs.resolve(normalizePath('/', path));
        return n?.type === 'dir' ? n.names() : null;
      } catch {
        return null;
      }
    };
    const exists = (path: string): boolean => {
      try {
        return this.vfs.resolveNoFollow(normalizePath('/', path)) !== null;
      } catch {
        return false;
      }
    };
    return expandGlob(
      globChars(w, (n) => this.param(n), this.home),
      this.cwd,
      listDir,
      exists,
    );
  }

  private param(name: string): string {
    switch (name) {
      case '?':
        return String(this.status);
      case '$':
        return '1';
      case '#':
        return '0';
      case 'HOME':
        return this.home;
      case 'PWD':
        return this.cwd;
      case 'OLDPWD':
        return this.oldpwd;
      case 'USER':
      case 'LOGNAME':
        return 'root';
      case 'HOSTNAME':
        return 'kho';
      case '0':
        return '-bash';
      default:
        return '';
    }
  }

  private async runSimple(
    cmd: SimpleCommand,
    pipeIn: Uint8Array | null,
    pipeOut: BufferSink | null,
  ): Promise<number> {
    const argv = cmd.words.flatMap((w) => this.expandArg(w));
    const name = argv[0];
    const command = name === undefined ? undefined : this.commands.get(name);
    let stdin = pipeIn;
    let stdout: Sink = pipeOut ?? this.stdout;
    let stderr: Sink = this.stderr;
    const commits: { fd: number; node: VNode; sink: BufferSink; path: string }[] = [];

    // Redirections are opened before the command runs; a failure skips the command.
    for (const r of cmd.redirects) {
      const target = this.expandWord(r.target);
      if (r.op === '>&') {
        if (target === '1') stderr = r.fd === 2 ? stdout : stderr;
        else if (target === '2') stdout = r.fd === 1 ? stderr : stdout;
        else {
          this.stderr.write(`-bash: ${target}: ambiguous redirect\n`);
          return 1;
        }
        continue;
      }
      if (target === '') {
        this.stderr.write(`-bash: : No such file or directory\n`);
        return 1;
      }
      let node: VNode | null;
      try {
        node = this.lookup(target);
      } catch (err) {
        this.stderr.write(`-bash: ${target}: ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`);
        return 1;
      }
      if (r.op === '<') {
        if (node === null) {
          this.stderr.write(`-bash: ${target}: No such file or directory\n`);
          return 1;
        }
        if (node.type === 'dir') {
          // bash opens a directory for reading fine; the command then fails to read it.
          stdin = new Uint8Array(0);
          continue;
        }
        try {
          stdin = node.read();
        } catch (err) {
          this.stderr.write(`-bash: ${target}: ${strerror(writeErrorCode(err) ?? 'EIO')}\n`);
          return 1;
        }
        continue;
      }
      // > and >>
      const code = openForWriteError(node, this.abs(target));
      if (code !== null) {
        this.stderr.write(`-bash: ${target}: ${strerror(code)}\n`);
        return 1;
      }
      const sink = new BufferSink();
      commits.push({ fd: r.fd, node: node!, sink, path: target });
      if (r.fd === 1) stdout = sink;
      else if (r.fd === 2) stderr = sink;
    }

    if (name === undefined) return 0; // redirections only
    if (command === undefined) {
      stderr.write(`-bash: ${name}: command not found\n`);
      await this.commit(commits, name, false, stderr);
      return 127;
    }
    const ctx: CommandContext = { session: this, stdin, stdout, stderr };
    let status: number;
    try {
      status = haltedRefusal(ctx, name, command) ?? (await command.run(argv.slice(1), ctx));
    } catch (err) {
      status = reportCommandFailure(ctx, name, err);
    }
    const wst = await this.commit(commits, name, command.builtin === true, stderr);
    return wst !== 0 && status === 0 ? wst : status;
  }

  /** Deliver buffered output to redirected files; a failing write handler is a write error. */
  private async commit(
    commits: readonly { fd: number; node: VNode; sink: BufferSink; path: string }[],
    name: string,
    builtin: boolean,
    stderr: Sink,
  ): Promise<number> {
    let status = 0;
    for (const c of commits) {
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
        const msg = `${builtin ? '-bash: ' : ''}${name}: write error: ${strerror(code)}\n`;
        (c.fd === 2 ? this.stderr : stderr === c.sink ? this.stderr : stderr).write(msg);
        status = 1;
      }
    }
    return Promise.resolve(status);
  }
}

/** Why opening `node` (at `abs`) for writing fails, or null when it can be written. */
function openForWriteError(node: VNode | null, abs: string): string | null {
  if (node === null) {
    // Creating a file: /proc's lookup answers ENOENT; debugfs, sysfs and the other machine
    // directories have no `create` inode operation (EACCES); the host is read-only here.
    if (abs.startsWith('/proc/') || abs === '/proc') return 'ENOENT';
    if (/^\/(sys|dev|boot)(\/|$)/.test(abs)) return 'EACCES';
    return hostParentExists(abs) ? 'EROFS' : 'ENOENT';
  }
  if (node.type === 'dir') return 'EISDIR';
  if (node.write === undefined && node.kind !== 'procfs') return writeDeniedCode(node);
  return null;
}

function hostParentExists(abs: string): boolean {
  return existsSync(dirname(abs));
}

/** A sink that discards output (`/dev/null` for commands that need a throwaway sink). */
export const DISCARD: Sink = NULL_SINK;
