/**
 * Small system commands: `uname` (the running kernel's release and banner), `clear` (the
 * escape sequence ncurses' clear writes for xterm), `sleep` (a real, interruptible wait).
 */
import type { ShellCommand } from '../command.ts';
import { mkImageBanner } from '../../kexec/image.ts';
import { badOption } from './util.ts';

/** The longest real wait of one `sleep` (the machine has nothing that runs meanwhile). */
export const SLEEP_MAX_SECONDS = 60;

export const uname: ShellCommand = {
  name: 'uname',
  usage: 'uname [-asnrvmo]',
  summary: "print the running kernel's name, release and version",
  run(args, ctx) {
    const keys = new Set<string>();
    const long: Record<string, string> = {
      '--all': 'a',
      '--kernel-name': 's',
      '--nodename': 'n',
      '--kernel-release': 'r',
      '--kernel-version': 'v',
      '--machine': 'm',
      '--processor': 'p',
      '--hardware-platform': 'i',
      '--operating-system': 'o',
    };
    for (const a of args) {
      if (a.startsWith('--')) {
        const k = long[a];
        if (k === undefined) return badOption(ctx, 'uname', a);
        keys.add(k);
      } else if (a.startsWith('-') && a.length > 1) {
        for (const c of a.slice(1)) {
          if (!'asnrvmpio'.includes(c)) return badOption(ctx, 'uname', `-${c}`);
          keys.add(c);
        }
      } else {
        ctx.stderr.write(`uname: extra operand '${a}'\nTry 'uname --help' for more information.\n`);
        return 1;
      }
    }
    const k = ctx.session.kernel;
    const banner = mkImageBanner(k.profile);
    const fields: [string, string][] = [
      ['s', 'Linux'],
      ['n', 'kho'],
      ['r', k.release],
      ['v', banner.slice(banner.indexOf('#'))],
      ['m', 'x86_64'],
      ['p', 'unknown'],
      ['i', 'unknown'],
      ['o', 'GNU/Linux'],
    ];
    if (keys.size === 0) keys.add('s');
    // -a leaves out -p and -i when they are unknown (coreutils).
    const all = keys.has('a');
    const out = fields
      .filter(([f, v]) => keys.has(f) || (all && !((f === 'p' || f === 'i') && v === 'unknown')))
      .map(([, v]) => v);
    ctx.stdout.write(`${out.join(' ')}\n`);
    return 0;
  },
};

export const clear: ShellCommand = {
  name: 'clear',
  usage: 'clear',
  summary: 'clear the terminal screen',
  run(_args, ctx) {
    ctx.stdout.write('\x1b[H\x1b[2J\x1b[3J');
    return 0;
  },
};

const UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

export const sleep: ShellCommand = {
  name: 'sleep',
  usage: 'sleep NUMBER[smhd]...',
  summary: `wait (real time, at most ${SLEEP_MAX_SECONDS} s; Ctrl-C stops it)`,
  async run(args, ctx) {
    if (args.length === 0) {
      ctx.stderr.write("sleep: missing operand\nTry 'sleep --help' for more information.\n");
      return 1;
    }
    let seconds = 0;
    for (const a of args) {
      const m = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/.exec(a);
      if (m === null) {
        ctx.stderr.write(`sleep: invalid time interval '${a}'\nTry 'sleep --help' for more information.\n`);
        return 1;
      }
      seconds += Number(m[1]) * UNITS[m[2]!]!;
    }
    ctx.session.machine.kernel?.dmesg.tick(Math.round(seconds * 1e6)); // the model clock runs the full time
    const end = Date.now() + Math.min(seconds, SLEEP_MAX_SECONDS) * 1000;
    for (;;) {
      ctx.checkInterrupt();
      const left = end - Date.now();
      if (left <= 0) return 0;
      await new Promise((r) => setTimeout(r, Math.min(left, 50)));
    }
  },
};
