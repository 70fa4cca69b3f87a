/**
 * User space of one running kernel: the process table (pid 1 is init, which adopts orphans and
 * reaps them), pid allocation, and the `/proc/<pid>` directories (`fd/` with one link per open
 * descriptor, as `ls -l /proc/PID/fd` shows them, `comm`, `cmdline`, `status`, and the
 * fault-injection files `make-it-fail` and `fail-nth`). It is keyed by
 * the `Kernel`, so a kexec leaves every process behind: the successor starts with init alone.
 */
import { INR_OPEN_CUR, INR_OPEN_MAX, O_ACCMODE, O_RDONLY, O_WRONLY } from '../abi/uapi-fcntl.ts';
import type { File } from '../kernel/fs/file.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { PseudoDir, textFile, type PseudoLink, type PseudoNode } from '../kernel/pseudo-fs.ts';
import { ERRNO } from '../util/errno.ts';
import { failNthFile, makeItFailFile } from './proc-pid-fault-inject.ts';
import { Process } from './process.ts';

/** `pid_max` default. */
const PID_MAX = 4194304;
/** Where user pids start after boot (kernel threads and early services took the low ones). */
const FIRST_USER_PID = 200;

/** `/proc/<pid>/fd`: one symlink per open descriptor, computed at each lookup. */
class FdDir extends PseudoDir {
  private readonly proc: Process;

  constructor(proc: Process) {
    super(0o500);
    this.proc = proc;
  }

  override names(): string[] {
    return this.proc.files.entries().map((e) => String(e.fd));
  }

  override get(name: string): PseudoNode | undefined {
    if (!/^[0-9]+$/.test(name)) return undefined;
    const f = this.proc.files.lookup(Number(name));
    return f === null ? undefined : fdLink(f);
  }
}

/** The procfs link of an open file: mode from its access mode, target its `d_path`. */
function fdLink(f: File): PseudoLink {
  const acc = f.flags & O_ACCMODE;
  const mode = acc === O_RDONLY ? 0o500 : acc === O_WRONLY ? 0o300 : 0o700;
  const sh = f.inode.shmem;
  return {
    kind: 'link',
    mode,
    target: () => f.path(),
    ...(sh === null ? {} : { read: () => sh.read(0, sh.size) }),
  };
}

/** The user space of a kernel. */
export class UserSpace {
  readonly kernel: Kernel;
  private readonly procs = new Map<number, Process>();
  private nextPid = FIRST_USER_PID;
  /** init (pid 1). */
  readonly init: Process;
  private loginShell: Process | null = null;

  constructor(kernel: Kernel) {
    this.kernel = kernel;
    this.init = new Process({
      userspace: this,
      pid: 1,
      ppid: 0,
      sid: 1,
      pgid: 1,
      comm: 'init',
      argv: ['/sbin/init'],
      nofile: { cur: INR_OPEN_CUR, max: INR_OPEN_MAX },
    });
    this.add(this.init);
  }

  /**
   * The login shell's process (`-bash`, a child of init), created on first use: what the
   * terminal runs programs from.
   */
  login(): Process {
    if (this.loginShell === null || this.loginShell.state !== 'running') {
      const p = this.spawn(this.init, ['-bash']);
      if (typeof p === 'number') throw new Error('no pid left for the login shell');
      p.comm = 'bash';
      p.setsid();
      this.loginShell = p;
    }
    return this.loginShell;
  }

  /** The process with `pid` (running or zombie), or undefined. */
  process(pid: number): Process | undefined {
    return this.procs.get(pid);
  }

  /** Every process, by pid. */
  processes(): Process[] {
    return [...this.procs.values()].sort((a, b) => a.pid - b.pid);
  }

  private allocPid(): number {
    for (let tries = 0; tries < PID_MAX; tries++) {
      const pid = this.nextPid;
      this.nextPid = this.nextPid + 1 >= PID_MAX ? FIRST_USER_PID : this.nextPid + 1;
      if (!this.procs.has(pid)) return pid;
    }
    return -ERRNO.EAGAIN;
  }

