/**
 * `kho fdt dump|check|build`: read, check and build flattened devicetree blobs.
 *
 * Exit codes: 0 success; 1 the blob or JSON content is invalid (the message names the libfdt
 * error and byte offset, or the JSON path); 2 usage errors, including files that cannot be read
 * or written. User errors print one line on stderr, never a stack trace.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { buildBlob } from '../fdt/convert.ts';
import { writeDts } from '../fdt/dts.ts';
import { FdtError } from '../fdt/errors.ts';
import { FDT_MAX_TOTALSIZE, FDT_V17_HEADER_SIZE } from '../fdt/constants.ts';
import { claimedTotalsize } from '../fdt/header.ts';
import { FdtJsonError, parseTreeJson, writeTreeJson } from '../fdt/json.ts';
import { asComment, khoNotes } from '../abi/kho-annotate.ts';
import { checkFdt, readTree } from '../fdt/reader.ts';
import { hostIoError } from '../util/host-errors.ts';
import { readHostFile, type ReadLimit } from '../util/host-input.ts';
import { stdout } from '../util/host-output.ts';
import { CliFailure, runAction } from './action.ts';

/**
 * A blob is read header first and only as far as its `totalsize` (a file without the FDT magic
 * is judged on its header), so `/dev/zero` or an endless pipe costs 40 bytes.
 */
const BLOB_LIMIT: ReadLimit = {
  max: FDT_MAX_TOTALSIZE,
  why: 'a flattened devicetree',
  head: { bytes: FDT_V17_HEADER_SIZE, length: (h) => claimedTotalsize(h) ?? h.length },
};

/** The JSON form is parsed as one string, which V8 caps near 512 MiB. */
const JSON_LIMIT: ReadLimit = { max: 256 << 20, why: 'the JSON form of a devicetree' };

/** Parse and validate a blob; an invalid blob is exit 1 with the libfdt error name and offset. */
function loadTree(file: string, blob: Uint8Array) {
  try {
    return readTree(blob);
  } catch (err) {
    if (err instanceof FdtError) throw new CliFailure(`${file}: ${err.message}`, 1);
    throw err;
  }
}

const toStdout = (chunk: string): void => {
  stdout.write(chunk);
};

function dump(file: string, opts: { kho?: boolean; json?: boolean }): void {
  const tree = loadTree(file, readHostFile(file, BLOB_LIMIT));
  const kho = opts.kho === true ? khoNotes(tree) : undefined;
  if (opts.json === true) {
    writeTreeJson(
      tree,
      toStdout,
      kho === undefined
        ? {}
        : { comment: kho.note, ...(kho.summary === undefined ? {} : { docComment: kho.summary }) },
    );
    return;
  }
  const note = kho?.note;
  writeDts(
    tree,
    toStdout,
    note === undefined
      ? undefined
      : (path, prop) => {
          const text = note(path, prop);
          return text === undefined ? undefined : asComment(text);
        },
  );
}

function check(file: string): void {
  const blob = readHostFile(file, BLOB_LIMIT);
  try {
    checkFdt(blob);
  } catch (err) {
    if (!(err instanceof FdtError)) throw err;
    stdout.write(`invalid: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  stdout.write('valid\n');
}

function build(file: string, opts: { output: string }): void {
  const bytes = readHostFile(file, JSON_LIMIT);
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
    throw hostIoError(opts.output, err);
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
      return runAction('kho fdt', () => {
        dump(file, opts);
      });
    });
  fdt
    .command('check')
    .description('validate a blob: prints "valid" (exit 0) or the libfdt error and offset (exit 1)')
    .argument('<file>', 'the blob (- for stdin)')
    .action((file: string) => {
      return runAction('kho fdt', () => {
        check(file);
      });
    });
  fdt
    .command('build')
    .description('build a blob from the JSON form (as printed by kho fdt dump --json)')
    .argument('<file>', 'the JSON file (- for stdin)')
    .requiredOption('-o, --output <out>', 'where to write the blob')
    .action((file: string, opts: { output: string }) => {
      return runAction('kho fdt', () => {
        build(file, opts);
      });
    });
}
