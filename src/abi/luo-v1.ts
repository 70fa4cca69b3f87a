/**
 * The FDT-era LUO hand-over `luo-v1` (v6.19 … v7.1; include/linux/kho/abi/luo.h before the
 * `struct luo_ser` rework). Sub-tree `LUO` is a one-page FDT written in sequential-write mode by
 * kernel/liveupdate/luo_core.c: luo_fdt_setup():
 *
 * ```
 * / { compatible = "luo-v1"; liveupdate-number = <u64 LE>;
 *     luo-session { compatible = "luo-session-v2"; luo-session-header = <u64 LE phys>; };
 *     luo-flb     { compatible = "luo-flb-v1";     luo-flb-header     = <u64 LE phys>; };  // v7.0+
 * };
 * ```
 *
 * `luo-session-header` points at a 16-page preserved area: `struct luo_session_header_ser`
 * {u64 count} followed by `struct luo_session_ser` entries (80 bytes, the same layout as
 * luo-v5, src/abi/luo.ts), at most (65536 − 8) / 80 = 819. A session's `file_set_ser.files`
 * points at a 2-page array of `struct luo_file_ser` (64 bytes, 128 entries) without a header.
 * `luo-flb-header` points at the FLB page (src/abi/luo.ts).
 */
import { getU64, need, putU64 } from './bytes.ts';
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult } from './errors.ts';
import { decodeStringListProp } from './kho-fdt.ts';
import {
  decodeLuoFileSer,
  decodeLuoSessionSer,
  encodeLuoFileSer,
  encodeLuoSessionSer,
  LUO_FILE_SER_SIZE,
  LUO_SESSION_SER_SIZE,
} from './luo.ts';
import type { LuoFileSer, LuoSessionSer } from './luo.ts';
import { FdtError } from '../fdt/errors.ts';
import { Fdt } from '../fdt/reader.ts';
import { FdtSw } from '../fdt/sw.ts';

/** `LUO_FDT_SIZE`: the FDT buffer, one page. */
export const LUO_FDT_SIZE = 4096;
/** `LUO_FDT_COMPATIBLE`. */
export const LUO_FDT_COMPATIBLE = 'luo-v1';
/** `LUO_FDT_LIVEUPDATE_NUM`: root property, LE64. */
export const LUO_FDT_LIVEUPDATE_NUM = 'liveupdate-number';
/** `LUO_FDT_SESSION_NODE_NAME`. */
export const LUO_FDT_SESSION_NODE_NAME = 'luo-session';
/** `LUO_FDT_SESSION_COMPATIBLE` as released (v1 existed only inside the merge series). */
export const LUO_FDT_SESSION_COMPATIBLE = 'luo-session-v2';
/** `LUO_FDT_SESSION_HEADER`: LE64 phys of the session area. */
export const LUO_FDT_SESSION_HEADER = 'luo-session-header';
/** `LUO_FDT_FLB_NODE_NAME` (v7.0+). */
export const LUO_FDT_FLB_NODE_NAME = 'luo-flb';
/** `LUO_FDT_FLB_COMPATIBLE`. */
export const LUO_FDT_FLB_COMPATIBLE = 'luo-flb-v1';
/** `LUO_FDT_FLB_HEADER`: LE64 phys of the FLB page. */
export const LUO_FDT_FLB_HEADER = 'luo-flb-header';
/** `LUO_SESSION_PGCNT`: pages of the session area. */
export const LUO_V1_SESSION_PGCNT = 16;
/** Bytes of the session area. */
export const LUO_V1_SESSION_AREA_SIZE = LUO_V1_SESSION_PGCNT * 4096;
/** `sizeof(struct luo_session_header_ser)`. */
export const LUO_V1_SESSION_HEADER_SIZE = 8;
/** `LUO_SESSION_MAX`: (16 pages − 8) / 80 = 819 (the source comment says 744). The 820th create is -ENOMEM. */
export const LUO_V1_SESSION_MAX = Math.floor(
  (LUO_V1_SESSION_AREA_SIZE - LUO_V1_SESSION_HEADER_SIZE) / LUO_SESSION_SER_SIZE,
);
/** `LUO_FILE_PGCNT`: pages of a session's file array. */
export const LUO_V1_FILE_PGCNT = 2;
/** Bytes of a file array. */
export const LUO_V1_FILE_AREA_SIZE = LUO_V1_FILE_PGCNT * 4096;
/** `LUO_FILE_MAX`: 8192 / 64 = 128 files per session; the 129th preserve is -ENOSPC. */
export const LUO_V1_FILE_MAX = LUO_V1_FILE_AREA_SIZE / LUO_FILE_SER_SIZE;

