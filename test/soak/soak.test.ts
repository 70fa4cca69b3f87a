import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { decodeLe64Prop } from '../../src/abi/kho-fdt.ts';
import { readTree } from '../../src/fdt/reader.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { PseudoFile } from '../../src/kernel/pseudo-fs.ts';
import { runSoak } from '../../src/soak/run.ts';

const GiB = 1024 * 1024 * 1024;

test('20 recursive kexecs: every handed-over byte verified, scratch unchanged, kexec count +1 each time', () => {
  const s = runSoak({ generations: 20, seed: 11, mem: 2 * GiB });
  assert.deepEqual(s.failures, []);
  assert.equal(s.ok, true);
  assert.equal(s.generations, 20);
  assert.equal(s.lostBytes, 0);
  assert.equal(s.corruptedBytes, 0);
  assert.equal(s.scratchChanged, 0);
  assert.equal(s.metadataMismatches, 0);
  assert.ok(s.blocksVerified > 20, `verified ${s.blocksVerified} blocks`);
  assert.ok(s.bytesVerified > 1024 * 1024);
  assert.equal(s.scratch.length, 3);
});

/** The first folio/pages block of the outgoing soak table (read as a user would, via debugfs). */
function firstBlock(k: Kernel): number {
  const blob = (k.debugfs.lookup('kho/out/sub_fdts/kho_soak') as PseudoFile).read();
  const tree = readTree(blob);
  const table = decodeLe64Prop(tree.root.props.find((p) => p.name === 'table')!.value);
  assert.ok(table.ok);
  const count = new DataView(tree.root.props.find((p) => p.name === 'count')!.value.buffer).getUint32(
    0,
    true,
  );
  for (let i = 0; i < count; i++) {
    const e = k.machine.mem.read(table.value + i * 48, 16);
    const dv = new DataView(e.buffer);
    if (dv.getUint32(0, true) !== 2) return dv.getUint32(12, true) * 2 ** 32 + dv.getUint32(8, true);
  }
  return -1;
}

test('a byte flipped in a preserved block before a jump is reported as corrupted', () => {
  let hit = -1;
  const s = runSoak({
    generations: 6,
    seed: 11,
    mem: 2 * GiB,
    tamper: (k, g) => {
      if (hit >= 0 || g < 3) return;
      const at = firstBlock(k);
      if (at < 0) return;
      hit = g;
      k.machine.mem.writeU8(at + 100, k.machine.mem.readU8(at + 100) ^ 0xff);
    },
  });
  assert.ok(hit >= 3, 'a block was tampered with');
  assert.equal(s.ok, false);
  assert.ok(s.corruptedBytes > 0);
  assert.ok(s.failures.some((f) => f.includes(`generation ${hit}:`) && f.includes('checksum')));
});

test('npm run soak entry: JSON summary and exit 0; bad arguments exit 2', () => {
  const ok = spawnSync(
    process.execPath,
    ['src/soak/main.ts', '--generations', '3', '--seed', '2', '--mem', '2G'],
    {
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' },
    },
  );
  assert.equal(ok.status, 0, ok.stderr);
  const j = JSON.parse(ok.stdout) as { ok: boolean; generations: number; lostBytes: number };
  assert.equal(j.ok, true);
  assert.equal(j.generations, 3);
  assert.equal(j.lostBytes, 0);
  assert.equal(ok.stderr, '');
  const bad = spawnSync(process.execPath, ['src/soak/main.ts', '--generations', 'many'], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--generations expects an integer/);
});
