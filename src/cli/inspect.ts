/**
 * `kho inspect`: decode and check the KHO handover data a real (or simulated) kernel left behind,
 * from a root FDT file and/or a physical memory image (ELF core or raw dump). See docs/inspect.md.
 *
 * Exit codes: 0 no error finding (warnings are fine); 1 at least one error finding; 2 usage
 * errors (bad options, unreadable files, unparsable scratch input).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Command } from 'commander';
import type { KhoScratch } from '../abi/kho-scratch.ts';
import { isElf, openElfCore } from '../inspect/elf-core.ts';
import { Findings } from '../inspect/findings.ts';
import { inspectHandover } from '../inspect/inspect.ts';
import type { InspectInput } from '../inspect/inspect.ts';
import { ImageError, openRawImage } from '../inspect/memory-image.ts';
import type { MemoryImage } from '../inspect/memory-image.ts';
import { writeReportJson } from '../inspect/report-json.ts';
import { writeReportText } from '../inspect/report-text.ts';
import { parseScratchFile, parseScratchPair, ScratchInputError } from '../inspect/scratch.ts';
import { FDT_V17_HEADER_SIZE } from '../fdt/constants.ts';
import { claimedTotalsize } from '../fdt/header.ts';
import { errorCode, hostIoError } from '../util/host-errors.ts';
import { readHostFile, type ReadLimit } from '../util/host-input.ts';
import { stdout } from '../util/host-output.ts';
import { CliFailure, runAction, usageError } from './action.ts';

/** Options as commander hands them over. */
export interface InspectOptions {
  fdt?: string;
  image?: string;
  base?: string;
  fdtAddr?: string;
  scratch?: string;
  scratchPhys?: string;
  scratchLen?: string;
  json?: boolean;
  limit?: string;
  maxBlocks?: string;
  maxList?: string;
  scanLimit?: string;
}

/**
 * The root FDT is one page in the kernel (kexec_handover.c: kho_init() allocates it, debugfs
 * shows fdt_totalsize() of it); 64 KiB is the largest page size (arm64), so any kernel's file
 * fits. Read header first and no further than its totalsize.
 */
const ROOT_FDT_LIMIT: ReadLimit = {
  max: 64 << 10,
  why: 'a root KHO FDT fits in one page',
  head: { bytes: FDT_V17_HEADER_SIZE, length: claimedTotalsize },
};

/** The scratch array has one 16-byte entry per NUMA node plus two; its text forms are alike. */
const SCRATCH_LIMIT: ReadLimit = {
  max: 1 << 20,
  why: 'a scratch array has one entry per NUMA node and two more',
};

const UNITS: Readonly<Record<string, number>> = { k: 10, m: 20, g: 30, t: 40 };

/** `0x…`, decimal, or with a K/M/G/T suffix; below 2^53. */
function parseNum(text: string, what: string): number {
  const m = /^(0[xX][0-9a-fA-F]+|[0-9]+)([kKmMgGtT]?)$/.exec(text.trim());
  if (m === null) throw usageError(`${what}: '${text}' is not a number`);
  let v = BigInt(m[1]!);
  const unit = m[2]!.toLowerCase();
  if (unit !== '') v <<= BigInt(UNITS[unit]!);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw usageError(`${what}: ${text} is too large`);
  return Number(v);
}

