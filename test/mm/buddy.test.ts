import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Buddy, MAX_PAGE_ORDER } from '../../src/mm/buddy.ts';
import {
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  __GFP_MOVABLE,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
  __GFP_THISNODE,
  __GFP_ZERO,
} from '../../src/mm/gfp.ts';
import { MmError } from '../../src/mm/mm-error.ts';
import { PG_HEAD } from '../../src/mm/page-meta.ts';
import { MIGRATE_CMA, MIGRATE_MOVABLE, MIGRATE_UNMOVABLE } from '../../src/mm/pageblock.ts';
import { PhysicalMemory } from '../../src/hw/physical-memory.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);
const PAGES_PER_MIB = 256;

/** Node 0: pfns [1, 0x9f) and [0x100, 0x4000) (64 MiB with low holes); node 1: 64 MiB above. */
function machine(opts: { mem?: PhysicalMemory } = {}): Buddy {
  return new Buddy(
    [
      { startPfn: 1, endPfn: 0x9f, nid: 0 },
      { startPfn: 0x100, endPfn: 0x4000, nid: 0 },
      { startPfn: 0x4000, endPfn: 0x8000, nid: 1 },
    ],
    { ...opts, log: () => undefined },
  );
}

function isErr(code: string) {
  return (e: unknown): boolean => e instanceof MmError && e.code === code;
}

