/**
 * Byte streams between commands: an {@link InputStream} that commands read in chunks or lines
 * (shared by every command of a compound command, as a file descriptor is), and a {@link Pipe}
 * with bounded buffering. A pipeline's stages run concurrently; a writer that outruns its reader
 * waits in `ready()`, and when the reader finishes first the writer's next write throws
 * BrokenPipe, so `hexdump -v /dev/mem | head -n 5` stops at once, as SIGPIPE stops it on Linux.
 */
import { BrokenPipe, FsError, type Sink } from './io.ts';
import { concatBytes } from '../util/bytes.ts';

const enc = new TextEncoder();

/** How much a pipe buffers before its writer waits (Linux's default pipe size). */
export const PIPE_BUFFER = 64 * 1024;

/** A readable byte stream with push-back. */
export class InputStream {
  private readonly pending: Uint8Array[] = [];
  private readonly source: () => Promise<Uint8Array | null>;
  private readonly onClose: (() => void) | null;
  private ended = false;

  constructor(source: () => Promise<Uint8Array | null>, onClose: (() => void) | null = null) {
    this.source = source;
    this.onClose = onClose;
  }

  /** A stream over bytes already in memory. */
  static of(data: Uint8Array): InputStream {
    let done = false;
    return new InputStream(() => {
      if (done || data.length === 0) return Promise.resolve(null);
      done = true;
      return Promise.resolve(data);
    });
  }

  /** A stream over chunks produced on demand (a file read piece by piece). */
  static chunks(next: () => Uint8Array | null): InputStream {
    return new InputStream(() => Promise.resolve(next()));
  }

  /** The next chunk, or null at the end. */
  async read(): Promise<Uint8Array | null> {
    const p = this.pending.pop();
    if (p !== undefined) return p;
    if (this.ended) return null;
    for (;;) {
      const c = await this.source();
      if (c === null) {
        this.ended = true;
        return null;
      }
      if (c.length > 0) return c;
    }
  }

  /** Give back the unread tail of a chunk. */
  unread(chunk: Uint8Array): void {
    if (chunk.length > 0) this.pending.push(chunk);
  }

  /** Everything up to the end; more than `limit` bytes is FsError EFBIG. */
  async readAll(limit: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const c = await this.read();
      if (c === null) break;
      total += c.length;
      if (total > limit) throw new FsError('EFBIG');
      chunks.push(c);
    }
    return concatBytes(chunks, total);
  }

  /**
   * One line without its newline (UTF-8), `{ line, newline: false }` for a last line without one,
   * or null at the end. Lines longer than `limit` bytes are FsError EFBIG.
   */
  async readLine(limit: number): Promise<{ line: string; newline: boolean } | null> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const c = await this.read();
      if (c === null) {
        if (parts.length === 0) return null;
        return { line: decode(parts, total), newline: false };
      }
      const nl = c.indexOf(10);
      if (nl >= 0) {
        parts.push(c.subarray(0, nl));
        this.unread(c.subarray(nl + 1));
        return { line: decode(parts, total + nl), newline: true };
      }
      total += c.length;
      if (total > limit) throw new FsError('EFBIG');
      parts.push(c);
    }
  }

  /** The reader is done: a pipe's writer then gets BrokenPipe. */
  close(): void {
    this.ended = true;
    this.pending.length = 0;
    this.onClose?.();
  }
}

function decode(parts: readonly Uint8Array[], total: number): string {
  return new TextDecoder().decode(concatBytes(parts, total));
}

/** An in-memory pipe: `writer` for one stage, `reader` for the next. */
export class Pipe {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private writerClosed = false;
  private readerClosed = false;
  private wakeReader: (() => void) | null = null;
  private wakeWriter: (() => void) | null = null;
  readonly writer: Sink;
  readonly reader: InputStream;

  constructor() {
    this.writer = {
      write: (data) => {
        if (this.readerClosed) throw new BrokenPipe();
        const b = typeof data === 'string' ? enc.encode(data) : data.slice();
        if (b.length === 0) return;
        this.queue.push(b);
        this.queued += b.length;
        this.wake('reader');
      },
      ready: async () => {
        while (this.queued >= PIPE_BUFFER && !this.readerClosed) {
          await new Promise<void>((r) => {
            this.wakeWriter = r;
          });
        }
        if (this.readerClosed) throw new BrokenPipe();
      },
    };
    this.reader = new InputStream(
      async () => {
        while (this.queue.length === 0 && !this.writerClosed) {
          await new Promise<void>((r) => {
            this.wakeReader = r;
          });
        }
        const c = this.queue.shift();
        if (c === undefined) return null;
        this.queued -= c.length;
        if (this.queued < PIPE_BUFFER) this.wake('writer');
        return c;
      },
      () => {
        this.readerClosed = true;
        this.queue.length = 0;
        this.queued = 0;
        this.wake('writer');
      },
    );
  }

  private wake(who: 'reader' | 'writer'): void {
    const f = who === 'reader' ? this.wakeReader : this.wakeWriter;
    if (who === 'reader') this.wakeReader = null;
    else this.wakeWriter = null;
    f?.();
  }

  /** The writing stage has finished: the reader sees the end after the buffered bytes. */
  closeWrite(): void {
    this.writerClosed = true;
    this.wake('reader');
  }
}

/**
 * `readRange(off, len)` over a stream read once, front to back (offsets only grow; skipping
 * reads and drops). Null input (the terminal) reads as empty.
 */
export function sequentialReader(
  input: InputStream | null,
): (off: number, len: number) => Promise<Uint8Array> {
  let pos = 0;
  return async (off, len) => {
    if (input === null) return new Uint8Array(0);
    while (pos < off) {
      const c = await input.read();
      if (c === null) return new Uint8Array(0);
      if (pos + c.length <= off) pos += c.length;
      else {
        input.unread(c.subarray(off - pos));
        pos = off;
      }
    }
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < len) {
      const c = await input.read();
      if (c === null) break;
      const take = Math.min(c.length, len - got);
      parts.push(c.subarray(0, take));
      if (take < c.length) input.unread(c.subarray(take));
      got += take;
    }
    pos += got;
    return concatBytes(parts, got);
  };
}
