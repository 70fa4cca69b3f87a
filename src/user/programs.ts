/**
 * Programs that ship in the machine's root file system (e.g. the kernel's LUO selftests under
 * /usr/lib/kselftests/liveupdate/) and how one runs: `runProgram` forks a child of the caller
 * (the shell's login process by default), gives it a terminal on fds 0/1/2, calls the program
 * with that process and its argv, and exits the process with the returned status (closing its
 * descriptors) unless the kernel went away under it (the program called
 * `reboot(LINUX_REBOOT_CMD_KEXEC)`). Children the program forked and left alone keep running,
 * holding their descriptors (the selftests' daemon).
 *
 * A program is TypeScript code that makes system calls through its {@link Process}; it writes
 * to its descriptors 1 and 2 (or uses `ctx.out` / `ctx.err`). The root file system is on disk,
 * so registered programs are there after every kexec.
 */
import { TaskBlockedError } from '../kernel/fs/fdtable.ts';
import { SigbusError } from '../kernel/fs/file.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { Process } from './process.ts';
import { ttyFiles, type TtyIo } from './tty.ts';
import { userspace } from './userspace.ts';
import { ERRNO } from '../util/errno.ts';

/** What a running program gets. */
export interface ProgramContext {
  /** The process it runs in (its system calls). */
  readonly proc: Process;
  /** argv; argv[0] is the path it was started as. */
  readonly argv: readonly string[];
  /** The environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Write to stdout (fd 1); ignored once fd 1 is closed. */
  readonly out: (text: string) => void;
  /** Write to stderr (fd 2); ignored once fd 2 is closed. */
  readonly err: (text: string) => void;
}

/** A program: returns its exit status (0–255). */
export type Program = (ctx: ProgramContext) => number | Promise<number>;

/** A program file in the root file system. */
export interface ProgramFile {
  readonly path: string;
  readonly main: Program;
  /** One line for `help`-like listings. */
  readonly summary: string;
  /** A `#!/bin/sh` script: its text, run by the shell (`main` then only refuses). */
  readonly script?: string;
}

const ROOTFS = new Map<string, ProgramFile>();

/**
 * Install a program at `path` (absolute, e.g. `/usr/lib/kselftests/liveupdate/liveupdate`) in
 * the root file system every machine boots from. Replaces an existing one.
 */
export function registerProgram(path: string, main: Program, summary = ''): void {
  if (!path.startsWith('/') || path.endsWith('/') || path.includes('//'))
    throw new Error(`registerProgram: '${path}' is not an absolute file path`);
  ROOTFS.set(path, { path, main, summary });
}

/**
 * Install a shell script at `path`: the shell runs its text as `sh PATH ARGS…` does
 * (src/shell/program-command.ts); a run without a shell is refused (status 126).
 */
export function registerScript(path: string, text: string, summary = ''): void {
  registerProgram(
    path,
    ({ err }) => {
      err(`${path}: cannot execute: a shell script runs from the shell (kho shell, kho run)\n`);
      return 126;
    },
    summary,
  );
  ROOTFS.set(path, { ...ROOTFS.get(path)!, script: text });
}

/** The program at `path`, or undefined. */
export function programAt(path: string): ProgramFile | undefined {
  return ROOTFS.get(path);
}

/** Every installed program path, sorted. */
export function programPaths(): string[] {
  return [...ROOTFS.keys()].sort();
}

/** The entries of directory `dir` in the root file system's program tree, or null when it has none. */
export function programDirEntries(dir: string): string[] | null {
  const prefix = dir === '/' ? '/' : `${dir}/`;
  const names = new Set<string>();
  for (const p of ROOTFS.keys()) {
    if (!p.startsWith(prefix)) continue;
    names.add(p.slice(prefix.length).split('/')[0]!);
  }
  return names.size === 0 ? null : [...names].sort();
}

/** How a run ended. */
export interface RunResult {
  /** Exit status (128 + signal for a signal, as a shell reports it). */
  status: number;
  /** The program's process id. */
  pid: number;
  /** The kernel is gone (kexec or reboot happened during the run). */
  rebooted: boolean;
  /** The process is stuck in the kernel for good (uninterruptible sleep). */
  blocked: boolean;
}

/** A program started by {@link runProgram}, before its main runs. */
interface Started {
  file: ProgramFile;
  child: Process;
  parent: Process;
  ctx: ProgramContext;
}

