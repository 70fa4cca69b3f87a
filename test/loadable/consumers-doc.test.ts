import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { runCheck } from '../../src/check/engine.ts';
import { moduleFile } from './helpers.ts';

const doc = readFileSync(new URL('../../docs/consumers.md', import.meta.url), 'utf8');

it("the tutorial's final listing passes ten kexecs under kho check", () => {
  const m = /<!-- final listing[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(doc);
  assert.ok(m !== null, 'no final listing in docs/consumers.md');
  const r = runCheck({
    file: moduleFile(m[1]!, 'kho-counter.ts'),
    generations: 10,
    profile: 'kho-v4',
    mem: 4 * 2 ** 30,
    nodes: 1,
    seed: 1,
    cmdline: 'kho=on',
  });
  assert.equal(r.verdict, 'pass');
  assert.equal(r.generations.length, 11);
  // The page quotes the run: its last dmesg line (timestamps aside) is in the listing's output.
  const last = r.generations
    .at(-1)!
    .dmesg.at(-1)!
    .replace(/^\[[ \d.]+\] /, '');
  assert.match(doc, new RegExp(`\\n {2}gen 10 {2}\\[[ \\d.]+\\] ${last}\\n`));
});
