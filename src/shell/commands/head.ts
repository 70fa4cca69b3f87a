/** coreutils `head [-n N] [-c N] [FILE]...` and `tail [-n N] [FILE]...` (N lines/bytes, default 10 lines). */
import type { CommandContext, ShellCommand } from '../command.ts';
import { concatBytes } from '../../util/bytes.ts';
import type { InputStream } from '../stream.ts';
import { eachChunk, openInputOrReport } from './util.ts';

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

/** `head`: the first lines or bytes of a stream, then stop reading (the writer gets EPIPE). */
async function headOf(ctx: CommandContext, name: string, input: InputStream, c: Count): Promise<boolean> {
  let left = c.n;
  if (left === 0) return true;
  return eachChunk(ctx, 'head', name, input, (chunk) => {
    if (!c.lines) {
      const part = chunk.subarray(0, left);
      ctx.stdout.write(part);
      left -= part.length;
      if (part.length < chunk.length) input.unread(chunk.subarray(part.length));
      return left > 0;
    }
    let i = 0;
    while (left > 0) {
      const nl = chunk.indexOf(10, i);
      if (nl < 0) break;
      left--;
      i = nl + 1;
    }
    if (left > 0) {
      ctx.stdout.write(chunk);
      return true;
    }
    ctx.stdout.write(chunk.subarray(0, i));
    if (i < chunk.length) input.unread(chunk.subarray(i));
    return false;
  });
}

/** `tail`: the last lines or bytes; memory holds only those (plus the line being read). */
async function tailOf(ctx: CommandContext, name: string, input: InputStream, c: Count): Promise<boolean> {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let partial: Uint8Array[] = [];
  const ok = await eachChunk(ctx, 'tail', name, input, (chunk) => {
    if (!c.lines) {
      kept.push(chunk);
      keptBytes += chunk.length;
      while (kept.length > 1 && keptBytes - kept[0]!.length >= c.n) keptBytes -= kept.shift()!.length;
      return;
    }
    let i = 0;
    for (;;) {
      const nl = chunk.indexOf(10, i);
      if (nl < 0) break;
      partial.push(chunk.subarray(i, nl + 1));
      kept.push(
        concatBytes(
          partial,
          partial.reduce((n, p) => n + p.length, 0),
        ),
      );
      partial = [];
      if (kept.length > c.n) kept.shift();
      i = nl + 1;
    }
    if (i < chunk.length) partial.push(chunk.slice(i));
  });
  if (!ok) return false;
  if (!c.lines) {
    const all = concatBytes(kept, keptBytes);
    ctx.stdout.write(all.subarray(Math.max(0, all.length - c.n)));
    return true;
  }
  // A last line without a newline counts as a line.
  if (partial.length > 0) {
    kept.push(
      concatBytes(
        partial,
        partial.reduce((n, p) => n + p.length, 0),
      ),
    );
    if (kept.length > c.n) kept.shift();
  }
  for (const l of c.n === 0 ? [] : kept) ctx.stdout.write(l);
  return true;
}

function make(name: 'head' | 'tail'): ShellCommand {
  return {
    name,
    usage: `${name} [-n N] [-c N] [FILE]...`,
    summary: name === 'head' ? 'first lines (or bytes) of files' : 'last lines (or bytes) of files',
    stdin: 'stream',
    async run(args, ctx) {
      const p = parseCount(name, args, ctx);
      if (p === null) return 1;
      let status = 0;
      for (const [i, f] of p.files.entries()) {
        const input = openInputOrReport(ctx, name, f);
        if (input === null) {
          status = 1;
          continue;
        }
        if (p.files.length > 1)
          ctx.stdout.write(`${i > 0 ? '\n' : ''}==> ${f === '-' ? 'standard input' : f} <==\n`);
        const ok = await (name === 'head' ? headOf : tailOf)(ctx, f, input, p.count);
        if (!ok) status = 1;
      }
      return status;
    },
  };
}

export const head = make('head');
export const tail = make('tail');
