/** util-linux `hexdump [-Cv] [-s OFFSET] [-n LENGTH] [FILE]...` (see ../hexdump.ts). */
import type { ShellCommand } from '../command.ts';
import type { PhysicalMemory } from '../../hw/physical-memory.ts';
import { FsError, strerror } from '../io.ts';
import { hexdump as dump, parseSizeArg, type HexdumpSource } from '../hexdump.ts';
import type { VFile } from '../vfs.ts';
import { writeErrorCode } from '../vfs.ts';
import { sequentialReader } from '../stream.ts';

const UNSUPPORTED = 'bcdoxeLf';

function usageError(stderr: { write(s: string): void }, text: string): number {
  stderr.write(`hexdump: ${text}\nTry 'hexdump --help' for more information.\n`);
  return 1;
}

/** A source over a VFS file; `/dev/mem` reports untouched pages as known zeros. */
function fileSource(f: VFile, session: { machine: { mem: PhysicalMemory } }): HexdumpSource {
  if (f.kind === 'devmem') {
    const mem = session.machine.mem;
    return {
      size: null,
      readRange: (off, len) => f.readRange(off, len),
      zeroRun: (off, max) => {
        // Pages without storage or description read as zero: count from `off` to the first other.
        if (off >= mem.limit) return 0;
        const pfn = Math.floor(off / 4096);
        const pages = mem.zeroPagesFrom(pfn, Math.ceil((off + max) / 4096) - pfn);
        return Math.max(0, Math.min((pfn + pages) * 4096 - off, max, mem.limit - off));
      },
    };
  }
  if (f.kind === 'host' || f.kind === 'boot' || f.kind === 'symlink') {
    return { size: f.size, readRange: (off, len) => f.readRange(off, len) };
  }
  // Pseudo files: the kernel reports size 0, so read the content once and serve from it.
  let data: Uint8Array | null = null;
  return {
    size: null,
    readRange: (off, len) => {
      data ??= f.read();
      return off >= data.length ? new Uint8Array(0) : data.subarray(off, Math.min(data.length, off + len));
    },
  };
}

export const hexdumpCmd: ShellCommand = {
  name: 'hexdump',
  usage: 'hexdump [-Cv] [-s OFF] [-n LEN] [FILE]...',
  summary: 'hex dump (byte-identical to util-linux); /dev/mem offsets are physical addresses',
  stdin: 'stream',
  async run(args, ctx) {
    let canonical = false;
    let noSqueeze = false;
    let skip = 0;
    let length: number | null = null;
    const files: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--') {
        files.push(...args.slice(i + 1));
        break;
      }
      const takeValue = (_opt: string, inline: string): string | null => {
        if (inline !== '') return inline;
        const v = args[i + 1];
        if (v === undefined) return null;
        i++;
        return v;
      };
      if (a.startsWith('--')) {
        const [name, val] = a.includes('=')
          ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
          : [a, ''];
        if (name === '--canonical') canonical = true;
        else if (name === '--no-squeezing') noSqueeze = true;
        else if (name === '--skip' || name === '--length') {
          const v = takeValue(name, val);
          if (v === null) return usageError(ctx.stderr, `option '${name}' requires an argument`);
          const n = parseSizeArg(v);
          if (n === null) {
            ctx.stderr.write(
              `hexdump: failed to parse ${name === '--skip' ? 'offset' : 'length'}: '${v}': Invalid argument\n`,
            );
            return 1;
          }
          if (name === '--skip') skip = n;
          else length = n;
        } else if (name === '--help') {
          ctx.stdout.write(
            '\nUsage:\n hexdump [options] <file>...\n\nDisplay file contents in hexadecimal.\n\nOptions (simulated subset):\n -C, --canonical           canonical hex+ASCII display\n -n, --length <length>     interpret only length bytes of input\n -s, --skip <offset>       skip offset bytes from the beginning\n -v, --no-squeezing        output identical lines\n',
          );
          return 0;
        } else return usageError(ctx.stderr, `unrecognized option '${a}'`);
        continue;
      }
      if (a.startsWith('-') && a.length > 1) {
        for (let j = 1; j < a.length; j++) {
          const c = a[j]!;
          if (c === 'C') canonical = true;
          else if (c === 'v') noSqueeze = true;
          else if (c === 's' || c === 'n') {
            const v = takeValue(c, a.slice(j + 1));
            if (v === null) return usageError(ctx.stderr, `option requires an argument -- '${c}'`);
            const n = parseSizeArg(v);
            if (n === null) {
              ctx.stderr.write(
                `hexdump: failed to parse ${c === 's' ? 'offset' : 'length'}: '${v}': Invalid argument\n`,
              );
              return 1;
            }
            if (c === 's') skip = n;
            else length = n;
            break;
          } else if (UNSUPPORTED.includes(c)) {
            ctx.stderr.write(
              `hexdump: -${c}: not available on the simulated machine (use -C or the default format)\n`,
            );
            return 1;
          } else return usageError(ctx.stderr, `invalid option -- '${c}'`);
        }
        continue;
      }
      files.push(a);
    }
    const sources: HexdumpSource[] = [];
    const names: string[] = [];
    let status = 0;
    if (files.length === 0) {
      sources.push({ size: null, readRange: sequentialReader(ctx.input) });
      names.push('stdin');
    }
    for (const f of files) {
      let node;
      try {
        node = ctx.session.lookup(f);
      } catch (err) {
        ctx.stderr.write(`hexdump: ${f}: ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`);
        status = 1;
        continue;
      }
      if (node === null) {
        ctx.stderr.write(`hexdump: ${f}: No such file or directory\n`);
        status = 1;
        continue;
      }
      if (node.type === 'dir') {
        // util-linux 2.38 reports a directory when reading it and still exits 0.
        sources.push({
          size: null,
          readRange: () => {
            throw new FsError('EISDIR');
          },
        });
        names.push(f);
        continue;
      }
      sources.push(fileSource(node, ctx.session));
      names.push(f);
    }
    if (files.length > 0 && sources.length === 0) {
      ctx.stderr.write('hexdump: all input file arguments failed\n');
      return 1;
    }
    await dump(
      sources,
      { format: canonical ? 'canonical' : 'words', skip, length, noSqueeze },
      ctx.stdout,
      (i, err) => {
        ctx.stderr.write(`hexdump: ${names[i]!}: ${strerror(writeErrorCode(err) ?? 'EIO')}\n`);
      },
      () => {
        ctx.checkInterrupt();
      },
    );
    return status;
  },
};