/** What the root FDT says. */
export interface LuoV1Fdt {
  /** `liveupdate-number`. */
  liveupdateNum: bigint;
  /** `luo-session-header`: the session area. */
  sessionHeader: number;
  /** `luo-flb-header`, or null when the tree has no `luo-flb` node (v6.19 writers). */
  flbHeader: number | null;
}

function le64(x: bigint | number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(x), true);
  return b;
}

/**
 * The FDT page as luo_fdt_setup() leaves it: fdt_create(page, 4096), the root with `compatible`
 * and `liveupdate-number`, the `luo-session` node, the `luo-flb` node unless `flbHeader` is null
 * (v6.19), fdt_finish. Returns the whole 4096-byte buffer, including what fdt_finish leaves
 * behind past `totalsize`.
 */
export function writeLuoV1Fdt(s: LuoV1Fdt): Uint8Array {
  const sw = FdtSw.create(LUO_FDT_SIZE);
  sw.finishReservemap();
  sw.beginNode('');
  sw.propertyString('compatible', LUO_FDT_COMPATIBLE);
  sw.property(LUO_FDT_LIVEUPDATE_NUM, le64(s.liveupdateNum));
  sw.beginNode(LUO_FDT_SESSION_NODE_NAME);
  sw.propertyString('compatible', LUO_FDT_SESSION_COMPATIBLE);
  sw.property(LUO_FDT_SESSION_HEADER, le64(s.sessionHeader));
  sw.endNode();
  if (s.flbHeader !== null) {
    sw.beginNode(LUO_FDT_FLB_NODE_NAME);
    sw.propertyString('compatible', LUO_FDT_FLB_COMPATIBLE);
    sw.property(LUO_FDT_FLB_HEADER, le64(s.flbHeader));
    sw.endNode();
  }
  sw.endNode();
  sw.finish();
  return sw.buffer;
}

/** Which incoming check of the FDT era failed. */
export type LuoV1Check =
  | 'compatible'
  | 'liveupdate-number'
  | 'session-node'
  | 'session-compatible'
  | 'session-header'
  | 'flb-compatible'
  | 'flb-header';

/**
 * A failed incoming check, with the number the kernel prints in brackets: the libfdt result of
 * `fdt_node_check_compatible` (1 = not in the list, negative = libfdt error) or the property
 * length from `fdt_getprop` (−1 = absent).
 */
export class LuoV1FdtError extends AbiError {
  /** The check, in the kernel's order. */
  readonly check: LuoV1Check;
  /** The bracketed number of the kernel's message. */
  readonly value: number;

  constructor(check: LuoV1Check, value: number, detail: string) {
    super(check === 'compatible' ? 'BAD_MAGIC' : 'BAD_VALUE', `luo-v1/${check}`, -1, detail);
    this.name = 'LuoV1FdtError';
    this.check = check;
    this.value = value;
  }
}

const NOTFOUND = -1;

/** fdt_node_check_compatible(): 0 when `compat` is listed, 1 when not, −1 without the property. */
function checkCompatible(fdt: Fdt, node: number, compat: string): number {
  const v = fdt.getprop(node, 'compatible');
  if (v === null) return NOTFOUND;
  return decodeStringListProp(v).includes(compat) ? 0 : 1;
}

