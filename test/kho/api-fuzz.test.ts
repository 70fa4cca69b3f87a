/** Bad input to the KHO API fails the kernel way (errno results or typed errors), never a raw TypeError/RangeError. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { boot, jump } from './kho-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 200);

const num = fc.oneof(
  fc.integer({ min: -5, max: 1 << 22 }),
  fc.constantFrom(
    0,
    -1,
    2 ** 40,
    2 ** 52,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    Number.NaN,
    Infinity,
    0.5,
    1e300,
  ),
);

test('random calls with hostile numbers never throw raw JS errors', () => {
  const k = boot();
  const k2 = jump(boot());
  const calls: ((a: number, b: number) => unknown)[] = [
    (a, b) => k.kho.preserveFolio(a, b),
    (a, b) => {
      k.kho.unpreserveFolio(a, b);
    },
    (a, b) => k.kho.preservePages(a, b),
    (a, b) => {
      k.kho.unpreservePages(a, b);
    },
    (a) => k.kho.allocPreserve(a),
    (a, b) => k.kho.addSubtree(`n${b}`, a, b),
    (a) => {
      k.kho.removeSubtree(a);
    },
    (a) => k2.kho.restoreFolio(a),
    (a, b) => k2.kho.restorePages(a, b),
    (a) => k2.kho.restoreVmalloc(a),
    (a) => {
      k2.kho.restoreFree(a);
    },
    (a, b) => k.kho.preserveVmalloc(a, b),
  ];
  fc.assert(
    fc.property(fc.nat(calls.length - 1), num, num, (i, a, b) => {
      try {
        calls[i]!(a, b);
      } catch (e) {
        assert.ok(!(e instanceof TypeError) && !(e instanceof RangeError), `${i}(${a}, ${b}): ${String(e)}`);
        assert.ok(e instanceof Error && e.name !== 'Error', `untyped error ${String(e)}`);
      }
    }),
    { numRuns: RUNS, seed: 11 },
  );
});
