/**
 * The one host directory that the machine's shell may use (`--host-dir DIR`, the current
 * directory by default, none with `--no-host`; docs/shell.md, "The host directory").
 *
 * Every host path is checked twice: lexically (after `.` and `..` are removed) it must lie
 * inside the directory, and its real path (every symlink followed, by realpath) must too, so
 * neither `..` nor a link leads out. Only regular files are read or written there (no FIFOs,
 * sockets or devices, which could block or never end); a write opens with O_NOFOLLOW and
 * checks what it opened before it truncates. Outside, everything is `EACCES` (Permission
 * denied), whether it exists or not; the directories above the host directory show only the
 * way down to it.
 *
 * Anything that reads or writes host files on behalf of the machine (shell commands, programs
 * in the machine, module files named inside the machine) goes through one `HostDir`.
 */
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import { FsError, nodeErrCode } from './host-errors.ts';

/** Where a lexical path lies relative to the host directory. */
export type HostPlace = 'inside' | 'above' | 'outside';

/** Whole-file reads of host files stop here (`File too large`). */
export const HOST_READ_LIMIT = 256 * 1024 * 1024;
/** One host file written by the shell grows at most this far (`File too large`). */
export const HOST_WRITE_LIMIT = 1024 * 1024 * 1024;

/** The home shown when there is no host directory (`--no-host`). */
export const NO_HOST_HOME = '/root';

function within(path: string, root: string): boolean {
  return root === '/' ? path.startsWith('/') : path === root || path.startsWith(`${root}/`);
}

function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** The host directory and its checks. Paths given to it are absolute and lexically normalised. */
export class HostDir {
  /** The directory as the shell shows it (`~`); `/root` without one. */
  readonly home: string;
  /** Its real path, or null when the shell has no host directory. */
  readonly root: string | null;

  /**
   * `dir` is an absolute, normalised path of an existing directory, or null for none. Throws
   * FsError (ENOENT, ENOTDIR, …) when it is not one.
   */
  constructor(dir: string | null) {
    if (dir === null) {
      this.home = NO_HOST_HOME;
      this.root = null;
      return;
    }
    let real: string;
    let isDir: boolean;
    try {
      real = realpathSync(dir);
      isDir = statSync(real).isDirectory();
    } catch (err) {
      throw new FsError(nodeErrCode(err));
    }
    if (!isDir) throw new FsError('ENOTDIR');
    this.home = dir;
    this.root = real;
  }

  /** Where `abs` lies. Without a host directory only the empty `/root` is inside. */
  place(abs: string): HostPlace {
    if (within(abs, this.home)) return 'inside';
    if (abs === '/' || this.home.startsWith(`${abs}/`)) return 'above';
    return 'outside';
  }

  /** The entry of a directory above the host directory that leads down to it. */
  childOnTheWay(abs: string): string {
    return this.home.slice(abs === '/' ? 1 : abs.length + 1).split('/')[0]!;
  }

  /** Fail unless the real path `real` is inside the host directory. */
  private checkReal(real: string): void {
    if (this.root === null || !within(real, this.root)) throw new FsError('EACCES');
  }

  /** EACCES unless `abs` is lexically inside an existing host directory. */
  private checkInside(abs: string): void {
    if (this.root === null || this.place(abs) !== 'inside') throw new FsError('EACCES');
  }

  /**
   * The real path of `abs`, or null when it does not exist. A path whose existing part leads
   * outside (through a link) is EACCES, whether the rest exists or not.
   */
  realPath(abs: string): string | null {
    this.checkInside(abs);
    let probe = abs;
    for (;;) {
      let real: string;
      try {
        real = realpathSync(probe);
      } catch (err) {
        const code = nodeErrCode(err);
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new FsError(code);
        if (code === 'ENOTDIR' && probe === abs) throw new FsError('ENOTDIR');
        const up = dirname(probe);
        if (up === probe) return null;
        probe = up;
        continue;
      }
      this.checkReal(real);
      return probe === abs ? real : null;
    }
  }

