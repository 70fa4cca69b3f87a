import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PhysicalMemory } from '../../src/hw/physical-memory.ts';
import {
  RADIX_ERRNO,
  visitRadixLeaves,
  walkRadixTree,
  type RadixProblem,
  type RadixProblemKind,
} from '../../src/kho/radix-walk.ts';
import { newTree } from './radix-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);
const { EFAULT, EINVAL } = RADIX_ERRNO;

/** Walks and returns the result, the blocks and the problem kinds. */
function hostileWalk(
  mem: PhysicalMemory,
  root: number,
  maxNodes?: number,
): { r: number; blocks: [number, number][]; kinds: RadixProblemKind[]; problems: RadixProblem[] } {
  const blocks: [number, number][] = [];
  const problems: RadixProblem[] = [];
  const r = walkRadixTree(
    mem,
    root,
    (p, o) => {
      blocks.push([p, o]);
      return 0;
    },
    { onProblem: (p) => problems.push(p), ...(maxNodes === undefined ? {} : { maxNodes }) },
  );
  return { r, blocks, kinds: problems.map((p) => p.kind), problems };
}

/** Memory with a root at 0x1000 and helper to write LE64 entries. */
function hostileMem(limit = 2 ** 30): {
  mem: PhysicalMemory;
  set: (node: number, i: number, v: bigint) => void;
} {
  const mem = new PhysicalMemory({ limit });
  mem.page(1); // root page touched, empty
  const set = (node: number, i: number, v: bigint): void => {
    mem.writeU32(node + i * 8, Number(v & 0xffff_ffffn));
    mem.writeU32(node + i * 8 + 4, Number(v >> 32n));
  };
  return { mem, set };
}

/** Builds a valid chain root → … → leaf for root entry `top` (pages 2..6), returns the leaf. */
function chain(set: (node: number, i: number, v: bigint) => void, top: number): number {
  set(0x1000, top, 0x2000n);
  set(0x2000, 0, 0x3000n);
  set(0x3000, 0, 0x4000n);
  set(0x4000, 0, 0x5000n);
  set(0x5000, 0, 0x6000n);
  return 0x6000;
}

test('a self-pointing root entry is reported as a revisit and the walk ends', () => {
  const { mem, set } = hostileMem();
  set(0x1000, 2, 0x1000n);
  const w = hostileWalk(mem, 0x1000);
  assert.equal(w.r, -EFAULT);
  assert.deepEqual(w.kinds, ['revisit']);
  assert.equal(w.problems[0]!.level, 5);
  assert.equal(w.problems[0]!.index, 2);
});

test('every entry of every level pointing back up: bounded work, one report per bad entry', () => {
  const { mem, set } = hostileMem();
  chain(set, 2);
  for (const node of [0x1000, 0x2000, 0x3000, 0x4000, 0x5000]) {
    for (let i = 0; i < 512; i++) if (!(node === 0x1000 && i === 2) && i !== 0) set(node, i, 0x1000n);
  }
  for (let i = 0; i < 4; i++) if (i !== 2) set(0x1000, i, 0x1000n);
  mem.writeU8(0x6000, 0b1);
  const w = hostileWalk(mem, 0x1000);
  assert.equal(w.r, -EFAULT);
  assert.deepEqual(w.blocks, [[0, 0]]); // key 2^52 | 0 → pa 0 order 0
  assert.ok(w.kinds.every((k) => k === 'revisit' || k === 'bad-key'));
  assert.equal(w.kinds.filter((k) => k === 'revisit').length, 3 + 4 * 511);
  assert.equal(w.kinds.filter((k) => k === 'bad-key').length, 511 - 3);
});

