/** coreutils `head [-n N] [-c N] [FILE]...` and `tail [-n N] [FILE]...` (N lines/bytes, default 10 lines). */
import type { CommandContext, ShellCommand } from '../command.ts';
import { readFileOrReport } from './util.ts';

interface Count {
  lines: boolean;
  n: number;
}

function parseCount(
  tool: string,
  args: readonly string[],
  ctx: CommandContext,
): { count: Count; files: string[] } | null {
  const count: Count = { lines: true, n: 10 };
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^-([nc])(.*)$/.exec(a);
    if (m !== null) {
      const v = m[2] !== '' ? m[2]! : args[++i];
      if (v === undefined || !/^[0-9]+$/.test(v)) {
        ctx.stderr.write(
          v === undefined
            ? `${tool}: option requires an argument -- '${m[1]!}'\nTry '${tool} --help' for more information.\n`
            : `${tool}: invalid number of ${m[1] === 'n' ? 'lines' : 'bytes'}: '${v}'\n`,
        );
        return null;
      }
      count.lines = m[1] === 'n';
      count.n = Number(v);
    } else if (/^-[0-9]+$/.test(a)) count.n = Number(a.slice(1));
    else if (a.startsWith('-') && a !== '-') {
      ctx.stderr.write(
        `${tool}: invalid option -- '${a.slice(1, 2)}'\nTry '${tool} --help' for more information.\n`,
      );
      return null;
    } else files.push(a);
  }
  return { count, files: files.length === 0 ? ['-'] : files };
}

function pick(data: Uint8Array, c: Count, fromEnd: boolean): Uint8Array {
  if (!c.lines) return fromEnd ? data.subarray(Math.max(0, data.length - c.n)) : data.subarray(0, c.n);
  if (!fromEnd) {
    let seen = 0;
    for (let i = 0; i < data.length; i++)
      if (data[i] === 10 && ++seen === c.n) return data.subarray(0, i + 1);
    return c.n === 0 ? data.subarray(0, 0) : data;
  }
  let end = data.length;
  if (end > 0 && data[end - 1] === 10) end--;
  let seen = 0;
  for (let i = end - 1; i >= 0; i--) if (data[i] === 10 && ++seen === c.n) return data.subarray(i + 1);
  return c.n === 0 ? data.subarray(data.length) : data;
}

function make(name: 'head' | 'tail'): ShellCommand {
  return {
    name,
    usage: `${name} [-n N] [-c N] [FILE]...`,
    summary: name === 'head' ? 'first lines (or bytes) of files' : 'last lines (or bytes) of files',
    stdin: 'whole',
    run(args, ctx) {
      const p = parseCount(name, args, ctx);
      if (p === null) return 1;
      let status = 0;
      p.files.forEach((f, i) => {
        const data = readFileOrReport(ctx, name, f);
        if (data === null) {
          status = 1;
          return;
        }
        if (p.files.length > 1)
          ctx.stdout.write(`${i > 0 ? '\n' : ''}==> ${f === '-' ? 'standard input' : f} <==\n`);
        ctx.stdout.write(pick(data, p.count, name === 'tail'));
      });
      return status;
    },
  };
}

export const head = make('head');
export const tail = make('tail');
