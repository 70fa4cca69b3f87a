/**
 * The memblock `reserve_mem` hand-over (mm/memblock.c, include/linux/kho/abi/memblock.h,
 * include/linux/kho/abi/memblock.h): sub-tree `memblock`, an FDT whose root has `compatible = "memblock-v1"`
 * and one child per reservation, named by the reservation, with `compatible = "reserve-mem-v1"`, `start` and
 * `size` (8 bytes each, raw little-endian `phys_addr_t`), written in that order.
 */
import { fdtTree, type FdtNode, type FdtTree } from '../fdt/tree.ts';
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult } from './errors.ts';
import { decodeLe64Prop, encodeLe64Prop, encodeStringProp, stringListContains } from './kho-fdt.ts';

/** Sub-tree name (`MEMBLOCK_KHO_FDT`). */
export const MEMBLOCK_KHO_FDT = 'memblock';
/** Root compatible (`MEMBLOCK_KHO_NODE_COMPATIBLE`). */
export const MEMBLOCK_KHO_NODE_COMPATIBLE = 'memblock-v1';
/** Child compatible (`RESERVE_MEM_KHO_NODE_COMPATIBLE`). */
export const RESERVE_MEM_KHO_NODE_COMPATIBLE = 'reserve-mem-v1';
/** Child property: start address, LE64. */
export const RESERVE_MEM_PROP_START = 'start';
/** Child property: size, LE64. */
export const RESERVE_MEM_PROP_SIZE = 'size';

/** One preserved reservation. */
export interface ReserveMemRecord {
  name: string;
  start: number;
  size: number;
}

/**
 * The tree `prepare_kho_fdt()` writes for `records` (in table order). Turn it into bytes with the
 * FDT writer; the kernel uses sequential-write mode, which the writer reproduces.
 */
export function buildMemblockTree(records: readonly ReserveMemRecord[]): FdtTree {
  const children: FdtNode[] = records.map((r) => ({
    name: r.name,
    props: [
      { name: 'compatible', value: encodeStringProp(RESERVE_MEM_KHO_NODE_COMPATIBLE) },
      { name: RESERVE_MEM_PROP_START, value: encodeLe64Prop(r.start) },
      { name: RESERVE_MEM_PROP_SIZE, value: encodeLe64Prop(r.size) },
    ],
    children: [],
  }));
  return fdtTree({
    name: '',
    props: [{ name: 'compatible', value: encodeStringProp(MEMBLOCK_KHO_NODE_COMPATIBLE) }],
    children,
  });
}

function prop(node: FdtNode, name: string): Uint8Array | null {
  return node.props.find((p) => p.name === name)?.value ?? null;
}

/** Whether a node's `compatible` list contains `compat` (`fdt_node_check_compatible` == 0). */
function isCompatible(node: FdtNode, compat: string): boolean {
  const c = prop(node, 'compatible');
  return c !== null && stringListContains(c, compat);
}

/**
 * Decode the tree with the successor's checks: root must be `memblock-v1` (BAD_MAGIC); a child
 * that is not `reserve-mem-v1` or lacks an 8-byte `start`/`size` is reported in `rejected`, like
 * the kernel falls back to a fresh allocation for that name only.
 */
export function decodeMemblockTree(
  tree: FdtTree,
): AbiResult<{ records: ReserveMemRecord[]; rejected: { name: string; reason: string }[] }> {
  return decodeWith(() => {
    if (!isCompatible(tree.root, MEMBLOCK_KHO_NODE_COMPATIBLE)) {
      throw new AbiError(
        'BAD_MAGIC',
        'memblock',
        -1,
        `root is not compatible with '${MEMBLOCK_KHO_NODE_COMPATIBLE}'`,
      );
    }
    const records: ReserveMemRecord[] = [];
    const rejected: { name: string; reason: string }[] = [];
    for (const child of tree.root.children) {
      if (!isCompatible(child, RESERVE_MEM_KHO_NODE_COMPATIBLE)) {
        rejected.push({
          name: child.name,
          reason: `not compatible with '${RESERVE_MEM_KHO_NODE_COMPATIBLE}'`,
        });
        continue;
      }
      const s = prop(child, RESERVE_MEM_PROP_START);
      const z = prop(child, RESERVE_MEM_PROP_SIZE);
      const start = s === null ? null : decodeLe64Prop(s, 'start');
      const size = z === null ? null : decodeLe64Prop(z, 'size');
      if (start === null || size === null || !start.ok || !size.ok) {
        rejected.push({ name: child.name, reason: 'missing or invalid start/size' });
        continue;
      }
      records.push({ name: child.name, start: start.value, size: size.value });
    }
    return { records, rejected };
  });
}
