import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PhysicalMemory } from '../../src/hw/physical-memory.ts';
import { encodeKey, keyPath } from '../../src/abi/kho-radix.ts';
import { KhoRadixTree, RADIX_ERRNO, walkRadixTree } from '../../src/kho/radix-tree.ts';
import { TestAllocator, newTree, snapshot, walkAll } from './radix-helpers.ts';

const { EINVAL, ENOMEM, ENOENT, EFAULT } = RADIX_ERRNO;

/** Reads the LE64 entry `index` of the node at `phys` straight from memory. */
function entry(mem: PhysicalMemory, phys: number, index: number): number {
  return mem.readU64(phys + index * 8);
}

/** Non-zero LE64 entries of a node page, as [index, value]. */
function nonZero(mem: PhysicalMemory, phys: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < 512; i++) {
    const v = mem.readU64(phys + i * 8);
    if (v !== 0) out.push([i, v]);
  }
  return out;
}

test('errno values are the Linux ones', () => {
  const { ENOENT, ENOMEM, EFAULT, EINVAL } = RADIX_ERRNO;
  assert.deepEqual({ ENOENT, ENOMEM, EFAULT, EINVAL }, { ENOENT: 2, ENOMEM: 12, EFAULT: 14, EINVAL: 22 });
});

test('insert 0x1000 order 0 into an empty tree: 5 new pages, exact bytes', () => {
  const { mem, alloc, tree } = newTree();
  assert.equal(alloc.allocated.length, 1); // the root
  const root = tree.rootPhys;
  assert.equal(root, 0x100 * 4096);
  assert.equal(tree.add(0x1000 / 4096, 0), 0);
  assert.equal(alloc.allocated.length, 6, 'levels 4, 3, 2, 1 and the leaf');
  const [l4, l3, l2, l1, leaf] = alloc.allocated.slice(1).map((pfn) => pfn * 4096) as [
    number,
    number,
    number,
    number,
    number,
  ];
  // Root entry 2 (bytes 16..23) holds the L4 page; each level's entry 0 the next page.
  assert.deepEqual(nonZero(mem, root), [[2, l4]]);
  assert.deepEqual([...mem.read(root + 16, 8)], [0, 0x10, 0x10, 0, 0, 0, 0, 0]); // 0x101000 LE
  assert.deepEqual(nonZero(mem, l4), [[0, l3]]);
  assert.deepEqual(nonZero(mem, l3), [[0, l2]]);
  assert.deepEqual(nonZero(mem, l2), [[0, l1]]);
  assert.deepEqual(nonZero(mem, l1), [[0, leaf]]);
  // Leaf: word 0, bit 1, nothing else.
  const bytes = mem.read(leaf, 4096);
  assert.equal(bytes[0], 0b10);
  assert.equal(
    bytes.findIndex((b, i) => i > 0 && b !== 0),
    -1,
  );
  assert.equal(tree.nodePages(), 6);
  assert.equal(tree.metadataBytes(), 6 * 4096);
  assert.deepEqual(walkAll(tree), [[0x1000, 0]]);
});

// Worked examples of kho_radix_encode_key(), checked by following raw memory along the table's indices.
const EXAMPLES: [number, number, number[], number][] = [
  [0x1000, 0, [2, 0, 0, 0, 0], 1],
  [0x1_0000_0000, 0, [2, 0, 0, 0, 32], 0],
  [0x1234_5000, 0, [2, 0, 0, 0, 2], 9029],
  [0x4000_0000, 1, [1, 0, 0, 0, 4], 0],
  [0x20_0000, 9, [0, 2, 0, 0, 0], 1],
  [0x4000_0000, 9, [0, 2, 0, 0, 0], 512],
  [0x8000_0000, 18, [0, 0, 2, 0, 0], 2],
];

for (const [pa, order, levels, bit] of EXAMPLES) {
  test(`raw path of pa=0x${pa.toString(16)} order ${order}`, () => {
    const { mem, alloc, tree } = newTree();
    assert.equal(tree.add(pa / 4096, order), 0);
    let node = tree.rootPhys;
    for (const [depth, index] of levels.entries()) {
      const next = entry(mem, node, index);
      assert.equal(next, alloc.allocated[depth + 1]! * 4096, `level ${5 - depth} entry ${index}`);
      assert.equal(nonZero(mem, node).length, 1);
      node = next;
    }
    const leaf = mem.read(node, 4096);
    // bit i = bit i%64 of LE64 word i/64 = bit i%8 of byte i/8 on a little-endian machine
    assert.equal(leaf[bit >>> 3], 1 << (bit & 7));
    assert.equal(
      leaf.reduce((n, b) => n + (b === 0 ? 0 : 1), 0),
      1,
    );
    assert.deepEqual(keyPath(encodeKey(pa, order)), { levels, bit });
    assert.deepEqual(walkAll(tree), [[pa, order]]);
  });
}

