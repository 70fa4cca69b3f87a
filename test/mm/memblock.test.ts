import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MEMBLOCK_HOTPLUG,
  MEMBLOCK_KHO_SCRATCH,
  MEMBLOCK_MIRROR,
  MEMBLOCK_NOMAP,
  MEMBLOCK_RSRV_KERN,
  MEMBLOCK_RSRV_NOINIT,
  Memblock,
  NUMA_NO_NODE,
  type MemblockRegion,
} from '../../src/mm/memblock.ts';
import { MmError } from '../../src/mm/mm-error.ts';

const MiB = 1 << 20;
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);

function regions(rs: readonly MemblockRegion[]): [number, number, number, number][] {
  return rs.map((r) => [r.base, r.size, r.flags, r.nid]);
}

/** Two nodes of 64 MiB each starting at 0. */
function twoNodes(): Memblock {
  const mb = new Memblock();
  mb.add(0, 64 * MiB, 0);
  mb.add(64 * MiB, 64 * MiB, 1);
  return mb;
}

describe('memblock regions', () => {
  it('merges adjacent regions with the same flags and node only', () => {
    const mb = new Memblock();
    mb.add(0, MiB, 0);
    mb.add(MiB, MiB, 0);
    mb.add(2 * MiB, MiB, 1);
    assert.deepEqual(regions(mb.memory.regions), [
      [0, 2 * MiB, 0, 0],
      [2 * MiB, MiB, 0, 1],
    ]);
  });

  it('adding an overlapping range inserts only the uncovered parts', () => {
    const mb = new Memblock();
    mb.add(MiB, MiB, 0, MEMBLOCK_HOTPLUG);
    mb.add(0, 4 * MiB, 0);
    assert.deepEqual(regions(mb.memory.regions), [
      [0, MiB, 0, 0],
      [MiB, MiB, MEMBLOCK_HOTPLUG, 0],
      [2 * MiB, 2 * MiB, 0, 0],
    ]);
  });

  it('marking flags splits regions and clearing merges them back', () => {
    const mb = new Memblock();
    mb.add(0, 16 * MiB, 0);
    mb.markKhoScratch(4 * MiB, 2 * MiB);
    assert.deepEqual(regions(mb.memory.regions), [
      [0, 4 * MiB, 0, 0],
      [4 * MiB, 2 * MiB, MEMBLOCK_KHO_SCRATCH, 0],
      [6 * MiB, 10 * MiB, 0, 0],
    ]);
    mb.markFlags('memory', 5 * MiB, 4 * MiB, MEMBLOCK_MIRROR);
    assert.equal(mb.memory.cnt, 5);
    mb.clearFlags('memory', 0, 16 * MiB, MEMBLOCK_MIRROR | MEMBLOCK_KHO_SCRATCH);
    assert.deepEqual(regions(mb.memory.regions), [[0, 16 * MiB, 0, 0]]);
  });

  it('remove and free cut holes, splitting regions', () => {
    const mb = new Memblock();
    mb.add(0, 16 * MiB, 0);
    mb.remove(4 * MiB, MiB);
    assert.deepEqual(regions(mb.memory.regions), [
      [0, 4 * MiB, 0, 0],
      [5 * MiB, 11 * MiB, 0, 0],
    ]);
    mb.reserve(0, 8 * MiB);
    mb.free(2 * MiB, MiB);
    assert.deepEqual(regions(mb.reserved.regions), [
      [0, 2 * MiB, 0, -1],
      [3 * MiB, 5 * MiB, 0, -1],
    ]);
    assert.equal(mb.isReserved(2 * MiB), false);
    assert.equal(mb.isRegionReserved(2 * MiB, 2 * MiB), true);
  });

  it('NOINIT marks reserved regions', () => {
    const mb = twoNodes();
    mb.reserve(MiB, 2 * MiB);
    mb.reservedMarkNoinit(2 * MiB, MiB);
    assert.deepEqual(regions(mb.reserved.regions), [
      [MiB, MiB, 0, -1],
      [2 * MiB, MiB, MEMBLOCK_RSRV_NOINIT, -1],
    ]);
  });

  it('prints /sys/kernel/debug/memblock like the kernel', () => {
    const mb = twoNodes();
    mb.reserve(0, 0x1000);
    mb.markKhoScratch(0, MiB);
    mb.allocRange(MiB, MiB, 0, 0, 1, true);
    assert.equal(
      mb.debugfsShow('memory'),
      '   0: 0x0000000000000000..0x00000000000fffff    0 KHO_SCRATCH\n' +
        '   1: 0x0000000000100000..0x0000000003ffffff    0 NONE\n' +
        '   2: 0x0000000004000000..0x0000000007ffffff    1 NONE\n',
    );
    assert.equal(
      mb.debugfsShow('reserved'),
      '   0: 0x0000000000000000..0x0000000000000fff    x NONE\n' +
        '   1: 0x0000000007f00000..0x0000000007ffffff    1 RSV_KERN\n',
    );
  });

  it('rejects bad input with EINVAL', () => {
    const mb = twoNodes();
    for (const f of [
      () => {
        mb.add(-1, 10);
      },
      () => {
        mb.add(Number.NaN, 10);
      },
      () => {
        mb.reserve(0, 1.5);
      },
      () => {
        mb.add(0, 10, 5000);
      },
      () => mb.allocRange(4096, 3000, 0, 0),
      () => {
        mb.markFlags('memory', 0, 4096, 0x100);
      },
    ]) {
      assert.throws(f, (e: unknown) => e instanceof MmError && e.code === 'EINVAL');
    }
  });
});

