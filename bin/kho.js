#!/usr/bin/env node
// Runs the TypeScript entry on the pinned Node 24, even when PATH's node is older
// (Node 24 strips types natively; Node 20 cannot run .ts).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

if (Number(process.versions.node.split('.')[0]) < 24) {
  const node = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  const r = spawnSync(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
await import('../src/cli/main.ts');