describe('buddy basics', () => {
  it('frees ranges into maximal aligned blocks and accounts them', () => {
    const b = machine();
    b.freeRange(1, 0x9f);
    b.freeRange(0x100, 0x8000);
    const managed = 0x9e + 0x7f00;
    assert.equal(b.managedPages, managed);
    assert.equal(b.nrFreePages, managed);
    assert.deepEqual(b.meminfo(), { MemTotal: managed * 4, MemFree: managed * 4, CmaTotal: 0, CmaFree: 0 });
    assert.equal(b.meminfo(1).MemTotal, 0x4000 * 4);
    // [0x4000, 0x8000) is 16 order-10 blocks; node 0 above 0x400 likewise.
    assert.equal(b.freeAreaCounts(1)[MAX_PAGE_ORDER]![MIGRATE_MOVABLE], 16);
    assert.deepEqual(b.freeBlockOf(0x9e), { pfn: 0x9e, order: 0 });
    assert.deepEqual(b.freeBlockOf(0x4123), { pfn: 0x4000, order: 10 });
    assert.equal(b.isFree(0x9f), false, 'hole');
  });

  it('allocates naturally aligned blocks and coalesces on free', () => {
    const b = machine();
    b.freeRange(0x4000, 0x8000);
    const before = b.listFreeBlocks();
    const p = b.alloc(3, GFP_KERNEL, 1)!;
    assert.equal(p % 8, 0);
    for (let i = 0; i < 8; i++) assert.equal(b.isFree(p + i), false);
    assert.equal(b.nrFreePages, 0x4000 - 8);
    b.freePages(p, 3);
    assert.deepEqual(
      b.listFreeBlocks(),
      before.map((x) => ({ ...x, mt: x.pfn === 0x4000 ? MIGRATE_UNMOVABLE : x.mt })),
    );
  });

  it('unmovable allocations never use CMA pageblocks; movable ones may', () => {
    const b = machine();
    // Node 1 entirely CMA, node 0 empty: GFP_KERNEL must fail.
    for (let pfn = 0x4000; pfn < 0x8000; pfn += 512) b.initCmaReservedPageblock(pfn);
    assert.equal(b.meminfo().CmaTotal, 0x4000 * 4);
    assert.equal(b.meminfo().CmaFree, 0x4000 * 4);
    assert.equal(b.alloc(0, GFP_KERNEL | __GFP_NOWARN), null);
    assert.equal(b.alloc(0, __GFP_RECLAIMABLE | __GFP_NOWARN), null);
    const m = b.alloc(0, GFP_HIGHUSER_MOVABLE);
    assert.notEqual(m, null);
    assert.equal(b.migratetype(m!), MIGRATE_CMA);
    assert.equal(b.meminfo().CmaFree, (0x4000 - 1) * 4);
  });

  it('__GFP_THISNODE does not fall back; the preferred node is tried first', () => {
    const b = machine();
    b.freeRange(0x4000, 0x4400); // node 1 has one order-10 block
    b.freeRange(0x400, 0x800); // node 0 too
    assert.equal(b.alloc(10, GFP_KERNEL, 1), 0x4000);
    assert.equal(b.alloc(10, GFP_KERNEL | __GFP_THISNODE | __GFP_NOWARN, 1), null);
    assert.equal(b.alloc(10, GFP_KERNEL, 1), 0x400);
  });

  it('does not merge CMA with non-CMA buddies (split_large_buddy)', () => {
    const b = machine();
    b.setMigratetype(0x4000, MIGRATE_CMA);
    b.freeRange(0x4000, 0x4400);
    assert.deepEqual(b.freeBlockOf(0x4000), { pfn: 0x4000, order: 9 });
    assert.deepEqual(b.freeBlockOf(0x4200), { pfn: 0x4200, order: 9 });
    assert.equal(b.meminfo().CmaTotal, 512 * 4);
    assert.throws(() => {
      b.setMigratetype(0x4000, MIGRATE_MOVABLE);
    }, isErr('EBUSY'));
  });

  it('__GFP_ZERO zeroes the pages', () => {
    const mem = new PhysicalMemory({ limit: 0x8000 * 4096 });
    const b = machine({ mem });
    b.freeRange(0x4000, 0x8000);
    const p = b.alloc(2, GFP_KERNEL)!;
    mem.fill(p * 4096, 4 * 4096, 0xee);
    b.freePages(p, 2);
    const q = b.alloc(2, GFP_KERNEL)!;
    assert.equal(q, p);
    assert.equal(mem.readU32(q * 4096 + 100), 0xeeeeeeee, 'plain allocation keeps old contents');
    b.freePages(q, 2);
    const z = b.alloc(2, GFP_KERNEL | __GFP_ZERO)!;
    assert.equal(z, p);
    for (let i = 0; i < 4; i++) assert.equal(mem.readU32(z * 4096 + i * 4096 + 8), 0);
  });

  it('folios: head flag, refcount, put on a tail frees the whole folio', () => {
    const b = machine();
    b.freeRange(0x4000, 0x8000);
    const f = b.allocFolio(4, GFP_KERNEL)!;
    assert.equal(b.meta.flags(f) & PG_HEAD, PG_HEAD);
    assert.equal(b.meta.compoundHead(f + 5), f);
    b.getPage(f + 3);
    assert.equal(b.meta.refcount(f), 2);
    b.putPage(f + 7);
    assert.equal(b.isFree(f), false);
    b.putPage(f);
    assert.equal(b.isFree(f + 15), true);
    assert.equal(b.meta.count, 0);
    assert.throws(() => {
      b.putPage(f);
    }, isErr('EINVAL'));
  });

  it('free_reserved_area and init_cma_reserved_pageblock refuse memory that is not reserved', () => {
    const b = machine();
    b.freeRange(0x4000, 0x4400);
    assert.throws(() => b.freeReservedArea(0x4000 * 4096, 0x4010 * 4096), isErr('EBUSY'));
    assert.throws(() => {
      b.initCmaReservedPageblock(0x4200);
    }, isErr('EBUSY'));
    assert.throws(() => {
      b.initCmaReservedPageblock(0x4201);
    }, isErr('EINVAL'));
    assert.throws(() => {
      b.initCmaReservedPageblock(0x9000);
    }, isErr('EINVAL'));
    assert.equal(b.isReserved(0x4400), true);
    assert.equal(b.freeReservedArea(0x4400 * 4096 + 1, 0x4800 * 4096), 0x3ff);
    assert.equal(b.isReserved(0x4400), true, 'the partial first page stays reserved');
    assert.equal(b.isReserved(0x4401), false);
  });

  it('answers pfn_valid per present section', () => {
    const b = machine();
    assert.equal(b.pfnValid(0), true, 'hole inside a present section');
    assert.equal(b.pfnValid(0x7fff), true);
    assert.equal(b.pfnValid(0x8000), false);
    assert.equal(b.pfnValid(-1), false);
    assert.equal(b.pfnOnline(0x10), true);
  });

  it('rejects bad requests the kernel way', () => {
    const b = machine();
    b.freeRange(0x4000, 0x8000);
    assert.equal(b.alloc(MAX_PAGE_ORDER + 1, GFP_KERNEL), null);
    assert.throws(() => b.alloc(0, __GFP_MOVABLE | __GFP_RECLAIMABLE), isErr('EINVAL'));
    assert.throws(
      () => {
        b.freePages(0x4000, 0);
      },
      isErr('EINVAL'),
      'double free',
    );
    assert.throws(
      () => {
        b.freePages(0x9000, 0);
      },
      isErr('EINVAL'),
      'not RAM',
    );
    assert.throws(() => {
      b.freeRange(-5, 3);
    }, isErr('EINVAL'));
  });

  it('restored pages (pages mode) free individually and merge back', () => {
    const b = machine();
    b.freeRange(0x4000, 0x8000);
    // Pretend 0x5000..0x5010 were preserved: reserve them by allocation, then split.
    const p = b.alloc(4, GFP_KERNEL)!;
    b.splitPage(p, 4);
    for (let i = 15; i >= 0; i--) b.freePages(p + i, 0);
    assert.equal(b.nrFreePages, 0x4000);
    assert.equal(
      b.freeAreaCounts(1)[MAX_PAGE_ORDER]!.reduce((a, c) => a + c, 0),
      16,
    );
  });
});

type Op =
  | { k: 'alloc'; order: number; type: 0 | 1 | 2; nid: number; thisnode: boolean; folio: boolean }
  | { k: 'free'; pick: number };

