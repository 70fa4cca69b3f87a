/**
 * Whole-file reads of host files (and of stdin, `-`) for the `kho` command, bounded by what the
 * file is supposed to hold. A C tool reading a FIFO, /dev/zero or a slow pipe loops on read(2)
 * until EOF; we do the same, with three differences that keep memory bounded and the errors
 * plain:
 *
 * - every read has a limit that fits its format (a root KHO FDT is one page, an FDT blob is as
 *   long as its header's `totalsize`, a scratch array is small, a script has a generous cap);
 *   more is refused with `PATH: File too large (why)` once the limit is passed, so an endless
 *   writer costs at most the limit;
 * - formats that state their own length are read header first and only that far (so
 *   `kho fdt check /dev/zero` reads 40 bytes);
 * - a descriptor left non-blocking (stdin of a slow producer: `(sleep 2; cat f) | kho …`)
 *   waits on EAGAIN instead of failing.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { HostIoError, hostIoError } from './host-errors.ts';
import { retryIo } from './sleep-sync.ts';

/** How much a read may take, and why. */
export interface ReadLimit {
  /** Most bytes accepted; a longer input is refused. */
  max: number;
  /** Why, for the refusal: `a root KHO FDT fits in one page`. */
  why: string;
  /**
   * For formats that state their length in a header: how many bytes the header needs, and the
   * length it claims (null: unknown, read up to `max`). Reading stops at that length.
   */
  head?: { bytes: number; length: (head: Uint8Array) => number | null };
}

/** `File too large (why: at most N bytes)`. */
export function tooLarge(path: string, limit: ReadLimit): HostIoError {
  return new HostIoError(path, `File too large (${limit.why}: at most ${limit.max} bytes)`, 'EFBIG');
}

/** Sequential reads from a descriptor, growing one buffer, waiting out EAGAIN. */
class Gather {
  buf: Uint8Array;
  len = 0;
  private readonly fd: number;

  constructor(fd: number, initial: number) {
    this.fd = fd;
    this.buf = new Uint8Array(Math.max(1, initial));
  }

  /** Make room for `n` bytes in all. */
  reserve(n: number): void {
    if (n <= this.buf.length) return;
    const next = new Uint8Array(n);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Read until `want` bytes are held or EOF; returns false at EOF. */
  fill(want: number): boolean {
    while (this.len < want) {
      if (this.len === this.buf.length) this.reserve(Math.min(want, Math.max(this.buf.length * 2, 1 << 16)));
      const n = retryIo(() =>
        readSync(this.fd, this.buf, this.len, Math.min(want, this.buf.length) - this.len, null),
      );
      if (n === 0) return false;
      this.len += n;
    }
    return true;
  }

  bytes(): Uint8Array {
    return this.len === this.buf.length ? this.buf : this.buf.slice(0, this.len);
  }
}

/**
 * Read a host file (`-`: stdin) whole, within `limit`. Throws {@link HostIoError} with the
 * strerror text (`x: No such file or directory`, `x: Is a directory`) or the refusal
 * (`x: File too large (…)`).
 */
export function readHostFile(path: string, limit: ReadLimit): Uint8Array {
  let fd = -1;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new HostIoError(path, 'Is a directory', 'EISDIR');
    const regular = st.isFile();
    // A regular file says how long it is: refuse at once rather than read what we would drop.
    if (regular && limit.head === undefined && st.size > limit.max) throw tooLarge(path, limit);
    let want = limit.max + 1;
    // A regular file's size (+1 to see EOF) sizes the buffer once; other files grow it.
    const sized = (n: number): number => Math.min(n, regular ? st.size + 1 : 1 << 16);
    const g = new Gather(fd, sized(limit.head === undefined ? want : Math.min(want, limit.head.bytes)));
    if (limit.head !== undefined) {
      if (!g.fill(Math.min(limit.head.bytes, want))) return g.bytes();
      const claimed = limit.head.length(g.bytes());
      if (claimed !== null) want = Math.min(want, Math.max(claimed, g.len));
      g.reserve(sized(want));
    }
    g.fill(want);
    if (g.len > limit.max) throw tooLarge(path, limit);
    return g.bytes();
  } catch (err) {
    throw hostIoError(path, err);
  } finally {
    if (fd > 0) closeSync(fd);
  }
}

/** Read a host file as UTF-8 text (see {@link readHostFile}). Invalid UTF-8 is replaced. */
export function readHostText(path: string, limit: ReadLimit): string {
  return new TextDecoder().decode(readHostFile(path, limit));
}
