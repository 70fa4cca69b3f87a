import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FreeBitmap } from '../../src/mm/free-bitmap.ts';
import { MmError } from '../../src/mm/mm-error.ts';
import { PG_HEAD, PageMeta } from '../../src/mm/page-meta.ts';
import { MIGRATE_CMA, MIGRATE_MOVABLE, NodePageblocks } from '../../src/mm/pageblock.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);

describe('page metadata', () => {
  it('stores private as two halves, refcount and order, sparsely', () => {
    const m = new PageMeta();
    const far = 2 ** 39 + 7; // a pfn near the top of a 2^51-byte machine
    m.setPrivate(far, 0x4b484f50, 3);
    assert.equal(m.privateHi(far), 0x4b484f50);
    assert.equal(m.privateLo(far), 3);
    assert.equal(m.privateLo(far + 1), 0);
    assert.equal(m.count, 1);
    assert.equal(m.sectionCount, 1);
    m.setRefcount(5, 1);
    assert.equal(m.getPage(5), 2);
    assert.equal(m.putPage(5), 1);
    assert.equal(m.putPage(5), 0);
    assert.throws(
      () => m.putPage(5),
      (e: unknown) => e instanceof MmError && e.code === 'EINVAL',
    );
    assert.throws(
      () => {
        m.setRefcount(-1, 1);
      },
      (e: unknown) => e instanceof MmError && e.code === 'EINVAL',
    );
    assert.deepEqual(m.pfns(), [5, far]);
    m.clear(5);
    m.clear(far);
    assert.equal(m.count, 0);
  });

  it('finds compound heads beyond MAX_PAGE_ORDER (restored KHO folios)', () => {
    const m = new PageMeta();
    const head = 1 << 18;
    m.setFlags(head, PG_HEAD);
    m.setOrder(head, 18);
    assert.equal(m.compoundHead(head), head);
    assert.equal(m.compoundHead(head + 12345), head);
    assert.equal(m.compoundHead(head + (1 << 18)), -1);
    assert.equal(m.compoundHead(head - 1), -1);
  });

  it('clears and scans ranges through existing sections only', () => {
    const m = new PageMeta();
    for (const p of [10, 5000, 70_000, 2 ** 36]) m.setRefcount(p, 1);
    assert.equal(m.firstReferenced(11, 2 ** 37), 5000);
    m.clearRange(0, 100_000);
    assert.deepEqual(m.pfns(), [2 ** 36]);
    assert.equal(m.firstReferenced(0, 2 ** 36), -1);
  });
});

describe('free bitmap', () => {
  it('behaves like a set with ordered search', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.nat(200_000)), { maxLength: 300 }),
        fc.nat(200_000),
        (ops, from) => {
          const b = new FreeBitmap(200_001);
          const s = new Set<number>();
          for (const [add, i] of ops) {
            assert.equal(add ? b.set(i) : b.clear(i), add ? !s.has(i) : s.has(i));
            if (add) s.add(i);
            else s.delete(i);
          }
          const sorted = [...s].sort((a, c) => a - c);
          assert.equal(b.count, s.size);
          assert.equal(b.findFirst(), sorted[0] ?? -1);
          assert.equal(b.nextSet(from, 200_001), sorted.find((x) => x >= from) ?? -1);
          assert.deepEqual([...b.values()], sorted);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('sets runs in bulk', () => {
    const b = new FreeBitmap(1 << 20);
    b.set(40);
    assert.equal(b.setRun(3, 100_000), 99_999);
    assert.equal(b.count, 100_000);
    assert.equal(b.findFirst(), 3);
    assert.equal(b.nextSet(100_003, 1 << 20), -1);
    assert.equal(b.test(100_002), true);
  });
});

describe('pageblocks', () => {
  it('keeps one migratetype per 2 MiB, MOVABLE by default', () => {
    const p = new NodePageblocks(1000, 5000);
    assert.equal(p.basePfn, 512);
    assert.equal(p.get(1000), MIGRATE_MOVABLE);
    p.set(1023, MIGRATE_CMA);
    assert.equal(p.get(512), MIGRATE_CMA);
    assert.equal(p.counts()[MIGRATE_CMA], 1);
    assert.throws(
      () => {
        p.set(1000, 9);
      },
      (e: unknown) => e instanceof MmError,
    );
    assert.throws(
      () => {
        p.set(9000, 1);
      },
      (e: unknown) => e instanceof MmError,
    );
  });
});
