/**
 * Helpers the commands share: reading a file the way coreutils reports failures
 * (`cat: X: No such file or directory`), and getopt-style option errors.
 */
import type { CommandContext } from '../command.ts';
import { drain, FsError, strerror } from '../io.ts';
import { InputStream } from '../stream.ts';
import type { VNode } from '../vfs.ts';
import { writeErrorCode } from '../vfs.ts';

/** Resolve `path`; on failure print `TOOL: PATH: reason` and return null. */
export function lookupOrReport(ctx: CommandContext, tool: string, path: string): VNode | null {
  try {
    const n = ctx.session.lookup(path);
    if (n === null) ctx.stderr.write(`${tool}: ${path}: No such file or directory\n`);
    return n;
  } catch (err) {
    ctx.stderr.write(`${tool}: ${path}: ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`);
    return null;
  }
}

/** Read a whole file; on failure print `TOOL: PATH: reason` and return null. */
export function readFileOrReport(ctx: CommandContext, tool: string, path: string): Uint8Array | null {
  if (path === '-') return ctx.stdin ?? new Uint8Array(0);
  const n = lookupOrReport(ctx, tool, path);
  if (n === null) return null;
  if (n.type === 'dir') {
    ctx.stderr.write(`${tool}: ${path}: Is a directory\n`);
    return null;
  }
  try {
    return n.read();
  } catch (err) {
    ctx.stderr.write(`${tool}: ${path}: ${strerror(writeErrorCode(err) ?? 'EIO')}\n`);
    return null;
  }
}

/**
 * Open a file for a streaming reader (`-` is standard input); on failure print
 * `TOOL: PATH: reason` and return null. A directory gives `Is a directory` when read, as
 * coreutils reports it.
 */
export function openInputOrReport(ctx: CommandContext, tool: string, path: string): InputStream | null {
  if (path === '-') return ctx.input ?? InputStream.of(new Uint8Array(0));
  const n = lookupOrReport(ctx, tool, path);
  if (n === null) return null;
  if (n.type === 'dir') {
    ctx.stderr.write(`${tool}: ${path}: Is a directory\n`);
    return null;
  }
  return ctx.session.openInput(n);
}

/**
 * Read `input` to its end, handing each chunk to `each` (which may stop early by returning
 * false); waits for the reader of stdout between chunks and polls Ctrl-C. On a read error
 * prints `TOOL: NAME: reason` and returns false.
 */
export async function eachChunk(
  ctx: CommandContext,
  tool: string,
  name: string,
  input: InputStream,
  each: (chunk: Uint8Array) => boolean | undefined,
): Promise<boolean> {
  for (;;) {
    let c: Uint8Array | null;
    try {
      c = await input.read();
    } catch (err) {
      if (!(err instanceof FsError)) throw err;
      ctx.stderr.write(`${tool}: ${name}: ${strerror(err.code)}\n`);
      return false;
    }
    if (c === null) return true;
    if (each(c) === false) return true;
    await drain(ctx.stdout);
    ctx.checkInterrupt();
  }
}

/** glibc getopt's messages plus coreutils' "Try" line. */
export function badOption(ctx: CommandContext, tool: string, opt: string, help = true): number {
  const text = opt.startsWith('--')
    ? `${tool}: unrecognized option '${opt}'\n`
    : `${tool}: invalid option -- '${opt.replace(/^-/, '')}'\n`;
  ctx.stderr.write(text + (help ? `Try '${tool} --help' for more information.\n` : ''));
  return 1;
}

/** Short flags of a getopt-style argument list: flags, operands, or the first bad option. */
export function parseFlags(
  args: readonly string[],
  allowed: string,
  long: Readonly<Record<string, string>> = {},
): { flags: Set<string>; operands: string[]; bad: string | null } {
  const flags = new Set<string>();
  const operands: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a.startsWith('--')) {
      const f = long[a];
      if (f === undefined) return { flags, operands, bad: a };
      flags.add(f);
    } else if (a.startsWith('-') && a.length > 1) {
      for (const c of a.slice(1)) {
        if (!allowed.includes(c)) return { flags, operands, bad: `-${c}` };
        flags.add(c);
      }
    } else operands.push(a);
  }
  for (; i < args.length; i++) operands.push(args[i]!);
  return { flags, operands, bad: null };
}