test('a second key on the same path allocates nothing', () => {
  const { alloc, tree } = newTree();
  assert.equal(tree.add(1, 0), 0);
  const n = alloc.allocated.length;
  assert.equal(tree.add(2, 0), 0);
  assert.equal(tree.add(32767, 0), 0);
  assert.equal(alloc.allocated.length, n);
  assert.equal(tree.add(32768, 0), 0); // next leaf, same L1 node
  assert.equal(alloc.allocated.length, n + 1);
});

test('walk order: highest orders first, ascending address within an order', () => {
  const { tree } = newTree();
  const blocks: [number, number][] = [
    [0x4000_0000, 0],
    [0x1000, 0],
    [0x20_0000, 9],
    [0x4000_0000, 9],
    [0x8000_0000, 18],
    [0, 18],
    [0x2000, 1],
    [0x10_0000_0000, 0],
    [0x1000_0000, 16],
    [0, 40],
    [0x8000_0000_0000, 35],
  ];
  for (const [pa, o] of blocks) assert.equal(tree.add(pa / 4096, o), 0);
  const walked = walkAll(tree);
  const expected = [...blocks].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  assert.deepEqual(walked, expected);
  // Same as ascending key order.
  const keys = walked.map(([pa, o]) => encodeKey(pa, o));
  assert.deepEqual(
    keys,
    [...keys].sort((a, b) => a - b),
  );
});

test('double add is idempotent; one del removes it', () => {
  const { alloc, tree } = newTree();
  assert.equal(tree.add(0x12345, 0), 0);
  const n = alloc.allocated.length;
  assert.equal(tree.add(0x12345, 0), 0);
  assert.equal(alloc.allocated.length, n);
  assert.deepEqual(walkAll(tree), [[0x12345000, 0]]);
  assert.equal(tree.del(0x12345, 0), 0);
  assert.deepEqual(walkAll(tree), []);
  assert.equal(tree.has(0x12345, 0), false);
});

test('low pfn bits below the order are ignored, as in the kernel', () => {
  const { tree } = newTree();
  assert.equal(tree.add(0x203, 9), 0);
  assert.deepEqual(walkAll(tree), [[0x20_0000, 9]]);
  assert.equal(tree.has(0x200, 9), true);
});

test('del keeps nodes; del of a never-set bit is silent; missing path WARNs', () => {
  const warnings: string[] = [];
  const { mem, tree } = newTree({ warn: (m) => warnings.push(m) });
  assert.equal(tree.add(5, 0), 0);
  const pages = tree.nodePages();
  const before = snapshot(mem);
  assert.equal(tree.del(5, 0), 0);
  assert.equal(tree.nodePages(), pages, 'nodes are never freed');
  assert.deepEqual(walkAll(tree), []);
  assert.equal(mem.touchedCount, before.size);
  assert.equal(tree.del(6, 0), 0, 'bit never set, path present: silent');
  assert.deepEqual(warnings, []);
  assert.equal(tree.del(0x1000_0000, 0), -ENOENT);
  assert.equal(tree.del(0, 9), -ENOENT);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /kho_radix_del_page/);
  assert.equal(tree.nodePages(), pages);
});

test('-ENOMEM at every depth rolls back: tree bytes unchanged, this call’s pages freed', () => {
  for (let okAllocs = 0; okAllocs < 5; okAllocs++) {
    const { mem, alloc, tree } = newTree();
    assert.equal(tree.add(7, 0), 0); // an existing order-0 path
    const before = snapshot(mem);
    const nodes = tree.nodePages();
    const firstNew = alloc.next;
    alloc.failAfter = okAllocs;
    // Order 9 goes through root entry 0: 5 new pages needed.
    assert.equal(tree.add(0x200, 9), -ENOMEM, `fail after ${okAllocs}`);
    const mine = Array.from({ length: okAllocs }, (_, i) => firstNew + i);
    assert.deepEqual(alloc.freed, mine);
    assert.equal(tree.nodePages(), nodes);
    for (const [pfn, hex] of before) {
      assert.equal(
        Buffer.from(mem.read(pfn * 4096, 4096)).toString('hex'),
        hex,
        `page 0x${pfn.toString(16)}`,
      );
    }
    assert.deepEqual(walkAll(tree), [[0x7000, 0]]);
    // A failing insert below an existing node: only the lower part is new.
    alloc.failAfter = 0;
    assert.equal(tree.add(0x10_0000, 0), -ENOMEM); // new L1 subtree under the existing L2
    assert.deepEqual(walkAll(tree), [[0x7000, 0]]);
    assert.equal(tree.nodePages(), nodes);
    // And the tree still works afterwards.
    alloc.failAfter = -1;
    assert.equal(tree.add(0x200, 9), 0);
    assert.equal(tree.add(0x10_0000, 0), 0);
    assert.deepEqual(walkAll(tree), [
      [0x20_0000, 9],
      [0x7000, 0],
      [0x1_0000_0000, 0],
    ]);
  }
});

