/** `cat [FILE]...`: concatenate files (or stdin) to stdout, coreutils messages. */
import type { ShellCommand } from '../command.ts';
import { badOption, parseFlags, readFileOrReport } from './util.ts';

export const cat: ShellCommand = {
  name: 'cat',
  usage: 'cat [FILE]...',
  summary: 'print files (pseudo files of the machine, host files, - for stdin)',
  stdin: 'whole',
  run(args, ctx) {
    const { operands, bad } = parseFlags(args, '');
    if (bad !== null) return badOption(ctx, 'cat', bad);
    const files = operands.length === 0 ? ['-'] : operands;
    let status = 0;
    for (const f of files) {
      const data = readFileOrReport(ctx, 'cat', f);
      if (data === null) status = 1;
      else ctx.stdout.write(data);
    }
    return status;
  },
};
