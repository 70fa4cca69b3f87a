#!/usr/bin/env node
// Runs the TypeScript entry on the pinned Node 24, even when PATH's node is older
// (Node 24 strips types natively; Node 20 cannot run .ts).
//
// Commands that simulate machines ask glibc's malloc for transparent huge pages
// (GLIBC_TUNABLES=glibc.malloc.hugetlb=1, read only at process start, hence the re-exec): the
// model's metadata for millions of blocks is fresh host memory, and on a VM a 4 KiB page fault
// costs microseconds. docs/hw.md "Host memory" has the figures; KHO_HUGEPAGES=0 turns it off.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MACHINE_COMMANDS = new Set(['run', 'shell', 'demo', 'serve', 'check', 'inspect']);
const TUNABLE = 'glibc.malloc.hugetlb=1';
const tunables = process.env.GLIBC_TUNABLES ?? '';
const huge =
  process.platform === 'linux' &&
  process.env.KHO_HUGEPAGES !== '0' &&
  MACHINE_COMMANDS.has(process.argv[2] ?? '') &&
  !tunables.includes('glibc.malloc.hugetlb');
const env = huge
  ? { ...process.env, GLIBC_TUNABLES: tunables === '' ? TUNABLE : `${tunables}:${TUNABLE}` }
  : process.env;
const old = Number(process.versions.node.split('.')[0]) < 24;

if (old || huge) {
  const node = old
    ? fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url))
    : process.execPath;
  const argv = [...(old ? [] : process.execArgv), fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  // execve keeps the pid and the terminal's signals; Node < 24 has no execve.
  if (!old && typeof process.execve === 'function') process.execve(node, [node, ...argv], env);
  const r = spawnSync(node, argv, { stdio: 'inherit', env });
  process.exit(r.status ?? 1);
}
await import('../src/cli/main.ts');