/** fdt_getprop() of an 8-byte property: the value, or the length the kernel prints. */
function getLe64(fdt: Fdt, node: number, name: string): { value: bigint | null; len: number } {
  const v = fdt.getprop(node, name);
  if (v === null) return { value: null, len: NOTFOUND };
  if (v.length !== 8) return { value: null, len: v.length };
  return { value: new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true), len: 8 };
}

function phys(x: bigint, check: LuoV1Check): number {
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new LuoV1FdtError(check, 8, `0x${x.toString(16)} does not fit in 53 bits`);
  }
  return Number(x);
}

/**
 * Decode the root FDT with the successor's checks in the kernel's order
 * (luo_core.c: luo_early_startup(), luo_session.c: luo_session_setup_incoming(),
 * luo_flb.c: luo_flb_setup_incoming()). A missing `luo-flb` node gives `flbHeader` null: the
 * v6.19 successor does not look for it, a v7.0+ successor fails with -ENOENT. An invalid blob
 * fails the compatible check with the libfdt error, as fdt_node_check_compatible() does.
 */
export function decodeLuoV1Fdt(blob: Uint8Array): AbiResult<LuoV1Fdt> {
  return decodeWith(() => {
    let fdt: Fdt;
    try {
      fdt = new Fdt(blob);
    } catch (e) {
      if (!(e instanceof FdtError)) throw e;
      throw new LuoV1FdtError('compatible', -e.errno, `not a valid FDT: ${e.message}`);
    }
    const root = fdt.root();
    const c = checkCompatible(fdt, root, LUO_FDT_COMPATIBLE);
    if (c !== 0)
      throw new LuoV1FdtError('compatible', c, `root is not compatible with '${LUO_FDT_COMPATIBLE}'`);
    const ln = getLe64(fdt, root, LUO_FDT_LIVEUPDATE_NUM);
    if (ln.value === null) {
      throw new LuoV1FdtError('liveupdate-number', ln.len, `'${LUO_FDT_LIVEUPDATE_NUM}' is not 8 bytes`);
    }
    const sn = fdt.subnode(root, LUO_FDT_SESSION_NODE_NAME);
    if (sn < 0) throw new LuoV1FdtError('session-node', NOTFOUND, `no '${LUO_FDT_SESSION_NODE_NAME}' node`);
    const sc = checkCompatible(fdt, sn, LUO_FDT_SESSION_COMPATIBLE);
    if (sc !== 0) {
      throw new LuoV1FdtError(
        'session-compatible',
        sc,
        `session node is not '${LUO_FDT_SESSION_COMPATIBLE}'`,
      );
    }
    const sh = getLe64(fdt, sn, LUO_FDT_SESSION_HEADER);
    if (sh.value === null) {
      throw new LuoV1FdtError('session-header', sh.len, `'${LUO_FDT_SESSION_HEADER}' is not 8 bytes`);
    }
    let flbHeader: number | null = null;
    const fn = fdt.subnode(root, LUO_FDT_FLB_NODE_NAME);
    if (fn >= 0) {
      const fc = checkCompatible(fdt, fn, LUO_FDT_FLB_COMPATIBLE);
      if (fc !== 0)
        throw new LuoV1FdtError('flb-compatible', fc, `FLB node is not '${LUO_FDT_FLB_COMPATIBLE}'`);
      const fh = getLe64(fdt, fn, LUO_FDT_FLB_HEADER);
      if (fh.value === null) {
        throw new LuoV1FdtError('flb-header', fh.len, `'${LUO_FDT_FLB_HEADER}' is not 8 bytes`);
      }
      flbHeader = phys(fh.value, 'flb-header');
    }
    return {
      liveupdateNum: ln.value,
      sessionHeader: phys(sh.value, 'session-header'),
      flbHeader,
    };
  });
}

