/**
 * The `lib/test_kho.c` sub-tree: sub-tree `kho_test`, an FDT written in this order:
 *
 * ```
 * / { compatible = "kho-test-v1";  magic = <u32 LE 0x4B484F21>;
 *     data { nr_folios = <u32 LE>; folios_info = <struct kho_vmalloc, 16 bytes>; csum = <u32 LE>; }; };
 * ```
 *
 * `folios_info` describes a preserved vmalloc array of u64 entries `phys | order` (order in the
 * low 12 bits).
 */
import { fdtTree, type FdtNode, type FdtTree } from '../fdt/tree.ts';
import { checkRange, getU32, viewOf } from './bytes.ts';
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult } from './errors.ts';
import { encodeStringProp, stringListContains } from './kho-fdt.ts';
import { decodeKhoVmalloc, encodeKhoVmalloc, KHO_VMALLOC_DESC_SIZE } from './kho-vmalloc.ts';
import type { KhoVmalloc } from './kho-vmalloc.ts';

/** Sub-tree name (`KHO_TEST_FDT`). */
export const KHO_TEST_FDT = 'kho_test';
/** Root compatible (`KHO_TEST_COMPAT`). */
export const KHO_TEST_COMPAT = 'kho-test-v1';
/** `KHO_TEST_MAGIC`: "KHO!". */
export const KHO_TEST_MAGIC = 0x4b484f21;
/** Name of the data node. */
export const KHO_TEST_DATA_NODE = 'data';
/** Bits of a `folios_info` entry that hold the order. */
export const KHO_TEST_ORDER_MASK = 0xfff;
/** Size of one `folios_info` entry. */
export const KHO_TEST_FOLIO_INFO_SIZE = 8;

/** What the test module records. */
export interface KhoTestState {
  /** Number of folios. */
  nrFolios: number;
  /** Descriptor of the preserved `folios_info` vmalloc array. */
  foliosInfo: KhoVmalloc;
  /** 32-bit checksum of all folio contents. */
  csum: number;
}

function u32(x: number, field: string): Uint8Array {
  checkRange(x, 0xffff_ffff, 'kho_test', field);
  const b = new Uint8Array(4);
  viewOf(b).setUint32(0, x, true);
  return b;
}

/** The tree the save path writes. */
export function buildTestKhoTree(s: KhoTestState, magic = KHO_TEST_MAGIC): FdtTree {
  const data: FdtNode = {
    name: KHO_TEST_DATA_NODE,
    props: [
      { name: 'nr_folios', value: u32(s.nrFolios, 'nr_folios') },
      { name: 'folios_info', value: encodeKhoVmalloc(s.foliosInfo) },
      { name: 'csum', value: u32(s.csum, 'csum') },
    ],
    children: [],
  };
  return fdtTree({
    name: '',
    props: [
      { name: 'compatible', value: encodeStringProp(KHO_TEST_COMPAT) },
      { name: 'magic', value: u32(magic, 'magic') },
    ],
    children: [data],
  });
}

function prop(node: FdtNode, name: string): Uint8Array | null {
  return node.props.find((p) => p.name === name)?.value ?? null;
}

function exact(node: FdtNode, name: string, len: number): Uint8Array {
  const v = prop(node, name);
  if (v?.length !== len) {
    throw new AbiError('BAD_LENGTH', 'kho_test', -1, `${name} must be ${len} bytes`);
  }
  return v;
}

/**
 * Decode with the restore path's checks (each failure is -EINVAL there): root compatible
 * `kho-test-v1` and a 4-byte `magic` equal to the constant (BAD_MAGIC); `/data` with a 4-byte
 * `nr_folios`, 4-byte `csum` and 16-byte `folios_info` (BAD_LENGTH).
 */
export function decodeTestKhoTree(tree: FdtTree): AbiResult<KhoTestState> {
  return decodeWith(() => {
    const c = prop(tree.root, 'compatible');
    if (c === null || !stringListContains(c, KHO_TEST_COMPAT)) {
      throw new AbiError('BAD_MAGIC', 'kho_test', -1, `root is not compatible with '${KHO_TEST_COMPAT}'`);
    }
    const magic = getU32(exact(tree.root, 'magic', 4), 0, 'kho_test', 'magic');
    if (magic !== KHO_TEST_MAGIC) {
      throw new AbiError('BAD_MAGIC', 'kho_test', -1, `magic 0x${magic.toString(16)}`);
    }
    const data = tree.root.children.find((n) => n.name === KHO_TEST_DATA_NODE);
    if (data === undefined) throw new AbiError('BAD_VALUE', 'kho_test', -1, 'no /data node');
    const nrFolios = getU32(exact(data, 'nr_folios', 4), 0, 'kho_test', 'nr_folios');
    const csum = getU32(exact(data, 'csum', 4), 0, 'kho_test', 'csum');
    const fi = decodeKhoVmalloc(exact(data, 'folios_info', KHO_VMALLOC_DESC_SIZE));
    if (!fi.ok) throw fi.error;
    return { nrFolios, foliosInfo: fi.value, csum };
  });
}

/** A `folios_info` entry: `phys | order`. */
export function encodeFolioInfo(phys: number, order: number): number {
  checkRange(order, KHO_TEST_ORDER_MASK, 'kho_test', 'order');
  if (phys % 4096 !== 0) throw new AbiError('BAD_VALUE', 'kho_test', -1, 'phys is not page aligned');
  return phys + order;
}

/** Split a `folios_info` entry into its phys (`& ~0xFFF`) and order (`& 0xFFF`). */
export function decodeFolioInfo(value: number): { phys: number; order: number } {
  const order = value % 4096;
  return { phys: value - order, order };
}
