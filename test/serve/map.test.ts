/**
 * The map's binning against brute force: prefix-sum coverage of random ranges and blocks, and
 * every bin of a live machine's map against the blocks `inspectHandover` lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BlockCoverage, RangeCoverage } from '../../src/serve/coverage.ts';
import { binSizeFor, mapView } from '../../src/serve/map.ts';
import { ServeModel } from '../../src/serve/model.ts';
import { bootMachine, createSession, machineConfig } from '../../src/shell/machine-setup.ts';
import { NULL_SINK } from '../../src/shell/io.ts';

function bruteBelow(ranges: { start: number; end: number }[], x: number): number {
  const seen = new Set<number>();
  for (const r of ranges) for (let a = r.start; a < Math.min(r.end, x); a++) seen.add(a);
  return seen.size;
}

test('RangeCoverage.below counts covered bytes of overlapping, unsorted ranges', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(200), fc.nat(40)), { maxLength: 12 }), fc.nat(260), (pairs, x) => {
      const ranges = pairs.map(([s, l]) => ({ start: s, end: s + l }));
      const cov = RangeCoverage.of(ranges);
      assert.equal(cov.below(x), bruteBelow(ranges, x));
      const i = cov.firstEndingAfter(x);
      if (i < cov.length) assert.ok(cov.start(i) + cov.size(i) > x);
      if (i > 0) assert.ok(cov.start(i - 1) + cov.size(i - 1) <= x);
    }),
  );
});

test('BlockCoverage.below and indexAt for aligned blocks of one size', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.nat(63), { maxLength: 20 }), fc.nat(64 * 8 + 4), (slots, x) => {
      const size = 8;
      const starts = Float64Array.from(slots.map((s) => s * size).sort((a, b) => a - b));
      const cov = new BlockCoverage(starts, size);
      const ranges = [...starts].map((s) => ({ start: s, end: s + size }));
      assert.equal(cov.below(x), bruteBelow(ranges, x));
      const hit = ranges.findIndex((r) => x >= r.start && x < r.end);
      assert.equal(cov.indexAt(x), hit);
      const first = ranges.findIndex((r) => r.end > x);
      assert.equal(cov.firstEndingAfter(x), first < 0 ? ranges.length : first);
    }),
  );
});

test('binSizeFor: the smallest power of two ≥ span/bins, at least a page', () => {
  assert.equal(binSizeFor(1 << 20, 256), 4096);
  assert.equal(binSizeFor(1 << 20, 1024), 4096);
  assert.equal(binSizeFor(2 ** 42, 2048), 2 ** 31);
  assert.equal(binSizeFor(2 ** 42 + 1, 2048), 2 ** 32);
});

test('every bin of a live map equals the blocks kho inspect decodes there', async () => {
  const cfg = machineConfig({ mem: '2G', nodes: '2' });
  if (typeof cfg === 'string') throw new Error(cfg);
  const machine = bootMachine(cfg);
  if (typeof machine === 'string') throw new Error(machine);
  const session = createSession(machine, cfg, { stdout: NULL_SINK, stderr: NULL_SINK, home: '/' });
  await session.runText('modprobe test_kho');
  const model = ServeModel.ofMachine(machine);
  model.changed();
  const snap = model.snapshot();
  const set = snap.report?.preserved;
  assert.ok(set !== null && set !== undefined && set.count > 10);
  const blocks: { phys: number; size: number; order: number }[] = [];
  set.forEachSorted((phys, order) => {
    blocks.push({ phys, size: 4096 * 2 ** order, order });
    return true;
  });
  for (const bins of [7, 64, 1000]) {
    const m = mapView(snap, 1, 0, snap.span.end, bins);
    for (let i = 0; i < m.count; i++) {
      const a = m.start + i * m.binSize;
      const b = a + m.binSize;
      let bytes = 0;
      const per = new Map<number, number>();
      for (const k of blocks) {
        const o = Math.max(0, Math.min(b, k.phys + k.size) - Math.max(a, k.phys));
        bytes += o;
        if (o > 0) per.set(k.order, (per.get(k.order) ?? 0) + o);
      }
      assert.equal(m.layers.preserved[i], bytes, `bin ${i} of ${bins}`);
      const top = [...per.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0];
      if (top !== undefined) assert.equal(per.get(m.order[i]!), top[1]);
      else assert.equal(m.order[i], -1);
    }
  }
  // A 1 MiB zoom on the first test_kho folio lists it as an item of its owner.
  const owner = snap.owners.find((o) => o.name === 'kho_test');
  assert.ok(owner !== undefined);
  const folio = blocks.find(
    (k) => owner.cov.below(k.phys + 1) - owner.cov.below(k.phys) === 1 && k.order > 0,
  );
  assert.ok(folio !== undefined);
  const start = folio.phys - (folio.phys % (1 << 20));
  const zoom = mapView(snap, 1, start, start + (1 << 20), 256);
  assert.equal(zoom.binSize, 4096);
  const item = zoom.items?.find((it) => it.kind === 'block' && it.start === folio.phys);
  assert.deepEqual(item, {
    kind: 'block',
    start: folio.phys,
    size: folio.size,
    order: folio.order,
    owner: owner.id,
  });
});
