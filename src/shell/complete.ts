/**
 * Tab completion as bash's readline offers it: command names (the shell's and the programs on
 * PATH) in command position, paths after a redirection and elsewhere, and per-command
 * arguments as bash-completion adds them: command names after `help`, module names after
 * `modprobe` and `rmmod` (src/shell/complete-modules.ts), luoctl's verbs, options and sessions
 * (src/shell/complete-luoctl.ts). Candidates are basenames (directories with `/`), as bash
 * lists them; a single match gets its trailing space or slash. Completing only looks: it runs
 * nothing and changes nothing in the machine.
 */
import { completeLuoctl } from './complete-luoctl.ts';
import { completeModprobe, completeRmmod } from './complete-modules.ts';
import { pathProgramNames } from './program-command.ts';
import type { Session } from './session.ts';

/**
 * The candidates for the word being typed after a command's `args` (the words before it,
 * without the command name), unfiltered; or `'path'` for file names.
 */
export type ArgCompleter = (
  session: Session,
  args: readonly string[],
  word: string,
) => readonly string[] | 'path';

/** Words after which the next word is a command. */
const COMMAND_BEFORE = /(?:^|[;&|({]|\b(?:then|else|elif|do|if|while|until|!))\s*$/;
/** Characters that end a simple command. */
const SEPARATORS = ';&|(){}\n';
/** Reserved words that may start a command line before the command itself. */
const LEADING_WORDS = new Set(['then', 'else', 'elif', 'do', 'if', 'while', 'until', '!']);

/** The shell's own commands. */
function builtinNames(session: Session): string[] {
  return session.commandList().map((c) => c.name);
}

/** What a command word can name: the shell's commands and the programs on PATH. */
function commandNames(session: Session): string[] {
  return [...builtinNames(session), ...pathProgramNames()];
}

/** Argument completers by command name. */
const ARG_COMPLETERS: ReadonlyMap<string, ArgCompleter> = new Map([
  ['help', (session) => builtinNames(session)],
  ['modprobe', completeModprobe],
  ['rmmod', completeRmmod],
  ['luoctl', completeLuoctl],
]);

function sortUnique(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Finish the candidates: a single one gets `suffix` (a space for words, none for directories). */
function finish(hits: string[], word: string, suffixOf: (h: string) => string): [string[], string] {
  if (hits.length === 1) return [[`${hits[0]!}${suffixOf(hits[0]!)}`], word];
  return [hits, word];
}

/** Words matching `word`, sorted, each ending with a space when it is the only one. */
function words(names: Iterable<string>, word: string): [string[], string] {
  return finish(
    sortUnique(names).filter((n) => n.startsWith(word)),
    word,
    () => ' ',
  );
}

/**
 * The words of the simple command being typed, before the word at the cursor, with their
 * quotes and backslashes removed as the shell removes them; redirections and their targets
 * are left out.
 */
function commandWords(before: string): string[] {
  let ws: string[] = [];
  let cur = '';
  let inWord = false;
  /** The next word is a redirection's target. */
  let target = false;
  let quote: string | null = null;
  const end = (): void => {
    if (inWord) {
      if (!target) ws.push(cur);
      target = false;
    }
    cur = '';
    inWord = false;
  };
  for (let i = 0; i < before.length; i++) {
    const c = before[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else cur += c === '\\' && quote === '"' && i + 1 < before.length ? before[++i]! : c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      cur += before[++i] ?? '';
      inWord = true;
    } else if (/\s/.test(c)) end();
    else if (SEPARATORS.includes(c)) {
      end();
      ws = [];
      target = false;
    } else if (c === '<' || c === '>') {
      // `2>`: the descriptor number belongs to the operator; `>>`, `>&`, `<&` are one operator.
      if (inWord && /^[0-9]+$/.test(cur)) inWord = false;
      end();
      target = true;
      while (before[i + 1] === '>' || before[i + 1] === '&') i++;
    } else {
      cur += c;
      inWord = true;
    }
  }
  end();
  while (ws.length > 0 && LEADING_WORDS.has(ws[0]!)) ws.shift();
  return ws;
}

/** File names in the directory part of `word`. */
function paths(session: Session, word: string): [string[], string] {
  const slash = word.lastIndexOf('/');
  const dirPart = slash >= 0 ? word.slice(0, slash + 1) : '';
  const base = slash >= 0 ? word.slice(slash + 1) : word;
  const dirPath = dirPart === '' ? '.' : dirPart.replace(/^~(?=\/|$)/, session.home);
  let names: string[];
  try {
    const dir = session.lookup(dirPath);
    if (dir?.type !== 'dir') return [[], base];
    names = dir.names();
  } catch {
    return [[], base];
  }
  const isDir = (n: string): boolean => {
    try {
      return session.lookup(`${dirPath}/${n}`)?.type === 'dir';
    } catch {
      return false;
    }
  };
  const hits = sortUnique(names)
    .filter((n) => n.startsWith(base) && (base.startsWith('.') || !n.startsWith('.')))
    .map((n) => (isDir(n) ? `${n}/` : n));
  return finish(hits, base, (h) => (h.endsWith('/') ? '' : ' '));
}

/**
 * Completions for the line up to the cursor, in readline's `[matches, substring]` form: the
 * matches replace `substring`, the end of the line.
 */
export function complete(session: Session, line: string): [string[], string] {
  const m = /(?:^|[\s;|&<>(){}])([^\s;|&<>(){}]*)$/.exec(line);
  const word = m?.[1] ?? '';
  const before = line.slice(0, line.length - word.length);
  if (/[<>]\s*$/.test(before)) return paths(session, word);
  if (COMMAND_BEFORE.test(before) && !word.includes('/')) return words(commandNames(session), word);
  const [cmd, ...args] = commandWords(before);
  const completer = cmd === undefined ? undefined : ARG_COMPLETERS.get(cmd.slice(cmd.lastIndexOf('/') + 1));
  const c = completer?.(session, args, word) ?? 'path';
  return c === 'path' ? paths(session, word) : words(c, word);
}
