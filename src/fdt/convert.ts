/**
 * Conversions between the plain tree form and blobs: `buildBlob` writes with the sequential
 * writer exactly as a libfdt program would (reservation entries, then nodes depth first, each
 * node's properties before its children, then fdt_finish); `readTree` is the validated reader.
 */
import { FDT_RESERVE_ENTRY_SIZE, tagAlign } from './constants.ts';
import { FdtError } from './errors.ts';
import { FdtSw } from './sw.ts';
import { utf8Length } from './text.ts';
import type { FdtNode, FdtTree } from './tree.ts';

export { readTree } from './reader.ts';

function badTree(what: string): never {
  throw new FdtError('FDT_ERR_BADVALUE', -1, `not a devicetree: ${what}`);
}

function checkNode(n: unknown): FdtNode {
  if (typeof n !== 'object' || n === null) badTree('node is not an object');
  const node = n as FdtNode;
  if (typeof node.name !== 'string' || !Array.isArray(node.props) || !Array.isArray(node.children)) {
    badTree('node needs name, props and children');
  }
  return node;
}

/**
 * Write `tree` as a blob, byte-identical to libfdt's sequential-write output for the same
 * sequence (fdt_create … fdt_finish). The header gets version 17, last_comp_version 16 and the
 * tree's boot_cpuid_phys; `tree.version`/`lastCompVersion` are not used. Throws FdtError only.
 */
export function buildBlob(tree: FdtTree): Uint8Array {
  if (typeof tree !== 'object' || (tree as unknown) === null) badTree('tree is not an object');
  if (!Array.isArray(tree.memreserve)) badTree('memreserve is not an array');
  // First pass (iterative, so any depth works): validate shapes and size the buffer.
  let size = 48 + (tree.memreserve.length + 1) * FDT_RESERVE_ENTRY_SIZE + 4;
  const todo: unknown[] = [tree.root];
  const seen = new Set<FdtNode>();
  while (todo.length > 0) {
    const node = checkNode(todo.pop());
    if (seen.has(node)) badTree('a node object appears twice (shared or cyclic)');
    seen.add(node);
    size += 8 + tagAlign(utf8Length(node.name) + 1);
    for (const p of node.props as unknown[]) {
      if (typeof p !== 'object' || p === null) badTree('property is not an object');
      const { name, value } = p as { name: unknown; value: unknown };
      if (typeof name !== 'string' || !(value instanceof Uint8Array))
        badTree('property needs a name and bytes');
      size += 12 + tagAlign(value.length) + utf8Length(name) + 1;
    }
    for (const c of node.children) todo.push(c);
    if (size > 0x7fffffff) break;
  }
  if (size > 0x7fffffff)
    throw new FdtError('FDT_ERR_NOSPACE', -1, `tree needs ${size} bytes, more than a blob can hold`);
  const sw = FdtSw.create(size);
  if (tree.bootCpuidPhys !== 0) sw.setBootCpuidPhys(tree.bootCpuidPhys);
  for (const r of tree.memreserve as unknown[]) {
    if (typeof r !== 'object' || r === null) badTree('memreserve entry is not an object');
    const { address, size: sz } = r as { address: unknown; size: unknown };
    if (
      (typeof address !== 'bigint' && typeof address !== 'number') ||
      (typeof sz !== 'bigint' && typeof sz !== 'number')
    ) {
      badTree('memreserve entry needs address and size');
    }
    sw.addReservemapEntry(address, sz);
  }
  sw.finishReservemap();
  // Depth-first: a stack of (node, next child index).
  const nodes: FdtNode[] = [tree.root];
  const next: number[] = [0];
  sw.beginNode(tree.root.name);
  for (const p of tree.root.props) sw.property(p.name, p.value);
  while (nodes.length > 0) {
    const top = nodes.length - 1;
    const node = nodes[top]!;
    const i = next[top]!;
    if (i < node.children.length) {
      next[top] = i + 1;
      const child = node.children[i]!;
      sw.beginNode(child.name);
      for (const p of child.props) sw.property(p.name, p.value);
      nodes.push(child);
      next.push(0);
    } else {
      sw.endNode();
      nodes.pop();
      next.pop();
    }
  }
  return sw.finish();
}
