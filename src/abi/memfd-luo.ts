/**
 * The memfd file handler's hand-over ABI (include/linux/kho/abi/memfd.h, mm/memfd_luo.c), all
 * structures `__packed`, little-endian. The LUO file entry's `data` is the physical address of
 * a preserved page holding `struct memfd_luo_ser`:
 *
 * | version | bytes | layout (offset:size field)                                                       |
 * |---------|-------|----------------------------------------------------------------------------------|
 * | `memfd-v2` | 48 | 0:8 pos, 8:8 size, 16:4 seals (F_SEAL_* bits), 20:4 flags (0), 24:8 nr_folios, 32:16 folios |
 * | `memfd-v1` | 40 | 0:8 pos, 8:8 size, 16:8 nr_folios, 24:16 folios                                   |
 *
 * `folios` is a `struct kho_vmalloc` (src/abi/kho-vmalloc.ts) describing a preserved vmalloc
 * array of `struct memfd_luo_folio_ser` (16 bytes): word 0 holds the folio's pfn in bits 0–51
 * and its flags in bits 52–63 (`MEMFD_LUO_FOLIO_DIRTY` bit 0, `MEMFD_LUO_FOLIO_UPTODATE` bit 1),
 * word 1 its page index in the file.
 */
import { checkRange, getU32, getU64, need, putU32, putU64, viewOf } from './bytes.ts';
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult } from './errors.ts';
import { decodeKhoVmalloc, encodeKhoVmalloc } from './kho-vmalloc.ts';
import type { KhoVmalloc } from './kho-vmalloc.ts';
import { TWO32 } from '../util/u64.ts';
import {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
} from './uapi-fcntl.ts';

/** `MEMFD_LUO_FH_COMPATIBLE` of the baseline (seals preserved). */
export const MEMFD_LUO_FH_COMPATIBLE = 'memfd-v2';
/** The FDT-era compatible (no seals field). */
export const MEMFD_LUO_FH_COMPATIBLE_V1 = 'memfd-v1';
/** `sizeof(struct memfd_luo_ser)`, memfd-v2. */
export const MEMFD_LUO_SER_SIZE = 48;
/** `sizeof(struct memfd_luo_ser)`, memfd-v1. */
export const MEMFD_LUO_SER_SIZE_V1 = 40;
/** `sizeof(struct memfd_luo_folio_ser)`. */
export const MEMFD_LUO_FOLIO_SER_SIZE = 16;
/** `MEMFD_LUO_FOLIO_DIRTY`: the folio holds data written by the user. */
export const MEMFD_LUO_FOLIO_DIRTY = 0x1;
/** `MEMFD_LUO_FOLIO_UPTODATE`: the folio was zeroed (shmem zeroes on first use). */
export const MEMFD_LUO_FOLIO_UPTODATE = 0x2;
/** Largest pfn the 52-bit field holds. */
export const MEMFD_LUO_MAX_PFN = 2 ** 52 - 1;
/** Largest value of the 12-bit flags field. */
export const MEMFD_LUO_MAX_FOLIO_FLAGS = 0xfff;

// The seal bits are the fcntl uAPI's (src/abi/uapi-fcntl.ts); re-exported for the decoders' users.
export { F_SEAL_EXEC, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE };
/** `MEMFD_LUO_ALL_SEALS`: the seals memfd-v2 can hand over (others: -EOPNOTSUPP). */
export const MEMFD_LUO_ALL_SEALS =
  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;

/** Seal names in bit order, as `fcntl(2)` spells them. */
export const SEAL_NAMES: readonly [number, string][] = [
  [F_SEAL_SEAL, 'F_SEAL_SEAL'],
  [F_SEAL_SHRINK, 'F_SEAL_SHRINK'],
  [F_SEAL_GROW, 'F_SEAL_GROW'],
  [F_SEAL_WRITE, 'F_SEAL_WRITE'],
  [F_SEAL_FUTURE_WRITE, 'F_SEAL_FUTURE_WRITE'],
  [F_SEAL_EXEC, 'F_SEAL_EXEC'],
];

