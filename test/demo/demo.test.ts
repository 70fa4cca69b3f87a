import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { renderDemo } from '../../src/demo/render.ts';
import { runDemo } from '../../src/demo/run.ts';

interface JsonGen {
  generation: number;
  khoBoot: boolean;
  kexecCount: number;
  verdicts: { name: string; ok: boolean; detail: string }[];
  scratch: unknown[];
  preservedBytes: number;
  luo: { retrieve: { cmd: string; status: number }[]; preserve: { cmd: string; status: number }[] };
}

test('kho demo --json --generations 2 exits 0 and lists every generation with its verdicts', () => {
  const r = spawnSync(process.execPath, ['src/cli/main.ts', 'demo', '--json', '--generations', '2'], {
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const j = JSON.parse(r.stdout) as { ok: boolean; generations: JsonGen[] };
  assert.equal(j.ok, true);
  assert.deepEqual(
    j.generations.map((g) => g.generation),
    [0, 1, 2],
  );
  assert.equal(j.generations[0]!.verdicts.length, 0);
  for (const g of j.generations.slice(1)) {
    assert.equal(g.khoBoot, true);
    assert.equal(g.kexecCount, g.generation);
    const names = g.verdicts.map((v) => v.name);
    for (const n of [
      'KHO boot',
      'kexec-metadata',
      'scratch',
      'test_kho',
      'reserve_mem trace',
      'LUO guest-vm',
    ]) {
      assert.ok(names.includes(n), `${n} in generation ${g.generation}`);
    }
    assert.ok(g.verdicts.every((v) => v.ok));
    assert.match(
      g.verdicts.find((v) => v.name === 'LUO guest-vm')!.detail,
      /^session guest-vm retrieved, 2 memfds with identical bytes \(token 0x1 36 B, token 0x2 2097152 B\), finished$/,
    );
    assert.deepEqual(
      g.luo.retrieve.map((s) => [s.cmd, s.status]),
      [
        ['luoctl list', 0],
        ['luoctl retrieve guest-vm', 0],
        ['luoctl read guest-vm 0x1 > token-0x1.bin', 0],
        ['luoctl read guest-vm 0x2 > token-0x2.bin', 0],
        ['luoctl finish guest-vm', 0],
      ],
    );
    // test_kho saves in even generations (odd ones restore and hand over nothing of it).
    assert.ok(g.preservedBytes > (g.generation % 2 === 0 ? 8 : 4) * 1024 * 1024);
    const t = g.verdicts.find((v) => v.name === 'test_kho')!.detail;
    assert.match(t, g.generation % 2 === 1 ? /^KHO restore succeeded/ : /^nothing handed over/);
  }
});

test('the text report: narrative, debugfs views, summary table, no colour when asked', () => {
  const r = runDemo({ generations: 1, seed: 4 });
  assert.equal(r.ok, true);
  const t = renderDemo(r, { color: false });
  assert.ok(!t.includes('\u001b['));
  for (const needle of [
    '# cat /sys/kernel/debug/kho/out/scratch_phys',
    '# ls /sys/kernel/debug/kho/out/sub_fdts',
    'compatible = "kho-v4"',
    'KHO restore succeeded',
    "Revived memory reservation 'trace' from KHO",
    'hexdump -C /dev/mem -s 0x',
    'Summary',
    'All 1 hand-overs verified',
    '# luoctl preserve guest-vm 2 < guest-ram.bin',
    "preserved token 0x2 in session 'guest-vm' (2097152 bytes)",
    '# luoctl retrieve guest-vm',
    "retrieved session 'guest-vm' (2 files: 0x1 0x2)",
    'PASS  LUO guest-vm       session guest-vm retrieved, 2 memfds with identical bytes',
    'luo: Retrieved live update data, liveupdate number: 1',
  ]) {
    assert.ok(t.includes(needle), needle);
  }
  assert.ok(renderDemo(r, { color: true }).includes('\u001b['));
});

test('bad options are usage errors (exit 2)', () => {
  for (const args of [
    ['--generations', '0'],
    ['--seed', 'x'],
  ]) {
    const r = spawnSync(process.execPath, ['src/cli/main.ts', 'demo', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, args.join(' '));
  }
});
