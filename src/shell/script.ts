/**
 * `kho run`: run shell commands from a script with `set -e` semantics. Each command is echoed
 * after the prompt (a transcript) unless quiet; the first failing command stops the run and is
 * reported on stderr with its line number. Comments, blank lines and continuation lines (open
 * quotes, trailing `\`, `|`, `&&`) are allowed.
 */
import type { Sink } from './io.ts';
import type { Session } from './session.ts';
import { eofMessage, parseLine } from './tokenizer.ts';

/** How a script ended. */
export interface ScriptResult {
  /** Exit status of the run (0, or the failing command's status). */
  status: number;
  /** 1-based line of the failing command, or null. */
  failedLine: number | null;
  failedText: string | null;
}

/** Run `text` in `session`. Commands' own output goes to the session's sinks. */
export async function runScript(
  session: Session,
  text: string,
  opts: { quiet?: boolean; transcript: Sink; errors: Sink; name?: string },
): Promise<ScriptResult> {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const name = opts.name ?? 'script';
  let i = 0;
  while (i < lines.length) {
    const start = i;
    let chunk = lines[i]!;
    i++;
    let parsed = parseLine(chunk);
    while (parsed.kind === 'incomplete' && i < lines.length) {
      chunk += `\n${lines[i]!}`;
      i++;
      parsed = parseLine(chunk);
    }
    if (chunk.trim() === '' || chunk.trim().startsWith('#')) continue;
    if (opts.quiet !== true) opts.transcript.write(`${session.prompt()}${chunk.replace(/\n/g, '\n> ')}\n`);
    let status: number;
    let errexit: boolean;
    if (parsed.kind === 'incomplete') {
      opts.errors.write(`-bash: ${eofMessage(parsed.reason)}\n`);
      status = 2;
      errexit = true;
    } else if (parsed.kind === 'error') {
      opts.errors.write(`-bash: ${parsed.message}\n`);
      status = 2;
      errexit = true;
    } else {
      const r = await session.execute(parsed.list, { errexit: true });
      status = r.status;
      errexit = r.errexit;
    }
    session.status = status;
    if (session.exitStatus !== null)
      return { status: session.exitStatus, failedLine: null, failedText: null };
    if (errexit) {
      opts.errors.write(`kho run: ${name}: line ${start + 1}: \`${chunk}' failed with status ${status}\n`);
      return { status, failedLine: start + 1, failedText: chunk };
    }
  }
  return { status: 0, failedLine: null, failedText: null };
}
