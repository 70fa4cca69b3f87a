/**
 * bash builtins for the shell's own state: `set` (options `-e`, `-u`, `-x`, positional
 * parameters), `unset`, `export`, `shift`, `read`, and the loop controls `break`/`continue`.
 * Messages as bash prints them.
 */
import type { CommandContext, ShellCommand } from '../command.ts';
import { FsError, strerror } from '../io.ts';
import type { ShellOptions } from '../session.ts';

const SET_USAGE = 'set: usage: set [-abefhkmnptuvxBCEHPT] [-o option-name] [--] [-] [arg ...]\n';
const LETTERS: Record<string, keyof ShellOptions> = { e: 'errexit', u: 'nounset', x: 'xtrace' };
/** `set` flags bash has that change nothing here (accepted, as they are harmless). */
const HARMLESS = 'bhmBH';
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A value quoted as `set` and `export -p` print it. */
function quoted(v: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]*$/.test(v) && v !== '' ? v : `'${v.replace(/'/g, "'\\''")}'`;
}

function setOption(ctx: CommandContext, name: string, on: boolean): boolean {
  const opts = ctx.session.options;
  if (name === 'errexit' || name === 'nounset' || name === 'xtrace') {
    opts[name] = on;
    return true;
  }
  if (name === 'pipefail' || name === 'noclobber' || name === 'posix' || name === 'vi' || name === 'emacs') {
    ctx.stderr.write(`${ctx.session.errorPrefix()}set: ${name}: not supported by kho's shell\n`);
    return false;
  }
  ctx.stderr.write(`${ctx.session.errorPrefix()}set: ${name}: invalid option name\n`);
  return false;
}

export const set: ShellCommand = {
  name: 'set',
  usage: 'set [-eux] [+eux] [-o NAME] [--] [ARG]...',
  summary: 'shell options (-e stops at a failure, -u errors on unset variables, -x traces) and $1…',
  builtin: true,
  run(args, ctx) {
    const s = ctx.session;
    if (args.length === 0) {
      const names = [...s.vars.keys()].sort();
      ctx.stdout.write(names.map((n) => `${n}=${quoted(s.vars.get(n)!)}\n`).join(''));
      return 0;
    }
    let i = 0;
    for (; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--') {
        s.positional = args.slice(i + 1);
        return 0;
      }
      if (a === '-' || a === '+') {
        i++;
        break;
      }
      if (!/^[-+]./.test(a)) break;
      const on = a[0] === '-';
      for (const c of a.slice(1)) {
        if (c === 'o') {
          const name = args[++i];
          if (name === undefined) {
            const o = s.options;
            ctx.stdout.write(
              ['errexit', 'nounset', 'xtrace']
                .map((n) => `${n.padEnd(15)}\t${o[n as keyof ShellOptions] ? 'on' : 'off'}\n`)
                .join(''),
            );
            continue;
          }
          if (!setOption(ctx, name, on)) return 2;
        } else if (LETTERS[c] !== undefined) s.options[LETTERS[c]] = on;
        else if (!HARMLESS.includes(c)) {
          ctx.stderr.write(`${ctx.session.errorPrefix()}set: ${a[0]}${c}: invalid option\n${SET_USAGE}`);
          return 2;
        }
      }
    }
    if (i < args.length) s.positional = args.slice(i);
    return 0;
  },
};

export const unset: ShellCommand = {
  name: 'unset',
  usage: 'unset [-v] NAME...',
  summary: 'remove shell variables',
  builtin: true,
  run(args, ctx) {
    const status = 0;
    for (const a of args) {
      if (a === '-v' || a === '-f') continue;
      // bash (not in POSIX mode) ignores names that cannot be variables.
      if (NAME.test(a)) ctx.session.unsetVar(a);
    }
    return status;
  },
};

export const exportCmd: ShellCommand = {
  name: 'export',
  usage: 'export [NAME[=VALUE]]...',
  summary: 'set variables (there are no child processes: export only marks them)',
  builtin: true,
  run(args, ctx) {
    const s = ctx.session;
    const names = args.filter((a) => a !== '-n' && a !== '-p');
    if (names.length === 0) {
      const out = [...s.exported]
        .filter((n) => s.getVar(n) !== undefined)
        .sort()
        .map((n) => `declare -x ${n}="${s.getVar(n)!.replace(/(["\\$`])/g, '\\$1')}"\n`);
      ctx.stdout.write(out.join(''));
      return 0;
    }
    let status = 0;
    for (const a of names) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a : a.slice(0, eq);
      if (!NAME.test(name)) {
        ctx.stderr.write(`${ctx.session.errorPrefix()}export: \`${a}': not a valid identifier\n`);
        status = 1;
        continue;
      }
      if (eq >= 0) s.setVar(name, a.slice(eq + 1));
      if (args.includes('-n')) s.exported.delete(name);
      else s.exported.add(name);
    }
    return status;
  },
};

