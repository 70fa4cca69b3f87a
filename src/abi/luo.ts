/**
 * The Live Update Orchestrator hand-over ABI `luo-v5` (include/linux/kho/abi/luo.h), all
 * structures `__packed`, little-endian:
 *
 * - KHO sub-tree `LUO` holds a raw `struct luo_ser` (32 bytes, `blob-size` 32, its own preserved
 *   page): 0:8 `compatible` ("luo-v5", NUL-padded to `LUO_ABI_COMPAT_LEN` = 8), 8:8
 *   `liveupdate_num`, 16:8 `sessions_pa` (first session block, 0 = none), 24:8 `flbs_pa`.
 * - Sessions live in a KHO serialization block chain (include/linux/kho/abi/block.h) of
 *   `struct luo_session_ser` (80 bytes, 51 per block): 0:64 `name`, 64:8 `file_set_ser.files`
 *   (first file block, 0 = none), 72:8 `file_set_ser.count`.
 * - Each session's files live in their own chain of `struct luo_file_ser` (64 bytes, 63 per
 *   block): 0:48 handler `compatible`, 48:8 `data` (the handler's handle), 56:8 `token`.
 * - The FLB page (kernel/liveupdate/luo_flb.c, one page): `struct luo_flb_header_ser`
 *   {u64 `pgcnt`, u64 `count`} then `struct luo_flb_ser` (64 bytes, 63 fit): 0:48 `name`,
 *   48:8 `data`, 56:8 `count` (files depending on it).
 */
import {
  checkRange,
  getCString,
  getU64,
  getU64Big,
  need,
  putCString,
  putU64,
  putU64Big,
  readPhys,
  viewOf,
} from './bytes.ts';
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult, PhysReader } from './errors.ts';
import { KHO_BLOCK_SIZE, walkKhoBlocks } from './kho-block.ts';
import { LIVEUPDATE_SESSION_NAME_LENGTH } from './liveupdate-uapi.ts';

/** `LUO_KHO_ENTRY_NAME`: the KHO sub-tree. */
export const LUO_KHO_ENTRY_NAME = 'LUO';
/** `LUO_ABI_COMPATIBLE`. */
export const LUO_ABI_COMPATIBLE = 'luo-v5';
/** `LUO_ABI_COMPAT_LEN`: `ALIGN(sizeof("luo-v5"), 8)`. */
export const LUO_ABI_COMPAT_LEN = 8;
/** `sizeof(struct luo_ser)`; also the sub-tree's `blob-size` and the minimum the successor accepts. */
export const LUO_SER_SIZE = 32;
/** `LIVEUPDATE_HNDL_COMPAT_LENGTH`: a file handler's compatible with its NUL. */
export const LIVEUPDATE_HNDL_COMPAT_LENGTH = 48;
/** `LIVEUPDATE_FLB_COMPAT_LENGTH`: an FLB's name with its NUL. */
export const LIVEUPDATE_FLB_COMPAT_LENGTH = 48;
/** `sizeof(struct luo_session_ser)`. */
export const LUO_SESSION_SER_SIZE = 80;
/** `sizeof(struct luo_file_ser)`. */
export const LUO_FILE_SER_SIZE = 64;
/** Session entries per KHO block: (4096 − 16) / 80. */
export const LUO_SESSIONS_PER_BLOCK = 51;
/** File entries per KHO block: (4096 − 16) / 64. */
export const LUO_FILES_PER_BLOCK = 63;
/** `LUO_FLB_PGCNT`: pages of the FLB area. */
export const LUO_FLB_PGCNT = 1;
/** `sizeof(struct luo_flb_header_ser)`. */
export const LUO_FLB_HEADER_SIZE = 16;
/** `sizeof(struct luo_flb_ser)`. */
export const LUO_FLB_SER_SIZE = 64;
/** `LUO_FLB_MAX`: FLB entries in the page, (4096 − 16) / 64. */
export const LUO_FLB_MAX = 63;

/** `struct luo_ser`. */
export interface LuoSer {
  /** The compatible text up to its NUL (within 8 bytes). */
  compatible: string;
  /** The 8 raw compatible bytes. */
  compatibleBytes: Uint8Array;
  /** Live updates so far: the writer's incoming number + 1 (any u64). */
  liveupdateNum: bigint;
  /** First session block, 0 when no session was handed over. */
  sessionsPa: number;
  /** The FLB page. */
  flbsPa: number;
}

/** Encode a `struct luo_ser` (32 bytes). */
export function encodeLuoSer(s: {
  compatible?: string | Uint8Array;
  liveupdateNum: bigint | number;
  sessionsPa: number;
  flbsPa: number;
}): Uint8Array {
  const b = new Uint8Array(LUO_SER_SIZE);
  const v = viewOf(b);
  putCString(b, 0, s.compatible ?? LUO_ABI_COMPATIBLE, LUO_ABI_COMPAT_LEN, 'luo_ser', 'compatible');
  putU64Big(v, 8, s.liveupdateNum, 'luo_ser', 'liveupdate_num');
  putU64(v, 16, s.sessionsPa, 'luo_ser', 'sessions_pa');
  putU64(v, 24, s.flbsPa, 'luo_ser', 'flbs_pa');
  return b;
}

