/**
 * Header decoding and the checks of libfdt's `fdt_check_header` (plus the buffer-length checks
 * of `fdt_check_full`). Only header facts are examined here; the blocks are walked in validate.ts.
 */
import {
  FDT_FIRST_READ_VERSION,
  FDT_LAST_SUPPORTED_VERSION,
  FDT_MAGIC,
  FDT_MAX_TOTALSIZE,
  FDT_V16_HEADER_SIZE,
  FDT_V17_HEADER_SIZE,
  HDR_BOOT_CPUID_PHYS,
  HDR_LAST_COMP_VERSION,
  HDR_MAGIC,
  HDR_OFF_DT_STRINGS,
  HDR_OFF_DT_STRUCT,
  HDR_OFF_MEM_RSVMAP,
  HDR_SIZE_DT_STRINGS,
  HDR_SIZE_DT_STRUCT,
  HDR_TOTALSIZE,
  HDR_VERSION,
} from './constants.ts';
import { FdtError } from './errors.ts';

/** The header fields of a blob, as unsigned numbers. */
export interface FdtHeader {
  magic: number;
  totalsize: number;
  offDtStruct: number;
  offDtStrings: number;
  offMemRsvmap: number;
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  sizeDtStrings: number;
  /** Header `size_dt_struct`; for v16 blobs (no such field) the bytes up to totalsize. */
  sizeDtStruct: number;
  /** 36 for v16, 40 for v17 and later. */
  headerSize: number;
}

/** Smallest buffer that can hold any header (libfdt's FDT_V1_SIZE). */
const MIN_HEADER = 28;

/** Read a big-endian u32 without a DataView (hot and allocation free). */
export function be32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** `off` lies in [hdrsize, totalsize] (libfdt's check_off_). */
function offOk(hdrsize: number, totalsize: number, off: number): boolean {
  return off >= hdrsize && off <= totalsize;
}

/**
 * Decode and check the header against the buffer: magic, version rules, totalsize, and that every
 * block offset and size lies inside totalsize; memrsv 8-aligned, structure 4-aligned.
 * Throws FdtError (TRUNCATED, BADMAGIC, BADVERSION, ALIGNMENT) with the offending header field's offset.
 */
export function readHeader(blob: Uint8Array): FdtHeader {
  if (blob.length < MIN_HEADER) {
    throw new FdtError(
      'FDT_ERR_TRUNCATED',
      blob.length,
      `buffer of ${blob.length} bytes is shorter than a header`,
    );
  }
  const magic = be32(blob, HDR_MAGIC);
  if (magic !== FDT_MAGIC) {
    throw new FdtError('FDT_ERR_BADMAGIC', HDR_MAGIC, `magic 0x${magic.toString(16)} is not 0xd00dfeed`);
  }
  const version = be32(blob, HDR_VERSION);
  const lastCompVersion = be32(blob, HDR_LAST_COMP_VERSION);
  if (version < FDT_FIRST_READ_VERSION) {
    throw new FdtError('FDT_ERR_BADVERSION', HDR_VERSION, `version ${version} is older than 16`);
  }
  if (lastCompVersion > FDT_LAST_SUPPORTED_VERSION) {
    throw new FdtError(
      'FDT_ERR_BADVERSION',
      HDR_LAST_COMP_VERSION,
      `last_comp_version ${lastCompVersion} is newer than 17`,
    );
  }
  if (version < lastCompVersion) {
    throw new FdtError(
      'FDT_ERR_BADVERSION',
      HDR_VERSION,
      `version ${version} is older than last_comp_version ${lastCompVersion}`,
    );
  }
  const headerSize = version <= 16 ? FDT_V16_HEADER_SIZE : FDT_V17_HEADER_SIZE;
  if (blob.length < headerSize) {
    throw new FdtError('FDT_ERR_TRUNCATED', blob.length, `buffer shorter than the ${headerSize}-byte header`);
  }
  const totalsize = be32(blob, HDR_TOTALSIZE);
  if (totalsize < headerSize || totalsize > FDT_MAX_TOTALSIZE) {
    throw new FdtError('FDT_ERR_TRUNCATED', HDR_TOTALSIZE, `totalsize ${totalsize} is out of range`);
  }
  if (totalsize > blob.length) {
    throw new FdtError(
      'FDT_ERR_TRUNCATED',
      HDR_TOTALSIZE,
      `totalsize ${totalsize} exceeds the ${blob.length}-byte buffer`,
    );
  }
  const offMemRsvmap = be32(blob, HDR_OFF_MEM_RSVMAP);
  if (!offOk(headerSize, totalsize, offMemRsvmap)) {
    throw new FdtError(
      'FDT_ERR_TRUNCATED',
      HDR_OFF_MEM_RSVMAP,
      `off_mem_rsvmap ${offMemRsvmap} outside the blob`,
    );
  }
  const offDtStruct = be32(blob, HDR_OFF_DT_STRUCT);
  let sizeDtStruct: number;
  if (version >= 17) {
    sizeDtStruct = be32(blob, HDR_SIZE_DT_STRUCT);
    if (
      !offOk(headerSize, totalsize, offDtStruct) ||
      !offOk(headerSize, totalsize, offDtStruct + sizeDtStruct)
    ) {
      throw new FdtError(
        'FDT_ERR_TRUNCATED',
        HDR_OFF_DT_STRUCT,
        `structure block [${offDtStruct}, +${sizeDtStruct}) outside the blob`,
      );
    }
  } else {
    if (!offOk(headerSize, totalsize, offDtStruct)) {
      throw new FdtError(
        'FDT_ERR_TRUNCATED',
        HDR_OFF_DT_STRUCT,
        `off_dt_struct ${offDtStruct} outside the blob`,
      );
    }
    sizeDtStruct = totalsize - offDtStruct;
  }
  const offDtStrings = be32(blob, HDR_OFF_DT_STRINGS);
  const sizeDtStrings = be32(blob, HDR_SIZE_DT_STRINGS);
  if (
    !offOk(headerSize, totalsize, offDtStrings) ||
    !offOk(headerSize, totalsize, offDtStrings + sizeDtStrings)
  ) {
    throw new FdtError(
      'FDT_ERR_TRUNCATED',
      HDR_OFF_DT_STRINGS,
      `strings block [${offDtStrings}, +${sizeDtStrings}) outside the blob`,
    );
  }
  if ((offMemRsvmap & 7) !== 0) {
    throw new FdtError(
      'FDT_ERR_ALIGNMENT',
      HDR_OFF_MEM_RSVMAP,
      `off_mem_rsvmap ${offMemRsvmap} is not 8-byte aligned`,
    );
  }
  if ((offDtStruct & 3) !== 0) {
    throw new FdtError(
      'FDT_ERR_ALIGNMENT',
      HDR_OFF_DT_STRUCT,
      `off_dt_struct ${offDtStruct} is not 4-byte aligned`,
    );
  }
  return {
    magic,
    totalsize,
    offDtStruct,
    offDtStrings,
    offMemRsvmap,
    version,
    lastCompVersion,
    bootCpuidPhys: be32(blob, HDR_BOOT_CPUID_PHYS),
    sizeDtStrings,
    sizeDtStruct,
    headerSize,
  };
}

/**
 * The `totalsize` a blob's header claims, or null when the bytes do not start with the FDT
 * magic. Lets a caller read a file header first and no further than the blob reaches.
 */
export function claimedTotalsize(head: Uint8Array): number | null {
  if (head.length < 8 || be32(head, HDR_MAGIC) !== FDT_MAGIC) return null;
  return be32(head, HDR_TOTALSIZE);
}