describe('memblock allocation', () => {
  it('allocates top-down by default, bottom-up on request, records nid and RSRV_KERN', () => {
    const mb = twoNodes();
    const a = mb.physAlloc(MiB, MiB);
    assert.equal(a, 127 * MiB);
    assert.deepEqual(regions(mb.reserved.regions), [[127 * MiB, MiB, MEMBLOCK_RSRV_KERN, -1]]);
    mb.bottomUp = true;
    assert.equal(mb.physAlloc(MiB, MiB), MiB); // never below PAGE_SIZE, so the first MiB is skipped
    assert.equal(mb.physAlloc(0x1000, 0x1000), 0x1000);
  });

  it('keeps allocations inside [start, end) and the current limit', () => {
    const mb = twoNodes();
    assert.equal(mb.physAllocRange(MiB, MiB, 0, 10 * MiB), 9 * MiB);
    mb.currentLimit = 32 * MiB;
    assert.equal(mb.physAlloc(MiB, MiB), 31 * MiB);
    // An explicit end is not clamped to the limit (only MEMBLOCK_ALLOC_ACCESSIBLE is).
    assert.equal(mb.physAllocRange(MiB, MiB, 100 * MiB, 101 * MiB), 100 * MiB);
    assert.equal(mb.physAllocRange(2 * MiB, MiB, 100 * MiB, 101 * MiB), 0);
  });

  it('prefers the node, falls back unless exact_nid', () => {
    const mb = twoNodes();
    mb.reserve(0, 64 * MiB); // node 0 full
    assert.equal(mb.allocRange(MiB, MiB, 0, 0, 0, true), 0);
    const b = mb.allocRange(MiB, MiB, 0, 0, 0, false);
    assert.equal(b, 127 * MiB);
    // The reservation remembers the requested node, not where it landed.
    assert.equal(mb.reserved.find(b)?.nid, 0);
    assert.equal(mb.reservedKernSize(Number.MAX_SAFE_INTEGER, 0), MiB);
    assert.equal(mb.reservedKernSize(Number.MAX_SAFE_INTEGER, 1), 0);
  });

  it('computes K(limit, nid): only RSRV_KERN, clipped at the limit', () => {
    const mb = twoNodes();
    mb.reserve(0, 8 * MiB); // firmware-style, not counted
    mb.allocRange(4 * MiB, MiB, 60 * MiB, 68 * MiB, 1, false); // straddles 64 MiB
    mb.allocRange(2 * MiB, MiB, 0, 16 * MiB, NUMA_NO_NODE);
    assert.equal(mb.reservedKernSize(64 * MiB, NUMA_NO_NODE), 2 * MiB + 0);
    const straddle = mb.reserved.regions.find((r) => r.nid === 1)!;
    assert.equal(straddle.base, 64 * MiB);
    assert.equal(mb.reservedKernSize(66 * MiB, NUMA_NO_NODE), 4 * MiB);
    assert.equal(mb.reservedKernSize(Number.MAX_SAFE_INTEGER, 1), 4 * MiB);
    assert.equal(mb.reservedKernSize(), 6 * MiB);
  });

  it('zero-size allocations return an address and reserve nothing', () => {
    const mb = twoNodes();
    const a = mb.physAlloc(0, MiB);
    assert.notEqual(a, 0);
    assert.equal(mb.reserved.cnt, 0);
  });

  it('scratch-only mode searches scratch memory only; reservations are unaffected', () => {
    const mb = twoNodes();
    mb.markKhoScratch(8 * MiB, 4 * MiB);
    mb.setKhoScratchOnly();
    assert.equal(mb.physAlloc(MiB, MiB), 11 * MiB);
    assert.equal(mb.physAlloc(4 * MiB, MiB), 0);
    assert.equal(mb.allocRange(MiB, MiB, 0, 0, 1, true), 0); // node 1 has no scratch
    mb.reserve(100 * MiB, MiB);
    assert.equal(mb.isReserved(100 * MiB), true);
    const freed: [number, number][] = [];
    mb.freeAll({ freeRange: (s, e) => freed.push([s, e]) });
    assert.equal(mb.khoScratchOnly, false);
    assert.ok(freed.some(([s]) => s === 0x1000 >> 12 || s === 0));
    assert.equal(mb.physAlloc(MiB, MiB), 0, 'no allocations after free_all');
  });

  it('free_all frees whole pages of free ranges and skips NOMAP', () => {
    const mb = twoNodes();
    mb.reserve(0x1800, 0x1000); // partial pages at both ends
    mb.markFlags('memory', 64 * MiB, MiB, MEMBLOCK_NOMAP);
    const freed: [number, number][] = [];
    const pages = mb.freeAll({ freeRange: (s, e) => freed.push([s, e]) });
    assert.deepEqual(freed, [
      [0, 1],
      [3, 16384],
      [16640, 32768],
    ]);
    assert.equal(pages, 1 + 16381 + 16128);
  });

  it('memory allocation zeroes through PhysicalMemory', async () => {
    const { PhysicalMemory } = await import('../../src/hw/physical-memory.ts');
    const mem = new PhysicalMemory({ limit: 128 * MiB });
    const mb = new Memblock({ mem });
    mb.add(0, 128 * MiB, 0);
    mem.fill(127 * MiB, MiB, 0x5a);
    const raw = mb.allocRaw(0x1000, 0x1000);
    assert.equal(mem.readU8(raw), 0x5a);
    const z = mb.alloc(0x1000, 0x1000);
    assert.equal(mem.readU8(z), 0);
  });
});

