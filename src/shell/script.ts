/**
 * Reading and running shell input as bash does: one complete command at a time, so a script
 * runs up to a syntax error and parsing stays linear in its length. Text may arrive in pieces
 * (a pipe, a terminal): {@link ScriptRunner} runs every command that is complete and keeps the
 * rest for more input.
 *
 * `kho run` uses it with `set -e` (a script may `set +e`): each complete command is echoed after
 * the prompt (a transcript) unless quiet; the first failing command stops the run and its line
 * number and text go to the error sink; the status is then that command's, else the last
 * command's, as bash's. `kho shell` with piped input is the same without `set -e`; at a
 * terminal (interactive) errors do not end the session.
 */
import type { Sink } from './io.ts';
import type { Session } from './session.ts';
import { parseNext } from './parser.ts';

/** How a script ended. */
export interface ScriptResult {
  /** Exit status of the run: `exit N`, the failing command's status, or the last command's. */
  status: number;
  /** 1-based line of the failing command, or null. */
  failedLine: number | null;
  failedText: string | null;
}

/** How a {@link ScriptRunner} reads and reports. */
export interface RunnerOptions {
  /** Echo each complete command after the prompt on `transcript`. */
  quiet?: boolean;
  transcript: Sink;
  /** Where `kho run`'s failure line goes. */
  errors: Sink;
  /** The script's name in messages (and `$0`). */
  name?: string;
  /** `set -e` from the start (kho run; default true); the failing line is reported. */
  errexit?: boolean;
  /** A person at a prompt: errors end only the current input, never the session. */
  interactive?: boolean;
}

/** The transcript line for a complete command: the prompt, then `> ` before continuation lines. */
export function transcriptLine(prompt: string, text: string): string {
  return `${prompt}${text.replace(/\n/g, '\n> ')}\n`;
}

/** Runs shell text fed in pieces. */
export class ScriptRunner {
  private readonly session: Session;
  private readonly opts: RunnerOptions;
  private buf = '';
  /** Line number of the start of `buf`. */
  private line = 1;

  constructor(session: Session, opts: RunnerOptions) {
    this.session = session;
    this.opts = opts;
    session.interactive = opts.interactive === true;
    if (opts.name !== undefined) session.scriptName = opts.name;
    session.options.errexit = opts.errexit ?? true;
  }

  /** Text is waiting for the rest of a command (a continuation prompt is due). */
  get pending(): boolean {
    return this.buf.trim() !== '';
  }

  /** Add input. */
  feed(text: string): void {
    this.buf += text;
  }

  /** Drop buffered input (Ctrl-C at a continuation prompt). */
  discard(): void {
    this.line += newlines(this.buf);
    this.buf = '';
  }

  private failed(status: number, line: number, what: string): ScriptResult {
    if (this.session.options.errexit && this.opts.interactive !== true) {
      this.opts.errors.write(
        `kho run: ${this.opts.name ?? 'script'}: line ${line}: \`${what}' failed with status ${status}\n`,
      );
    }
    return { status, failedLine: line, failedText: what };
  }

  /**
   * Run every complete command buffered. `final`: no more input will come (the end of the text
   * also ends a command). Returns how the input ended, or null when it wants more.
   */
  async run(final: boolean): Promise<ScriptResult | null> {
    const s = this.session;
    const interactive = this.opts.interactive === true;
    // Without the final newline a line may still be growing: parse complete lines only.
    const cut = final ? this.buf.length : this.buf.lastIndexOf('\n') + 1;
    const src = cut === this.buf.length ? this.buf : this.buf.slice(0, cut);
    let pos = 0;
    let line = this.line;
    const consume = (to: number): void => {
      line += newlines(src, pos, to);
      pos = to;
    };
    const finish = (r: ScriptResult | null): ScriptResult | null => {
      this.buf = this.buf.slice(pos);
      this.line = line;
      return r;
    };
    for (;;) {
      const r = parseNext(src, pos, { final, line });
      if (r.kind === 'eof') {
        consume(src.length);
        return finish(final ? { status: s.status, failedLine: null, failedText: null } : null);
      }
      if (r.kind === 'incomplete') {
        if (!final) return finish(null);
        s.reportEof(r.reason, r.line);
        s.status = 2;
        consume(src.length);
        return finish({ status: 2, failedLine: r.line, failedText: null });
      }
      if (r.kind === 'error') {
        s.reportParseError(r.error, r.lineText);
        s.status = 2;
        if (interactive) {
          // bash drops the rest of what was typed.
          consume(src.length);
          return finish(final ? { status: 2, failedLine: null, failedText: null } : null);
        }
        return finish({ status: 2, failedLine: r.error.line, failedText: r.lineText });
      }
      const source = src.slice(r.start, r.end).replace(/\n$/, '');
      if (this.opts.quiet !== true) this.opts.transcript.write(transcriptLine(s.prompt(), source));
      const startLine = line + newlines(src, pos, r.start);
      consume(r.end);
      const o = await s.execute(r.list);
      switch (o.kind) {
        case 'done':
          break;
        case 'exit':
          return finish({ status: o.status, failedLine: null, failedText: null });
        case 'errexit':
          return finish(this.failed(o.status, o.line, o.text));
        case 'fatal':
          if (interactive) break;
          return finish(this.failed(o.status, o.line, source));
        case 'interrupted':
          if (interactive) {
            consume(src.length);
            break;
          }
          return finish({ status: 130, failedLine: startLine, failedText: source });
      }
    }
  }
}

/** Newlines in `text` between `from` and `to`. */
function newlines(text: string, from = 0, to = text.length): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Run a whole script (`kho run`). */
export async function runScript(session: Session, text: string, opts: RunnerOptions): Promise<ScriptResult> {
  const runner = new ScriptRunner(session, opts);
  runner.feed(text);
  return (await runner.run(true))!;
}