/** `SEAL|GROW`-style text of a seal mask (unknown bits as hex, `0` for none). */
export function sealsText(seals: number): string {
  const names = SEAL_NAMES.filter(([bit]) => (seals & bit) !== 0).map(([, n]) => n.slice(7));
  const unknown = (seals & ~MEMFD_LUO_ALL_SEALS) >>> 0;
  if (unknown !== 0) names.push(`0x${unknown.toString(16)}`);
  return names.length === 0 ? '0' : names.join('|');
}

/** `struct memfd_luo_ser` of either version (`seals` and `flags` are 0 in memfd-v1). */
export interface MemfdLuoSer {
  /** The file position (`f_pos`) at freeze. */
  pos: number;
  /** `i_size` in bytes. */
  size: number;
  /** `F_SEAL_*` bits (memfd-v2). */
  seals: number;
  /** Flags, must be 0 (memfd-v2). */
  flags: number;
  /** Entries of the folio array. */
  nrFolios: number;
  /** The vmalloc descriptor of the folio array. */
  folios: KhoVmalloc;
}

/** Which `struct memfd_luo_ser` layout. */
export type MemfdLuoVersion = 'memfd-v1' | 'memfd-v2';

/** The structure size of a version. */
export function memfdLuoSerSize(version: MemfdLuoVersion): number {
  return version === 'memfd-v1' ? MEMFD_LUO_SER_SIZE_V1 : MEMFD_LUO_SER_SIZE;
}

/** The version of a handler compatible, or null when it is no memfd handler. */
export function memfdLuoVersion(compatible: string): MemfdLuoVersion | null {
  if (compatible === MEMFD_LUO_FH_COMPATIBLE) return 'memfd-v2';
  if (compatible === MEMFD_LUO_FH_COMPATIBLE_V1) return 'memfd-v1';
  return null;
}

/** Encode a `struct memfd_luo_ser` (48 bytes for memfd-v2, 40 for memfd-v1, which has no seals). */
export function encodeMemfdLuoSer(
  s: Omit<MemfdLuoSer, 'seals' | 'flags'> & { seals?: number; flags?: number },
  version: MemfdLuoVersion = 'memfd-v2',
): Uint8Array {
  const b = new Uint8Array(memfdLuoSerSize(version));
  const v = viewOf(b);
  putU64(v, 0, s.pos, 'memfd_luo_ser', 'pos');
  putU64(v, 8, s.size, 'memfd_luo_ser', 'size');
  if (version === 'memfd-v1') {
    if ((s.seals ?? 0) !== 0 || (s.flags ?? 0) !== 0) {
      throw new AbiError('BAD_VALUE', 'memfd_luo_ser', 16, 'memfd-v1 has no seals or flags');
    }
    putU64(v, 16, s.nrFolios, 'memfd_luo_ser', 'nr_folios');
    b.set(encodeKhoVmalloc(s.folios), 24);
  } else {
    putU32(v, 16, s.seals ?? 0, 'memfd_luo_ser', 'seals');
    putU32(v, 20, s.flags ?? 0, 'memfd_luo_ser', 'flags');
    putU64(v, 24, s.nrFolios, 'memfd_luo_ser', 'nr_folios');
    b.set(encodeKhoVmalloc(s.folios), 32);
  }
  return b;
}

/** Decode a `struct memfd_luo_ser` of `version` (fields as stored; the handler's checks are the caller's). */
export function decodeMemfdLuoSer(
  b: Uint8Array,
  version: MemfdLuoVersion = 'memfd-v2',
  off = 0,
): AbiResult<MemfdLuoSer> {
  return decodeWith(() => {
    const s = 'memfd_luo_ser';
    need(b, off, memfdLuoSerSize(version), s);
    const v1 = version === 'memfd-v1';
    const descOff = off + memfdFoliosDescOffset(version);
    const folios = decodeKhoVmalloc(b, descOff);
    if (!folios.ok) throw folios.error;
    return {
      pos: getU64(b, off, s, 'pos'),
      size: getU64(b, off + 8, s, 'size'),
      seals: v1 ? 0 : getU32(b, off + 16, s, 'seals'),
      flags: v1 ? 0 : getU32(b, off + 20, s, 'flags'),
      nrFolios: getU64(b, off + (v1 ? 16 : 24), s, 'nr_folios'),
      folios: folios.value,
    };
  });
}