test('a tree without a root: add, del and walk return -EINVAL and WARN once', () => {
  const warnings: string[] = [];
  const mem = new PhysicalMemory({ limit: 2 ** 30 });
  const tree = new KhoRadixTree(mem, new TestAllocator(0x100), 0, { warn: (m) => warnings.push(m) });
  assert.equal(tree.add(1, 0), -EINVAL);
  assert.equal(tree.add(2, 0), -EINVAL);
  assert.equal(tree.del(1, 0), -EINVAL);
  assert.equal(
    tree.walk(() => 0),
    -EINVAL,
  );
  assert.equal(tree.nodePages(), 0);
  assert.equal(warnings.length, 1);
  assert.equal(
    walkRadixTree(mem, 0, () => 0),
    -EINVAL,
  );
});

test('bad blocks are -EINVAL, never a thrown error', () => {
  const { tree } = newTree();
  const bad: [number, number][] = [
    [-1, 0],
    [1.5, 0],
    [Number.NaN, 0],
    [Number.POSITIVE_INFINITY, 0],
    [2 ** 40, 0],
    [0, 41],
    [0, -1],
    [0, 0.5],
    [0, Number.NaN],
  ];
  for (const [pfn, order] of bad) {
    assert.equal(tree.add(pfn, order), -EINVAL, `add(${pfn}, ${order})`);
    assert.equal(tree.del(pfn, order), -EINVAL);
    assert.equal(tree.has(pfn, order), false);
  }
  assert.deepEqual(walkAll(tree), []);
  assert.equal(tree.add(2 ** 40 - 1, 0), 0, 'the last page below 2^52');
  assert.equal(tree.add(0, 40), 0, 'the whole 2^52 space');
  assert.deepEqual(walkAll(tree), [
    [0, 40],
    [2 ** 52 - 4096, 0],
  ]);
});

test('bad constructor arguments throw a typed error', () => {
  const mem = new PhysicalMemory({ limit: 2 ** 30 });
  for (const root of [123, -4096, 2 ** 30, Number.NaN, 1.5]) {
    assert.throws(() => new KhoRadixTree(mem, new TestAllocator(1), root), {
      name: 'KhoRadixError',
      errno: 22,
    });
  }
  const failing = new TestAllocator(1);
  failing.failAfter = 0;
  assert.equal(KhoRadixTree.create(mem, failing), null);
});

test('walk stops at the first non-zero callback result and returns it', () => {
  const { tree } = newTree();
  for (let i = 0; i < 10; i++) tree.add(i * 100, 0);
  let seen = 0;
  assert.equal(
    tree.walk(() => (++seen === 4 ? -42 : 0)),
    -42,
  );
  assert.equal(seen, 4);
});

test('a successor sees the same tree from (mem, rootPhys) alone', () => {
  const { mem, tree } = newTree();
  const blocks: [number, number][] = [
    [0x3000, 0],
    [0x40_0000, 10],
    [0x1_4000_0000, 18],
    [0xf_ffff_e000, 1],
  ];
  for (const [pa, o] of blocks) tree.add(pa / 4096, o);
  const expected = walkAll(tree);
  const fresh = new KhoRadixTree(mem, new TestAllocator(0x9000), tree.rootPhys);
  assert.deepEqual(walkAll(fresh), expected);
  const seen: [number, number][] = [];
  assert.equal(
    walkRadixTree(mem, tree.rootPhys, (p, o) => {
      seen.push([p, o]);
      return 0;
    }),
    0,
  );
  assert.deepEqual(seen, expected);
  // The successor's tree keeps working on the same pages.
  assert.equal(fresh.del(0x3, 0), 0);
  assert.equal(tree.has(0x3, 0), false);
});

