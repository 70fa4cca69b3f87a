/**
 * coreutils 9.1's `wc [-lwc] [FILE]...`: newline, word and byte counts read as a stream, in
 * coreutils' column widths (one count of one input is unpadded; a pipe or device input pads to
 * 7; otherwise the width of the total size of the regular files), with a `total` line for
 * several files.
 */
import type { ShellCommand } from '../command.ts';
import type { InputStream } from '../stream.ts';
import { badOption, eachChunk, lookupOrReport, parseFlags } from './util.ts';
import { InputStream as Stream } from '../stream.ts';

interface Counts {
  lines: number;
  words: number;
  bytes: number;
}

const isSpace = (b: number): boolean => b === 32 || (b >= 9 && b <= 13);

export const wc: ShellCommand = {
  name: 'wc',
  usage: 'wc [-lwc] [FILE]...',
  summary: 'count lines, words and bytes',
  stdin: 'stream',
  async run(args, ctx) {
    const { flags, operands, bad } = parseFlags(args, 'lwcm', {
      '--lines': 'l',
      '--words': 'w',
      '--bytes': 'c',
      '--chars': 'm',
    });
    if (bad !== null) return badOption(ctx, 'wc', bad);
    if (flags.has('m')) flags.add('c');
    const show = flags.size === 0 ? ['l', 'w', 'c'] : ['l', 'w', 'c'].filter((f) => flags.has(f));
    const files = operands.length === 0 ? ['-'] : operands;
    // Open everything first: the column width depends on all inputs.
    const inputs: { name: string; input: InputStream | null; regular: number | null }[] = [];
    for (const f of files) {
      if (f === '-') {
        inputs.push({ name: f, input: ctx.input ?? Stream.of(new Uint8Array(0)), regular: null });
        continue;
      }
      const n = lookupOrReport(ctx, 'wc', f);
      if (n === null) {
        inputs.push({ name: f, input: null, regular: null });
        continue;
      }
      if (n.type === 'dir') {
        ctx.stderr.write(`wc: ${f}: Is a directory\n`);
        inputs.push({ name: f, input: null, regular: 0 });
        continue;
      }
      inputs.push({
        name: f,
        input: ctx.session.openInput(n),
        regular: n.rdev === undefined ? n.size : null,
      });
    }
    let width = 1;
    if (!(show.length === 1 && files.length === 1)) {
      let min = 1;
      let total = 0;
      for (const i of inputs) {
        if (i.input === null) continue;
        if (i.regular === null) min = 7;
        else total += i.regular;
      }
      width = Math.max(min, String(total).length);
    }
    const line = (c: Counts, name: string | null): string =>
      `${show
        .map((k) => String(k === 'l' ? c.lines : k === 'w' ? c.words : c.bytes).padStart(width))
        .join(' ')}${name === null ? '' : ` ${name}`}\n`;
    const sum: Counts = { lines: 0, words: 0, bytes: 0 };
    let status = 0;
    for (const i of inputs) {
      if (i.input === null) {
        status = 1;
        continue;
      }
      const c: Counts = { lines: 0, words: 0, bytes: 0 };
      let inWord = false;
      const ok = await eachChunk(ctx, 'wc', i.name, i.input, (chunk) => {
        c.bytes += chunk.length;
        for (const b of chunk) {
          if (b === 10) c.lines++;
          if (isSpace(b)) inWord = false;
          else if (!inWord) {
            inWord = true;
            c.words++;
          }
        }
      });
      if (!ok) status = 1;
      ctx.stdout.write(line(c, i.name === '-' && operands.length === 0 ? null : i.name));
      sum.lines += c.lines;
      sum.words += c.words;
      sum.bytes += c.bytes;
    }
    if (files.length > 1) ctx.stdout.write(line(sum, 'total'));
    return status;
  },
};
