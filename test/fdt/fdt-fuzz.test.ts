import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FdtError } from '../../src/fdt/errors.ts';
import { readTree } from '../../src/fdt/reader.ts';
import type { FdtTree } from '../../src/fdt/tree.ts';
import { mutatedBlobs, runFdtFuzz } from '../helpers/fdt-fuzz.ts';
import { hex, libfdt } from '../helpers/fdt-libfdt.ts';
import { asLibfdt, rsvAsStrings } from '../helpers/fdt-tools.ts';

test('fuzz (3000 cases): only success or FdtError, rw keeps accepted blobs valid, no slow case', () => {
  const s = runFdtFuzz(3000, 12345);
  assert.equal(s.otherExceptions, 0, s.otherSamples.join('\n'));
  assert.equal(s.rwBroken, 0, s.otherSamples.join('\n'));
  assert.equal(s.hangs, 0, `max case ${s.maxCaseMs} ms`);
  // The mutations must reach both outcomes and several error kinds.
  assert.ok(s.accepted > 100, `accepted ${s.accepted}`);
  assert.ok(Object.keys(s.fdtErrors).length >= 5, JSON.stringify(s.fdtErrors));
});

test('differential on mutated blobs: what we accept, libfdt accepts with the same tree; what libfdt rejects, we reject', () => {
  const blobs = mutatedBlobs(1000, 777);
  const ref = libfdt(blobs.map((b) => ({ kind: 'read' as const, blob: hex(b) })));
  let both = 0;
  let stricter = 0;
  blobs.forEach((b, i) => {
    let t: FdtTree | null = null;
    try {
      t = readTree(b);
    } catch (e) {
      assert.ok(e instanceof FdtError);
    }
    const r = ref[i]!;
    if (r.skip !== undefined) return;
    if (r.crash !== undefined) {
      // libfdt crashed: we must have refused the blob.
      assert.equal(t, null, `case ${i}: libfdt crashed on a blob we accept`);
      return;
    }
    if (t === null) {
      if (r.err === undefined) stricter++;
      return;
    }
    assert.equal(r.err, undefined, `case ${i}: we accept, libfdt says ${r.err}: ${hex(b)}`);
    assert.deepEqual(asLibfdt(t.root), r.tree, `case ${i}`);
    assert.deepEqual(rsvAsStrings(t), r.rsv, `case ${i}`);
    both++;
  });
  assert.ok(both > 80, `only ${both} accepted by both`);
  // Rejections libfdt does not make (layout, alignment, properties after subnodes...) stay rare.
  assert.ok(stricter < blobs.length / 10, `${stricter} stricter rejections`);
});
