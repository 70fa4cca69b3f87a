/** A small `grep [-ivc] PATTERN [FILE]...` (JavaScript regular expressions) for `dmesg | grep KHO`. */
import type { ShellCommand } from '../command.ts';
import { badOption, parseFlags, readFileOrReport } from './util.ts';

export const grep: ShellCommand = {
  name: 'grep',
  usage: 'grep [-ivc] PATTERN [FILE]...',
  summary: 'print matching lines (e.g. dmesg | grep KHO)',
  stdin: 'whole',
  run(args, ctx) {
    const { flags, operands, bad } = parseFlags(args, 'ivcE');
    if (bad !== null) {
      badOption(ctx, 'grep', bad);
      return 2;
    }
    const pat = operands[0];
    if (pat === undefined) {
      ctx.stderr.write(
        "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n",
      );
      return 2;
    }
    let re: RegExp;
    try {
      re = new RegExp(pat, flags.has('i') ? 'i' : '');
    } catch {
      ctx.stderr.write('grep: Invalid regular expression\n');
      return 2;
    }
    const files = operands.length > 1 ? operands.slice(1) : ['-'];
    let matched = 0;
    let status = 0;
    for (const f of files) {
      const data = readFileOrReport(ctx, 'grep', f);
      if (data === null) {
        status = 2;
        continue;
      }
      const text = new TextDecoder().decode(data);
      const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text === '' ? [] : text.split('\n');
      let n = 0;
      for (const line of lines) {
        if (re.test(line) !== flags.has('v')) {
          n++;
          if (!flags.has('c')) ctx.stdout.write(`${files.length > 1 ? `${f}:` : ''}${line}\n`);
        }
      }
      if (flags.has('c')) ctx.stdout.write(`${files.length > 1 ? `${f}:` : ''}${n}\n`);
      matched += n;
    }
    return status !== 0 ? status : matched > 0 ? 0 : 1;
  },
};
