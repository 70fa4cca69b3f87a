/**
 * Tab completion as bash's readline offers it: command names in command position, module names
 * after `modprobe` (loaded ones after `rmmod` and `modprobe -r`), command names after `help`,
 * and paths elsewhere. Candidates are basenames (directories with `/`), as bash lists them; a
 * single match gets its trailing space or slash. Works over the terminal's VFS.
 */
import { lsmod, machineCatalog } from '../kernel/module.ts';
import type { Session } from './session.ts';

/** Words after which the next word is a command. */
const COMMAND_BEFORE = /(?:^|[;&|({]|\b(?:then|else|elif|do|if|while|until|!))\s*$/;

function sortUnique(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Finish the candidates: a single one gets `suffix` (a space for words, none for directories). */
function finish(hits: string[], word: string, suffixOf: (h: string) => string): [string[], string] {
  if (hits.length === 1) return [[`${hits[0]!}${suffixOf(hits[0]!)}`], word];
  return [hits, word];
}

/**
 * Completions for the line up to the cursor, in readline's `[matches, substring]` form: the
 * matches replace `substring`, the end of the line.
 */
export function complete(session: Session, line: string): [string[], string] {
  const m = /(?:^|[\s;|&<>(){}])([^\s;|&<>(){}]*)$/.exec(line);
  const word = m?.[1] ?? '';
  const before = line.slice(0, line.length - word.length);
  const prior = before
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  const first = prior.length > 0 && !/[;&|]/.test(before) ? prior[0] : undefined;
  if (COMMAND_BEFORE.test(before) && !word.includes('/')) {
    const names = sortUnique(session.commandList().map((c) => c.name)).filter((n) => n.startsWith(word));
    return finish(names, word, () => ' ');
  }
  if (first === 'help') {
    const names = sortUnique(session.commandList().map((c) => c.name)).filter((n) => n.startsWith(word));
    return finish(names, word, () => ' ');
  }
  if (first === 'modprobe' || first === 'rmmod') {
    const k = session.machine.kernel;
    if (k === null) return [[], word];
    const loadedOnly = first === 'rmmod' || prior.includes('-r') || prior.includes('--remove');
    const names = loadedOnly
      ? lsmod(k)
          .filter((x) => !x.builtin)
          .map((x) => x.name)
      : (machineCatalog(session.machine)?.names() ?? []);
    // Only the module name is completed (parameters follow it).
    if (prior.length === 1 || (prior.length === 2 && loadedOnly && first === 'modprobe'))
      return finish(
        sortUnique(names).filter((n) => n.startsWith(word)),
        word,
        () => ' ',
      );
  }
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
