/**
 * Flattened Devicetree format constants (Devicetree Specification v0.4, chapter 5).
 * All header fields and tokens are big-endian 32-bit words.
 */

/** Header magic of a finished blob. */
export const FDT_MAGIC = 0xd00dfeed;
/** libfdt's magic for a blob still being built by the sequential writer. */
export const FDT_SW_MAGIC = ~FDT_MAGIC >>> 0;

/** Structure block tokens. */
export const FDT_BEGIN_NODE = 1;
export const FDT_END_NODE = 2;
export const FDT_PROP = 3;
export const FDT_NOP = 4;
export const FDT_END = 9;

/** Size of a token, and the alignment of everything in the structure block. */
export const FDT_TAGSIZE = 4;
/** Size of one memory reservation entry (two u64). */
export const FDT_RESERVE_ENTRY_SIZE = 16;

/** Oldest version we read (it has `size_dt_strings`; v17 adds `size_dt_struct`). */
export const FDT_FIRST_READ_VERSION = 16;
/** Newest version libfdt knows; the version every writer emits. */
export const FDT_LAST_SUPPORTED_VERSION = 17;
/** `last_comp_version` of blobs we write (libfdt's FDT_LAST_COMPATIBLE_VERSION). */
export const FDT_LAST_COMPATIBLE_VERSION = 16;

/** Header size for v16 (no size_dt_struct) and v17. */
export const FDT_V16_HEADER_SIZE = 36;
export const FDT_V17_HEADER_SIZE = 40;

/** Byte offsets of header fields. */
export const HDR_MAGIC = 0;
export const HDR_TOTALSIZE = 4;
export const HDR_OFF_DT_STRUCT = 8;
export const HDR_OFF_DT_STRINGS = 12;
export const HDR_OFF_MEM_RSVMAP = 16;
export const HDR_VERSION = 20;
export const HDR_LAST_COMP_VERSION = 24;
export const HDR_BOOT_CPUID_PHYS = 28;
export const HDR_SIZE_DT_STRINGS = 32;
export const HDR_SIZE_DT_STRUCT = 36;

/** libfdt refuses totalsize above INT_MAX. */
export const FDT_MAX_TOTALSIZE = 0x7fffffff;

/** Round up to the 4-byte tag alignment (for values below 2^31). */
export function tagAlign(n: number): number {
  return (n + 3) & ~3;
}
