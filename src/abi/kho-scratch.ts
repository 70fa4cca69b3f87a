/**
 * `struct kho_scratch` (include/linux/kho/abi/kexec_handover.h) and the scratch array handed to
 * the successor as a kexec segment: 16-byte entries, native endian (LE).
 *
 * | off | size | field  |
 * |-----|------|--------|
 * | 0   | 8    | `addr` physical base |
 * | 8   | 8    | `size` bytes         |
 */
import { decodeWith } from './errors.ts';
import type { AbiResult } from './errors.ts';
import { getU64, putU64, viewOf } from './bytes.ts';

/** Size of one entry in bytes. */
export const KHO_SCRATCH_SIZE = 16;
/** Index of the lowmem area in a cold-boot array. */
export const KHO_SCRATCH_LOWMEM_INDEX = 0;
/** Index of the global area in a cold-boot array. */
export const KHO_SCRATCH_GLOBAL_INDEX = 1;
/** Index of the first per-node area in a cold-boot array. */
export const KHO_SCRATCH_FIRST_NODE_INDEX = 2;

/** One scratch area. */
export interface KhoScratch {
  /** Physical base address. */
  addr: number;
  /** Size in bytes. */
  size: number;
}

/** Encode a scratch array (`entries.length × 16` bytes). */
export function encodeKhoScratchArray(entries: readonly KhoScratch[]): Uint8Array {
  const b = new Uint8Array(entries.length * KHO_SCRATCH_SIZE);
  const v = viewOf(b);
  entries.forEach((e, i) => {
    putU64(v, i * KHO_SCRATCH_SIZE, e.addr, 'kho_scratch', 'addr');
    putU64(v, i * KHO_SCRATCH_SIZE + 8, e.size, 'kho_scratch', 'size');
  });
  return b;
}

/** Encode one entry (16 bytes). */
export function encodeKhoScratch(e: KhoScratch): Uint8Array {
  return encodeKhoScratchArray([e]);
}

/** Decode one entry at `off`. */
export function decodeKhoScratch(b: Uint8Array, off = 0): AbiResult<KhoScratch> {
  return decodeWith(() => ({
    addr: getU64(b, off, 'kho_scratch', 'addr'),
    size: getU64(b, off + 8, 'kho_scratch', 'size'),
  }));
}

/** A decoded scratch array. */
export interface KhoScratchArray {
  entries: KhoScratch[];
  /**
   * Bytes after the last whole entry. `kho_populate()` uses `scratch_len / 16` entries, so these
   * are ignored by the kernel; non-zero means the length was not a multiple of 16.
   */
  trailingBytes: number;
}

/** Decode a scratch array of `b.length / 16` entries (rounded down, like the kernel). */
export function decodeKhoScratchArray(b: Uint8Array): AbiResult<KhoScratchArray> {
  return decodeWith(() => {
    const n = Math.floor(b.length / KHO_SCRATCH_SIZE);
    const entries: KhoScratch[] = [];
    for (let i = 0; i < n; i++) {
      entries.push({
        addr: getU64(b, i * KHO_SCRATCH_SIZE, 'kho_scratch', 'addr'),
        size: getU64(b, i * KHO_SCRATCH_SIZE + 8, 'kho_scratch', 'size'),
      });
    }
    return { entries, trailingBytes: b.length - n * KHO_SCRATCH_SIZE };
  });
}
