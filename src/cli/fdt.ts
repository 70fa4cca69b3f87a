/**
 * `kho fdt dump|check|build`: read, check and build flattened devicetree blobs.
 *
 * Exit codes: 0 success; 1 the blob or JSON content is invalid (the message names the libfdt
 * error and byte offset, or the JSON path); 2 usage errors, including files that cannot be read
 * or written. User errors print one line on stderr, never a stack trace.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { buildBlob } from '../fdt/convert.ts';
import { toDts } from '../fdt/dts.ts';
import { FdtError } from '../fdt/errors.ts';
import { formatTreeJson, FdtJsonError, parseTreeJson, treeToJson } from '../fdt/json.ts';
import { khoDts, khoNotes } from '../abi/kho-annotate.ts';
import { checkFdt, readTree } from '../fdt/reader.ts';

/** A user-facing failure: one line on stderr and an exit code. */
class CliFailure extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** strerror() texts for the errors a file argument usually meets. */
const STRERROR: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EPERM: 'Operation not permitted',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links',
};

function osMessage(file: string, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const text =
    typeof code === 'string' && code in STRERROR
      ? STRERROR[code]!
      : err instanceof Error
        ? err.message
        : String(err);
  return `${file}: ${text}`;
}

/** Read a file (`-` = stdin); an OS error is a usage error (exit 2). */
function readInput(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file === '-' ? 0 : file));
  } catch (err) {
    throw new CliFailure(osMessage(file, err), 2);
  }
}

/** Parse and validate a blob; an invalid blob is exit 1 with the libfdt error name and offset. */
function loadTree(file: string, blob: Uint8Array) {
  try {
    return readTree(blob);
  } catch (err) {
    if (err instanceof FdtError) throw new CliFailure(`${file}: ${err.message}`, 1);
    throw err;
  }
}

/** A reader that stops early (`kho fdt dump x | head`) is no error: no EPIPE stack trace. */
function quietEpipe(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

/** Run an action; turn CliFailure into a one-line message and an exit code. */
function run(prefix: string, action: () => void): void {
  quietEpipe();
  try {
    action();
  } catch (err) {
    if (!(err instanceof CliFailure)) throw err;
    process.stderr.write(`${prefix}: ${err.message}\n`);
    process.exitCode = err.exitCode;
  }
}

function dump(file: string, opts: { kho?: boolean; json?: boolean }): void {
  const tree = loadTree(file, readInput(file));
  const kho = opts.kho === true ? khoNotes(tree) : undefined;
  if (opts.json === true) {
    const doc = treeToJson(
      tree,
      kho === undefined
        ? {}
        : { comment: kho.note, ...(kho.summary === undefined ? {} : { docComment: kho.summary }) },
    );
    process.stdout.write(formatTreeJson(doc));
    return;
  }
  process.stdout.write(kho === undefined ? toDts(tree) : khoDts(tree));
}

function check(file: string): void {
  const blob = readInput(file);
  try {
    checkFdt(blob);
  } catch (err) {
    if (!(err instanceof FdtError)) throw err;
    process.stdout.write(`invalid: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write('valid\n');
}

function build(file: string, opts: { output: string }): void {
  const bytes = readInput(file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CliFailure(`${file}: not UTF-8 text`, 1);
  }
  let blob: Uint8Array;
  try {
    blob = buildBlob(parseTreeJson(text));
  } catch (err) {
    if (err instanceof FdtJsonError || err instanceof FdtError)
      throw new CliFailure(`${file}: ${err.message}`, 1);
    throw err;
  }
  try {
    writeFileSync(opts.output, blob);
  } catch (err) {
    throw new CliFailure(osMessage(opts.output, err), 2);
  }
}

/** Registers `kho fdt dump|check|build`. */
export function registerFdt(program: Command): void {
  const fdt = program
    .command('fdt')
    .description('read, check and build flattened devicetree blobs')
    .showHelpAfterError('(run "kho fdt --help" for usage)');
  fdt
    .command('dump')
    .description('print a blob as dtc does (dtc -I dtb -O dts), or as JSON')
    .argument('<file>', 'the blob (- for stdin)')
    .option('--kho', 'add comments decoding KHO values (LE64 addresses, sizes, ABI version)')
    .option('--json', 'print the lossless JSON form instead (kho fdt build reads it)')
    .action((file: string, opts: { kho?: boolean; json?: boolean }) => {
      run('kho fdt', () => {
        dump(file, opts);
      });
    });
  fdt
    .command('check')
    .description('validate a blob: prints "valid" (exit 0) or the libfdt error and offset (exit 1)')
    .argument('<file>', 'the blob (- for stdin)')
    .action((file: string) => {
      run('kho fdt', () => {
        check(file);
      });
    });
  fdt
    .command('build')
    .description('build a blob from the JSON form (as printed by kho fdt dump --json)')
    .argument('<file>', 'the JSON file (- for stdin)')
    .requiredOption('-o, --output <out>', 'where to write the blob')
    .action((file: string, opts: { output: string }) => {
      run('kho fdt', () => {
        build(file, opts);
      });
    });
}
