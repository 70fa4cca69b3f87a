/**
 * Acceptance (issue 10): `kho inspect --json` on the memory image of a machine after `kexec -e`
 * with LUO state lists exactly the sessions, tokens and memfd sizes that were preserved.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { term } from '../shell/helpers.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

interface LuoJson {
  compatible: string;
  liveupdateNumber: number;
  sessions: { name: string; files: { token: string; compatible: string; memfd?: { size: number } }[] }[];
}

it('kho inspect --json of the dump after kexec -e lists the preserved sessions, tokens and memfd sizes', async () => {
  const home = mkdtempSync(join(tmpdir(), 'luoctl-inspect-'));
  const t = term({ cmdline: 'kho=on liveupdate=on' }, home);
  const preserved = [
    {
      name: 'vm-1',
      files: [
        { token: '0x1', size: 17 },
        { token: '0x2a', size: 20000 },
      ],
    },
    { name: 'vm-2', files: [{ token: '0xffffffffffffffff', size: 1 << 20 }] },
    { name: 'empty', files: [] },
  ];
  for (const line of [
    'luoctl create vm-1',
    'luoctl preserve vm-1 1 --data "hello kexec world"',
    'luoctl preserve vm-1 42 --size 20000',
    'luoctl create vm-2',
    'luoctl preserve vm-2 18446744073709551615 --size 1M',
    'luoctl create empty',
    'luoctl create dropped',
    'luoctl preserve dropped 5 --data gone',
    'luoctl close dropped',
    'kexec -l -s --reuse-cmdline /boot/vmlinuz',
    'kexec -e > /dev/null',
    'cp /sys/kernel/debug/kho/in/fdt in.dtb',
    'dump-memory core.elf',
  ]) {
    const r = await t.run(line);
    assert.equal(r.status, 0, `${line}: ${r.err}`);
  }
  const r = spawnSync(
    process.execPath,
    [MAIN, 'inspect', '--fdt', join(home, 'in.dtb'), '--image', join(home, 'core.elf'), '--json'],
    {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const luo = (JSON.parse(r.stdout) as { luo: LuoJson }).luo;
  assert.equal(luo.compatible, 'luo-v5');
  assert.equal(luo.liveupdateNumber, 1);
  const got = luo.sessions.map((s) => ({
    name: s.name,
    files: s.files.map((f) => {
      assert.equal(f.compatible, 'memfd-v2');
      return { token: f.token, size: f.memfd?.size };
    }),
  }));
  // luoctl's own catalog session rides along (token 0: the JSON list luoctl reads back).
  const catalog = got.find((s) => s.name === 'luoctl');
  assert.ok(catalog !== undefined && catalog.files.length === 1 && catalog.files[0]!.token === '0x0');
  assert.deepEqual(
    got.filter((s) => s !== catalog),
    preserved,
  );
  // The successor's luoctl reads the same list from its catalog.
  const list = JSON.parse((await t.run('luoctl list --json')).out) as {
    incoming: { name: string; files: { token: string; size: number }[] }[];
  };
  assert.deepEqual(
    list.incoming.map((s) => ({
      name: s.name,
      files: s.files.map((f) => ({ token: f.token, size: f.size })),
    })),
    preserved,
  );
});