test('pointers beyond memory, beyond 2^53 and unaligned are skipped with reports', () => {
  const { mem, set } = hostileMem(2 ** 30);
  const leaf = chain(set, 2);
  mem.writeU8(leaf, 0b100);
  set(0x2000, 1, 0x8000_0000n); // beyond the 1 GiB machine
  set(0x2000, 2, 0xffff_ffff_ffff_f000n); // beyond 2^53
  set(0x2000, 3, 0x7001n); // unaligned
  set(0x2000, 4, 0x10_0000_0000_0000n); // 2^52
  const w = hostileWalk(mem, 0x1000);
  assert.equal(w.r, -EFAULT);
  assert.deepEqual(w.blocks, [[0x2000, 0]]);
  assert.deepEqual(w.kinds, ['out-of-range', 'out-of-range', 'unaligned', 'out-of-range']);
  assert.deepEqual(
    w.problems.map((p) => [p.level, p.node, p.index]),
    [
      [4, 0x2000, 1],
      [4, 0x2000, 2],
      [4, 0x2000, 3],
      [4, 0x2000, 4],
    ],
  );
  assert.match(w.problems[1]!.message, /0xfffffffffffff000/);
});

test('bad roots: unaligned, beyond memory, not a number → -EFAULT; zero → -EINVAL', () => {
  const { mem } = hostileMem();
  assert.equal(hostileWalk(mem, 0x1234).r, -EFAULT);
  assert.deepEqual(hostileWalk(mem, 0x1234).kinds, ['unaligned']);
  assert.equal(hostileWalk(mem, 2 ** 40).r, -EFAULT);
  assert.equal(hostileWalk(mem, Number.NaN).r, -EFAULT);
  assert.equal(hostileWalk(mem, -4096).r, -EFAULT);
  assert.equal(hostileWalk(mem, 0).r, -EINVAL);
  // An untouched root page reads as an empty tree.
  assert.deepEqual(hostileWalk(mem, 0x9000), { r: 0, blocks: [], kinds: [], problems: [] });
});

test('root entries ≥ 4 have no valid order; entry 3 and blocks past 2^52 are out of range', () => {
  const { mem, set } = hostileMem();
  set(0x1000, 4, 0x2000n);
  set(0x1000, 511, 0x2000n);
  const leaf = chain(set, 3); // keys 2^52 + 2^51 + …: order 0 at 2^63
  mem.writeU8(leaf, 0xff);
  const w = hostileWalk(mem, 0x1000);
  assert.equal(w.r, -EFAULT);
  assert.deepEqual(w.blocks, []);
  assert.deepEqual(w.kinds, ['block-range', 'bad-key', 'bad-key']);
  assert.match(w.problems[0]!.message, /^8 order-0 block/);
});

test('the prefix-0 leaf: key 0 is bad, orders 38..40 are delivered, larger ones are beyond 2^52', () => {
  const { mem, set } = hostileMem();
  const leaf = chain(set, 0);
  // bits: 0 (key 0), 1 (order 52), 4096 (order 40 at 0), 8192 (order 39 at 0), 8193 (order 39 at 2^51), 16384 (order 38 at 0)
  for (const bit of [0, 1, 4096, 8192, 8193, 16384])
    mem.writeU8(leaf + (bit >>> 3), mem.readU8(leaf + (bit >>> 3)) | (1 << (bit & 7)));
  const w = hostileWalk(mem, 0x1000);
  assert.deepEqual(w.blocks, [
    [0, 40],
    [0, 39],
    [2 ** 51, 39],
    [0, 38],
  ]);
  assert.deepEqual(w.kinds, ['bad-key', 'block-range']);
  assert.equal(w.r, -EFAULT);
});

test('a poisoned node page is reported, not read as 0xaa garbage', () => {
  const { mem, set } = hostileMem();
  chain(set, 2);
  mem.poison(0x4000, 4096);
  const w = hostileWalk(mem, 0x1000);
  assert.deepEqual(w.kinds, ['poisoned']);
  assert.equal(w.problems[0]!.node, 0x4000);
  assert.equal(w.r, -EFAULT);
});

test('a leaf shared by two parents is walked once', () => {
  const { mem, set } = hostileMem();
  const leaf = chain(set, 2);
  set(0x5000, 1, BigInt(leaf));
  mem.writeU8(leaf, 1);
  const w = hostileWalk(mem, 0x1000);
  assert.deepEqual(w.blocks, [[0, 0]]);
  assert.deepEqual(w.kinds, ['revisit']);
});