/** Page-granular oracle for top-down/bottom-up placement. */
describe('memblock allocation model', () => {
  it('matches a brute-force oracle and never hands out reserved memory', () => {
    const PAGES = 96;
    const P = 0x1000;
    let successes = 0;
    let failures = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              k: fc.constant('reserve' as const),
              s: fc.nat(PAGES - 1),
              n: fc.integer({ min: 1, max: 8 }),
            }),
            fc.record({
              k: fc.constant('free' as const),
              s: fc.nat(PAGES - 1),
              n: fc.integer({ min: 1, max: 8 }),
            }),
            fc.record({
              k: fc.constant('scratch' as const),
              s: fc.nat(PAGES - 1),
              n: fc.integer({ min: 1, max: 16 }),
            }),
            {
              weight: 4,
              arbitrary: fc.record({
                k: fc.constant('alloc' as const),
                n: fc.integer({ min: 1, max: 6 }),
                alignLog: fc.nat(3),
                lo: fc.nat(PAGES),
                hi: fc.nat(PAGES),
                nid: fc.integer({ min: -1, max: 1 }),
                exact: fc.boolean(),
                bottomUp: fc.boolean(),
                scratchOnly: fc.boolean(),
              }),
            },
          ),
          { maxLength: 30 },
        ),
        (ops) => {
          const mb = new Memblock();
          // Two nodes with a hole in the middle: [0, 40) node 0, [48, 96) node 1 (pages).
          mb.add(0, 40 * P, 0);
          mb.add(48 * P, 48 * P, 1);
          const reserved = new Set<number>();
          const scratch = new Set<number>();
          const nodeOf = (p: number): number => (p < 40 ? 0 : p >= 48 ? 1 : -2);
          for (const op of ops) {
            if (op.k === 'reserve') {
              mb.reserve(op.s * P, op.n * P);
              for (let p = op.s; p < op.s + op.n; p++) reserved.add(p);
            } else if (op.k === 'free') {
              mb.free(op.s * P, op.n * P);
              for (let p = op.s; p < op.s + op.n; p++) reserved.delete(p);
            } else if (op.k === 'scratch') {
              mb.markKhoScratch(op.s * P, op.n * P);
              for (let p = op.s; p < op.s + op.n; p++) if (nodeOf(p) >= 0) scratch.add(p);
            } else {
              mb.bottomUp = op.bottomUp;
              if (op.scratchOnly) mb.setKhoScratchOnly();
              else mb.clearKhoScratchOnly();
              const align = 1 << op.alignLog;
              const lo = Math.min(op.lo, op.hi);
              const hi = Math.max(op.lo, op.hi);
              const got = mb.allocRange(op.n * P, align * P, lo * P, hi === 0 ? 0 : hi * P, op.nid, op.exact);
              // Oracle: candidates lie inside one memory region (node, scratch-ness).
              const ok = (p: number, nid: number): boolean =>
                nodeOf(p) >= 0 &&
                !reserved.has(p) &&
                (nid < 0 || nodeOf(p) === nid) &&
                (!op.scratchOnly || scratch.has(p));
              const sameRegion = (a: number, b: number): boolean =>
                nodeOf(a) === nodeOf(b) && scratch.has(a) === scratch.has(b);
              const fits = (c: number, nid: number): boolean => {
                for (let p = c; p < c + op.n; p++) if (!ok(p, nid) || !sameRegion(c, p)) return false;
                return true;
              };
              const start = Math.max(lo, 1);
              const end = hi === 0 ? PAGES : Math.max(hi, start);
              const search = (nid: number): number => {
                const cands: number[] = [];
                for (let c = start; c + op.n <= end; c++) if (c % align === 0 && fits(c, nid)) cands.push(c);
                if (cands.length === 0) return 0;
                return op.bottomUp ? cands[0]! : cands[cands.length - 1]!;
              };
              let want = search(op.nid);
              if (want === 0 && op.nid >= 0 && !op.exact) want = search(-1);
              assert.equal(got, want * P, `alloc ${JSON.stringify(op)}`);
              if (got !== 0) for (let p = want; p < want + op.n; p++) reserved.add(p);
              if (got !== 0) successes++;
              else failures++;
            }
          }
          // The reserved list covers exactly the model's pages and stays merged.
          const listed = new Set<number>();
          for (const r of mb.reserved.regions)
            for (let a = r.base; a < r.base + r.size; a += P) listed.add(a / P);
          assert.deepEqual(
            [...listed].sort((a, b) => a - b),
            [...reserved].sort((a, b) => a - b),
          );
          const rs = mb.reserved.regions;
          for (let i = 1; i < rs.length; i++) {
            const a = rs[i - 1]!;
            const b = rs[i]!;
            assert.ok(a.base + a.size <= b.base, 'sorted, no overlap');
            assert.ok(!(a.base + a.size === b.base && a.flags === b.flags && a.nid === b.nid), 'merged');
          }
        },
      ),
      { numRuns: RUNS },
    );
    assert.ok(successes > RUNS / 2 && failures > 0, `exercised: ${successes} ok, ${failures} failed`);
  });
});

