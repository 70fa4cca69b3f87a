/**
 * util-linux `hexdump` output, byte for byte: the canonical `-C` format and the default
 * two-byte-word format, with `-s` (skip; offsets stay absolute), `-n` (length), `*` for
 * repeated lines unless `-v`, the padded partial last line and the closing offset line.
 * Input is streamed from sources in chunks, so `/dev/mem` over gigabytes of never-touched
 * memory costs no more than its touched pages (a source may report known-zero runs).
 */
import { BrokenPipe, drain, Interrupted, type Sink } from './io.ts';

/** One input file. */
export interface HexdumpSource {
  /** Bytes in the file, or null for a device or stream (no size to skip over). */
  readonly size: number | null;
  /** Up to `len` bytes at `off`; fewer (or none) at the end (a stream may answer later). */
  readRange(off: number, len: number): Uint8Array | Promise<Uint8Array>;
  /** Bytes from `off` known to read as zero (for fast `*` runs); 0 when unknown. */
  zeroRun?: (off: number, max: number) => number;
}

/** Output format. */
export type HexdumpFormat = 'canonical' | 'words';

/** Options. */
export interface HexdumpOptions {
  format: HexdumpFormat;
  skip: number;
  /** -n; null = to the end. */
  length: number | null;
  /** -v: print repeated lines. */
  noSqueeze: boolean;
}

const CHUNK = 64 * 1024;

function hex2(b: number): string {
  return (b < 16 ? '0' : '') + b.toString(16);
}

/** One output line for `row` (1..16 bytes) at `address`. */
export function formatLine(format: HexdumpFormat, row: Uint8Array, address: number): string {
  if (format === 'canonical') {
    let hex = '';
    let text = '';
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' ';
      if (i < row.length) {
        const x = row[i]!;
        hex += ` ${hex2(x)}`;
        text += x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.';
      } else hex += '   ';
    }
    return `${address.toString(16).padStart(8, '0')} ${hex}  |${text}|\n`;
  }
  let s = address.toString(16).padStart(7, '0');
  for (let i = 0; i < 16; i += 2) {
    if (i < row.length) {
      const w = row[i]! | ((i + 1 < row.length ? row[i + 1]! : 0) << 8);
      s += ` ${w.toString(16).padStart(4, '0')}`;
    } else s += '     ';
  }
  return `${s}\n`;
}

function sameRow(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isZeroRow(a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

/**
 * Dump `sources` (concatenated) to `out`. `onError(index, err)` is called for a source whose
 * read throws; the dump continues with the next one. Output goes out in batches; between them
 * the dump waits for the reader (a pipe) and calls `check` (Ctrl-C).
 */
export async function hexdump(
  sources: readonly HexdumpSource[],
  opts: HexdumpOptions,
  out: Sink,
  onError?: (index: number, err: unknown) => void,
  check?: () => void,
): Promise<void> {
  if (opts.length === 0) return;
  let address = 0;
  let skip = opts.skip;
  let remaining = opts.length ?? Number.POSITIVE_INFINITY;
  const row = new Uint8Array(16);
  let rowLen = 0;
  const prev = new Uint8Array(16);
  let havePrev = false;
  let starred = false;
  let lines: string[] = [];
  const flush = (): void => {
    if (lines.length > 0) {
      out.write(lines.join(''));
      lines = [];
    }
  };
  /** A batch is ready: hand it over and wait for the reader. */
  const handOver = async (): Promise<void> => {
    flush();
    await drain(out);
    check?.();
  };
  const emitRow = (): void => {
    const at = address - 16;
    if (!opts.noSqueeze && havePrev && sameRow(row, prev)) {
      if (!starred) lines.push('*\n');
      starred = true;
    } else {
      lines.push(formatLine(opts.format, row, at));
      starred = false;
      prev.set(row);
      havePrev = true;
    }
    rowLen = 0;
  };

  for (let si = 0; si < sources.length && remaining > 0; si++) {
    const src = sources[si]!;
    let pos = 0;
    if (skip > 0) {
      if (src.size !== null && skip >= src.size) {
        skip -= src.size;
        address += src.size;
        continue;
      }
      pos = skip;
      address += skip;
      skip = 0;
    }
    try {
      while (remaining > 0) {
        // Fast path: inside a run of zero lines already shown once, skip whole known-zero lines.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- rowLen changes in emitRow
        if (rowLen === 0 && !opts.noSqueeze && havePrev && isZeroRow(prev) && src.zeroRun !== undefined) {
          const z = src.zeroRun(pos, Math.min(remaining, Number.MAX_SAFE_INTEGER));
          const skipLines = Math.floor(Math.min(z, remaining) / 16);
          if (skipLines > 1) {
            if (!starred) lines.push('*\n');
            starred = true;
            // Leave the last line to the normal path so the end of the run is handled there.
            const n = (skipLines - 1) * 16;
            pos += n;
            address += n;
            remaining -= n;
            continue;
          }
        }
        if (lines.length >= 4096) await handOver();
        const want = Math.min(CHUNK, remaining);
        const chunk = await src.readRange(pos, want);
        if (chunk.length === 0) break;
        pos += chunk.length;
        remaining -= chunk.length;
        for (let i = 0; i < chunk.length; i++) {
          row[rowLen++] = chunk[i]!;
          address++;
          if (rowLen === 16) emitRow();
        }
        if (chunk.length < want && src.size !== null) break;
      }
    } catch (err) {
      flush();
      if (err instanceof BrokenPipe || err instanceof Interrupted) throw err;
      onError?.(si, err);
    }
  }
  if (rowLen > 0) {
    lines.push(formatLine(opts.format, row.subarray(0, rowLen), address - rowLen));
  }
  if (address > 0) {
    lines.push(`${address.toString(16).padStart(opts.format === 'canonical' ? 8 : 7, '0')}\n`);
  }
  flush();
}

const SUFFIX_POW: Record<string, number> = { K: 1, M: 2, G: 3, T: 4, P: 5, E: 6, Z: 7, Y: 8 };

/**
 * util-linux `strtosize`: a number (decimal, 0x hex, 0 octal) with an optional K, M, G, ...
 * suffix, 1024-based (`K`, `KiB`) or 1000-based (`KB`). Null when malformed or beyond 2^53.
 */
export function parseSizeArg(text: string): number | null {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([KMGTPEZYkmgtpezy](iB|B)?)?$/.exec(text);
  if (m === null) return null;
  const digits = m[1]!;
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) v = BigInt(`0o${digits.slice(1)}`);
  else v = BigInt(digits);
  if (m[2] !== undefined) {
    const pow = SUFFIX_POW[m[2][0]!.toUpperCase()]!;
    const base = m[3] === 'B' ? 1000n : 1024n;
    v *= base ** BigInt(pow);
  }
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return Number(v);
}
