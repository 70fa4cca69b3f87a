/**
 * Byte streams of the simulated terminal: a command writes to `stdout`/`stderr` sinks and reads
 * an optional `stdin` buffer (a pipe or `<` redirection). Sinks either pass bytes on (to the
 * terminal) or collect them (for a pipe or a redirection into a file).
 */

import { strerror as errnoText } from '../util/errno.ts';
import { FsError, nodeErrCode } from '../util/host-errors.ts';

const enc = new TextEncoder();

/**
 * Where a command's output goes. `write` never blocks; it throws {@link BrokenPipe} when the
 * reader is gone. A command that writes a lot awaits `ready()` now and then (see
 * {@link drain}): it resolves when the reader has room, so pipelines stream with bounded memory.
 */
export interface Sink {
  write(data: string | Uint8Array): void;
  /** Resolves when the reader can take more; rejects with BrokenPipe when it is gone. */
  ready?(): Promise<void>;
}

/** Wait until `sink` can take more output (back-pressure); a no-op for sinks without flow control. */
export async function drain(sink: Sink): Promise<void> {
  if (sink.ready !== undefined) await sink.ready();
}

/** The reader of a pipe has gone (`EPIPE`): the writer stops, as a process killed by SIGPIPE. */
export class BrokenPipe extends Error {
  constructor() {
    super('Broken pipe');
    this.name = 'BrokenPipe';
  }
}

/** Ctrl-C: the running command and the rest of the input line stop (status 130). */
export class Interrupted extends Error {
  constructor() {
    super('Interrupted');
    this.name = 'Interrupted';
  }
}

/** A sink that keeps everything written to it (up to `limit` bytes: more is `EFBIG`). */
export class BufferSink implements Sink {
  private readonly chunks: Uint8Array[] = [];
  private total = 0;
  private readonly limit: number;

  constructor(limit = Number.POSITIVE_INFINITY) {
    this.limit = limit;
  }

  write(data: string | Uint8Array): void {
    const b = typeof data === 'string' ? enc.encode(data) : data;
    if (b.length === 0) return;
    if (this.total + b.length > this.limit) throw new FsError('EFBIG');
    this.chunks.push(b.slice());
    this.total += b.length;
  }

  /** Everything written, as one buffer. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.total);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  /** Everything written, as UTF-8 text. */
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }
}

/** A sink that drops everything (`/dev/null`). */
export const NULL_SINK: Sink = {
  write(): void {
    /* discarded */
  },
};

/** A sink over a write callback (e.g. `process.stdout`). */
export function callbackSink(write: (b: Uint8Array) => void): Sink {
  return {
    write(data: string | Uint8Array): void {
      write(typeof data === 'string' ? enc.encode(data) : data);
    },
  };
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** The `strerror()` text of an errno name (unknown names come back as `Unknown error NAME`). */
export function strerror(code: string): string {
  return errnoText(code);
}

export { FsError, nodeErrCode };
