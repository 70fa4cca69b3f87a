/**
 * bin/kho.js: commands that simulate machines re-execute themselves with glibc's malloc asked
 * for transparent huge pages (docs/hw.md "Host memory"); other commands, KHO_HUGEPAGES=0 and a
 * GLIBC_TUNABLES that already names the tunable do not. Each Node process started prints the
 * GLIBC_TUNABLES it sees through an `--import` preload in NODE_OPTIONS, so the test sees both.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/kho.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kho-launcher-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const script = join(dir, 'hi.sh');
writeFileSync(script, 'echo hi from the machine\nexit 3\n');
const PRELOAD =
  '--import=data:text/javascript,process.stderr.write(`tunables=${process.env.GLIBC_TUNABLES}\\n`)';

function launch(
  args: string[],
  env: Record<string, string> = {},
): { out: string; seen: string[]; status: number | null } {
  const base = { ...process.env };
  delete base['GLIBC_TUNABLES'];
  delete base['KHO_HUGEPAGES'];
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...base, NODE_OPTIONS: PRELOAD, ...env },
  });
  const seen = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('tunables='))
    .map((l) => l.slice('tunables='.length));
  return { out: r.stdout, seen, status: r.status };
}

test('kho run re-executes once with glibc.malloc.hugetlb=1, keeping output and exit status', () => {
  const r = launch(['run', 'hi.sh']);
  assert.deepEqual(r.seen, ['undefined', 'glibc.malloc.hugetlb=1']);
  assert.match(r.out, /hi from the machine/);
  assert.equal(r.status, 3);
});

test('existing tunables are kept and the hugetlb one appended', () => {
  const r = launch(['run', 'hi.sh'], { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' });
  assert.deepEqual(r.seen, ['glibc.malloc.arena_max=2', 'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1']);
});

test('no re-exec for KHO_HUGEPAGES=0, a tunable already set, or a command without a machine', () => {
  assert.deepEqual(launch(['run', 'hi.sh'], { KHO_HUGEPAGES: '0' }).seen, ['undefined']);
  assert.deepEqual(launch(['run', 'hi.sh'], { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }).seen, [
    'glibc.malloc.hugetlb=0',
  ]);
  const fdt = launch(['fdt', '--help']);
  assert.deepEqual(fdt.seen, ['undefined']);
  assert.match(fdt.out, /Usage: kho fdt/);
});
