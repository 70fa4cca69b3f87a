/**
 * The x86 boot hand-over of KHO (arch/x86/kernel/kexec-bzimage64.c: setup_kho(), arch/x86/kernel/setup.c:
 * parse_setup_data()): a `setup_data` record of type
 * `SETUP_KEXEC_KHO` chained into `boot_params.hdr.setup_data`. 48 bytes, packed, little-endian:
 *
 * | off | size | field | value |
 * |-----|------|-------|-------|
 * | 0   | 8    | `next` | phys of the next `setup_data` (0 = end) |
 * | 8   | 4    | `type` | `SETUP_KEXEC_KHO` = 10 |
 * | 12  | 4    | `len`  | 32 (payload bytes) |
 * | 16  | 8    | `fdt_addr` | phys of the KHO root FDT page |
 * | 24  | 8    | `fdt_size` | 4096 |
 * | 32  | 8    | `scratch_addr` | phys of the scratch-array segment |
 * | 40  | 8    | `scratch_size` | `kho_scratch_cnt × 16` |
 */
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult, PhysReader } from './errors.ts';
import { getU32, getU64, putU32, putU64, readPhys, viewOf } from './bytes.ts';

/** `SETUP_KEXEC_KHO` setup_data type. */
export const SETUP_KEXEC_KHO = 10;
/** Size of the generic `struct setup_data` header (next, type, len). */
export const SETUP_DATA_HEADER_SIZE = 16;
/** Payload size of the KHO record (`struct kho_data`): four u64. */
export const KHO_SETUP_DATA_LEN = 32;
/** Whole KHO record: header plus payload. */
export const KHO_SETUP_DATA_SIZE = SETUP_DATA_HEADER_SIZE + KHO_SETUP_DATA_LEN;
/** Longest `setup_data` list the walker follows before giving up. */
export const SETUP_DATA_MAX_RECORDS = 256;

/** The generic `struct setup_data` header. */
export interface SetupDataHeader {
  /** Physical address of the next record, 0 at the end. */
  next: number;
  /** Record type (`SETUP_*`). */
  type: number;
  /** Payload length in bytes. */
  len: number;
}

/** The KHO record's payload (`struct kho_data`). */
export interface KhoSetupData {
  /** Physical address of the root FDT page. */
  fdtAddr: number;
  /** Size of the FDT mapping (always PAGE_SIZE from the kernel). */
  fdtSize: number;
  /** Physical address of the scratch array. */
  scratchAddr: number;
  /** Size of the scratch array in bytes. */
  scratchSize: number;
}

/** Encode the whole 48-byte record with its header. */
export function encodeKhoSetupData(next: number, d: KhoSetupData): Uint8Array {
  const b = new Uint8Array(KHO_SETUP_DATA_SIZE);
  const v = viewOf(b);
  putU64(v, 0, next, 'setup_data', 'next');
  putU32(v, 8, SETUP_KEXEC_KHO, 'setup_data', 'type');
  putU32(v, 12, KHO_SETUP_DATA_LEN, 'setup_data', 'len');
  putU64(v, 16, d.fdtAddr, 'kho_data', 'fdt_addr');
  putU64(v, 24, d.fdtSize, 'kho_data', 'fdt_size');
  putU64(v, 32, d.scratchAddr, 'kho_data', 'scratch_addr');
  putU64(v, 40, d.scratchSize, 'kho_data', 'scratch_size');
  return b;
}

/** Decode a `setup_data` header. */
export function decodeSetupDataHeader(b: Uint8Array, off = 0): AbiResult<SetupDataHeader> {
  return decodeWith(() => ({
    next: getU64(b, off, 'setup_data', 'next'),
    type: getU32(b, off + 8, 'setup_data', 'type'),
    len: getU32(b, off + 12, 'setup_data', 'len'),
  }));
}

/**
 * Decode a whole KHO record: header type must be `SETUP_KEXEC_KHO` (BAD_MAGIC) and `len` at
 * least 32 (BAD_LENGTH; the kernel reads the four fields from the payload).
 */
export function decodeKhoSetupData(
  b: Uint8Array,
): AbiResult<{ header: SetupDataHeader; data: KhoSetupData }> {
  return decodeWith(() => {
    const h = decodeSetupDataHeader(b);
    if (!h.ok) throw h.error;
    if (h.value.type !== SETUP_KEXEC_KHO) {
      throw new AbiError('BAD_MAGIC', 'setup_data', 8, `type ${h.value.type} is not SETUP_KEXEC_KHO`);
    }
    if (h.value.len < KHO_SETUP_DATA_LEN) {
      throw new AbiError('BAD_LENGTH', 'setup_data', 12, `len ${h.value.len} < ${KHO_SETUP_DATA_LEN}`);
    }
    return {
      header: h.value,
      data: {
        fdtAddr: getU64(b, 16, 'kho_data', 'fdt_addr'),
        fdtSize: getU64(b, 24, 'kho_data', 'fdt_size'),
        scratchAddr: getU64(b, 32, 'kho_data', 'scratch_addr'),
        scratchSize: getU64(b, 40, 'kho_data', 'scratch_size'),
      },
    };
  });
}

/**
 * Follow a `setup_data` list from `head` through `read` and return the first KHO record with its
 * address, or null when the list has none. Loops and overlong lists are errors.
 */
export function findKhoSetupData(
  head: number,
  read: PhysReader,
): AbiResult<{ phys: number; data: KhoSetupData } | null> {
  return decodeWith(() => {
    const seen = new Set<number>();
    let at = head;
    while (at !== 0) {
      if (seen.has(at)) throw new AbiError('CYCLE', 'setup_data', at, 'setup_data list loops');
      if (seen.size >= SETUP_DATA_MAX_RECORDS) {
        throw new AbiError('TOO_LONG', 'setup_data', at, `more than ${SETUP_DATA_MAX_RECORDS} records`);
      }
      seen.add(at);
      const hb = readPhys(read, at, SETUP_DATA_HEADER_SIZE, 'setup_data');
      const h = decodeSetupDataHeader(hb);
      if (!h.ok) throw h.error;
      if (h.value.type === SETUP_KEXEC_KHO) {
        const rec = decodeKhoSetupData(readPhys(read, at, KHO_SETUP_DATA_SIZE, 'setup_data'));
        if (!rec.ok) throw rec.error;
        return { phys: at, data: rec.value.data };
      }
      at = h.value.next;
    }
    return null;
  });
}