function readHead(file: string): Uint8Array {
  try {
    const fd = openSync(file, 'r');
    try {
      const b = new Uint8Array(4);
      const n = readSync(fd, b, 0, 4, 0);
      return b.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw hostIoError(file, err);
  }
}

function scratchInput(o: InspectOptions): { entries: KhoScratch[]; source: string } | undefined {
  if (o.scratch !== undefined && (o.scratchPhys !== undefined || o.scratchLen !== undefined)) {
    throw usageError('give either --scratch or --scratch-phys with --scratch-len, not both');
  }
  if ((o.scratchPhys === undefined) !== (o.scratchLen === undefined)) {
    throw usageError('--scratch-phys and --scratch-len go together');
  }
  try {
    if (o.scratch !== undefined) {
      return {
        entries: parseScratchFile(readHostFile(o.scratch, SCRATCH_LIMIT), o.scratch),
        source: o.scratch,
      };
    }
    if (o.scratchPhys !== undefined && o.scratchLen !== undefined) {
      const dec = new TextDecoder();
      return {
        entries: parseScratchPair(
          dec.decode(readHostFile(o.scratchPhys, SCRATCH_LIMIT)),
          dec.decode(readHostFile(o.scratchLen, SCRATCH_LIMIT)),
        ),
        source: `${o.scratchPhys} + ${o.scratchLen}`,
      };
    }
  } catch (err) {
    if (err instanceof ScratchInputError) throw usageError(err.message);
    throw err;
  }
  return undefined;
}

function openImage(o: InspectOptions, findings: Findings): InspectInput['image'] {
  if (o.image === undefined) {
    if (o.base !== undefined) throw usageError('--base needs --image');
    return undefined;
  }
  const file = o.image;
  const head = readHead(file);
  let image: MemoryImage;
  try {
    if (o.base === undefined && isElf(head)) {
      try {
        image = openElfCore(file, findings).image;
      } catch (err) {
        if (!(err instanceof ImageError)) throw err;
        findings.add('elf-header', `${file}: ${err.message}; the image is not used`, 'elf');
        return undefined;
      }
      return { image, kind: 'elf', source: file };
    }
    image = openRawImage(file, o.base === undefined ? 0 : parseNum(o.base, '--base'));
  } catch (err) {
    if (err instanceof ImageError) throw usageError(err.message);
    if (err instanceof CliFailure) throw err;
    throw hostIoError(file, err);
  }
  return { image, kind: 'raw', source: file };
}

const toStdout = (chunk: string): void => {
  stdout.write(chunk);
};

/** The inputs named by the options (files opened); throws {@link UsageError}. */
export function inspectInput(o: InspectOptions): InspectInput {
  if (o.fdt === undefined && o.image === undefined) throw usageError('give --fdt FILE and/or --image FILE');
  const findings = new Findings();
  const input: InspectInput = { findings };
  if (o.fdt !== undefined)
    input.fdt = { blob: readHostFile(o.fdt, ROOT_FDT_LIMIT), source: o.fdt === '-' ? 'stdin' : o.fdt };
  if (o.fdtAddr !== undefined) input.fdtPhys = parseNum(o.fdtAddr, '--fdt-addr');
  const scratch = scratchInput(o);
  if (scratch !== undefined) input.scratch = scratch;
  if (o.maxBlocks !== undefined) input.limits = { maxBlocks: parseNum(o.maxBlocks, '--max-blocks') };
  if (o.maxList !== undefined) input.maxList = parseNum(o.maxList, '--max-list');
  if (o.scanLimit !== undefined) input.scanMaxBytes = parseNum(o.scanLimit, '--scan-limit');
  const image = openImage(o, findings);
  if (image !== undefined) input.image = image;
  return input;
}

function inspect(o: InspectOptions): void {
  const limit = o.limit === undefined ? 32 : parseNum(o.limit, '--limit');
  const input = inspectInput(o);
  const image = input.image;
  try {
    let report;
    try {
      report = inspectHandover(input);
    } catch (err) {
      // Reads of the image are positional (pread): a FIFO or a failing disk ends up here.
      if (errorCode(err) !== null && o.image !== undefined) throw hostIoError(o.image, err);
      throw err;
    }
    if (o.json === true) {
      writeReportJson(report, toStdout);
    } else {
      writeReportText(report, toStdout, { limit });
    }
    process.exitCode = report.findings.some((f) => f.severity === 'error') ? 1 : 0;
  } finally {
    image?.image.close();
  }
}

/** Adds the options that name the inputs (shared by `kho inspect` and `kho serve --inspect`). */
export function inspectInputOptions(cmd: Command): Command {
  return cmd
    .option('--fdt <file>', 'root FDT, e.g. /sys/kernel/debug/kho/out/fdt or in/fdt (- for stdin)')
    .option('--image <file>', 'physical memory image: ELF core (dump-guest-memory, /proc/vmcore) or raw dump')
    .option(
      '--base <addr>',
      'the image is a raw dump whose first byte is at this physical address (default 0)',
    )
    .option('--fdt-addr <addr>', 'physical address of the root FDT in the image (instead of scanning)')
    .option('--scratch <file>', "scratch array: binary (16-byte LE entries) or text lines 'ADDR SIZE'")
    .option('--scratch-phys <file>', 'debugfs kho/out/scratch_phys text (with --scratch-len)')
    .option('--scratch-len <file>', 'debugfs kho/out/scratch_len text (with --scratch-phys)')
    .option('--max-blocks <n>', 'stop the memory-map walk after this many blocks (default 32M)')
    .option('--max-list <n>', 'most blocks listed in JSON `preserved` (default 1M)')
    .option('--scan-limit <size>', 'most image bytes scanned for the FDT (default 64G)');
}

/** Registers `kho inspect`. */
export function registerInspect(program: Command): void {
  inspectInputOptions(
    program
      .command('inspect')
      .description(
        'decode and check KHO handover data from a root FDT and/or a memory image (any ABI version)',
      ),
  )
    .option('--json', 'print the JSON report (schema in docs/inspect.md)')
    .option('--limit <n>', 'most lines per list in the text report', '32')
    .action((o: InspectOptions) =>
      runAction('kho inspect', () => {
        inspect(o);
      }),
    );
}
