/** `dtc -I dtb -O dts [-o FILE] [FILE]`: decompile a blob as dtc 1.6.1 prints it. */
import type { ShellCommand } from '../command.ts';
import { FdtError } from '../../fdt/errors.ts';
import { readTree } from '../../fdt/reader.ts';
import { toDts } from '../../fdt/dts.ts';
import { dtcBlobError } from '../../fdt/dtc-blob.ts';
import { truncatedOutFdtHint } from '../out-fdt-hint.ts';
import { FsError, strerror } from '../io.ts';
import { writeErrorCode } from '../vfs.ts';

/** dtc's FATAL ERROR text for a blob our reader rejects. */
function fatalFor(err: FdtError, len: number): string {
  if (len < 4) return 'EOF reading DT blob magic number';
  switch (err.code) {
    case 'FDT_ERR_BADMAGIC':
      return 'Blob has incorrect magic number';
    case 'FDT_ERR_BADVERSION':
      return 'Blob has incompatible version';
    case 'FDT_ERR_TRUNCATED':
      return len < 40 ? 'EOF reading DT blob header' : 'EOF reading DT blob data';
    default:
      return `Blob is not valid: ${err.message}`;
  }
}

export const dtc: ShellCommand = {
  name: 'dtc',
  usage: 'dtc -I dtb -O dts [-o FILE] [FILE]',
  summary: 'decompile a flattened devicetree (e.g. kho/out/fdt) as dtc 1.6.1 does',
  stdin: 'whole',
  run(args, ctx) {
    let inFmt = 'dts';
    let outFmt = 'dts';
    let outFile: string | null = null;
    let input: string | null = null;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const val = (): string | null => {
        const v = args[i + 1];
        if (v === undefined) return null;
        i++;
        return v;
      };
      if (a === '-I' || a === '-O' || a === '-o') {
        const v = val();
        if (v === null) {
          ctx.stderr.write(`dtc: option requires an argument -- '${a[1]!}'\n`);
          return 1;
        }
        if (a === '-I') inFmt = v;
        else if (a === '-O') outFmt = v;
        else outFile = v;
      } else if (a === '-q' || a === '-s') {
        /* quiet / sort: accepted, nothing to do */
      } else if (a.startsWith('-') && a !== '-') {
        ctx.stderr.write(`dtc: invalid option -- '${a.slice(1)}'\n`);
        return 1;
      } else input = a;
    }
    if (inFmt !== 'dtb' || outFmt !== 'dts') {
      ctx.stderr.write(`dtc: only -I dtb -O dts is available on the simulated machine\n`);
      return 1;
    }
    let blob: Uint8Array;
    if (input === null || input === '-') blob = ctx.stdin ?? new Uint8Array(0);
    else {
      let node;
      try {
        node = ctx.session.lookup(input);
      } catch (err) {
        ctx.stderr.write(
          `FATAL ERROR: Couldn't open "${input}": ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`,
        );
        return 1;
      }
      if (node === null) {
        ctx.stderr.write(`FATAL ERROR: Couldn't open "${input}": No such file or directory\n`);
        return 1;
      }
      if (node.type === 'dir') {
        ctx.stderr.write('FATAL ERROR: Error reading DT blob magic number: Is a directory\n');
        return 1;
      }
      try {
        blob = node.read();
      } catch (err) {
        ctx.stderr.write(
          `FATAL ERROR: Couldn't open "${input}": ${strerror(writeErrorCode(err) ?? 'EIO')}\n`,
        );
        return 1;
      }
    }
    const pre = dtcBlobError(blob);
    if (pre !== null) {
      ctx.stderr.write(`FATAL ERROR: ${pre}\n`);
      const hint = truncatedOutFdtHint(ctx.session, input, blob);
      if (hint !== null) ctx.stderr.write(hint);
      return 1;
    }
    let text: string;
    try {
      text = toDts(readTree(blob));
    } catch (err) {
      if (!(err instanceof FdtError)) throw err;
      ctx.stderr.write(`FATAL ERROR: ${fatalFor(err, blob.length)}\n`);
      return 1;
    }
    if (outFile !== null) {
      try {
        ctx.session.vfs.writeHost(ctx.session.abs(outFile), new TextEncoder().encode(text));
      } catch (err) {
        ctx.stderr.write(
          `FATAL ERROR: Couldn't open output file ${outFile}: ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`,
        );
        return 1;
      }
      return 0;
    }
    ctx.stdout.write(text);
    return 0;
  },
};
