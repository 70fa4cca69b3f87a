/**
 * A process of the simulated machine and the system calls it makes, as a TypeScript API that
 * mirrors the Linux uAPI: calls return what the raw system call returns (a descriptor, a count,
 * 0, or `-errno`, as nolibc's `sys_*` functions do), and ioctl arguments are byte buffers laid
 * out exactly as the uAPI structs, so a caller exercises the real struct bytes.
 *
 * Processes hold a file descriptor table (`struct files_struct`); `fork` copies it, `exit`
 * closes it (`exit_files`), which is what ends an outgoing LUO session whose last holder goes
 * away. A process has no code of its own: the program that "runs" in it (src/user/programs.ts)
 * calls these methods. A forked child that is given nothing more to do keeps running, holding
 * its descriptors, until it exits or the kernel goes away (the selftests' holder process).
 */
import {
  FD_CLOEXEC,
  F_ADD_SEALS,
  F_DUPFD,
  F_DUPFD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  F_GET_SEALS,
  F_SETFD,
  F_SETFL,
  FIOASYNC,
  FIOCLEX,
  FIONBIO,
  FIONCLEX,
  FIOQSIZE,
  LINUX_REBOOT_CMD_KEXEC,
  LINUX_REBOOT_CMD_RESTART,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_CLOEXEC,
  NR_OPEN_DEFAULT,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_LARGEFILE,
  O_NONBLOCK,
  O_RDWR,
  O_TRUNC,
  PIDFD_NONBLOCK,
  PROT_WRITE,
  RLIMIT_NOFILE,
  SEEK_HOLE,
  SIGKILL,
  SIGTERM,
} from '../abi/uapi-fcntl.ts';
import { anonInodeGetfile } from '../kernel/fs/anon-inode.ts';
import { chrdevOpen } from '../kernel/fs/chrdev.ts';
import { FdTable, type Task } from '../kernel/fs/fdtable.ts';
import { pseudoFileOpen } from '../kernel/fs/proc-file.ts';
import { allocFile, fput, type File, type FileMapping, type FileOperations } from '../kernel/fs/file.ts';
import {
  memfdAddSeals,
  memfdAllocFile,
  memfdCheckFlags,
  memfdGetSeals,
  SHMEM_FOPS,
} from '../kernel/fs/memfd.ts';
import { getUserS32, NULL_USER_PTR, userPtr, type UserPtr } from '../kernel/fs/uaccess.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { KexecError } from '../kexec/errors.ts';
import type { FaultTask } from '../mm/fault-inject.ts';
import { kexecExecute } from '../kexec/execute.ts';
import { loadedImage } from '../kexec/file-load.ts';
import { ERRNO } from '../util/errno.ts';
import type { UserSpace } from './userspace.ts';

/** `vfs_read` into `buf` at `pos` (the driver has `read`): bytes read or -errno. */
function vfsRead(f: File, buf: Uint8Array, pos: number): number {
  if (f.fops.readIter !== undefined) return f.fops.readIter(f, buf, pos);
  const r = f.fops.read!(f, buf.length, pos);
  if (typeof r === 'number') return r;
  buf.set(r.subarray(0, buf.length), 0);
  return Math.min(r.length, buf.length);
}

/** The pidfd file operations (fs/pidfs.c): nothing but identity here. */
const PIDFD_FOPS: FileOperations = { owner: 'pidfs' };

/** -ENOIOCTLCMD: a driver's "not mine"; the VFS turns it into -ENOTTY. */
export const ENOIOCTLCMD = 515;

/** A process's life cycle. */
export type ProcessState = 'running' | 'zombie' | 'dead';

/** An ioctl/syscall pointer argument: a buffer (user memory), a {@link UserPtr}, or NULL. */
export type UserArg = Uint8Array | UserPtr | null;

function toUserPtr(arg: UserArg): UserPtr {
  if (arg === null) return NULL_USER_PTR;
  if (arg instanceof Uint8Array) return userPtr(arg);
  return arg;
}

/** RLIMIT_NOFILE as getrlimit reports it. */
export interface Rlimit {
  cur: number;
  max: number;
}

