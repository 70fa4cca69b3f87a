/**
 * Drive the reference: python3-libfdt (only under /usr/bin/python3) replays operation lists
 * (test/helpers/libfdt-ops.py). Many cases go in one call to keep tests fast.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FdtRw } from '../../src/fdt/rw.ts';
import { FdtSw } from '../../src/fdt/sw.ts';
import { FDT_ERRORS, FdtError } from '../../src/fdt/errors.ts';

const SCRIPT = fileURLToPath(new URL('./libfdt-ops.py', import.meta.url));

export type SwOp =
  ['rsv', number, number] | ['finrsv'] | ['begin', string] | ['prop', string, string] | ['end'];
export type RwOp =
  | ['setprop' | 'appendprop', string, string, string]
  | ['delprop' | 'add_subnode' | 'set_name' | 'nop_property', string, string]
  | ['del_node' | 'nop_node', string]
  | ['add_mem_rsv', number, number]
  | ['del_mem_rsv', number]
  | ['pack']
  | ['resize', number];

export type LibfdtCase =
  | { kind: 'sw'; ops: SwOp[] }
  | { kind: 'rw'; blob: string; bufsize: number; ops: RwOp[]; inplace?: boolean }
  | { kind: 'read'; blob: string }
  | { kind: 'check'; blob: string }
  | { kind: 'paths'; blob: string; paths: string[] };

/** libfdt's view of a node: name, [prop name, hex value] pairs, children. */
export type LibfdtNode = [string, [string, string][], LibfdtNode[]];

export interface LibfdtResult {
  hex?: string;
  err?: number;
  at?: number;
  /** rw cases: [op index, errno] for every failed op (failures do not stop the sequence). */
  errs?: [number, number][];
  tree?: LibfdtNode;
  rsv?: [string, string][];
  version?: number;
  last_comp?: number;
  cpu?: number;
  /** read: python's binding could not decode a name (not UTF-8). */
  skip?: string;
  /** paths: fdt_path_offset results (negative errno when not found). */
  offsets?: number[];
  /** read: libfdt itself crashed on the blob (signal number). */
  crash?: number;
}

/** Run cases through python3-libfdt. */
export function libfdt(cases: LibfdtCase[]): LibfdtResult[] {
  const out = execFileSync('/usr/bin/python3', [SCRIPT], {
    input: JSON.stringify(cases),
    maxBuffer: 1 << 30,
  });
  return JSON.parse(out.toString()) as LibfdtResult[];
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

function errno(e: unknown): number {
  if (e instanceof FdtError) return e.errno;
  throw e;
}

/** Our sequential writer on the same ops: {hex} or {err, at}. */
export function ourSw(ops: SwOp[]): LibfdtResult {
  const sw = FdtSw.create(1 << 16);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    try {
      if (op[0] === 'rsv') sw.addReservemapEntry(op[1], op[2]);
      else if (op[0] === 'finrsv') sw.finishReservemap();
      else if (op[0] === 'begin') sw.beginNode(op[1]);
      else if (op[0] === 'prop') sw.property(op[1], unhex(op[2]));
      else sw.endNode();
    } catch (e) {
      return { err: errno(e), at: i };
    }
  }
  return { hex: hex(sw.finish()) };
}

/** Apply one rw op to ours. */
export function applyRw(rw: FdtRw, op: RwOp): void {
  switch (op[0]) {
    case 'setprop':
      rw.setprop(op[1], op[2], unhex(op[3]));
      break;
    case 'appendprop':
      rw.appendprop(op[1], op[2], unhex(op[3]));
      break;
    case 'delprop':
      rw.delprop(op[1], op[2]);
      break;
    case 'add_subnode':
      rw.addSubnode(op[1], op[2]);
      break;
    case 'set_name':
      rw.setName(op[1], op[2]);
      break;
    case 'nop_property':
      rw.nopProperty(op[1], op[2]);
      break;
    case 'del_node':
      rw.delNode(op[1]);
      break;
    case 'nop_node':
      rw.nopNode(op[1]);
      break;
    case 'add_mem_rsv':
      rw.addMemRsv(op[1], op[2]);
      break;
    case 'del_mem_rsv':
      rw.delMemRsv(op[1]);
      break;
    case 'pack':
      rw.pack();
      break;
    case 'resize':
      rw.resize(op[1]);
      break;
  }
}

/**
 * Our rw edits on the same ops, reported like the python script: the whole buffer (cut to
 * totalsize after a pack, as python's Fdt.pack truncates its bytearray) and every failure.
 */
export function ourRw(blob: Uint8Array, bufsize: number, ops: RwOp[], inplace = false): LibfdtResult {
  let rw: FdtRw;
  try {
    rw = inplace ? FdtRw.openInPlace(blob) : FdtRw.openInto(blob, bufsize);
  } catch (e) {
    return { hex: hex(blob), errs: [[-1, errno(e)]] };
  }
  let cut = -1;
  const errs: [number, number][] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    try {
      applyRw(rw, op);
    } catch (e) {
      errs.push([i, errno(e)]);
      continue;
    }
    if (op[0] === 'pack') cut = rw.totalsize;
    else if (op[0] === 'resize') cut = -1;
  }
  return { hex: hex(cut >= 0 ? rw.buffer.subarray(0, cut) : rw.buffer), errs };
}

export { FDT_ERRORS };

/** Compare two results; on a byte mismatch name the first differing offset instead of dumping hex. */
export function assertSameResult(ours: LibfdtResult, ref: LibfdtResult, what: string): void {
  const a = ours.hex ?? '';
  const b = ref.hex ?? '';
  if (a !== b) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    const at = i >> 1;
    assert.fail(
      `${what}\nbytes differ at offset ${at} (lengths ${a.length / 2} vs ${b.length / 2}): ours ${a.slice(i & ~1, (i & ~1) + 32)} libfdt ${b.slice(i & ~1, (i & ~1) + 32)}`,
    );
  }
  assert.deepEqual({ ...ours, hex: undefined }, { ...ref, hex: undefined }, what);
}