/** Decode a `struct luo_ser` (needs 32 bytes; the compatible is not checked, see {@link isLuoAbiCompatible}). */
export function decodeLuoSer(b: Uint8Array, off = 0): AbiResult<LuoSer> {
  return decodeWith(() => {
    need(b, off, LUO_SER_SIZE, 'luo_ser');
    return {
      compatible: getCString(b, off, LUO_ABI_COMPAT_LEN, 'luo_ser', 'compatible'),
      compatibleBytes: b.slice(off, off + LUO_ABI_COMPAT_LEN),
      liveupdateNum: getU64Big(b, off + 8, 'luo_ser', 'liveupdate_num'),
      sessionsPa: getU64(b, off + 16, 'luo_ser', 'sessions_pa'),
      flbsPa: getU64(b, off + 24, 'luo_ser', 'flbs_pa'),
    };
  });
}

/**
 * The successor's check `strncmp(ser->compatible, LUO_ABI_COMPATIBLE, LUO_ABI_COMPAT_LEN) == 0`
 * (kernel/liveupdate/luo_core.c: luo_early_startup()): equal up to the first NUL within 8 bytes.
 */
export function isLuoAbiCompatible(compatibleBytes: Uint8Array, expected = LUO_ABI_COMPATIBLE): boolean {
  const want = new TextEncoder().encode(expected);
  for (let i = 0; i < LUO_ABI_COMPAT_LEN; i++) {
    const a = compatibleBytes[i] ?? 0;
    const e = want[i] ?? 0;
    if (a !== e) return false;
    if (a === 0) return true;
  }
  return true;
}

/** `struct luo_session_ser`. */
export interface LuoSessionSer {
  /** The name up to its NUL (UTF-8), for display. */
  name: string;
  /** The 64 raw name bytes. */
  nameBytes: Uint8Array;
  /** `file_set_ser.files`: first file block, 0 when the session has no files. */
  files: number;
  /** `file_set_ser.count`: files handed over. */
  count: number;
}

/** Encode a session entry (80 bytes). */
export function encodeLuoSessionSer(s: {
  name: string | Uint8Array;
  files: number;
  count: number;
}): Uint8Array {
  const b = new Uint8Array(LUO_SESSION_SER_SIZE);
  const v = viewOf(b);
  putCString(b, 0, s.name, LIVEUPDATE_SESSION_NAME_LENGTH, 'luo_session_ser', 'name');
  putU64(v, 64, s.files, 'luo_session_ser', 'file_set_ser.files');
  putU64(v, 72, s.count, 'luo_session_ser', 'file_set_ser.count');
  return b;
}

/** Decode a session entry (needs 80 bytes). */
export function decodeLuoSessionSer(b: Uint8Array, off = 0): AbiResult<LuoSessionSer> {
  return decodeWith(() => {
    need(b, off, LUO_SESSION_SER_SIZE, 'luo_session_ser');
    return {
      name: getCString(b, off, LIVEUPDATE_SESSION_NAME_LENGTH, 'luo_session_ser', 'name'),
      nameBytes: b.slice(off, off + LIVEUPDATE_SESSION_NAME_LENGTH),
      files: getU64(b, off + 64, 'luo_session_ser', 'file_set_ser.files'),
      count: getU64(b, off + 72, 'luo_session_ser', 'file_set_ser.count'),
    };
  });
}

/** `struct luo_file_ser`. */
export interface LuoFileSer {
  /** The handler's compatible up to its NUL, e.g. `memfd-v2`. */
  compatible: string;
  /** The handler's handle (memfd: physical address of its `memfd_luo_ser`); any u64. */
  data: bigint;
  /** The user's token; any u64. */
  token: bigint;
}

/** Encode a file entry (64 bytes). */
export function encodeLuoFileSer(f: {
  compatible: string | Uint8Array;
  data: bigint | number;
  token: bigint | number;
}): Uint8Array {
  const b = new Uint8Array(LUO_FILE_SER_SIZE);
  const v = viewOf(b);
  putCString(b, 0, f.compatible, LIVEUPDATE_HNDL_COMPAT_LENGTH, 'luo_file_ser', 'compatible');
  putU64Big(v, 48, f.data, 'luo_file_ser', 'data');
  putU64Big(v, 56, f.token, 'luo_file_ser', 'token');
  return b;
}

/** Decode a file entry (needs 64 bytes). */
export function decodeLuoFileSer(b: Uint8Array, off = 0): AbiResult<LuoFileSer> {
  return decodeWith(() => {
    need(b, off, LUO_FILE_SER_SIZE, 'luo_file_ser');
    return {
      compatible: getCString(b, off, LIVEUPDATE_HNDL_COMPAT_LENGTH, 'luo_file_ser', 'compatible'),
      data: getU64Big(b, off + 48, 'luo_file_ser', 'data'),
      token: getU64Big(b, off + 56, 'luo_file_ser', 'token'),
    };
  });
}

