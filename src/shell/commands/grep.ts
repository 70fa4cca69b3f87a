/**
 * GNU grep 3.8's `grep [-EFGivcnoqswxlHh] [-e PATTERN]... [PATTERN] [FILE]...` over POSIX
 * basic or extended regular expressions (src/shell/posix-regex.ts: a Thompson NFA, so any
 * pattern runs in time linear in the line). Lines are read as a stream, so `dmesg | grep x`
 * and `hexdump -v /dev/mem | grep -m… ` never hold a whole input. Exit status: 0 a line was
 * selected, 1 none, 2 an error (unless -q found a match). Messages as GNU grep prints them.
 */
import type { CommandContext, ShellCommand } from '../command.ts';
import { drain, FsError, strerror } from '../io.ts';
import { compile, fixedPattern, RegexError, type PosixRegex } from '../posix-regex.ts';
import type { InputStream } from '../stream.ts';
import { openInputOrReport } from './util.ts';

/** The longest line grep reads (a file without newlines is refused rather than held). */
const MAX_LINE = 16 * 1024 * 1024;

const USAGE = "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n";

const LONG: Record<string, string> = {
  '--extended-regexp': 'E',
  '--fixed-strings': 'F',
  '--basic-regexp': 'G',
  '--ignore-case': 'i',
  '--invert-match': 'v',
  '--count': 'c',
  '--line-number': 'n',
  '--only-matching': 'o',
  '--quiet': 'q',
  '--silent': 'q',
  '--no-messages': 's',
  '--word-regexp': 'w',
  '--line-regexp': 'x',
  '--files-with-matches': 'l',
  '--with-filename': 'H',
  '--no-filename': 'h',
};

interface GrepOptions {
  flags: Set<string>;
  patterns: string[];
  files: string[];
}

/** getopt_long as grep uses it; a string is the error text (exit 2). */
function parseArgs(args: readonly string[]): GrepOptions | string {
  const flags = new Set<string>();
  const patterns: string[] = [];
  const operands: string[] = [];
  let explicit = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a : a.slice(0, eq);
      if (name === '--regexp') {
        const v = eq >= 0 ? a.slice(eq + 1) : args[++i];
        if (v === undefined) return `grep: option '--regexp' requires an argument\n${USAGE}`;
        patterns.push(v);
        explicit = true;
        continue;
      }
      const f = LONG[name];
      if (f === undefined) return `grep: unrecognized option '${a}'\n${USAGE}`;
      flags.add(f);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        if (c === 'e') {
          const v = j + 1 < a.length ? a.slice(j + 1) : args[++i];
          if (v === undefined) return `grep: option requires an argument -- 'e'\n${USAGE}`;
          patterns.push(v);
          explicit = true;
          break;
        }
        if (c === 'y') flags.add('i');
        else if ('EFGivcnoqswxlHh'.includes(c)) flags.add(c);
        else return `grep: invalid option -- '${c}'\n${USAGE}`;
      }
      continue;
    }
    operands.push(a);
  }
  if (!explicit) {
    const p = operands.shift();
    if (p === undefined) return USAGE;
    patterns.push(p);
  }
  return { flags, patterns: patterns.flatMap((p) => p.split('\n')), files: operands };
}

/** What one file gave: selected lines and whether it failed. */
interface FileResult {
  count: number;
  error: boolean;
}

