import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeKey, encodeKey } from '../../src/abi/kho-radix.ts';
import { KhoRadixTree, RADIX_ERRNO, walkRadixTree } from '../../src/kho/radix-tree.ts';
import { newTree, snapshot } from './radix-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);

/** Blocks from a few clusters so that keys share leaves and paths, plus rare far-away ones. */
const blockArb = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: 300 }), fc.constant(0)) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 32700, max: 32840 }), fc.integer({ min: 0, max: 2 })) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 2 ** 40 - 1 }), fc.integer({ min: 0, max: 40 })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.integer({ min: 0, max: 4096 }).map((i) => i * 512),
      fc.constant(9),
    ),
  },
);

type Op = { kind: 'add' | 'del'; pfn: number; order: number } | { kind: 'oom'; pfn: number; order: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: blockArb.map(([pfn, order]) => ({ kind: 'add' as const, pfn, order })) },
  { weight: 3, arbitrary: blockArb.map(([pfn, order]) => ({ kind: 'del' as const, pfn, order })) },
  { weight: 1, arbitrary: blockArb.map(([pfn, order]) => ({ kind: 'oom' as const, pfn, order })) },
);

/** Key of a block as the tracker files it (pfn bits below the order dropped). */
function keyOf(pfn: number, order: number): number {
  return encodeKey(pfn * 4096, order);
}

test('model: random add/del sequences; the in-memory walk always equals a Set model', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
      const { mem, alloc, tree } = newTree({ limit: 2 ** 36 });
      const model = new Set<number>();
      for (const op of ops) {
        const key = keyOf(op.pfn, op.order);
        if (op.kind === 'add') {
          assert.equal(tree.add(op.pfn, op.order), 0);
          model.add(key);
        } else if (op.kind === 'del') {
          const r = tree.del(op.pfn, op.order);
          assert.ok(r === 0 || r === -RADIX_ERRNO.ENOENT);
          if (r === -RADIX_ERRNO.ENOENT) assert.ok(!model.has(key), 'a missing path means no key');
          model.delete(key);
        } else {
          // An insert whose allocations fail: either it needed none (then it succeeds) or
          // it rolls back to the same bytes.
          const before = snapshot(mem);
          alloc.failAfter = 0;
          const r = tree.add(op.pfn, op.order);
          alloc.failAfter = -1;
          if (r === 0) model.add(key);
          else {
            assert.equal(r, -RADIX_ERRNO.ENOMEM);
            for (const [pfn, hex] of before) {
              assert.equal(Buffer.from(mem.read(pfn * 4096, 4096)).toString('hex'), hex);
            }
          }
        }
        // Walk the tree in memory, as a successor would.
        const seen: number[] = [];
        const r = walkRadixTree(mem, tree.rootPhys, (phys, order) => {
          seen.push(keyOf(phys / 4096, order));
          return 0;
        });
        assert.equal(r, 0);
        assert.deepEqual(
          seen,
          [...model].sort((a, b) => a - b),
        );
      }
      // Every key answers `has`, also through a fresh tracker object over the same root.
      const fresh = new KhoRadixTree(mem, alloc, tree.rootPhys);
      for (const key of model) {
        const { phys, order } = decodeKey(key);
        assert.ok(tree.has(phys / 4096, order));
        assert.ok(fresh.has(phys / 4096, order));
      }
      const s = tree.stats();
      assert.equal(s.blocks, model.size);
      assert.equal(s.nodePages, alloc.allocated.length - alloc.freed.length);
    }),
    { numRuns: RUNS },
  );
});