  private add(p: Process): void {
    this.procs.set(p.pid, p);
    const dir = new PseudoDir(0o555);
    dir.add('fd', new FdDir(p));
    dir.add(
      'comm',
      textFile(() => `${p.comm}\n`),
    );
    dir.add(
      'cmdline',
      textFile(() => p.argv.map((a) => `${a}\0`).join('')),
    );
    dir.add(
      'status',
      textFile(() => statusText(p)),
    );
    dir.add('make-it-fail', makeItFailFile(p));
    dir.add('fail-nth', failNthFile(this.kernel, p));
    this.kernel.procfs.remove(String(p.pid));
    this.kernel.procfs.add(String(p.pid), dir);
  }

  /** A new process forked from `parent` (see {@link Process.fork}). */
  forkFrom(parent: Process): Process | number {
    const pid = this.allocPid();
    if (pid < 0) return pid;
    const child = new Process({
      userspace: this,
      pid,
      ppid: parent.pid,
      sid: parent.sid,
      pgid: parent.pgid,
      comm: parent.comm,
      argv: [...parent.argv],
      nofile: parent.rlimitNofile(),
      cloneFiles: parent.files,
    });
    child.cwd = parent.cwd;
    child.makeItFail = parent.makeItFail;
    this.add(child);
    return child;
  }

  /**
   * A new process started by `parent` (fork + exec): `comm` from `argv[0]`, descriptors
   * inherited except close-on-exec ones.
   */
  spawn(parent: Process, argv: string[]): Process | number {
    const child = this.forkFrom(parent);
    if (typeof child === 'number') return child;
    child.exec(argv);
    return child;
  }

  /** Called by {@link Process.exit}: orphans go to init; a child of init is reaped at once. */
  exited(p: Process): void {
    for (const c of this.procs.values()) if (c.ppid === p.pid && c !== p) c.ppid = 1;
    // Zombie children of the exiting process are reaped by init.
    for (const c of [...this.procs.values()]) if (c.ppid === 1 && c.state === 'zombie') this.remove(c);
    if (p.ppid === 1 || p.ppid === 0 || this.procs.get(p.ppid)?.state !== 'running') this.remove(p);
    else p.state = 'zombie';
  }

  /** `waitpid` on behalf of `parent`: the child's exit status (reaped), or -ECHILD. */
  reap(parent: Process, pid: number): number {
    const c = this.procs.get(pid);
    if (c === undefined || c.ppid !== parent.pid) return -ERRNO.ECHILD;
    if (c.state !== 'zombie') return -ERRNO.EAGAIN;
    this.remove(c);
    return c.exitCode ?? 0;
  }

  private remove(p: Process): void {
    p.state = 'dead';
    this.procs.delete(p.pid);
    this.kernel.procfs.remove(String(p.pid));
  }
}

function statusText(p: Process): string {
  const state = p.state === 'running' ? 'S (sleeping)' : p.state === 'zombie' ? 'Z (zombie)' : 'X (dead)';
  return (
    `Name:\t${p.comm}\n` +
    `State:\t${state}\n` +
    `Tgid:\t${p.pid}\n` +
    `Pid:\t${p.pid}\n` +
    `PPid:\t${p.ppid}\n` +
    `FDSize:\t${Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, p.files.count))))}\n`
  );
}

const SPACES = new WeakMap<Kernel, UserSpace>();

/** The user space of `kernel` if it has one yet (looking creates nothing). */
export function existingUserspace(kernel: Kernel): UserSpace | undefined {
  return SPACES.get(kernel);
}

/** The user space of `kernel` (created with init on first use). */
export function userspace(kernel: Kernel): UserSpace {
  let u = SPACES.get(kernel);
  if (u === undefined) {
    u = new UserSpace(kernel);
    SPACES.set(kernel, u);
  }
  return u;
}
