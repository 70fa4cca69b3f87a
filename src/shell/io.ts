/**
 * Byte streams of the simulated terminal: a command writes to `stdout`/`stderr` sinks and reads
 * an optional `stdin` buffer (a pipe or `<` redirection). Sinks either pass bytes on (to the
 * terminal) or collect them (for a pipe or a redirection into a file).
 */

import { strerror as errnoText } from '../util/errno.ts';

const enc = new TextEncoder();

/** Where a command's output goes. */
export interface Sink {
  write(data: string | Uint8Array): void;
}

/** A sink that keeps everything written to it. */
export class BufferSink implements Sink {
  private readonly chunks: Uint8Array[] = [];
  private total = 0;

  write(data: string | Uint8Array): void {
    const b = typeof data === 'string' ? enc.encode(data) : data;
    if (b.length === 0) return;
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

/** A failed file operation, carrying the errno name the message is built from. */
export class FsError extends Error {
  readonly code: string;

  constructor(code: string, detail?: string) {
    super(detail ?? strerror(code));
    this.name = 'FsError';
    this.code = code;
  }
}

/** The errno name of a Node `fs` error (ENOENT, EACCES, ...), or EIO. */
export function nodeErrCode(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string')
    return err.code;
  return 'EIO';
}
