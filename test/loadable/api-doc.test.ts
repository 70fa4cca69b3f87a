import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import * as api from '../../src/index.ts';

const doc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
const source = readFileSync(new URL('../../src/index.ts', import.meta.url), 'utf8');

/** Names exported as types only (they do not exist at run time). */
function typeExports(): string[] {
  const names: string[] = [];
  for (const m of source.matchAll(/export type \{([^}]*)\}/g)) {
    for (const n of m[1]!.split(','))
      if (n.trim() !== '')
        names.push(
          n
            .trim()
            .split(/\s+as\s+/)
            .at(-1)!,
        );
  }
  for (const m of source.matchAll(/^export (?:interface|type) (\w+)/gm)) names.push(m[1]!);
  return names;
}

it('docs/api.md names every export of the public entry', () => {
  const names = [...Object.keys(api), ...typeExports()];
  assert.ok(names.length > 60, `only ${names.length} exports found`);
  const missing = names.filter((n) => !new RegExp(`\`${n.replace(/\$/g, '\\$')}[(\`]`).test(doc));
  assert.deepEqual(missing, []);
});
