/** fast-check generators for devicetrees and the operation lists that build them. */
import fc from 'fast-check';
import type { FdtNode, FdtProperty, FdtTree } from '../../src/fdt/tree.ts';
import type { SwOp } from './fdt-libfdt.ts';

/** Property names chosen so that some are tails of others (libfdt reuses those strings). */
export const PROP_POOL = [
  'compatible',
  'patible',
  'ible',
  'e',
  'reg',
  'g',
  'status',
  'us',
  'x',
  'ax',
  'preserved-memory-map',
  'map',
  'fdt',
  'blob-size',
  'size',
];
/** Node names, with and without unit addresses (libfdt's subnode matching rule). */
export const NODE_POOL = ['a', 'b', 'a@1', 'a@2', 'b@10', 'node', 'memory@0', 'cpus', 'c'];

export const propName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PROP_POOL) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z#][a-z0-9,._+#-]{0,20}$/) },
);
export const nodeName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NODE_POOL) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,30}(@[0-9a-f]{1,8})?$/) },
);
export const propValue = fc.uint8Array({ maxLength: 24 });

const prop: fc.Arbitrary<FdtProperty> = fc.record(
  { name: propName, value: propValue },
  { noNullPrototype: true },
);

/** Nodes up to `depth` levels below, with distinct child names (as dtc would require). */
export function nodeArb(depth: number): fc.Arbitrary<FdtNode> {
  const children: fc.Arbitrary<FdtNode[]> =
    depth <= 0
      ? fc.constant([])
      : fc.uniqueArray(nodeArb(depth - 1), { maxLength: 4, selector: (n) => n.name });
  return fc.record(
    { name: nodeName, props: fc.array(prop, { maxLength: 5 }), children },
    { noNullPrototype: true },
  );
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** A whole tree as the reader returns it (v17, last_comp 16). */
export const treeArb: fc.Arbitrary<FdtTree> = fc.record(
  {
    version: fc.constant(17),
    lastCompVersion: fc.constant(16),
    bootCpuidPhys: fc.oneof(fc.constant(0), fc.nat({ max: 0xffffffff })),
    memreserve: fc.array(
      fc.record({ address: u64, size: u64.filter((s) => s !== 0n) }, { noNullPrototype: true }),
      { maxLength: 3 },
    ),
    root: fc.record(
      {
        name: fc.constant(''),
        props: fc.array(prop, { maxLength: 5 }),
        children: fc.uniqueArray(nodeArb(3), { maxLength: 4, selector: (n) => n.name }),
      },
      { noNullPrototype: true },
    ),
  },
  { noNullPrototype: true },
);

/** The sequential-write calls that build `tree` (what buildBlob does). */
export function swOps(tree: FdtTree): SwOp[] {
  const ops: SwOp[] = [];
  // Reservation addresses/sizes go to python as JSON numbers: keep them exact.
  for (const r of tree.memreserve)
    ops.push(['rsv', Number(r.address & 0xffffffffffffn), Number(r.size & 0xffffffffffffn) || 1]);
  ops.push(['finrsv']);
  const walk = (n: FdtNode): void => {
    ops.push(['begin', n.name]);
    for (const p of n.props) ops.push(['prop', p.name, Buffer.from(p.value).toString('hex')]);
    for (const c of n.children) walk(c);
    ops.push(['end']);
  };
  walk(tree.root);
  return ops;
}
