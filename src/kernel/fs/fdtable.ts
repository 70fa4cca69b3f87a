/**
 * A process's file descriptor table (`struct files_struct`, fs/file.c): slots hold open files,
 * each with its close-on-exec bit. New descriptors take the lowest free number below the
 * process's RLIMIT_NOFILE (-EMFILE otherwise), as `alloc_fd` does. The two-step
 * `get_unused_fd_flags` / `fd_install` (or `put_unused_fd` on failure) lets kernel code reserve
 * a number before the file exists, as LUO's ioctls do.
 */
import { ERRNO } from '../../util/errno.ts';
import { O_CLOEXEC } from '../../abi/uapi-fcntl.ts';
import { fput, getFile, type File } from './file.ts';

/** What kernel code knows about the task making a call (`current`). */
export interface Task {
  readonly pid: number;
  /** `comm`, the executable's name. */
  readonly comm: string;
  /** `current->files`. */
  readonly files: FdTable;
}

/** A slot reserved by {@link FdTable.getUnusedFd} but not yet installed. */
const RESERVED = 'reserved';

/** `struct files_struct`. */
export class FdTable {
  private slots: (File | typeof RESERVED | null)[] = [];
  private cloexec: boolean[] = [];
  /** `next_fd`: no free slot below it. */
  private nextFd = 0;
  /** RLIMIT_NOFILE (soft) of the owning process. */
  private readonly nofile: () => number;

  constructor(nofile: () => number) {
    this.nofile = nofile;
  }

  /** `alloc_fd(start, rlimit, flags)`: the lowest free number ≥ `start`, or -EMFILE. */
  allocFd(start: number, flags: number): number {
    const end = this.nofile();
    let fd = Math.max(start, this.nextFd);
    while (fd < this.slots.length && this.slots[fd] !== null && this.slots[fd] !== undefined) fd++;
    if (fd >= end) return -ERRNO.EMFILE;
    while (this.slots.length <= fd) {
      this.slots.push(null);
      this.cloexec.push(false);
    }
    this.slots[fd] = RESERVED;
    this.cloexec[fd] = (flags & O_CLOEXEC) !== 0;
    if (start <= this.nextFd) this.nextFd = fd + 1;
    return fd;
  }

  /** `get_unused_fd_flags(flags)`. */
  getUnusedFd(flags: number): number {
    return this.allocFd(0, flags);
  }

  /** `put_unused_fd(fd)`: give back a reserved number. */
  putUnusedFd(fd: number): void {
    if (this.slots[fd] !== RESERVED) return;
    this.slots[fd] = null;
    this.cloexec[fd] = false;
    if (fd < this.nextFd) this.nextFd = fd;
  }

  /** `fd_install(fd, file)`: the table now owns the caller's reference. */
  install(fd: number, file: File): void {
    if (this.slots[fd] !== RESERVED) throw new Error(`fd_install on fd ${fd} that was not reserved`);
    this.slots[fd] = file;
  }

  /** The open file at `fd` without taking a reference (`files_lookup_fd_raw`), or null. */
  lookup(fd: number): File | null {
    if (!Number.isInteger(fd) || fd < 0 || fd >= this.slots.length) return null;
    const f = this.slots[fd];
    return f === null || f === undefined || f === RESERVED ? null : f;
  }

  /** `fget(fd)`: the file with a new reference, or null. */
  fget(fd: number): File | null {
    const f = this.lookup(fd);
    return f === null ? null : getFile(f);
  }

  /** `close_fd(fd)`: 0 or -EBADF. */
  close(fd: number): number {
    const f = this.lookup(fd);
    if (f === null) return -ERRNO.EBADF;
    this.slots[fd] = null;
    this.cloexec[fd] = false;
    if (fd < this.nextFd) this.nextFd = fd;
    fput(f);
    return 0;
  }

  /** The close-on-exec bit of `fd` (false for a free slot). */
  getCloexec(fd: number): boolean {
    return this.lookup(fd) !== null && this.cloexec[fd] === true;
  }

  /** Set or clear the close-on-exec bit; -EBADF for a free slot. */
  setCloexec(fd: number, on: boolean): number {
    if (this.lookup(fd) === null) return -ERRNO.EBADF;
    this.cloexec[fd] = on;
    return 0;
  }

  /** `dup`/`F_DUPFD`: a new number ≥ `start` for the same open file; -EBADF / -EMFILE / -EINVAL. */
  dup(oldfd: number, start: number, flags: number): number {
    const f = this.lookup(oldfd);
    if (f === null) return -ERRNO.EBADF;
    if (start >= this.nofile()) return -ERRNO.EINVAL;
    const fd = this.allocFd(start, flags);
    if (fd < 0) return fd;
    this.install(fd, getFile(f));
    return fd;
  }

  /** `dup2(oldfd, newfd)`: newfd (closing what was there) or -EBADF. */
  dup2(oldfd: number, newfd: number): number {
    const f = this.lookup(oldfd);
    if (f === null || !Number.isInteger(newfd) || newfd < 0 || newfd >= this.nofile()) return -ERRNO.EBADF;
    if (oldfd === newfd) return newfd;
    const old = this.lookup(newfd);
    while (this.slots.length <= newfd) {
      this.slots.push(null);
      this.cloexec.push(false);
    }
    if (this.slots[newfd] === RESERVED) return -ERRNO.EBUSY;
    this.slots[newfd] = getFile(f);
    this.cloexec[newfd] = false;
    if (old !== null) fput(old);
    return newfd;
  }

  /** `dup_fd` at fork: a copy sharing every open file (one more reference each). */
  clone(nofile: () => number): FdTable {
    const t = new FdTable(nofile);
    this.slots.forEach((f, fd) => {
      if (f === null || f === RESERVED) return;
      while (t.slots.length <= fd) {
        t.slots.push(null);
        t.cloexec.push(false);
      }
      t.slots[fd] = getFile(f);
      t.cloexec[fd] = this.cloexec[fd] === true;
    });
    t.nextFd = 0;
    return t;
  }

  /** Open descriptors, ascending, with their files. */
  entries(): { fd: number; file: File; cloexec: boolean }[] {
    const out: { fd: number; file: File; cloexec: boolean }[] = [];
    this.slots.forEach((f, fd) => {
      if (f !== null && f !== RESERVED) out.push({ fd, file: f, cloexec: this.cloexec[fd] === true });
    });
    return out;
  }

  /** Number of open descriptors. */
  get count(): number {
    let n = 0;
    for (const f of this.slots) if (f !== null && f !== RESERVED) n++;
    return n;
  }

  /** `do_close_on_exec`: close every descriptor marked close-on-exec. */
  closeOnExec(): void {
    for (const e of this.entries()) if (e.cloexec) this.close(e.fd);
  }

  /** `exit_files` → `close_files`: close everything, lowest number first. */
  closeAll(): void {
    for (const e of this.entries()) this.close(e.fd);
  }
}

/**
 * A system call that would sleep forever (`D` state): e.g. a LUO session call after a
 * successful reboot serialization, which keeps LUO's serialization lock held for good. The
 * process cannot go on; whoever runs it reports the hang (the kernel's hung-task detector).
 */
export class TaskBlockedError extends Error {
  readonly pid: number;
  readonly comm: string;

  constructor(task: Task, why: string) {
    super(`INFO: task ${task.comm}:${task.pid} blocked for more than 120 seconds (${why})`);
    this.name = 'TaskBlockedError';
    this.pid = task.pid;
    this.comm = task.comm;
  }
}