/** `struct luo_flb_ser`. */
export interface LuoFlbSer {
  /** The FLB's compatible name up to its NUL. */
  name: string;
  /** The FLB's handle (any u64). */
  data: bigint;
  /** Files that depended on it. */
  count: number;
}

/** The FLB page: header and entries. */
export interface LuoFlbPage {
  /** `pgcnt`: pages of the area (1). */
  pgcnt: number;
  /** `count`: entries in use. */
  count: number;
  /** The first `count` entries. */
  entries: LuoFlbSer[];
}

/** Encode the FLB page (4096 bytes). */
export function encodeLuoFlbPage(
  entries: readonly { name: string | Uint8Array; data: bigint | number; count: number }[],
  pgcnt = LUO_FLB_PGCNT,
): Uint8Array {
  checkRange(entries.length, LUO_FLB_MAX, 'luo_flb_header_ser', 'count');
  const b = new Uint8Array(KHO_BLOCK_SIZE);
  const v = viewOf(b);
  putU64(v, 0, pgcnt, 'luo_flb_header_ser', 'pgcnt');
  putU64(v, 8, entries.length, 'luo_flb_header_ser', 'count');
  entries.forEach((e, i) => {
    const off = LUO_FLB_HEADER_SIZE + i * LUO_FLB_SER_SIZE;
    putCString(b, off, e.name, LIVEUPDATE_FLB_COMPAT_LENGTH, 'luo_flb_ser', 'name');
    putU64Big(v, off + 48, e.data, 'luo_flb_ser', 'data');
    putU64(v, off + 56, e.count, 'luo_flb_ser', 'count');
  });
  return b;
}

/**
 * Decode the FLB page. The kernel reads `count` entries without checking it against the page
 * (kernel/liveupdate/luo_flb.c); here a `count` above 63 is BAD_VALUE.
 */
export function decodeLuoFlbPage(b: Uint8Array): AbiResult<LuoFlbPage> {
  return decodeWith(() => {
    const pgcnt = getU64(b, 0, 'luo_flb_header_ser', 'pgcnt');
    const count = getU64(b, 8, 'luo_flb_header_ser', 'count');
    if (count > LUO_FLB_MAX) {
      throw new AbiError('BAD_VALUE', 'luo_flb_header_ser', 8, `count ${count} is more than ${LUO_FLB_MAX}`);
    }
    const entries: LuoFlbSer[] = [];
    for (let i = 0; i < count; i++) {
      const off = LUO_FLB_HEADER_SIZE + i * LUO_FLB_SER_SIZE;
      entries.push({
        name: getCString(b, off, LIVEUPDATE_FLB_COMPAT_LENGTH, 'luo_flb_ser', 'name'),
        data: getU64Big(b, off + 48, 'luo_flb_ser', 'data'),
        count: getU64(b, off + 56, 'luo_flb_ser', 'count'),
      });
    }
    return { pgcnt, count, entries };
  });
}

/** Read and decode the FLB page at `phys`. */
export function readLuoFlbPage(phys: number, read: PhysReader): AbiResult<LuoFlbPage> {
  return decodeWith(() => {
    const r = decodeLuoFlbPage(readPhys(read, phys, KHO_BLOCK_SIZE, 'luo_flb_header_ser'));
    if (!r.ok) throw r.error;
    return r.value;
  });
}

/** Entries of a chain with the blocks that held them. */
export interface LuoChain<T> {
  /** Block addresses in chain order. */
  blocks: number[];
  /** Every entry, in order. */
  entries: T[];
}

function walkEntries<T>(
  head: number,
  entrySize: number,
  read: PhysReader,
  decode: (b: Uint8Array) => AbiResult<T>,
): AbiResult<LuoChain<T>> {
  return decodeWith(() => {
    const w = walkKhoBlocks(head, entrySize, read);
    if (!w.ok) throw w.error;
    const entries: T[] = [];
    for (const blk of w.value) {
      for (const e of blk.entries) {
        const r = decode(e);
        if (!r.ok) throw r.error;
        entries.push(r.value);
      }
    }
    return { blocks: w.value.map((x) => x.phys), entries };
  });
}

/** Walk a session block chain with the restore checks of kernel/liveupdate/kho_block.c. */
export function walkLuoSessions(head: number, read: PhysReader): AbiResult<LuoChain<LuoSessionSer>> {
  return walkEntries(head, LUO_SESSION_SER_SIZE, read, decodeLuoSessionSer);
}

/** Walk a file block chain with the restore checks of kernel/liveupdate/kho_block.c. */
export function walkLuoFiles(head: number, read: PhysReader): AbiResult<LuoChain<LuoFileSer>> {
  return walkEntries(head, LUO_FILE_SER_SIZE, read, decodeLuoFileSer);
}
