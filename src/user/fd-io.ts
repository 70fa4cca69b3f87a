/**
 * Whole-file reads and writes over a {@link Process}'s system calls, as a C program loops over
 * read(2)/pread(2)/write(2) until end of file or until everything is written.
 */
import { ERRNO } from '../util/errno.ts';
import type { Process } from './process.ts';
import { concatBytes } from '../util/bytes.ts';

/**
 * Everything `readSome(buf, offset)` yields until it returns 0 (end of file), in one buffer,
 * or the first -errno.
 */
function readToEnd(readSome: (buf: Uint8Array, offset: number) => number): Uint8Array | number {
  const chunks: Uint8Array[] = [];
  let off = 0;
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = readSome(buf, off);
    if (n < 0) return n;
    if (n === 0) break;
    chunks.push(buf.slice(0, n));
    off += n;
  }
  return concatBytes(chunks, off);
}

/** The whole content of `fd` from offset 0 (pread until end of file), or -errno. */
export function readWhole(p: Process, fd: number): Uint8Array | number {
  return readToEnd((buf, off) => p.pread(fd, buf, buf.length, off));
}

/** What is left to read on `fd` (read until end of file: a pipe, a terminal), or -errno. */
export function readRest(p: Process, fd: number): Uint8Array | number {
  return readToEnd((buf) => p.read(fd, buf));
}

/** Write all of `data` to `fd` (write until done), 0 or -errno. */
export function writeAll(p: Process, fd: number, data: Uint8Array): number {
  let off = 0;
  while (off < data.length) {
    const n = p.write(fd, data.subarray(off, Math.min(data.length, off + (1 << 20))));
    if (n < 0) return n;
    if (n === 0) return -ERRNO.EIO;
    off += n;
  }
  return 0;
}
