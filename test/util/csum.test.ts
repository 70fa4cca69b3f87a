/**
 * csum_partial() (x86-64): hand-derived vectors, and a cross-check against a C program that
 * adds 64-bit words with end-around carry as the hardware does (test/helpers/csum-x86.c, built
 * with gcc when it is there), over byte arrays and over PhysicalMemory ranges that mix touched,
 * described (random, pattern) and poisoned pages at odd alignments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { csumAdd, csumFold, csumPartial } from '../../src/util/csum.ts';
import { PhysicalMemory } from '../../src/hw/physical-memory.ts';

const b = (...x: number[]): Uint8Array => new Uint8Array(x);

test('csum_partial: vectors derived by hand', () => {
  assert.equal(csumPartial(b()), 0);
  assert.equal(csumPartial(b(), 0x1234), 0x1234);
  assert.equal(csumPartial(b(0, 0, 0, 0, 0, 0, 0)), 0, 'all zero stays 0');
  assert.equal(csumPartial(b(1)), 1);
  assert.equal(csumPartial(b(1, 0, 0, 0, 2, 0, 0, 0)), 3);
  // ≡ 0 mod 2^32 − 1 but not zero: all ones.
  assert.equal(csumPartial(b(0xff, 0xff, 0xff, 0xff)), 0xffffffff);
  assert.equal(csumPartial(new Uint8Array(8).fill(0xff)), 0xffffffff);
  // 0x80000000 + 0x80000000 = 2^32: the carry comes back around.
  assert.equal(csumPartial(b(0, 0, 0, 0x80, 0, 0, 0, 0x80)), 1);
  // The tail is zero-padded at the end of the buffer: byte 5 is bit 8 of the second word.
  assert.equal(csumPartial(b(0, 0, 0, 0, 0, 2)), 0x200);
  assert.equal(csumPartial(b(1, 0, 0, 0), 0xffffffff), 1);
  assert.equal(csumAdd(0xffffffff, 1), 1);
  assert.equal(csumAdd(0xfffffffe, 1), 0xffffffff);
  assert.equal(csumFold(0xffffffff), 0);
  assert.equal(csumFold(0x0001f203), ~0xf204 & 0xffff);
});

/** Runs the C reference over `cases`, or returns null when gcc is missing. */
function reference(cases: { sum: number; bytes: Uint8Array }[]): number[] | null {
  if (spawnSync('gcc', ['--version']).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'kho-csum-'));
  try {
    const exe = join(dir, 'csum');
    const src = fileURLToPath(new URL('../helpers/csum-x86.c', import.meta.url));
    execFileSync('gcc', ['-O2', '-o', exe, src]);
    const input = cases
      .map((c) => `${c.sum.toString(16)} ${Buffer.from(c.bytes).toString('hex')}\n`)
      .join('');
    const out = execFileSync(exe, { input, maxBuffer: 1 << 26 })
      .toString()
      .trim()
      .split('\n');
    return out.map((l) => parseInt(l, 16));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
}

test('csum_partial over byte arrays matches the C reference', (t) => {
  const next = lcg(7);
  const cases: { sum: number; bytes: Uint8Array }[] = [];
  for (let i = 0; i < 300; i++) {
    const len = i < 200 ? i : (next() % 9000) + 1;
    const bytes = new Uint8Array(len);
    const kind = i % 4;
    for (let j = 0; j < len; j++)
      bytes[j] = kind === 0 ? next() & 0xff : kind === 1 ? 0xff : kind === 2 ? 0 : next() & 1;
    const sums = [0, 0xffffffff, 1, next()];
    cases.push({ sum: sums[i % 4]!, bytes });
  }
  const want = reference(cases);
  if (want === null) {
    t.skip('gcc is not installed');
    return;
  }
  cases.forEach((c, i) => {
    assert.equal(csumPartial(c.bytes, c.sum), want[i], `case ${i}: len ${c.bytes.length} sum ${c.sum}`);
  });
});

test('csum_partial over physical memory (described, touched, poisoned, odd edges) matches the C reference', (t) => {
  const mem = new PhysicalMemory({ limit: 2 ** 40 });
  const P = 4096;
  mem.fillRandom(16 * P + 3, 40 * P + 1001, 0xdecafbad); // random, unaligned edges
  mem.writeU32(20 * P + 8, 0x12345678); // touched inside the description
  mem.fill(60 * P, 3 * P + 5, 0x5c); // pattern
  mem.poison(70 * P, 2 * P);
  mem.copy(80 * P + 1, 16 * P + 3, 10 * P); // a shifted copy of the stream (and of the touched page)
  const next = lcg(11);
  const ranges: { addr: number; len: number; sum: number }[] = [];
  for (let i = 0; i < 120; i++) {
    const addr = 15 * P + (next() % (80 * P));
    const len = i % 3 === 0 ? next() % 64 : next() % (12 * P);
    ranges.push({ addr, len, sum: i % 2 === 0 ? 0 : next() });
  }
  ranges.push({ addr: 16 * P + 3, len: 40 * P + 1001, sum: 0 }, { addr: 0, len: 100 * P, sum: 5 });
  const cases = ranges.map((r) => ({ sum: r.sum, bytes: mem.read(r.addr, r.len) }));
  // Edge pages of the fills, the page written into, and the copy's unaligned edges.
  assert.equal(mem.touchedCount, 8);
  const want = reference(cases);
  if (want === null) {
    t.skip('gcc is not installed');
    return;
  }
  ranges.forEach((r, i) => {
    assert.equal(mem.csumPartial(r.addr, r.len, r.sum), want[i], `range 0x${r.addr.toString(16)}+${r.len}`);
  });
  assert.equal(mem.touchedCount, 8, 'checksums materialise nothing');
});