/** `struct memfd_luo_folio_ser`. */
export interface MemfdLuoFolioSer {
  /** Page frame number (52 bits). */
  pfn: number;
  /** `MEMFD_LUO_FOLIO_*` bits (12 bits). */
  flags: number;
  /** Page offset of the folio in the file. */
  index: number;
}

/**
 * Write one folio entry at `off` of a view (the hot path of a large memfd: no allocation).
 * Throws BAD_VALUE for a pfn beyond 52 bits, flags beyond 12 bits or a negative index.
 */
export function writeMemfdFolioSer(v: DataView, off: number, f: MemfdLuoFolioSer): void {
  if (!Number.isInteger(f.pfn) || f.pfn < 0 || f.pfn > MEMFD_LUO_MAX_PFN) {
    throw new AbiError('BAD_VALUE', 'memfd_luo_folio_ser', off, `pfn ${f.pfn} does not fit in 52 bits`);
  }
  checkRange(f.flags, MEMFD_LUO_MAX_FOLIO_FLAGS, 'memfd_luo_folio_ser', 'flags');
  const hi = Math.floor(f.pfn / TWO32);
  v.setUint32(off, f.pfn >>> 0, true);
  v.setUint32(off + 4, (hi | (f.flags << 20)) >>> 0, true);
  putU64(v, off + 8, f.index, 'memfd_luo_folio_ser', 'index');
}

/** Encode one folio entry (16 bytes). */
export function encodeMemfdFolioSer(f: MemfdLuoFolioSer): Uint8Array {
  const b = new Uint8Array(MEMFD_LUO_FOLIO_SER_SIZE);
  writeMemfdFolioSer(viewOf(b), 0, f);
  return b;
}

/** Decode one folio entry at `off` (needs 16 bytes; an index past 2^53 is TOO_BIG). */
export function decodeMemfdFolioSer(b: Uint8Array, off = 0): AbiResult<MemfdLuoFolioSer> {
  return decodeWith(() => {
    need(b, off, MEMFD_LUO_FOLIO_SER_SIZE, 'memfd_luo_folio_ser');
    const v = viewOf(b);
    const lo = v.getUint32(off, true);
    const hi = v.getUint32(off + 4, true);
    return {
      pfn: (hi & 0xfffff) * TWO32 + lo,
      flags: hi >>> 20,
      index: getU64(b, off + 8, 'memfd_luo_folio_ser', 'index'),
    };
  });
}

/** Encode a folio array (16 bytes per entry) as the handler fills its vmalloc buffer. */
export function encodeMemfdFolioArray(folios: readonly MemfdLuoFolioSer[]): Uint8Array {
  const b = new Uint8Array(folios.length * MEMFD_LUO_FOLIO_SER_SIZE);
  const v = viewOf(b);
  for (let i = 0; i < folios.length; i++) writeMemfdFolioSer(v, i * MEMFD_LUO_FOLIO_SER_SIZE, folios[i]!);
  return b;
}

/** Decode the first `n` entries of a folio array. */
export function decodeMemfdFolioArray(b: Uint8Array, n: number): AbiResult<MemfdLuoFolioSer[]> {
  return decodeWith(() => {
    need(b, 0, n * MEMFD_LUO_FOLIO_SER_SIZE, 'memfd_luo_folio_ser[]');
    const out: MemfdLuoFolioSer[] = [];
    for (let i = 0; i < n; i++) {
      const r = decodeMemfdFolioSer(b, i * MEMFD_LUO_FOLIO_SER_SIZE);
      if (!r.ok) throw r.error;
      out.push(r.value);
    }
    return out;
  });
}

/** Offset of the `folios` descriptor in a version's structure. */
export function memfdFoliosDescOffset(version: MemfdLuoVersion): number {
  return version === 'memfd-v1' ? 24 : 32;
}
