/** `cat [FILE]...`: concatenate files (or stdin) to stdout as they are read, coreutils messages. */
import type { ShellCommand } from '../command.ts';
import { badOption, eachChunk, openInputOrReport, parseFlags } from './util.ts';

export const cat: ShellCommand = {
  name: 'cat',
  usage: 'cat [FILE]...',
  summary: 'print files (pseudo files of the machine, host files, - for stdin)',
  stdin: 'stream',
  async run(args, ctx) {
    const { operands, bad } = parseFlags(args, '');
    if (bad !== null) return badOption(ctx, 'cat', bad);
    const files = operands.length === 0 ? ['-'] : operands;
    let status = 0;
    for (const f of files) {
      const input = openInputOrReport(ctx, 'cat', f);
      if (input === null) {
        status = 1;
        continue;
      }
      const ok = await eachChunk(ctx, 'cat', f, input, (c) => {
        ctx.stdout.write(c);
      });
      if (!ok) status = 1;
    }
    return status;
  },
};