async function grepStream(
  ctx: CommandContext,
  re: PosixRegex,
  o: GrepOptions,
  input: InputStream,
  name: string,
  withName: boolean,
): Promise<FileResult> {
  const f = o.flags;
  const invert = f.has('v');
  const quiet = f.has('q') || f.has('l');
  const countOnly = f.has('c');
  const only = f.has('o');
  const prefix = withName ? `${name}:` : '';
  let count = 0;
  let lineNo = 0;
  let binary = false;
  let out = '';
  const check = (): void => {
    ctx.checkInterrupt();
  };
  for (;;) {
    let l: { line: string; newline: boolean } | null;
    try {
      // Peek for NUL bytes (a binary file) before reading lines.
      if (lineNo === 0) {
        const first = await input.read();
        if (first === null) break;
        binary = first.includes(0);
        input.unread(first);
      }
      l = await input.readLine(MAX_LINE);
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      ctx.stderr.write(`grep: ${name}: ${strerror(err.code === 'EFBIG' ? 'ENOMEM' : err.code)}\n`);
      return { count, error: true };
    }
    if (l === null) break;
    lineNo++;
    const line = l.line;
    let selected: boolean;
    if (only && !invert && !countOnly && !quiet && !binary) {
      let from = 0;
      selected = false;
      for (;;) {
        const m = re.exec(line, from, check);
        if (m === null) break;
        selected = true;
        if (m[1] > m[0]) out += `${prefix}${f.has('n') ? `${lineNo}:` : ''}${line.slice(m[0], m[1])}\n`;
        from = m[1] > m[0] ? m[1] : m[1] + 1;
        if (from > line.length) break;
      }
    } else {
      selected = re.test(line, check) !== invert;
      if (selected && !countOnly && !quiet && !binary && !only)
        out += `${prefix}${f.has('n') ? `${lineNo}:` : ''}${line}\n`;
    }
    if (!selected) continue;
    count++;
    if (quiet) break;
    if (binary && !countOnly) {
      ctx.stderr.write(`grep: ${name}: binary file matches\n`);
      break;
    }
    if (out.length >= 64 * 1024) {
      ctx.stdout.write(out);
      out = '';
      await drain(ctx.stdout);
      check();
    }
  }
  if (out !== '') ctx.stdout.write(out);
  if (countOnly) ctx.stdout.write(`${prefix}${count}\n`);
  else if (f.has('l') && count > 0) ctx.stdout.write(`${name}\n`);
  return { count, error: false };
}

export const grep: ShellCommand = {
  name: 'grep',
  usage: 'grep [-EFivcnoqswxlHh] [-e PATTERN] PATTERN [FILE]...',
  summary: 'print lines matching POSIX regular expressions (e.g. dmesg | grep KHO)',
  help:
    'GNU grep 3.8: basic (default) or extended (-E) regular expressions, or fixed strings (-F),\n' +
    'matched in linear time; -i ignore case, -v invert, -c count, -n line numbers, -o only the\n' +
    'matches, -q quiet, -s no file errors, -w words, -x whole lines, -l file names, -H/-h names.\n',
  stdin: 'stream',
  async run(args, ctx) {
    const o = parseArgs(args);
    if (typeof o === 'string') {
      ctx.stderr.write(o);
      return 2;
    }
    const f = o.flags;
    let re: PosixRegex;
    try {
      const ere = f.has('E') && !f.has('F');
      const pats = f.has('F') ? o.patterns.map((p) => fixedPattern(p, false)) : o.patterns;
      re = compile(pats, {
        extended: ere,
        ignoreCase: f.has('i'),
        word: f.has('w'),
        line: f.has('x'),
        warn: (m) => {
          ctx.stderr.write(`grep: warning: ${m}\n`);
        },
      });
    } catch (err) {
      if (!(err instanceof RegexError)) throw err;
      ctx.stderr.write(`grep: ${err.message}\n`);
      return 2;
    }
    const files = o.files.length === 0 ? ['-'] : o.files;
    const withName = f.has('H') || (!f.has('h') && files.length > 1);
    let selected = 0;
    let error = false;
    for (const file of files) {
      const quietErr = f.has('s');
      const input = openInputOrReport(
        quietErr ? { ...ctx, stderr: { write: () => undefined } } : ctx,
        'grep',
        file,
      );
      if (input === null) {
        error = true;
        continue;
      }
      const name = file === '-' ? '(standard input)' : file;
      const r = await grepStream(ctx, re, o, input, name, withName);
      selected += r.count;
      if (r.error) error = true;
      if (f.has('q') && selected > 0) return 0;
    }
    if (error && !(f.has('q') && selected > 0)) return 2;
    return selected > 0 ? 0 : 1;
  },
};
