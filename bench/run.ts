/**
 * `npm run bench -- [NAME ...] [--json]`: runs every entry, or those whose names start with
 * one of the NAMEs, each in its own process. `--json` prints one object keyed by entry name.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { BenchEntry, BenchResult } from './harness.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const prefixes = args.filter((a) => a !== '--json');

const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort()
  .map((f) => join(dir, f));
const all: { file: string; entry: BenchEntry }[] = [];
for (const file of files) {
  const mod = (await import(pathToFileURL(file).href)) as { entries: BenchEntry[] };
  for (const entry of mod.entries) all.push({ file, entry });
}
const chosen = all.filter(
  ({ entry }) => prefixes.length === 0 || prefixes.some((p) => entry.name.startsWith(p)),
);
if (chosen.length === 0) {
  process.stderr.write(
    `bench: no entry matches ${prefixes.join(' ')}; entries: ${all.map((a) => a.entry.name).join(' ')}\n`,
  );
  process.exit(2);
}

/**
 * Each entry runs as `kho` runs machines: glibc's malloc asked for transparent huge pages
 * (bin/kho.js, docs/hw.md "Host memory"), unless KHO_HUGEPAGES=0 or GLIBC_TUNABLES says otherwise.
 */
const tunables = process.env['GLIBC_TUNABLES'] ?? '';
const childEnv =
  process.env['KHO_HUGEPAGES'] === '0' || tunables.includes('glibc.malloc.hugetlb')
    ? process.env
    : {
        ...process.env,
        GLIBC_TUNABLES: [tunables, 'glibc.malloc.hugetlb=1'].filter((t) => t !== '').join(':'),
      };

const out: Record<string, BenchResult> = {};
let failed = false;
for (const { file, entry } of chosen) {
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=8192', join(dir, 'child.ts'), file, entry.name],
    {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: childEnv,
    },
  );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || line === '') {
    failed = true;
    out[entry.name] = { error: (r.stderr || `exit ${r.status}`).trim().split('\n').slice(-3).join(' ') };
  } else {
    out[entry.name] = JSON.parse(line) as BenchResult;
  }
  if (!json) {
    const res = out[entry.name]!;
    const figures = Object.entries(res)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join('  ');
    process.stdout.write(`${entry.name.padEnd(28)} ${figures}\n    (${entry.description})\n`);
  }
}
if (json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
process.exitCode = failed ? 1 : 0;