describe('buddy model', () => {
  it('never hands out a page twice, keeps reserved and CMA rules, adds up, coalesces back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(31), { maxLength: 6 }),
        fc.array(
          fc.oneof(
            fc.record({
              k: fc.constant('alloc' as const),
              order: fc.oneof(fc.nat(3), fc.nat(MAX_PAGE_ORDER)),
              type: fc.constantFrom(0 as const, 1 as const, 2 as const),
              nid: fc.integer({ min: -1, max: 1 }),
              thisnode: fc.boolean(),
              folio: fc.boolean(),
            }),
            fc.record({ k: fc.constant('free' as const), pick: fc.nat() }),
          ),
          { maxLength: 60 },
        ),
        (cmaBlocks, ops: Op[]) => {
          const b = machine();
          // Reserved (never freed): [0x800, 0xa00) on node 0 and [0x6000, 0x6100) on node 1.
          const reserved = (pfn: number): boolean =>
            (pfn >= 0x800 && pfn < 0xa00) || (pfn >= 0x6000 && pfn < 0x6100);
          const cma = new Set(cmaBlocks.map((i) => 0x4000 + i * 512).filter((pfn) => pfn !== 0x6000));
          for (const pfn of cma) b.setMigratetype(pfn, MIGRATE_CMA);
          b.freeRange(1, 0x9f);
          b.freeRange(0x100, 0x800);
          b.freeRange(0xa00, 0x6000);
          b.freeRange(0x6100, 0x8000);
          const total = b.managedPages;
          const initial = b.listFreeBlocks();
          const owner = new Map<number, number>(); // pfn -> allocation head
          const allocs: { pfn: number; order: number; folio: boolean }[] = [];
          for (const op of ops) {
            if (op.k === 'alloc') {
              const gfp =
                (op.type === 1
                  ? GFP_HIGHUSER_MOVABLE
                  : op.type === 2
                    ? GFP_KERNEL | __GFP_RECLAIMABLE
                    : GFP_KERNEL) |
                (op.thisnode ? __GFP_THISNODE : 0) |
                __GFP_NOWARN;
              const pfn = op.folio ? b.allocFolio(op.order, gfp, op.nid) : b.alloc(op.order, gfp, op.nid);
              if (pfn === null) continue;
              const n = 1 << op.order;
              assert.equal(pfn % n, 0, 'naturally aligned');
              for (let p = pfn; p < pfn + n; p++) {
                assert.equal(owner.has(p), false, `pfn ${p} handed out twice`);
                assert.equal(reserved(p), false, `reserved pfn ${p} handed out`);
                assert.equal(b.isRam(p), true, `hole pfn ${p} handed out`);
                assert.equal(b.isFree(p), false);
                if (op.type !== 1) assert.notEqual(b.migratetype(p), MIGRATE_CMA, 'unmovable in CMA');
                owner.set(p, pfn);
              }
              if (op.thisnode) assert.equal(b.nidOf(pfn), op.nid < 0 ? 0 : op.nid);
              allocs.push({ pfn, order: op.order, folio: op.folio });
            } else if (allocs.length > 0) {
              const [a] = allocs.splice(op.pick % allocs.length, 1);
              if (a!.folio) b.putPage(a!.pfn + ((1 << a!.order) - 1));
              else b.freePages(a!.pfn, a!.order);
              for (let p = a!.pfn; p < a!.pfn + (1 << a!.order); p++) owner.delete(p);
            }
            assert.equal(b.nrFreePages + owner.size, total, 'MemFree + allocated == MemTotal');
            assert.equal(b.managedPages, total);
          }
          for (const a of allocs) b.freePages(a.pfn, a.order);
          // Everything back: the same free pages, fully coalesced into the same block sizes.
          const after = b.listFreeBlocks();
          assert.deepEqual(
            after.map((x) => [x.pfn, x.order]),
            initial.map((x) => [x.pfn, x.order]),
          );
          for (const x of after) assert.equal(x.mt === MIGRATE_CMA, cma.has(x.pfn - (x.pfn % 512)));
          assert.equal(b.nrFreePages, total);
          assert.equal(b.meta.count, 0);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('buddy scale', () => {
  it('brings up 4 TiB on 4 nodes with compact bookkeeping', () => {
    const TiB = 2 ** 40;
    const ranges = [0, 1, 2, 3].map((n) => ({
      startPfn: (n * TiB) / 4096 + 1,
      endPfn: ((n + 1) * TiB) / 4096,
      nid: n,
    }));
    const b = new Buddy(ranges);
    for (const r of ranges) b.freeRange(r.startPfn, r.endPfn);
    assert.equal(b.managedPages, 4 * (TiB / 4096 - 1));
    const p = b.alloc(0, GFP_KERNEL, 3)!;
    assert.equal(b.nidOf(p), 3);
    b.freePages(p, 0);
    assert.equal(b.nrFreePages, b.managedPages);
    assert.equal(PAGES_PER_MIB, 256);
  });
});
