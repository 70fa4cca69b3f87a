/**
 * The one host directory the machine's shell may use (`--host-dir`, the current directory by
 * default, none with `--no-host`). Every host path is checked twice: lexically (after `.`
 * and `..` are removed) it must lie inside the directory, and its real path (symlinks followed
 * with realpath) must too, so neither `..` nor a link leads out. Only regular files are read
 * or written there (no FIFOs, sockets or devices); a write opens with O_NOFOLLOW and checks
 * what it opened. Outside, everything is `EACCES` (Permission denied), whether it exists or
 * not; the directories above the host directory show only the way down to it.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { FsError, nodeErrCode } from './io.ts';

/** Where a lexical path lies relative to the host directory. */
export type HostPlace = 'inside' | 'above' | 'outside';

/** Whole-file reads of host files stop here (`File too large`). */
export const HOST_READ_LIMIT = 256 * 1024 * 1024;
/** One host file written by the shell grows at most this far (`File too large`). */
export const HOST_WRITE_LIMIT = 1024 * 1024 * 1024;

/** The home shown when there is no host directory. */
export const NO_HOST_HOME = '/root';

function within(path: string, root: string): boolean {
  return root === '/' ? path.startsWith('/') : path === root || path.startsWith(`${root}/`);
}

/** The host directory and its checks. */
export class HostSandbox {
  /** The directory as the shell shows it (`~`), lexically normalised; `/root` without one. */
  readonly home: string;
  /** Its real path, or null when the shell has no host directory. */
  readonly root: string | null;

  /**
   * `dir` is an absolute, normalised path of an existing directory, or null for none. Throws
   * FsError (ENOENT, ENOTDIR…) when it is not one.
   */
  constructor(dir: string | null) {
    if (dir === null) {
      this.home = NO_HOST_HOME;
      this.root = null;
      return;
    }
    let real: string;
    try {
      real = realpathSync(dir);
      if (!statSync(real).isDirectory()) throw new FsError('ENOTDIR');
    } catch (err) {
      if (err instanceof FsError) throw err;
      throw new FsError(nodeErrCode(err));
    }
    this.home = dir;
    this.root = real;
  }

  /** Where `abs` (lexically normalised) lies. Without a host directory only `/root` is shown. */
  place(abs: string): HostPlace {
    if (within(abs, this.home)) return 'inside';
    if (abs === '/' || this.home.startsWith(`${abs}/`)) return 'above';
    return 'outside';
  }

  /** Entries of a directory above the host directory: the next component on the way down. */
  childOnTheWay(abs: string): string {
    const rest = this.home.slice(abs === '/' ? 1 : abs.length + 1);
    return rest.split('/')[0]!;
  }

  /** Fail unless the real path `real` is inside the host directory. */
  private checkReal(real: string): void {
    if (this.root === null || !within(real, this.root)) throw new FsError('EACCES');
  }

  /**
   * The real path of `abs` (inside, lexically), or null when it does not exist. A path whose
   * existing part leads outside (through a link) is EACCES, whether the rest exists or not.
   */
  realPath(abs: string): string | null {
    if (this.root === null) throw new FsError('EACCES');
    let probe = abs;
    for (;;) {
      try {
        const real = realpathSync(probe);
        this.checkReal(real);
        return probe === abs ? real : null;
      } catch (err) {
        if (err instanceof FsError) throw err;
        const code = nodeErrCode(err);
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new FsError(code);
        if (code === 'ENOTDIR' && probe === abs) throw new FsError('ENOTDIR');
        const up = dirname(probe);
        if (up === probe) return null;
        probe = up;
      }
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
    const p = parent === '/' ? `/${basename(abs)}` : `${parent}/${basename(abs)}`;
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
   * Open `abs` for writing (created 0644, truncated or appended): only inside the host
   * directory, only a regular file, never through a link that leads outside or dangles.
   * Returns the file descriptor.
   */
  openWrite(abs: string, append: boolean): number {
    if (this.root === null || this.place(abs) !== 'inside' || abs === this.home) {
      throw new FsError(this.root !== null && abs === this.home ? 'EISDIR' : 'EACCES');
    }
    const parent = this.realPath(dirname(abs));
    if (parent === null) throw new FsError('ENOENT');
    let target = parent === '/' ? `/${basename(abs)}` : `${parent}/${basename(abs)}`;
    let st: import('node:fs').Stats | null = null;
    try {
      st = lstatSync(target);
    } catch (err) {
      if (nodeErrCode(err) !== 'ENOENT') throw new FsError(nodeErrCode(err));
    }
    if (st?.isSymbolicLink() === true) {
      // Write through a link only to an existing regular file inside.
      let real: string;
      try {
        real = realpathSync(target);
      } catch {
        throw new FsError('EACCES');
      }
      this.checkReal(real);
      target = real;
      st = statSync(target);
    }
    if (st !== null) {
      if (st.isDirectory()) throw new FsError('EISDIR');
      if (!st.isFile()) throw new FsError('EACCES');
    }
    const flags =
      constants.O_WRONLY |
      constants.O_CREAT |
      constants.O_NOFOLLOW |
      constants.O_NONBLOCK |
      (append ? constants.O_APPEND : constants.O_TRUNC);
    let fd: number;
    try {
      fd = openSync(target, flags, 0o644);
    } catch (err) {
      const code = nodeErrCode(err);
      throw new FsError(code === 'ELOOP' || code === 'ENXIO' ? 'EACCES' : code);
    }
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      throw new FsError('EACCES');
    }
    return fd;
  }
}