/** bash's line when fork() fails with `err` (-EAGAIN: out of pids; otherwise -ENOMEM). */
export function forkFailure(err: number): string {
  return `-bash: fork: ${err === -ERRNO.EAGAIN ? 'retry: Resource temporarily unavailable' : 'Cannot allocate memory'}\n`;
}

function startProgram(
  kernel: Kernel,
  argv: readonly string[],
  io: TtyIo,
  opts: { parent?: Process; env?: Record<string, string> },
): Started | RunResult | null {
  const file = programAt(argv[0] ?? '');
  if (file === undefined) return null;
  const u = userspace(kernel);
  const parent = opts.parent ?? u.login();
  const child = u.spawn(parent, [...argv]);
  if (typeof child === 'number') {
    io.stderr(forkFailure(child));
    return { status: 254, pid: -1, rebooted: false, blocked: false };
  }
  const tty = ttyFiles(kernel.fs, io);
  for (let fd = 0; fd <= 2; fd++) {
    child.files.close(fd);
    child.files.install(child.files.allocFd(fd, 0), tty[fd]!);
  }
  const write = (fd: number, text: string): void => {
    if (child.state === 'running' && kernel.machine.kernel === kernel) child.write(fd, text);
  };
  const ctx: ProgramContext = {
    proc: child,
    argv: [...argv],
    env: { HOME: '/root', PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'linux', ...(opts.env ?? {}) },
    out: (t) => {
      write(1, t);
    },
    err: (t) => {
      write(2, t);
    },
  };
  return { file, child, parent, ctx };
}

/** After main: the status (or how it failed), exit and reaping. */
function endProgram(
  kernel: Kernel,
  s: Started,
  io: TtyIo,
  outcome: { status: number } | { error: unknown },
): RunResult {
  const { child, parent } = s;
  let status = 0;
  let blocked = false;
  if ('status' in outcome) status = outcome.status & 0xff;
  else {
    const e = outcome.error;
    if (e instanceof SigbusError) {
      status = 128 + 7;
      io.stderr('Bus error (core dumped)\n');
    } else if (e instanceof TaskBlockedError) {
      blocked = true;
      kernel.dmesg.err(e.message);
      kernel.dmesg.err('"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.');
      io.stderr(`${s.ctx.argv[0]}: process ${child.pid} is blocked in the kernel for good (see dmesg)\n`);
    } else throw e;
  }
  const rebooted = kernel.machine.kernel !== kernel;
  if (!rebooted && !blocked && child.state === 'running') child.exit(status);
  if (!rebooted && child.state === 'zombie') parent.waitpid(child.pid);
  return { status, pid: child.pid, rebooted, blocked };
}

/**
 * Run `argv` (argv[0] is the program path) on `kernel` as a child of `parent` (default: the
 * login shell's process) with a terminal writing to `io`. Unknown programs are -ENOENT for the
 * caller to report (`command not found`): the result is null then.
 */
export async function runProgram(
  kernel: Kernel,
  argv: readonly string[],
  io: TtyIo,
  opts: { parent?: Process; env?: Record<string, string> } = {},
): Promise<RunResult | null> {
  const s = startProgram(kernel, argv, io, opts);
  if (s === null || !('ctx' in s)) return s;
  let outcome: { status: number } | { error: unknown };
  try {
    outcome = { status: await s.file.main(s.ctx) };
  } catch (error) {
    outcome = { error };
  }
  return endProgram(kernel, s, io, outcome);
}

/**
 * {@link runProgram} for a program whose main is synchronous (luoctl), for callers that are
 * (`kho demo`). A program that returns a promise is refused.
 */
export function runProgramSync(
  kernel: Kernel,
  argv: readonly string[],
  io: TtyIo,
  opts: { parent?: Process; env?: Record<string, string> } = {},
): RunResult | null {
  const s = startProgram(kernel, argv, io, opts);
  if (s === null || !('ctx' in s)) return s;
  let outcome: { status: number } | { error: unknown };
  try {
    const r = s.file.main(s.ctx);
    if (typeof r !== 'number') throw new Error(`runProgramSync: ${argv[0] ?? ''} is not synchronous`);
    outcome = { status: r };
  } catch (error) {
    outcome = { error };
  }
  return endProgram(kernel, s, io, outcome);
}
