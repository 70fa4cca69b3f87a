/**
 * The scratch areas given to the inspector: the binary scratch array (16-byte LE entries, the
 * kexec segment the successor gets, include/linux/kho/abi/kexec_handover.h) or the text of debugfs
 * `scratch_phys` and `scratch_len` (one `0x<hex>` line per entry,
 * kernel/liveupdate/kexec_handover_debugfs.c), separately or combined as `ADDR SIZE` lines (e.g. `paste
 * scratch_phys scratch_len`).
 */
import { decodeKhoScratchArray } from '../abi/kho-scratch.ts';
import type { KhoScratch } from '../abi/kho-scratch.ts';
import type { Findings } from './findings.ts';
import { hexAddr } from './findings.ts';
import type { ImageRange } from './memory-image.ts';
import { RangeList } from './range-list.ts';

/** A scratch input that cannot be parsed (a usage error for the CLI). */
export class ScratchInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScratchInputError';
  }
}

/** Most scratch entries accepted (the kernel has nodes + 2). */
export const MAX_SCRATCH_ENTRIES = 4096;

/** True when every byte is a character of the text forms (hex numbers, whitespace, `x`). */
export function looksLikeText(b: Uint8Array): boolean {
  if (b.length === 0) return false;
  for (const c of b) {
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x61 && c <= 0x66) ||
      (c >= 0x41 && c <= 0x46) ||
      c === 0x78 ||
      c === 0x58 ||
      c === 0x20 ||
      c === 0x09 ||
      c === 0x0a ||
      c === 0x0d;
    if (!ok) return false;
  }
  return true;
}

/** Parse one number as the kernel prints it (`0x…`) or decimal; below 2^53. */
function parseNumber(tok: string, where: string): number {
  const m = /^(0[xX][0-9a-fA-F]+|[0-9]+)$/.exec(tok);
  if (m === null) throw new ScratchInputError(`${where}: '${tok}' is not a number`);
  const big = BigInt(tok);
  if (big > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ScratchInputError(`${where}: ${tok} does not fit in 53 bits`);
  return Number(big);
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Parse the binary array or the combined `ADDR SIZE` text form (auto-detected). */
export function parseScratchFile(b: Uint8Array, name = 'scratch'): KhoScratch[] {
  if (looksLikeText(b)) {
    const out = lines(new TextDecoder().decode(b)).map((l, i) => {
      const parts = l.split(/\s+/);
      if (parts.length !== 2) throw new ScratchInputError(`${name}:${i + 1}: expected 'ADDR SIZE'`);
      return {
        addr: parseNumber(parts[0]!, `${name}:${i + 1}`),
        size: parseNumber(parts[1]!, `${name}:${i + 1}`),
      };
    });
    return capped(out, name);
  }
  if (b.length % 16 !== 0) {
    throw new ScratchInputError(`${name}: ${b.length} bytes is not a whole number of 16-byte entries`);
  }
  const r = decodeKhoScratchArray(b);
  if (!r.ok) throw new ScratchInputError(`${name}: ${r.error.message}`);
  return capped(r.value.entries, name);
}

/** Parse debugfs `scratch_phys` + `scratch_len` texts (same number of lines). */
export function parseScratchPair(physText: string, lenText: string): KhoScratch[] {
  const a = lines(physText);
  const s = lines(lenText);
  if (a.length !== s.length) {
    throw new ScratchInputError(`scratch_phys has ${a.length} lines but scratch_len has ${s.length}`);
  }
  return capped(
    a.map((x, i) => ({
      addr: parseNumber(x, `scratch_phys:${i + 1}`),
      size: parseNumber(s[i]!, `scratch_len:${i + 1}`),
    })),
    'scratch',
  );
}

function capped(e: KhoScratch[], name: string): KhoScratch[] {
  if (e.length > MAX_SCRATCH_ENTRIES) {
    throw new ScratchInputError(`${name}: ${e.length} entries (more than ${MAX_SCRATCH_ENTRIES})`);
  }
  return e;
}

/**
 * Check the entries (zero size, unaligned, beyond 2^52, overlapping each other) and return them
 * as sorted disjoint ranges for the placement checks.
 */
export function scratchRanges(entries: readonly KhoScratch[], findings: Findings): RangeList {
  const rs: ImageRange[] = [];
  entries.forEach((e, i) => {
    const at = `scratch[${i}]`;
    if (e.size === 0) {
      // Normal for the global area of a small machine (scratch_size_update()): only worth a note.
      findings.add('scratch-entry', `scratch entry ${i} at ${hexAddr(e.addr)} has size 0`, at, 'info');
      return;
    }
    if (e.addr + e.size > 0x10_0000_0000_0000) {
      findings.add('scratch-entry', `scratch entry ${i} ends beyond 2^52`, at);
    }
    if (Math.floor(e.addr / 4096) * 4096 !== e.addr || Math.floor(e.size / 4096) * 4096 !== e.size) {
      findings.add(
        'scratch-entry',
        `scratch entry ${i} [${hexAddr(e.addr)}, +${hexAddr(e.size)}) is not page-aligned`,
        at,
      );
    }
    rs.push({ start: e.addr, end: e.addr + e.size });
  });
  rs.sort((a, b) => a.start - b.start);
  const out: ImageRange[] = [];
  for (const r of rs) {
    const prev = out[out.length - 1];
    if (prev !== undefined && r.start < prev.end) {
      findings.add(
        'scratch-overlap',
        `scratch areas [${hexAddr(prev.start)}, ${hexAddr(prev.end)}) and [${hexAddr(r.start)}, ${hexAddr(r.end)}) overlap`,
        hexAddr(r.start),
      );
      if (r.end > prev.end) prev.end = r.end;
      continue;
    }
    out.push({ ...r });
  }
  return RangeList.from(out);
}