export const shift: ShellCommand = {
  name: 'shift',
  usage: 'shift [N]',
  summary: 'drop the first N positional parameters',
  builtin: true,
  run(args, ctx) {
    const s = ctx.session;
    const a = args[0] ?? '1';
    if (!/^[0-9]+$/.test(a)) {
      ctx.stderr.write(`${ctx.session.errorPrefix()}shift: ${a}: numeric argument required\n`);
      return 1;
    }
    const n = Number(a);
    if (n > s.positional.length) return 1;
    s.positional = s.positional.slice(n);
    return 0;
  },
};

function loopControl(kind: 'break' | 'continue'): ShellCommand {
  return {
    name: kind,
    usage: `${kind} [N]`,
    summary:
      kind === 'break'
        ? 'leave the enclosing (or Nth) loop'
        : 'next iteration of the enclosing (or Nth) loop',
    builtin: true,
    run(args, ctx) {
      const s = ctx.session;
      if (!s.inLoop()) {
        ctx.stderr.write(
          `${ctx.session.errorPrefix()}${kind}: only meaningful in a \`for', \`while', or \`until' loop\n`,
        );
        return 0;
      }
      const a = args[0] ?? '1';
      if (!/^-?[0-9]+$/.test(a)) {
        ctx.stderr.write(`${ctx.session.errorPrefix()}${kind}: ${a}: numeric argument required\n`);
        s.requestLoopControl('break', Number.MAX_SAFE_INTEGER);
        return 128;
      }
      if (Number(a) < 1) {
        ctx.stderr.write(`${ctx.session.errorPrefix()}${kind}: ${a}: loop count out of range\n`);
        return 1;
      }
      s.requestLoopControl(kind, Number(a));
      return 0;
    },
  };
}

export const breakCmd = loopControl('break');
export const continueCmd = loopControl('continue');

export const read: ShellCommand = {
  name: 'read',
  usage: 'read [-r] [-p PROMPT] [NAME]...',
  summary: 'read a line of standard input into variables (split on IFS)',
  builtin: true,
  stdin: 'stream',
  async run(args, ctx) {
    const s = ctx.session;
    let raw = false;
    const names: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-r') raw = true;
      else if (a === '-p') {
        const p = args[++i];
        if (p === undefined) {
          ctx.stderr.write(`${ctx.session.errorPrefix()}read: -p: option requires an argument\n`);
          return 2;
        }
        if (ctx.input === null) ctx.stderr.write(p);
      } else if (/^-./.test(a) && names.length === 0) {
        ctx.stderr.write(
          `${ctx.session.errorPrefix()}read: ${a}: invalid option\nread: usage: read [-r] [-p prompt] [name ...]\n`,
        );
        return 2;
      } else if (!NAME.test(a)) {
        ctx.stderr.write(`${ctx.session.errorPrefix()}read: \`${a}': not a valid identifier\n`);
        return 1;
      } else names.push(a);
    }
    if (names.length === 0) names.push('REPLY');
    if (ctx.input === null) {
      // The terminal's keyboard is not a readable stream here: as at end of input.
      for (const n of names) s.setVar(n, '');
      return 1;
    }
    let text = '';
    let complete = false;
    try {
      for (;;) {
        const l = await ctx.input.readLine(1024 * 1024);
        if (l === null) break;
        if (!raw && l.newline && /(^|[^\\])(\\\\)*\\$/.test(l.line)) {
          text += l.line.slice(0, -1);
          continue;
        }
        text += l.line;
        complete = l.newline;
        break;
      }
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      ctx.stderr.write(`${ctx.session.errorPrefix()}read: read error: 0: ${strerror(err.code)}\n`);
      return 1;
    }
    const ifs = s.getVar('IFS') ?? ' \t\n';
    assignFields(ctx, names, raw ? text : text.replace(/\\(.)/g, '$1'), ifs);
    return complete ? 0 : 1;
  },
};

/** Split a line on IFS into `names`; the last name takes the rest (bash's `read`). */
function assignFields(ctx: CommandContext, names: readonly string[], line: string, ifs: string): void {
  const isWs = (c: string): boolean => (c === ' ' || c === '\t' || c === '\n') && ifs.includes(c);
  let i = 0;
  const n = line.length;
  const skipWs = (): void => {
    while (i < n && isWs(line[i]!)) i++;
  };
  skipWs();
  for (let k = 0; k < names.length; k++) {
    if (k === names.length - 1) {
      let rest = line.slice(i);
      let end = rest.length;
      while (end > 0 && isWs(rest[end - 1]!)) end--;
      rest = rest.slice(0, end);
      ctx.session.setVar(names[k]!, rest);
      return;
    }
    let j = i;
    while (j < n && !ifs.includes(line[j]!)) j++;
    ctx.session.setVar(names[k]!, line.slice(i, j));
    i = j;
    skipWs();
    if (i < n && ifs.includes(line[i]!) && !isWs(line[i]!)) {
      i++;
      skipWs();
    }
  }
}