/** The session area: its header count and the entries it holds. */
export interface LuoV1SessionArea {
  /** `luo_session_header_ser.count`. */
  count: number;
  /** The first `count` entries. */
  sessions: LuoSessionSer[];
}

/** Encode the 16-page session area: {u64 count} then the entries. */
export function encodeLuoV1SessionArea(
  sessions: readonly { name: string | Uint8Array; files: number; count: number }[],
): Uint8Array {
  if (sessions.length > LUO_V1_SESSION_MAX) {
    throw new AbiError(
      'BAD_VALUE',
      'luo_session_header_ser',
      0,
      `${sessions.length} sessions, at most ${LUO_V1_SESSION_MAX}`,
    );
  }
  const b = new Uint8Array(LUO_V1_SESSION_AREA_SIZE);
  putU64(new DataView(b.buffer), 0, sessions.length, 'luo_session_header_ser', 'count');
  sessions.forEach((s, i) => {
    b.set(encodeLuoSessionSer(s), LUO_V1_SESSION_HEADER_SIZE + i * LUO_SESSION_SER_SIZE);
  });
  return b;
}

/**
 * Decode the session area (at least the header and `count` entries). The kernel loops over
 * `count` without a bound (luo_session_deserialize()); here a count above 819 is BAD_VALUE.
 */
export function decodeLuoV1SessionArea(b: Uint8Array): AbiResult<LuoV1SessionArea> {
  return decodeWith(() => {
    const count = getU64(b, 0, 'luo_session_header_ser', 'count');
    if (count > LUO_V1_SESSION_MAX) {
      throw new AbiError(
        'BAD_VALUE',
        'luo_session_header_ser',
        0,
        `count ${count} is more than ${LUO_V1_SESSION_MAX}`,
      );
    }
    need(b, 0, LUO_V1_SESSION_HEADER_SIZE + count * LUO_SESSION_SER_SIZE, 'luo_session_ser[]');
    const sessions: LuoSessionSer[] = [];
    for (let i = 0; i < count; i++) {
      const r = decodeLuoSessionSer(b, LUO_V1_SESSION_HEADER_SIZE + i * LUO_SESSION_SER_SIZE);
      if (!r.ok) throw r.error;
      sessions.push(r.value);
    }
    return { count, sessions };
  });
}

/** Encode a session's 2-page file array (no header; the count is in the session entry). */
export function encodeLuoV1FileArray(
  files: readonly { compatible: string | Uint8Array; data: bigint | number; token: bigint | number }[],
): Uint8Array {
  if (files.length > LUO_V1_FILE_MAX) {
    throw new AbiError('BAD_VALUE', 'luo_file_ser[]', 0, `${files.length} files, at most ${LUO_V1_FILE_MAX}`);
  }
  const b = new Uint8Array(LUO_V1_FILE_AREA_SIZE);
  files.forEach((f, i) => {
    b.set(encodeLuoFileSer(f), i * LUO_FILE_SER_SIZE);
  });
  return b;
}

/** Decode the first `count` entries of a file array (a count above 128 is BAD_VALUE). */
export function decodeLuoV1FileArray(b: Uint8Array, count: number): AbiResult<LuoFileSer[]> {
  return decodeWith(() => {
    if (count > LUO_V1_FILE_MAX) {
      throw new AbiError('BAD_VALUE', 'luo_file_ser[]', 0, `count ${count} is more than ${LUO_V1_FILE_MAX}`);
    }
    need(b, 0, count * LUO_FILE_SER_SIZE, 'luo_file_ser[]');
    const out: LuoFileSer[] = [];
    for (let i = 0; i < count; i++) {
      const r = decodeLuoFileSer(b, i * LUO_FILE_SER_SIZE);
      if (!r.ok) throw r.error;
      out.push(r.value);
    }
    return out;
  });
}
