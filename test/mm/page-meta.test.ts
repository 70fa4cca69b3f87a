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

  it('matches a plain per-page model through narrow and wide refcounts and private values', () => {
    // Pages of two sections; values chosen so sections overflow the byte refcount (> 255,
    // negative) and the 255-entry private palette, and clears zero every form.
    const page = fc.nat(2047);
    const op = fc.oneof(
      fc.record({ k: fc.constant('ref' as const), p: page, n: fc.oneof(fc.nat(300), fc.integer()) }),
      fc.record({ k: fc.constant('get' as const), p: page }),
      fc.record({
        k: fc.constant('priv' as const),
        p: page,
        lo: fc.nat(400),
        hi: fc.oneof(fc.constant(0x4b484f50), fc.nat()),
      }),
      fc.record({ k: fc.constant('order' as const), p: page, n: fc.nat(40) }),
      fc.record({ k: fc.constant('clear' as const), p: page }),
      fc.record({ k: fc.constant('range' as const), p: page, q: page }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 1500 }), (ops) => {
        const m = new PageMeta();
        const ref = new Map<number, { ref: number; lo: number; hi: number; order: number }>();
        const get = (p: number) => {
          let e = ref.get(p);
          if (e === undefined) ref.set(p, (e = { ref: 0, lo: 0, hi: 0, order: 0 }));
          return e;
        };
        for (const o of ops) {
          if (o.k === 'ref') {
            m.setRefcount(o.p, o.n);
            get(o.p).ref = o.n | 0;
          } else if (o.k === 'get') {
            const e = get(o.p);
            e.ref = (e.ref + 1) | 0;
            assert.equal(m.getPage(o.p), e.ref);
          } else if (o.k === 'priv') {
            m.setPrivate(o.p, o.hi, o.lo);
            Object.assign(get(o.p), { lo: o.lo, hi: o.hi });
          } else if (o.k === 'order') {
            m.setOrder(o.p, o.n);
            get(o.p).order = o.n;
          } else if (o.k === 'clear') {
            m.clear(o.p);
            ref.delete(o.p);
          } else {
            const [a, b] = o.p < o.q ? [o.p, o.q] : [o.q, o.p];
            m.clearRange(a, b);
            for (let p = a; p < b; p++) ref.delete(p);
          }
        }
        assert.equal(m.count, ref.size);
        for (let p = 0; p < 2048; p++) {
          const e = ref.get(p) ?? { ref: 0, lo: 0, hi: 0, order: 0 };
          assert.equal(m.refcount(p), e.ref);
          assert.equal(m.privateLo(p), e.lo);
          assert.equal(m.privateHi(p), e.hi);
          assert.equal(m.order(p), e.order);
        }
      }),
      { numRuns: Math.max(20, RUNS / 5) },
    );
  });

  it('keeps 1024 distinct private values in one section (palette overflow)', () => {
    const m = new PageMeta();
    for (let p = 0; p < 1024; p++) m.setPrivate(p, p * 7, p * 13 + 0x8000_0000);
    for (let p = 0; p < 1024; p++) {
      assert.equal(m.privateLo(p), p * 13 + 0x8000_0000);
      assert.equal(m.privateHi(p), p * 7);
    }
    m.setRefcount(3, -5);
    m.setRefcount(4, 70_000);
    assert.equal(m.refcount(3), -5);
    assert.equal(m.refcount(4), 70_000);
    assert.equal(m.firstReferenced(0, 1024), 4);
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