/** A process (`struct task_struct` with its `files_struct`). */
export class Process implements Task, FaultTask {
  readonly pid: number;
  /** Parent pid (init, 1, after the parent exits). */
  ppid: number;
  /** Session id (`setsid`). */
  sid: number;
  /** Process group id. */
  pgid: number;
  /** `comm`: the executable's base name (15 characters at most). */
  comm: string;
  /** The command line (`/proc/PID/cmdline`). */
  argv: string[];
  /** Current directory. */
  cwd = '/';
  state: ProcessState = 'running';
  /** Exit status once exited (`exit(n)`). */
  exitCode: number | null = null;
  readonly files: FdTable;
  /** RLIMIT_NOFILE. */
  private readonly nofile: Rlimit;
  /** `fail_nth` (`/proc/<pid>/fail-nth`); a forked child starts at 0 (kernel/fork.c: dup_task_struct()). */
  failNth = 0;
  /** `make_it_fail` (`/proc/<pid>/make-it-fail`), inherited by a forked child with the rest of the task. */
  makeItFail = 0;
  /** The user space this process belongs to (one per running kernel). */
  readonly userspace: UserSpace;

  constructor(o: {
    userspace: UserSpace;
    pid: number;
    ppid: number;
    sid: number;
    pgid: number;
    comm: string;
    argv: string[];
    nofile: Rlimit;
    /** fork: the parent's table to copy. */
    cloneFiles?: FdTable;
  }) {
    this.userspace = o.userspace;
    this.pid = o.pid;
    this.ppid = o.ppid;
    this.sid = o.sid;
    this.pgid = o.pgid;
    this.comm = o.comm.slice(0, 15);
    this.argv = o.argv;
    this.nofile = { ...o.nofile };
    const nofile = (): number => this.nofile.cur;
    this.files = o.cloneFiles === undefined ? new FdTable(nofile) : o.cloneFiles.clone(nofile);
  }

  /** The kernel this process runs on. */
  get kernel(): Kernel {
    return this.userspace.kernel;
  }

  /** Guard: a process of a kernel that is gone cannot make system calls. */
  private live(): Kernel {
    const k = this.userspace.kernel;
    if (this.state !== 'running' || k.machine.kernel !== k) {
      throw new Error(`process ${this.pid} (${this.comm}) no longer runs: its kernel is gone or it exited`);
    }
    return k;
  }

  /**
   * A system call: the kernel code in `body` runs with this process as the kernel's `current`
   * (restored on return, as the syscall exit path leaves the task), so per-task state such as
   * `fail-nth` and `make-it-fail` applies to what it does (lib/fault-inject.c: should_fail_ex()).
   */
  private syscall<T>(body: (k: Kernel) => T): T {
    const k = this.live();
    const prev = k.current.enter(this);
    try {
      return body(k);
    } finally {
      k.current.leave(prev);
    }
  }

  // ------------------------------------------------------------------ descriptors

  /** `getpid()`. */
  getpid(): number {
    return this.pid;
  }

  /** `getppid()`. */
  getppid(): number {
    return this.ppid;
  }

  /**
   * `open(path, flags, mode)`: character devices under /dev, tmpfs files under /dev/shm,
   * `/proc/<pid|self>/fd/<n>` (a new open of the same file) and the other /proc files. The
   * descriptor or -errno.
   */
  open(path: string, flags: number, mode = 0o600): number {
    return this.syscall((k) => {
      const fd = this.files.getUnusedFd(flags & O_CLOEXEC);
      if (fd < 0) return fd;
      const f = this.openFile(k, path, flags & ~O_CLOEXEC, mode);
      if (typeof f === 'number') {
        this.files.putUnusedFd(fd);
        return f;
      }
      this.files.install(fd, f);
      return fd;
    });
  }

