/**
 * Model test: random preserve/unpreserve (folios and page ranges) and sub-tree add/remove
 * against a plain Set/array model. After every step the radix tree, walked from simulated
 * memory alone, holds exactly the model's blocks, and the FDT lists the model's sub-trees.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { walkRadixTree } from '../../src/kho/radix-walk.ts';
import { decompose } from '../../src/kho/preserve.ts';
import { outgoingSubtreeNames } from '../../src/kho/subtree.ts';
import { boot } from './kho-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 60);

type Op =
  | { t: 'folio'; pfn: number; order: number }
  | { t: 'unfolio'; pfn: number; order: number }
  | { t: 'pages'; pfn: number; nr: number }
  | { t: 'unpages'; pfn: number; nr: number }
  | { t: 'add'; name: string }
  | { t: 'remove'; i: number };

const pfnArb = fc.integer({ min: 1, max: 1 << 22 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('folio' as const), pfn: pfnArb, order: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ t: fc.constant('unfolio' as const), pfn: pfnArb, order: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ t: fc.constant('pages' as const), pfn: pfnArb, nr: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ t: fc.constant('unpages' as const), pfn: pfnArb, nr: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ t: fc.constant('add' as const), name: fc.constantFrom('a', 'b', 'c', 'memblock', 'LUO') }),
  fc.record({ t: fc.constant('remove' as const), i: fc.nat(10) }),
);

test('tracker in memory equals the model after every step', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => {
      const k = boot({ options: { khoDebug: false } });
      const kho = k.kho;
      // kho_init preserved the FDT page and the kexec-metadata page.
      const model = new Set<string>();
      walkRadixTree(k.machine.mem, kho.rootPhys, (p, o) => {
        model.add(`${p / 4096}:${o}`);
        return 0;
      });
      assert.equal(model.size, 2);
      const key = (pfn: number, order: number): string =>
        `${Math.floor(pfn / 2 ** order) * 2 ** order}:${order}`;
      const names: string[] = ['kexec-metadata'];
      const blobs: { name: string; phys: number }[] = [];
      for (const op of ops) {
        switch (op.t) {
          case 'folio':
            assert.equal(kho.preserveFolio(op.pfn, op.order), 0);
            model.add(key(op.pfn, op.order));
            break;
          case 'unfolio':
            kho.unpreserveFolio(op.pfn, op.order);
            model.delete(key(op.pfn, op.order));
            break;
          case 'pages':
            assert.equal(kho.preservePages(op.pfn, op.nr), 0);
            for (const b of decompose(op.pfn, op.nr)) model.add(key(b.pfn, b.order));
            break;
          case 'unpages':
            kho.unpreservePages(op.pfn, op.nr);
            for (const b of decompose(op.pfn, op.nr)) model.delete(key(b.pfn, b.order));
            break;
          case 'add': {
            const phys = kho.allocPreserve(64);
            model.add(key(phys / 4096, 0));
            const exists = names.includes(op.name);
            assert.equal(kho.addSubtree(op.name, phys, 64), exists ? -17 : 0);
            if (!exists) {
              names.unshift(op.name);
              blobs.push({ name: op.name, phys });
            }
            break;
          }
          case 'remove': {
            if (blobs.length === 0) break;
            const [b] = blobs.splice(op.i % blobs.length, 1);
            kho.removeSubtree(b!.phys);
            names.splice(names.indexOf(b!.name), 1);
            break;
          }
        }
        const got = new Set<string>();
        assert.equal(
          walkRadixTree(k.machine.mem, kho.rootPhys, (p, o) => {
            got.add(`${p / 4096}:${o}`);
            return 0;
          }),
          0,
        );
        assert.deepEqual([...got].sort(), [...model].sort());
        assert.deepEqual(outgoingSubtreeNames(k.kho.ctx), names);
      }
    }),
    { numRuns: RUNS, seed: 7 },
  );
});
