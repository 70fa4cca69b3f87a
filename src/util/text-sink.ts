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

/**
 * Text made on demand and streamed: a report holds this instead of a string when the text can
 * be far larger than the data it comes from (the DTS of a deeply nested blob).
 */
export class StreamedText {
  /** Write the whole text to `sink`, in pieces. */
  readonly write: (sink: TextSink) => void;

  constructor(write: (sink: TextSink) => void) {
    this.write = write;
  }

  /** The whole text as one string (small texts, tests). */
  toString(): string {
    return collectText(this.write);
  }
}

/**
 * Split streamed text into lines: `line` gets each line without its newline, in order; a last
 * line without a newline is passed on by `end()`.
 */
export class LineSplitter {
  private rest = '';
  private readonly line: (text: string) => void;

  constructor(line: (text: string) => void) {
    this.line = line;
  }

  /** Feed a piece of text. */
  push(chunk: string): void {
    let from = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
      this.line(this.rest + chunk.slice(from, nl));
      this.rest = '';
      from = nl + 1;
    }
    this.rest += chunk.slice(from);
  }

  /** The text is over. */
  end(): void {
    if (this.rest !== '') this.line(this.rest);
    this.rest = '';
  }
}
