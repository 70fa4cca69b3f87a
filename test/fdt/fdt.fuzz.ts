/**
 * The long FDT fuzz run: `npm run fuzz` (FUZZ_RUNS=1000000), default a few thousand cases.
 * Prints the figures as JSON; FUZZ_SEED picks the seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFdtFuzz } from '../helpers/fdt-fuzz.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 5000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20260521);

test(`FDT reader fuzz: ${RUNS} cases`, { timeout: 3_600_000 }, () => {
  const s = runFdtFuzz(RUNS, SEED);
  console.log(JSON.stringify(s));
  assert.equal(s.otherExceptions, 0, s.otherSamples.join('\n'));
  assert.equal(s.rwBroken, 0, s.otherSamples.join('\n'));
  assert.equal(s.hangs, 0, `max case ${s.maxCaseMs} ms`);
});
