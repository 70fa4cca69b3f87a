import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const kho = (args: string[]) =>
  spawnSync(process.execPath, ['src/cli/main.ts', ...args], { encoding: 'utf8' });

test('unknown subcommand is a usage error (exit 2)', () => {
  const r = kho(['no-such-command']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command/);
});

test('--help lists the subcommands and exits 0', () => {
  const r = kho(['--help']);
  assert.equal(r.status, 0);
  for (const cmd of ['demo', 'fdt', 'inspect', 'shell', 'run', 'mkimage'])
    assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`));
});