  /**
   * For `ls -l`: the real path of `abs` with its last component not followed (a link is shown
   * as a link), or null when it does not exist.
   */
  realPathNoFollow(abs: string): string | null {
    if (abs === this.home) return this.realPath(abs);
    const parent = this.realPath(dirname(abs));
    if (parent === null) return null;
    const p = join(parent, basename(abs));
    try {
      lstatSync(p);
    } catch (err) {
      const code = nodeErrCode(err);
      if (code === 'ENOENT') return null;
      throw new FsError(code);
    }
    return p;
  }

  /**
   * The real path of the existing regular file `abs` inside the directory (for tools that open
   * a host file by name, such as a module file). ENOENT when missing, EACCES outside or when it
   * is not a regular file, EISDIR for a directory.
   */
  regularFile(abs: string): string {
    const real = this.realPath(abs);
    if (real === null) throw new FsError('ENOENT');
    let st: Stats;
    try {
      st = statSync(real);
    } catch (err) {
      throw new FsError(nodeErrCode(err));
    }
    if (st.isDirectory()) throw new FsError('EISDIR');
    if (!st.isFile()) throw new FsError('EACCES');
    return real;
  }

  /** The whole regular file `abs` inside the directory, at most `limit` bytes (`File too large`). */
  readFile(abs: string, limit: number = HOST_READ_LIMIT): Uint8Array {
    return readRegularFile(this.regularFile(abs), limit);
  }

  /**
   * Open `abs` for writing (created 0644, truncated, or appended to): only inside the host
   * directory, only a regular file with no other hard link (another name could be outside),
   * never through a link that leads outside or dangles. Returns the file descriptor.
   */
  openWrite(abs: string, append: boolean): number {
    this.checkInside(abs);
    if (abs === this.home) throw new FsError('EISDIR');
    const parent = this.realPath(dirname(abs));
    if (parent === null) throw new FsError('ENOENT');
    let target = join(parent, basename(abs));
    let st: Stats | null = null;
    try {
      st = lstatSync(target);
    } catch (err) {
      if (nodeErrCode(err) !== 'ENOENT') throw new FsError(nodeErrCode(err));
    }
    if (st?.isSymbolicLink() === true) {
      // Through a link only to an existing file inside.
      try {
        target = realpathSync(target);
      } catch {
        throw new FsError('EACCES');
      }
      this.checkReal(target);
      st = statSync(target);
    }
    if (st?.isDirectory() === true) throw new FsError('EISDIR');
    const flags =
      constants.O_WRONLY |
      constants.O_CREAT |
      constants.O_NOFOLLOW |
      constants.O_NONBLOCK |
      (append ? constants.O_APPEND : 0);
    let fd: number;
    try {
      fd = openSync(target, flags, 0o644);
    } catch (err) {
      const code = nodeErrCode(err);
      throw new FsError(code === 'ELOOP' || code === 'ENXIO' ? 'EACCES' : code);
    }
    try {
      const opened = fstatSync(fd);
      if (!opened.isFile() || opened.nlink > 1) throw new FsError('EACCES');
      if (!append) ftruncateSync(fd, 0);
    } catch (err) {
      closeSync(fd);
      throw err instanceof FsError ? err : new FsError(nodeErrCode(err));
    }
    return fd;
  }
}

/**
 * A whole regular host file by its real path, at most `limit` bytes (`File too large`); a file
 * that is not regular when opened is EACCES.
 */
export function readRegularFile(real: string, limit: number = HOST_READ_LIMIT): Uint8Array {
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new FsError(nodeErrCode(err));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FsError('EACCES');
    if (st.size > limit) throw new FsError('EFBIG');
    // Read to the end (a file may grow, or say size 0 as /proc's do), never past `limit`.
    let buf = new Uint8Array(Math.min(st.size, limit) + 1);
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (got > limit) throw new FsError('EFBIG');
        const more = new Uint8Array(Math.min(buf.length * 2, limit + 1));
        more.set(buf);
        buf = more;
      }
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } catch (err) {
    throw err instanceof FsError ? err : new FsError(nodeErrCode(err));
  } finally {
    closeSync(fd);
  }
}