test('stats, collect and metadata bytes agree with the walk', () => {
  const { alloc, tree } = newTree();
  for (let i = 0; i < 1000; i++) tree.add(i * 37, 0);
  for (let i = 0; i < 50; i++) tree.add(i * 512, 9);
  tree.add(0, 40);
  const s = tree.stats();
  assert.equal(s.blocks, 1051);
  assert.equal(s.blocksByOrder[0], 1000);
  assert.equal(s.blocksByOrder[9], 50);
  assert.equal(s.blocksByOrder[40], 1);
  assert.equal(s.nodePages, alloc.allocated.length);
  assert.equal(s.leafPages + s.intermediatePages, s.nodePages);
  assert.equal(tree.metadataBytes(), s.nodePages * 4096);
  assert.equal(s.bytes, 1000 * 4096 + 50 * 2 ** 21 + 2 ** 52);
  const { phys, order } = tree.collect();
  assert.deepEqual(
    Array.from(phys, (p, i) => [p, order[i]]),
    walkAll(tree),
  );
});

test('the cached path survives pages dropped elsewhere in memory', () => {
  const { mem, tree } = newTree();
  assert.equal(tree.add(10, 0), 0);
  // Another user of memory drops a page and a new page reuses its storage slot.
  mem.writeU32(0x5000_0000, 1);
  mem.discard(0x5000_0000 / 4096);
  assert.equal(tree.add(11, 0), 0);
  assert.deepEqual(walkAll(tree), [
    [0xa000, 0],
    [0xb000, 0],
  ]);
});

test('a corrupt pointer on the insert path is -EFAULT, not a crash', () => {
  const warnings: string[] = [];
  const { mem, tree } = newTree({ warn: (m) => warnings.push(m) });
  mem.writeU64(tree.rootPhys + 2 * 8, 0x1234); // root entry 2: unaligned
  assert.equal(tree.add(1, 0), -EFAULT);
  mem.writeU64(tree.rootPhys + 2 * 8, 2 ** 50); // beyond the 64 GiB machine
  assert.equal(tree.add(1, 0), -EFAULT);
  assert.equal(warnings.length, 2);
});

test('an allocator handing out pfn 0 or pfns outside memory counts as out of memory', () => {
  const mem = new PhysicalMemory({ limit: 2 ** 30 });
  for (const bad of [0, 2 ** 18, -1, 1.5]) {
    const warnings: string[] = [];
    const freed: number[] = [];
    const alloc = { allocZeroedPage: () => bad, freePage: (p: number) => freed.push(p) };
    assert.equal(KhoRadixTree.create(mem, alloc, { warn: (m) => warnings.push(m) }), null);
    assert.equal(warnings.length, 1);
    assert.deepEqual(freed, bad === 0 ? [0] : []);
  }
  // Mid-path: the second allocation is bad; the first page goes back, tree unchanged.
  const { tree, alloc } = newTree();
  const next = alloc.next;
  let calls = 0;
  alloc.allocZeroedPage = () => (++calls === 2 ? 0 : TestAllocator.prototype.allocZeroedPage.call(alloc));
  assert.equal(tree.add(1, 0), -ENOMEM);
  assert.deepEqual(alloc.freed, [0, next]);
  assert.equal(tree.nodePages(), 1);
});

test('order-0 blocks on both sides of pfn 2^32 (direct leaf table vs tag cache) land on the right keys', () => {
  const { tree } = newTree();
  const pfns = [0x1_0000_0000 - 1, 0x1_0000_0000, 0x1_0000_0001, 0x2_0000_0005, 0x7fff, 0x8000, 1];
  for (const p of pfns) assert.equal(tree.add(p, 0), 0);
  for (const p of pfns) assert.equal(tree.add(p, 0), 0); // second add: cached leaf, idempotent
  const want = [...pfns].sort((a, b) => a - b).map((p) => [p * 4096, 0]);
  assert.deepEqual(walkAll(tree), want);
  // Each block's bit is where the ABI says (key = 2^52 | pfn), read back through a fresh walk of memory.
  for (const p of pfns) assert.ok(tree.has(p, 0), `pfn 0x${p.toString(16)}`);
  assert.equal(tree.del(0x1_0000_0000, 0), 0);
  assert.equal(tree.del(0x7fff, 0), 0);
  assert.deepEqual(
    walkAll(tree),
    want.filter(([phys]) => phys !== 0x1_0000_0000 * 4096 && phys !== 0x7fff * 4096),
  );
  // Bad pfns never reach a table: -EINVAL, tree unchanged.
  for (const bad of [-1, 0.5, Number.NaN, 2 ** 40]) assert.equal(tree.add(bad, 0), EINVAL * -1);
  assert.equal(walkAll(tree).length, pfns.length - 2);
});
