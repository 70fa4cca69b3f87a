import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const kho = (args: string[]) =>
  spawnSync(process.execPath, ['src/cli/main.ts', ...args], { encoding: 'utf8' });

test('kho demo says plainly what it needs while the machine is not built', () => {
  const r = kho(['demo']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /simulated machine/);
});

test('unknown subcommand is a usage error (exit 2)', () => {
  const r = kho(['no-such-command']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command/);
});
