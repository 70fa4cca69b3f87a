/**
 * Model test across a kexec: random folios, some preserved (as folios or page ranges), some
 * not. In the successor every preserved block head carries the KHOP stamp with its order and
 * all its pages are reserved; every unpreserved page belongs to the page allocator again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { KHO_PAGE_MAGIC } from '../../src/abi/kho-page.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { decompose } from '../../src/kho/preserve.ts';
import { boot, jump } from './kho-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 15);

test('preserved blocks survive, everything else is free in the successor', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ order: fc.integer({ min: 0, max: 10 }), how: fc.constantFrom('folio', 'pages', 'none') }),
        {
          minLength: 1,
          maxLength: 40,
        },
      ),
      (allocs) => {
        const k = boot({ mem: 2 * 1024 ** 3 });
        const kept: { pfn: number; order: number }[] = [];
        const dropped: number[] = [];
        for (const a of allocs) {
          const pfn = k.buddy.alloc(a.order, GFP_KERNEL)!;
          if (a.how === 'folio') {
            assert.equal(k.kho.preserveFolio(pfn, a.order), 0);
            kept.push({ pfn, order: a.order });
          } else if (a.how === 'pages') {
            assert.equal(k.kho.preservePages(pfn, 2 ** a.order), 0);
            kept.push(...decompose(pfn, 2 ** a.order));
          } else dropped.push(pfn);
        }
        const k2 = jump(k);
        assert.equal(k2.kho.isKhoBoot(), true);
        const meta = k2.buddy.meta;
        for (const b of kept) {
          assert.equal(meta.privateHi(b.pfn), KHO_PAGE_MAGIC);
          assert.equal(meta.privateLo(b.pfn), b.order);
          assert.equal(k2.buddy.isReserved(b.pfn), true);
          assert.equal(k2.buddy.isReserved(b.pfn + 2 ** b.order - 1), true);
        }
        // Not preserved: not reserved by memblock, handed to the allocator (free, or already
        // reused by the successor's own allocations such as its new radix root).
        for (const pfn of dropped) {
          assert.equal(k2.memblock.isReserved(pfn * 4096), false, `pfn ${pfn}`);
          assert.equal(k2.buddy.isReserved(pfn), false, `pfn ${pfn}`);
        }
      },
    ),
    { numRuns: RUNS, seed: 21 },
  );
});
