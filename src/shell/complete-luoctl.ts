/**
 * Tab completion of luoctl (src/user/luoctl/luoctl.ts, docs/luo.md), as bash-completion
 * completes a CLI: the verbs; a verb's options; for each verb that takes a session, the
 * sessions it would accept now (outgoing ones luoctl holds for `preserve` and `close`, incoming
 * ones nobody retrieved for `retrieve`, retrieved and unfinished ones for `finish`, both held
 * kinds for `read`); the tokens after `read NAME`; paths after `preserve ... --path`. The
 * sessions come from luoctlPeek(), which looks at the machine without running luoctl. With
 * LUO off (no /dev/liveupdate) no session is offered.
 */
import { LIST_OPTIONS, LUOCTL_VERBS, PRESERVE_OPTIONS } from '../user/luoctl/luoctl.ts';
import { luoctlPeek, type LuoctlPeek, type PeekSession } from '../user/luoctl/peek.ts';
import type { Session } from './session.ts';
import type { ArgCompleter } from './complete.ts';

/** Characters the shell would take for syntax, backslash-escaped in a completed name. */
const SHELL_SPECIAL = /[\s"'\\$`;&|<>(){}*?[\]!#~]/g;

/** Session names as typed on a command line; ones with control characters cannot be typed. */
function typed(names: readonly string[]): string[] {
  // eslint-disable-next-line no-control-regex
  return names.filter((n) => !/[\x00-\x1f\x7f]/.test(n)).map((n) => n.replace(SHELL_SPECIAL, '\\$&'));
}

function names(sessions: readonly PeekSession[]): string[] {
  return sessions.map((s) => s.name);
}

/** The sessions `luoctl read` reads from: outgoing first, as luoctl looks them up. */
function readable(p: LuoctlPeek): PeekSession[] {
  return [...p.outgoing, ...p.retrieved];
}

/** What `preserve NAME TOKEN ...` takes after the token. */
function preserveOptions(after: readonly string[]): readonly string[] | 'path' {
  const last = after[after.length - 1];
  if (last === '--path') return 'path';
  if (last !== undefined && PRESERVE_OPTIONS.includes(last)) return []; // TEXT or BYTES
  return after.some((a) => PRESERVE_OPTIONS.includes(a)) ? [] : PRESERVE_OPTIONS;
}

/** The completer of `luoctl`. */
export const completeLuoctl: ArgCompleter = (session: Session, args, word) => {
  const [verb, ...rest] = args;
  if (verb === undefined) return word.startsWith('-') ? ['--help', '-h'] : LUOCTL_VERBS;
  const k = session.machine.kernel;
  const peek = (): LuoctlPeek | null => (k === null ? null : luoctlPeek(k));
  const sessions = (pick: (p: LuoctlPeek) => string[]): string[] => {
    const p = peek();
    return p === null ? [] : typed(pick(p));
  };
  switch (verb) {
    case 'preserve':
      if (rest.length === 0) return sessions((p) => names(p.outgoing));
      return rest.length === 1 ? [] : preserveOptions(rest.slice(2)); // TOKEN: a new one
    case 'close':
      return rest.length === 0 ? sessions((p) => names(p.outgoing)) : [];
    case 'retrieve':
      return rest.length === 0 ? sessions((p) => p.available) : [];
    case 'finish':
      return rest.length === 0 ? sessions((p) => names(p.retrieved)) : [];
    case 'read': {
      if (rest.length === 0) return sessions((p) => names(readable(p)));
      const p = rest.length === 1 ? peek() : null;
      return p === null ? [] : (readable(p).find((s) => s.name === rest[0])?.tokens ?? []);
    }
    case 'list':
      return rest.length === 0 ? LIST_OPTIONS : [];
    default:
      // `create NAME` takes a new name; `help` nothing.
      return [];
  }
};
