/**
 * ExtentMap against a per-pfn model: random set/remove sequences over a small pfn space with
 * tiny chunks (so chunk splits, merges across chunk boundaries and chunk removal all happen),
 * checking every lookup, the interval list (sorted, disjoint, merged) and clipped iteration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExtentMap } from '../../src/hw/extent-map.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 200);
const SPACE = 80;

type Op =
  | { k: 'set'; a: number; b: number; v: number }
  | { k: 'remove'; a: number; b: number }
  | { k: 'many'; ranges: { a: number; b: number }[]; v: number };

const range = fc
  .tuple(fc.integer({ min: 0, max: SPACE }), fc.integer({ min: 0, max: 12 }))
  .map(([a, n]) => ({ a, b: Math.min(SPACE, a + n) }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(range, fc.integer({ min: 1, max: 3 })).map(([r, v]) => ({ k: 'set' as const, ...r, v })),
  range.map((r) => ({ k: 'remove' as const, ...r })),
  fc.tuple(fc.array(range, { maxLength: 6 }), fc.integer({ min: 1, max: 3 })).map(([rs, v]) => {
    // Sorted and disjoint, as setMany wants them.
    const sorted = [...rs].sort((x, y) => x.a - y.a);
    const ranges: { a: number; b: number }[] = [];
    for (const r of sorted) {
      const a = Math.max(r.a, ranges[ranges.length - 1]?.b ?? 0);
      if (a < r.b) ranges.push({ a, b: r.b });
    }
    return { k: 'many' as const, ranges, v };
  }),
);

test('ExtentMap (set, remove, setMany) matches a per-pfn model; intervals stay sorted, disjoint and merged', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80 }), fc.integer({ min: 2, max: 6 }), (ops, chunk) => {
      const m = new ExtentMap<number>(undefined, chunk);
      const model = new Array<number>(SPACE).fill(0);
      for (const op of ops) {
        if (op.k === 'set') {
          m.set(op.a, op.b, op.v);
          model.fill(op.v, op.a, op.b);
        } else if (op.k === 'many') {
          m.setMany(
            op.ranges.map((r) => r.a),
            op.ranges.map((r) => r.b),
            op.ranges.length,
            op.v,
          );
          for (const r of op.ranges) model.fill(op.v, r.a, r.b);
        } else {
          m.remove(op.a, op.b);
          model.fill(0, op.a, op.b);
        }
        // Lookups in a scrambled order (the lookup cache must never serve a stale interval).
        for (let i = 0; i < SPACE; i++) {
          const pfn = (i * 37) % SPACE;
          assert.equal(m.get(pfn) ?? 0, model[pfn], `pfn ${pfn} after ${JSON.stringify(op)}`);
        }
      }
      const all = m.all();
      assert.equal(all.length, m.size);
      let prevEnd = -1;
      let prevV = -1;
      for (const r of all) {
        assert.ok(r.s < r.e && r.s >= prevEnd, 'sorted and disjoint');
        assert.ok(!(r.s === prevEnd && r.v === prevV), 'touching equal intervals are merged');
        prevEnd = r.e;
        prevV = r.v;
      }
      const clipped = m.runs(10, 50);
      for (const r of clipped) {
        assert.ok(r.s >= 10 && r.e <= 50);
        for (let p = r.s; p < r.e; p++) assert.equal(model[p], r.v);
      }
      const covered = clipped.reduce((n, r) => n + r.e - r.s, 0);
      assert.equal(covered, model.slice(10, 50).filter((v) => v !== 0).length);
    }),
    { numRuns: RUNS },
  );
});

test('ExtentMap takes many appended intervals and inserts in the middle', () => {
  const m = new ExtentMap<number>();
  for (let i = 0; i < 200_000; i++) m.set(i * 4, i * 4 + 2, i & 1);
  assert.equal(m.size, 200_000);
  // Inserts into the middle, then lookups.
  for (let i = 0; i < 5000; i++) m.set(((i * 7919) % 200_000) * 4 + 2, ((i * 7919) % 200_000) * 4 + 3, 5);
  assert.equal(m.size, 205_000);
  assert.equal(m.get(2), 5);
  assert.equal(m.get(4 * 7919 + 2), 5);
  assert.equal(m.get(3), null);
  m.remove(0, 800_000);
  assert.equal(m.size, 0);
});
