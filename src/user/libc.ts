/**
 * The C library's view of a process, for programs written as their C originals behave: calls
 * return -1 and set `errno` on failure (glibc's wrappers around the raw system calls of
 * {@link Process}), `errno` is sticky (only failures change it), `printf` writes to fd 1,
 * `exit()` unwinds the program ({@link ExitCall}), and `strerror(0)` is "Success".
 */
import type { FileMapping } from '../kernel/fs/file.ts';
import { strerror as errnoText } from '../util/errno.ts';
import type { Process, Rlimit, UserArg } from './process.ts';
import type { Program } from './programs.ts';

/** `exit(status)` or `_exit(status)` called: unwinds to the program's entry point. */
export class ExitCall extends Error {
  readonly status: number;

  constructor(status: number) {
    super(`exit(${status})`);
    this.name = 'ExitCall';
    this.status = status & 0xff;
  }
}

/** glibc's `strerror()`: "Success" for 0, else the errno text. */
export function strerror(errnum: number): string {
  return errnum === 0 ? 'Success' : errnoText(errnum);
}

/** A process as a C program sees it: libc return conventions and `errno`. */
export class Libc {
  /** The process the calls are made in. */
  readonly proc: Process;
  /** `errno`: the error of the last failed call (0 until one fails). */
  errno = 0;

  constructor(proc: Process) {
    this.proc = proc;
  }

  /** A raw result (-errno on failure) as libc returns it: -1 with `errno` set, else the value. */
  private ret(r: number): number {
    if (r < 0) {
      this.errno = -r;
      return -1;
    }
    return r;
  }

  open(path: string, flags: number, mode?: number): number {
    return this.ret(this.proc.open(path, flags, mode));
  }

  close(fd: number): number {
    return this.ret(this.proc.close(fd));
  }

  read(fd: number, buf: Uint8Array, count = buf.length): number {
    return this.ret(this.proc.read(fd, buf, count));
  }

  write(fd: number, data: Uint8Array | string): number {
    return this.ret(this.proc.write(fd, data));
  }

  lseek(fd: number, offset: number, whence: number): number {
    return this.ret(this.proc.lseek(fd, offset, whence));
  }

  ftruncate(fd: number, length: number): number {
    return this.ret(this.proc.ftruncate(fd, length));
  }

  ioctl(fd: number, cmd: number, arg: UserArg = null): number {
    return this.ret(this.proc.ioctl(fd, cmd, arg));
  }

  memfdCreate(name: string, flags: number): number {
    return this.ret(this.proc.memfdCreate(name, flags));
  }

  /** `mmap(NULL, length, prot, flags, fd, offset)`: the mapping, or null (MAP_FAILED). */
  mmap(length: number, prot: number, flags: number, fd: number, offset = 0): FileMapping | null {
    const m = this.proc.mmap(length, prot, flags, fd, offset);
    if (typeof m === 'number') {
      this.errno = -m;
      return null;
    }
    return m;
  }

  getrlimit(resource: number): Rlimit | null {
    const r = this.proc.getrlimit(resource);
    if (typeof r === 'number') {
      this.errno = -r;
      return null;
    }
    return r;
  }

  setrlimit(resource: number, lim: Rlimit): number {
    return this.ret(this.proc.setrlimit(resource, lim));
  }

  /** `fork()`: the child's process (whatever it does, the caller does through it), or null. */
  fork(): Process | null {
    const c = this.proc.fork();
    if (typeof c === 'number') {
      this.errno = -c;
      return null;
    }
    return c;
  }

  setsid(): number {
    return this.ret(this.proc.setsid());
  }

  chdir(path: string): number {
    return this.ret(this.proc.chdir(path));
  }

  /** `printf` to stdout (unbuffered here; nothing once fd 1 is closed or the process is gone). */
  printf(text: string): void {
    this.put(1, text);
  }

  /** `fprintf(stderr, …)`. */
  eprintf(text: string): void {
    this.put(2, text);
  }

  private put(fd: number, text: string): void {
    const p = this.proc;
    if (p.state !== 'running' || p.kernel.machine.kernel !== p.kernel) return;
    if (p.files.lookup(fd) === null) return;
    p.write(fd, text);
  }

  /** `exit(status)`: does not return. */
  exit(status: number): never {
    throw new ExitCall(status);
  }
}

/**
 * A program whose `main` is written against the C library: `exit()` anywhere in it ends the
 * program with that status.
 */
export function cMain(main: (c: Libc, argv: readonly string[]) => number): Program {
  return ({ proc, argv }) => {
    const c = new Libc(proc);
    try {
      return main(c, argv);
    } catch (e) {
      if (e instanceof ExitCall) return e.status;
      throw e;
    }
  };
}

/** C's `%#x`: `0x` and lower-case hex digits (plain `0` for zero). */
export function hexAlt(n: number): string {
  return n === 0 ? '0' : `0x${n.toString(16)}`;
}