describe('reserveNoinitRanges (KHO memory init in one pass)', () => {
  const range = fc
    .tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 8 }))
    .map(([a, n]) => [a * 0x1000, (a + n) * 0x1000] as const);
  it('builds the same reserved list as memblock_reserve + mark_noinit per range', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            range,
            fc.constantFrom(0, MEMBLOCK_RSRV_KERN, MEMBLOCK_RSRV_NOINIT),
            fc.integer({ min: -1, max: 1 }),
          ),
          {
            maxLength: 8,
          },
        ),
        fc.array(range, { maxLength: 12 }),
        (existing, ranges) => {
          const a = new Memblock();
          const b = new Memblock();
          for (const [[s, e], flags, nid] of existing) {
            a.reserve(s, e - s, flags, nid);
            b.reserve(s, e - s, flags, nid);
          }
          // Sorted, disjoint (touching allowed) ranges, as the walk's merge produces them.
          const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
          const starts: number[] = [];
          const ends: number[] = [];
          for (const [s, e] of sorted) {
            const lo = Math.max(s, ends[ends.length - 1] ?? 0);
            if (lo >= e) continue;
            starts.push(lo);
            ends.push(e);
          }
          for (let k = 0; k < starts.length; k++) {
            a.reserve(starts[k]!, ends[k]! - starts[k]!);
            a.reservedMarkNoinit(starts[k]!, ends[k]! - starts[k]!);
          }
          b.reserveNoinitRanges(starts, ends, starts.length);
          assert.deepEqual(b.snapshot().reserved, a.snapshot().reserved);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects ranges that are not sorted and disjoint', () => {
    const m = new Memblock();
    assert.throws(() => {
      m.reserveNoinitRanges([0x3000, 0x1000], [0x4000, 0x2000], 2);
    }, MmError);
  });
});
