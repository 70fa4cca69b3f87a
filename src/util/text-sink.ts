/**
 * Text produced in pieces. Writers of large documents (DTS, JSON, reports) take a
 * {@link TextSink} instead of returning one string, so the output streams with bounded memory
 * (a V8 string cannot exceed about 512 MiB, and a report of a hostile image can be larger).
 */

/** Receives text, piece by piece, in order. */
export type TextSink = (chunk: string) => void;

/** Default chunk size: large enough that writing costs few system calls. */
export const TEXT_CHUNK = 1 << 16;

/** Gathers small pieces and passes them on in chunks of about `size` characters. */
export class TextChunker {
  private buf = '';
  private readonly sink: TextSink;
  private readonly size: number;

  constructor(sink: TextSink, size: number = TEXT_CHUNK) {
    this.sink = sink;
    this.size = size;
  }

  /** Append a piece; a full chunk goes on to the sink. */
  push(s: string): void {
    this.buf += s;
    if (this.buf.length >= this.size) this.flush();
  }

  /** Pass on what is gathered (call at the end). */
  flush(): void {
    if (this.buf === '') return;
    const b = this.buf;
    this.buf = '';
    this.sink(b);
  }
}

/** Run a streaming writer and return its text as one string (small documents, tests). */
export function collectText(produce: (sink: TextSink) => void): string {
  const parts: string[] = [];
  produce((c) => parts.push(c));
  return parts.join('');
}
