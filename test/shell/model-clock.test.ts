/**
 * dmesg timestamps follow the kernel's model clock: boot phases advance it, and every command
 * typed on the machine costs one second of model time, the same on every run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { term } from './helpers.ts';

/** Seconds of the dmesg line containing `needle`. */
function stampOf(log: string, needle: string): number {
  const line = log.split('\n').find((l) => l.includes(needle));
  assert.ok(line !== undefined, needle);
  return Number(/^\[\s*([0-9.]+)\]/.exec(line)![1]);
}

async function session(): Promise<string> {
  const t = term();
  await t.run('true');
  await t.run('cat /proc/cmdline > /dev/null');
  assert.equal((await t.run('modprobe test_kho max_mem=65536 colour=blue')).status, 0);
  return (await t.run('dmesg')).out;
}

test('commands advance the model clock; the log is the same on every run', async () => {
  const log = await session();
  const init = stampOf(log, 'Run /init as init process');
  const first = stampOf(log, "test_kho: unknown parameter 'colour'");
  // Three commands before modprobe's init ran (true, cat, modprobe itself): three seconds later.
  assert.ok(first >= init + 3 && first < init + 3.1, `${init} → ${first}`);
  assert.equal(await session(), log);
});

test('sleep advances the model clock by its full duration', async () => {
  const t = term();
  await t.run('sleep 0.25');
  await t.run('modprobe test_kho max_mem=65536 colour=blue');
  const log = (await t.run('dmesg')).out;
  // Two commands (1 s each) and the sleep's quarter second.
  const gap =
    stampOf(log, "test_kho: unknown parameter 'colour'") - stampOf(log, 'Run /init as init process');
  assert.ok(gap >= 2.25 && gap < 2.3, String(gap));
});
