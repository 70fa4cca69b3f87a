/** `dmesg`: the running kernel's log (a kexec'd kernel starts a new one). */
import type { ShellCommand } from '../command.ts';
import { badOption, parseFlags } from './util.ts';

export const dmesg: ShellCommand = {
  name: 'dmesg',
  usage: 'dmesg [-C]',
  summary: "print the running kernel's log",
  run(args, ctx) {
    const { flags, operands, bad } = parseFlags(args, 'C', { '--clear': 'C' });
    if (bad !== null) return badOption(ctx, 'dmesg', bad);
    if (operands.length > 0) {
      ctx.stderr.write(`dmesg: bad usage\nTry 'dmesg --help' for more information.\n`);
      return 1;
    }
    const log = ctx.session.kernel.dmesg;
    if (flags.has('C')) {
      log.records.length = 0;
      return 0;
    }
    ctx.stdout.write(log.text());
    return 0;
  },
};
