import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine } from '../../src/kernel/machine.ts';
import { attachProgress } from '../../src/shell/progress.ts';

test('progress lines go to a terminal stderr only, each over the last, cleared at the end', () => {
  const m = Machine.create({ mem: 2 ** 30, nodes: 1 });
  const piped: string[] = [];
  attachProgress(m, { isTTY: false, write: (t: string) => piped.push(t) });
  assert.equal(m.work.sink, null);
  const out: string[] = [];
  attachProgress(m, { isTTY: true, write: (t: string) => out.push(t) });
  m.work.afterS = 0;
  m.work.everyS = 0;
  const w = m.work.start('dump-memory core', 0, 'bytes');
  assert.equal(w.step(3 << 20), false);
  w.end(4 << 20);
  assert.equal(out.length, 2);
  assert.ok(out[0]!.startsWith('\r\u001b[K'));
  assert.match(out[0]!.slice(4), /^dump-memory core: 3\.0 MiB [\d.]+ s$/);
  assert.equal(out[1], '\r\x1b[K');
  assert.deepEqual(piped, []);
});
