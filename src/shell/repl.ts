/**
 * The interactive terminal (`kho shell`) on node:readline: bash's prompt with the current
 * directory, history, Tab completion of command names and of paths (machine and host),
 * Ctrl-C cancels the line, Ctrl-D on an empty line logs out (`logout`, as a login shell
 * prints). Without a terminal (piped stdin) each command is echoed after the prompt, so the
 * output reads as a transcript.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Session } from './session.ts';
import { parseNext } from './parser.ts';

/** Completions for the line up to the cursor, in readline's `[matches, substring]` form. */
export function complete(session: Session, line: string): [string[], string] {
  const m = /(?:^|[\s;|&<>])([^\s;|&<>]*)$/.exec(line);
  const word = m?.[1] ?? '';
  const before = line.slice(0, line.length - word.length);
  const isCommand = /^\s*$|[;|&]\s*$/.test(before);
  if (isCommand && !word.includes('/')) {
    const names = session
      .commandList()
      .map((c) => c.name)
      .filter((n) => n.startsWith(word));
    return [names.map((n) => `${n} `), word];
  }
  const slash = word.lastIndexOf('/');
  const dirPart = slash >= 0 ? word.slice(0, slash + 1) : '';
  const base = slash >= 0 ? word.slice(slash + 1) : word;
  const dirPath = dirPart === '' ? '.' : dirPart.replace(/^~(?=\/|$)/, session.home);
  let names: string[];
  try {
    const dir = session.lookup(dirPath);
    if (dir?.type !== 'dir') return [[], word];
    names = dir.names();
  } catch {
    return [[], word];
  }
  const hits = names
    .filter((n) => n.startsWith(base) && (base.startsWith('.') || !n.startsWith('.')))
    .sort()
    .map((n) => {
      let isDir: boolean;
      try {
        isDir = session.lookup(`${dirPath}/${n}`)?.type === 'dir';
      } catch {
        isDir = false;
      }
      return `${dirPart}${n}${isDir ? '/' : ' '}`;
    });
  return [hits, word];
}

/** Run the interactive loop until `exit` or end of input; resolves with the exit status. */
export async function runRepl(
  session: Session,
  input: Readable,
  output: Writable,
  isTty: boolean,
): Promise<number> {
  const rl: Interface = createInterface({
    input,
    output,
    terminal: isTty,
    historySize: 1000,
    removeHistoryDuplicates: true,
    completer: (line: string) => complete(session, line),
  });
  let pending = '';
  const showPrompt = (): void => {
    rl.setPrompt(pending === '' ? session.prompt() : '> ');
    if (isTty) rl.prompt();
  };
  rl.on('SIGINT', () => {
    // bash: ^C, the line is dropped, $? = 130, a fresh prompt.
    output.write('^C\n');
    pending = '';
    session.status = 130;
    rl.write(null, { ctrl: true, name: 'u' });
    showPrompt();
  });
  showPrompt();
  for await (const line of rl) {
    if (!isTty) output.write(`${pending === '' ? session.prompt() : '> '}${line}\n`);
    const text = pending === '' ? line : `${pending}\n${line}`;
    const parsed = parseNext(`${text}\n`, 0, { final: false });
    if (parsed.kind === 'incomplete') {
      pending = text;
      showPrompt();
      continue;
    }
    pending = '';
    rl.pause();
    await session.runText(text);
    if (session.exitStatus !== null) {
      output.write('logout\n');
      rl.close();
      return session.exitStatus;
    }
    rl.resume();
    showPrompt();
  }
  if (pending !== '') {
    session.stderr.write('-bash: syntax error: unexpected end of file\n');
  }
  // Ctrl-D on the prompt line: bash moves to a new line and says logout (a login shell).
  output.write(isTty ? '\nlogout\n' : '');
  return session.status;
}