test('maxNodes bounds the pages visited: budget problem, walk stops', () => {
  const { tree, mem } = newTree();
  for (let i = 0; i < 20; i++) tree.add(i * 32768, 0); // 20 leaves
  const w = hostileWalk(mem, tree.rootPhys, 10);
  assert.deepEqual(w.kinds, ['budget']);
  assert.equal(w.r, -EFAULT);
  assert.equal(w.blocks.length, 5); // root + 4 levels + 5 leaves = 10 pages
});

test('onNode sees every page with its level; visitRadixLeaves gives prefixes', () => {
  const { tree, mem, alloc } = newTree();
  tree.add(1, 0);
  tree.add(0x200, 9);
  const nodes: [number, number][] = [];
  const prefixes: number[] = [];
  const r = visitRadixLeaves(
    mem,
    tree.rootPhys,
    (_phys, prefix) => {
      prefixes.push(prefix);
      return 0;
    },
    { onNode: (phys, level) => nodes.push([phys, level]) },
  );
  assert.equal(r, 0);
  assert.equal(nodes.length, alloc.allocated.length);
  assert.deepEqual(
    nodes.map(([, l]) => l),
    [5, 4, 3, 2, 1, 0, 4, 3, 2, 1, 0],
  );
  // order 9 key 2^43 | 1 → prefix 2^28; order 0 key 2^52 | 1 → prefix 2^37
  assert.deepEqual(prefixes, [2 ** 28, 2 ** 37]);
});

test('random garbage memory: the walk terminates with diagnostics and never throws', () => {
  // Pages 1..16 of a 1 MiB machine hold random words; entries are biased towards small page
  // addresses (valid, cyclic, unaligned) and huge values, so every check fires sometimes.
  const entryArb = fc.oneof(
    { weight: 6, arbitrary: fc.constant(0n) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 20 }).map((p) => BigInt(p * 4096)) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x20_0000 }).map((a) => BigInt(a)) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 511 }), entryArb), {
        maxLength: 200,
      }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 1023 }), fc.nat()), {
        maxLength: 100,
      }),
      fc.integer({ min: 0, max: 20 }),
      fc.boolean(),
      (entries, words, rootPage, poisonSome) => {
        const mem = new PhysicalMemory({ limit: 0x10_0000 });
        for (const [page, i, v] of entries) {
          mem.writeU32(page * 4096 + i * 8, Number(v & 0xffff_ffffn));
          mem.writeU32(page * 4096 + i * 8 + 4, Number(v >> 32n));
        }
        for (const [page, w, v] of words) mem.writeU32(page * 4096 + w * 4, v >>> 0);
        if (poisonSome) mem.poison(17 * 4096, 3 * 4096);
        const problems: RadixProblem[] = [];
        let blocks = 0;
        const r = walkRadixTree(
          mem,
          rootPage * 4096,
          (phys, order) => {
            blocks++;
            assert.ok(Number.isSafeInteger(phys) && phys + 4096 * 2 ** order <= 2 ** 52);
            assert.ok(Number.isInteger(order) && order >= 0 && order <= 40);
            return 0;
          },
          { onProblem: (p) => problems.push(p) },
        );
        assert.ok(r === 0 || r === -EFAULT || r === -EINVAL, `r = ${r}`);
        assert.equal(r === -EFAULT, problems.length > 0);
        assert.ok(blocks <= 21 * 32768);
        for (const p of problems) assert.equal(typeof p.message, 'string');
      },
    ),
    { numRuns: RUNS },
  );
});

test('a walk through the tree object reports problems through warn', () => {
  const warnings: string[] = [];
  const { mem, tree } = newTree({ warn: (m) => warnings.push(m) });
  tree.add(1, 0);
  mem.writeU64(tree.rootPhys + 0, tree.rootPhys); // root entry 0 → root
  assert.equal(
    tree.walk(() => 0),
    -EFAULT,
  );
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /kho_radix_walk_tree: .*reached again/);
  // The sound part was still walked.
  let n = 0;
  tree.walk(() => {
    n++;
    return 0;
  });
  assert.equal(n, 1);
});