  private openFile(k: Kernel, path: string, flags: number, mode: number): File | number {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (!path.startsWith('/')) parts.unshift(...this.cwd.split('/').filter((p) => p !== ''));
    const fs = k.fs;
    if (parts[0] === 'dev' && parts.length === 2) {
      const dev = fs.device(parts[1]!);
      if (dev === undefined) return (flags & O_CREAT) !== 0 ? -ERRNO.EACCES : -ERRNO.ENOENT;
      if ((flags & O_DIRECTORY) !== 0) return -ERRNO.ENOTDIR;
      if ((flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0) return -ERRNO.EEXIST;
      return chrdevOpen(dev, flags, this);
    }
    if (parts[0] === 'dev' && parts[1] === 'shm' && parts.length === 3) {
      const name = parts[2]!;
      let inode = fs.shm.get(name);
      if (inode === undefined) {
        if ((flags & O_CREAT) === 0) return -ERRNO.ENOENT;
        inode = fs.newShmemInode(mode & 0o7777, 1);
        fs.shm.set(name, inode);
      } else if ((flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0) return -ERRNO.EEXIST;
      const ino = inode;
      const f = allocFile(ino, SHMEM_FOPS, flags | O_LARGEFILE, name, () =>
        ino.nlink === 0 ? `/dev/shm/${name} (deleted)` : `/dev/shm/${name}`,
      );
      if ((flags & O_TRUNC) !== 0 && f.canWrite) SHMEM_FOPS.truncate!(f, 0);
      return f;
    }
    if (parts[0] === 'proc' && parts.length === 4 && parts[2] === 'fd') {
      const pid = parts[1] === 'self' ? this.pid : Number(parts[1]);
      const p = this.userspace.process(pid);
      const target = p === undefined || !/^[0-9]+$/.test(parts[3]!) ? null : p.files.lookup(Number(parts[3]));
      if (target === null) return -ERRNO.ENOENT;
      // Reopening through procfs makes a new open file of the same inode (not a dup).
      if (target.inode.shmem === null) return -ERRNO.ENXIO;
      return allocFile(target.inode, target.fops, (flags & ~O_CREAT) | O_LARGEFILE, target.name, target.path);
    }
    if (parts[0] === 'proc' && parts.length >= 2) {
      // The other /proc files (`/proc/self/fail-nth`, `/proc/cmdline`, …): the procfs entry.
      const rel = [parts[1] === 'self' ? String(this.pid) : parts[1]!, ...parts.slice(2)];
      const node = k.procfs.lookup(rel.join('/'));
      if (node?.kind === 'file') {
        if ((flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0) return -ERRNO.EEXIST;
        return pseudoFileOpen(fs, node, flags & ~O_CREAT, `/proc/${rel.join('/')}`);
      }
    }
    return (flags & O_CREAT) !== 0 ? -ERRNO.EACCES : -ERRNO.ENOENT;
  }

  /** `unlink(path)` of a tmpfs file under /dev/shm: 0 or -errno. */
  unlink(path: string): number {
    const k = this.live();
    const m = /^\/dev\/shm\/([^/]+)$/.exec(path);
    if (m === null) return path.startsWith('/dev/') ? -ERRNO.EPERM : -ERRNO.ENOENT;
    const inode = k.fs.shm.get(m[1]!);
    if (inode === undefined) return -ERRNO.ENOENT;
    k.fs.shm.delete(m[1]!);
    inode.nlink = 0;
    if (inode.openFiles === 0) inode.shmem?.evict();
    return 0;
  }

  /** `close(fd)`: 0 or -EBADF. */
  close(fd: number): number {
    return this.syscall(() => {
      return this.files.close(fd);
    });
  }

  /** `dup(fd)`. */
  dup(fd: number): number {
    this.live();
    return this.files.dup(fd, 0, 0);
  }

  /** `dup2(oldfd, newfd)`. */
  dup2(oldfd: number, newfd: number): number {
    this.live();
    return this.files.dup2(oldfd, newfd);
  }

  /** `read(fd, buf, count)`: bytes read into `buf` or -errno. */
  read(fd: number, buf: Uint8Array, count = buf.length): number {
    return this.syscall(() => {
      const f = this.files.lookup(fd);
      if (f === null || !f.canRead) return -ERRNO.EBADF;
      if (f.fops.read === undefined) return -ERRNO.EINVAL;
      if (count < 0) return -ERRNO.EINVAL;
      const r = vfsRead(f, buf.subarray(0, Math.min(count, buf.length)), f.pos);
      if (r > 0) f.pos += r;
      return r;
    });
  }

  /** `write(fd, data)`: bytes written or -errno (a string is written as UTF-8). */
  write(fd: number, data: Uint8Array | string): number {
    return this.syscall(() => {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      const f = this.files.lookup(fd);
      if (f === null || !f.canWrite) return -ERRNO.EBADF;
      if (f.fops.write === undefined) return -ERRNO.EINVAL;
      const pos = (f.flags & O_APPEND) !== 0 ? f.inode.size : f.pos;
      const n = f.fops.write(f, bytes, pos);
      if (n > 0) f.pos = pos + n;
      return n;
    });
  }

  /** `pread(fd, buf, count, offset)`: like read at `offset`, the position unchanged. */
  pread(fd: number, buf: Uint8Array, count: number, offset: number): number {
    return this.syscall(() => {
      const f = this.files.lookup(fd);
      if (f === null || !f.canRead) return -ERRNO.EBADF;
      if (f.fops.read === undefined || f.fops.llseek === undefined) return -ERRNO.ESPIPE;
      if (offset < 0) return -ERRNO.EINVAL;
      return vfsRead(f, buf.subarray(0, Math.min(count, buf.length)), offset);
    });
  }

  /** `lseek(fd, offset, whence)`: the new position or -errno. */
  lseek(fd: number, offset: number, whence: number): number {
    this.live();
    const f = this.files.lookup(fd);
    if (f === null) return -ERRNO.EBADF;
    if (!Number.isInteger(whence) || whence < 0 || whence > SEEK_HOLE) return -ERRNO.EINVAL;
    if (f.fops.llseek === undefined) return -ERRNO.ESPIPE;
    return f.fops.llseek(f, offset, whence);
  }

  /** `ftruncate(fd, length)`: 0 or -errno. */
  ftruncate(fd: number, length: number): number {
    return this.syscall(() => {
      if (!Number.isSafeInteger(length) || length < 0) return -ERRNO.EINVAL;
      const f = this.files.lookup(fd);
      if (f === null) return -ERRNO.EBADF;
      if (!f.canWrite || f.fops.truncate === undefined) return -ERRNO.EINVAL;
      return f.fops.truncate(f, length);
    });
  }

  /** `fallocate(fd, mode, offset, len)`: 0 or -errno. */
  fallocate(fd: number, mode: number, offset: number, len: number): number {
    return this.syscall(() => {
      const f = this.files.lookup(fd);
      if (f === null) return -ERRNO.EBADF;
      if (!f.canWrite) return -ERRNO.EBADF;
      if (f.fops.fallocate === undefined) return -ERRNO.EOPNOTSUPP;
      return f.fops.fallocate(f, mode, offset, len);
    });
  }

  /** `fcntl(fd, cmd, arg)`: F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD, F_GETFL/F_SETFL, F_ADD_SEALS/F_GET_SEALS. */
  fcntl(fd: number, cmd: number, arg = 0): number {
    this.live();
    const f = this.files.lookup(fd);
    if (f === null) return -ERRNO.EBADF;
    switch (cmd) {
      case F_DUPFD:
        return this.files.dup(fd, arg, 0);
      case F_DUPFD_CLOEXEC:
        return this.files.dup(fd, arg, O_CLOEXEC);
      case F_GETFD:
        return this.files.getCloexec(fd) ? FD_CLOEXEC : 0;
      case F_SETFD:
        return this.files.setCloexec(fd, (arg & FD_CLOEXEC) !== 0);
      case F_GETFL:
        return f.flags;
      case F_SETFL: {
        const settable = O_APPEND | O_NONBLOCK;
        f.flags = (f.flags & ~settable) | (arg & settable);
        return 0;
      }
      case F_ADD_SEALS:
        return memfdAddSeals(f, arg);
      case F_GET_SEALS:
        return memfdGetSeals(f);
      default:
        return -ERRNO.EINVAL;
    }
  }

  /**
   * `ioctl(fd, cmd, arg)`: the VFS-generic commands first (FIOCLEX, FIONCLEX, FIONBIO,
   * FIOASYNC, FIOQSIZE), then the driver's `unlocked_ioctl` (-ENOTTY without one, and for its
   * -ENOIOCTLCMD). The result or -errno.
   */
  ioctl(fd: number, cmd: number, arg: UserArg = null): number {
    return this.syscall(() => {
      const f = this.files.lookup(fd);
      if (f === null) return -ERRNO.EBADF;
      const p = toUserPtr(arg);
      switch (cmd >>> 0) {
        case FIOCLEX:
          return this.files.setCloexec(fd, true);
        case FIONCLEX:
          return this.files.setCloexec(fd, false);
        case FIONBIO:
        case FIOASYNC: {
          const v = getUserS32(p);
          if ('err' in v) return v.err;
          if (cmd === FIONBIO) f.flags = v.value !== 0 ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
          return 0;
        }
        case FIOQSIZE: {
          if (f.inode.shmem === null) return -ERRNO.ENOTTY;
          const b = new Uint8Array(8);
          new DataView(b.buffer).setBigUint64(0, BigInt(f.inode.size), true);
          return p.write(0, b) ? 0 : -ERRNO.EFAULT;
        }
        default:
          break;
      }
      if (f.fops.unlockedIoctl === undefined) return -ERRNO.ENOTTY;
      const r = f.fops.unlockedIoctl(f, cmd >>> 0, p, this);
      return r === -ENOIOCTLCMD ? -ERRNO.ENOTTY : r;
    });
  }

  /** `memfd_create(name, flags)`: the descriptor or -errno. */
  memfdCreate(name: string, flags: number): number {
    return this.syscall((k) => {
      const err = memfdCheckFlags(name, flags);
      if (err < 0) return err;
      const fd = this.files.getUnusedFd((flags & MFD_CLOEXEC) !== 0 ? O_CLOEXEC : 0);
      if (fd < 0) return fd;
      this.files.install(fd, memfdAllocFile(k.fs, name, flags));
      return fd;
    });
  }

  /**
   * `mmap(NULL, length, prot, flags, fd, offset)` of a file: the mapping (read/write its bytes)
   * or -errno. Shared writable mappings need a descriptor open for writing.
   */
  mmap(length: number, prot: number, flags: number, fd: number, offset = 0): FileMapping | number {
    return this.syscall(() => {
      const type = flags & (MAP_SHARED | MAP_PRIVATE);
      if (type !== MAP_SHARED && type !== MAP_PRIVATE) return -ERRNO.EINVAL;
      if (!Number.isSafeInteger(length) || length <= 0) return -ERRNO.EINVAL;
      if (!Number.isSafeInteger(offset) || offset < 0 || offset % 4096 !== 0) return -ERRNO.EINVAL;
      const f = this.files.lookup(fd);
      if (f === null) return -ERRNO.EBADF;
      if (f.fops.mmap === undefined) return -ERRNO.ENODEV;
      if (!f.canRead) return -ERRNO.EACCES;
      if (type === MAP_SHARED && (prot & PROT_WRITE) !== 0 && !f.canWrite) return -ERRNO.EACCES;
      return f.fops.mmap(f, offset, Math.ceil(length / 4096) * 4096, prot, flags);
    });
  }

  // ------------------------------------------------------------------ limits

  /** RLIMIT_NOFILE (a copy). */
  rlimitNofile(): Rlimit {
    return { ...this.nofile };
  }

  /** `getrlimit(resource)`: only RLIMIT_NOFILE is modelled. */
  getrlimit(resource: number): Rlimit | number {
    if (resource !== RLIMIT_NOFILE) return -ERRNO.EINVAL;
    return { ...this.nofile };
  }

  /** `setrlimit(RLIMIT_NOFILE, lim)` as root: cur ≤ max ≤ fs.nr_open. 0 or -errno. */
  setrlimit(resource: number, lim: Rlimit): number {
    if (resource !== RLIMIT_NOFILE) return -ERRNO.EINVAL;
    if (!Number.isSafeInteger(lim.cur) || !Number.isSafeInteger(lim.max) || lim.cur < 0 || lim.cur > lim.max)
      return -ERRNO.EINVAL;
    if (lim.max > NR_OPEN_DEFAULT) return -ERRNO.EPERM;
    this.nofile.cur = lim.cur;
    this.nofile.max = lim.max;
    return 0;
  }

  // ------------------------------------------------------------------ processes

  /**
   * `fork()`: a child with a copy of the descriptor table (every open file shared, close-on-exec
   * bits kept), the same limits and directory. The parent gets the child's handle; whatever the
   * child should do, the caller does through that handle. -EAGAIN when the pid space is full.
   */
  fork(): Process | number {
    this.live();
    return this.userspace.forkFrom(this);
  }

  /**
   * `pidfd_open(pid, flags)`: a descriptor (`anon_inode:[pidfd]`, close-on-exec as the kernel
   * makes it) that refers to process `pid`. -EINVAL for bad flags or pid, -ESRCH when no such
   * process runs.
   */
  pidfdOpen(pid: number, flags = 0): number {
    const k = this.live();
    if ((flags & ~PIDFD_NONBLOCK) !== 0 || !Number.isInteger(pid) || pid <= 0) return -ERRNO.EINVAL;
    const target = this.userspace.process(pid);
    if (target === undefined || target.state !== 'running') return -ERRNO.ESRCH;
    const fd = this.files.getUnusedFd(O_CLOEXEC);
    if (fd < 0) return fd;
    this.files.install(fd, anonInodeGetfile(k.fs, '[pidfd]', PIDFD_FOPS, target, O_RDWR | flags));
    return fd;
  }

  /**
   * `pidfd_getfd(pidfd, targetfd, flags)` (kernel/pid.c): a new descriptor in this process for
   * the open file behind `targetfd` of the process `pidfd` refers to, close-on-exec (the
   * kernel sets it). Processes here are root, so the ptrace access check passes. -EINVAL for
   * flags, -EBADF for a descriptor that is not a pidfd or a target descriptor that is not open,
   * -ESRCH when the process has exited.
   */
  pidfdGetfd(pidfd: number, targetfd: number, flags = 0): number {
    this.live();
    if (flags !== 0) return -ERRNO.EINVAL;
    const pf = this.files.lookup(pidfd);
    if (pf === null || pf.fops !== PIDFD_FOPS) return -ERRNO.EBADF;
    const target = pf.privateData as Process;
    if (target.state !== 'running' || target.userspace !== this.userspace) return -ERRNO.ESRCH;
    const file = target.files.fget(targetfd);
    if (file === null) return -ERRNO.EBADF;
    const fd = this.files.getUnusedFd(O_CLOEXEC);
    if (fd < 0) {
      fput(file);
      return fd;
    }
    this.files.install(fd, file);
    return fd;
  }

  /**
   * `kill(pid, sig)` for the two signals that end a process here (SIGTERM, SIGKILL, neither
   * caught): the target exits with status 128 + sig, closing its descriptors; init ignores
   * them, as the kernel lets it. 0 (signal 0 only checks), -EINVAL for other signals, -ESRCH
   * without such a process.
   */
  kill(pid: number, sig: number): number {
    this.live();
    if (sig !== 0 && sig !== SIGTERM && sig !== SIGKILL) return -ERRNO.EINVAL;
    const target = this.userspace.process(pid);
    if (target === undefined || target.state !== 'running') return -ERRNO.ESRCH;
    if (sig !== 0 && pid !== 1) target.exit(128 + sig);
    return 0;
  }

  /** `setsid()`: a new session led by this process; -EPERM for a process group leader. */
  setsid(): number {
    this.live();
    if (this.pgid === this.pid) return -ERRNO.EPERM;
    this.sid = this.pid;
    this.pgid = this.pid;
    return this.sid;
  }

  /** `chdir(path)` (paths are not checked beyond being absolute or relative text). */
  chdir(path: string): number {
    this.live();
    this.cwd = path.startsWith('/') ? path : `${this.cwd.replace(/\/$/, '')}/${path}`;
    return 0;
  }

  /** `execve` as far as descriptors go: close-on-exec descriptors are closed. */
  exec(argv: string[]): void {
    this.live();
    this.files.closeOnExec();
    this.argv = argv;
    const base = argv[0]?.split('/').pop() ?? this.comm;
    this.comm = base.slice(0, 15);
  }

  /**
   * `exit(status)`: every descriptor is closed (`exit_files`), children go to init, and the
   * process waits as a zombie for its parent (init reaps at once).
   */
  exit(status: number): void {
    if (this.state !== 'running') return;
    this.exitCode = status & 0xff;
    this.files.closeAll();
    this.userspace.exited(this);
  }

  /** `waitpid(pid)`: the exit status of a zombie child (reaped), or -ECHILD. */
  waitpid(pid: number): number {
    this.live();
    return this.userspace.reap(this, pid);
  }

  /**
   * `reboot(cmd)`: LINUX_REBOOT_CMD_KEXEC jumps into the loaded kernel (LUO serializes first;
   * its failure aborts the kexec and is returned); RESTART cold-boots the machine. On success
   * the call does not return to a running process: the result is 0 and this process is gone.
   */
  reboot(cmd: number): number {
    return this.syscall((k) => {
      if (cmd === LINUX_REBOOT_CMD_KEXEC) {
        if (loadedImage(k) === null) return -ERRNO.EINVAL;
        try {
          kexecExecute(k.machine);
        } catch (err) {
          if (err instanceof KexecError) return -err.errno;
          throw err;
        }
        return 0;
      }
      if (cmd === LINUX_REBOOT_CMD_RESTART) {
        k.machine.coldBoot({ cmdline: k.cmdline.raw, profile: k.profile });
        return 0;
      }
      return -ERRNO.EINVAL;
    });
  }

  /** A pointer argument for {@link ioctl} that faults on writes (a read-only mapping). */
  static readOnly(bytes: Uint8Array): UserPtr {
    return userPtr(bytes, { readOnly: true });
  }
}
