/**
 * Every `kho` subcommand with garbage arguments: a small seeded fuzz over argv. Whatever the
 * arguments, the command ends with an exit status (never a signal), and stderr holds no stack
 * trace, Node error code or V8 message; the light commands say what is wrong in one or two
 * lines. `FUZZ_RUNS` raises the number of cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'kho-argv-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
writeFileSync(join(dir, 'text'), 'not a blob\n');

/** Node codes, V8 texts and stack frames: none of them may reach a user. */
const INTERNALS =
  /\n\s+at |\bERR_[A-Z_]+\b|RangeError|TypeError|SyntaxError|internal error|node:internal|\bE(NOENT|ISDIR|NOTDIR|ACCES|AGAIN|PIPE|FBIG|SPIPE|NXIO|PERM|NOSPC)\b/;

const COMMANDS: string[][] = [
  ['fdt', 'dump'],
  ['fdt', 'check'],
  ['fdt', 'build'],
  ['fdt'],
  ['inspect'],
  ['mkimage'],
  ['check'],
  ['demo'],
  ['shell'],
  ['run'],
  [],
];
const TOKENS = [
  '--json',
  '--kho',
  '-',
  '--',
  '-o',
  '--output',
  '--mem',
  '--nodes',
  '--seed',
  '--profile',
  '--cmdline',
  '--generations',
  '--fdt',
  '--image',
  '--base',
  '--scratch',
  '--scratch-phys',
  '--limit',
  '--max-list',
  '--scan-limit',
  '--size',
  '--fdt-addr',
  '-q',
  '--bogus',
  'x',
  '0',
  '-1',
  '0x',
  '1e9',
  '99999999999999999999',
  '16G',
  '3P',
  'kho-v9',
  '\u00ff\u00fe',
  '',
  ' ',
  '/dev/null',
  '/dev/zero',
  '/nonexistent',
  dir,
  join(dir, 'text'),
  join(dir, 'out'),
  '%s%n',
  '--mem=',
  '--nodes=0',
  '--generations=0',
  '=',
];

/** xorshift32, seeded: the same cases every run. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

function cases(n: number): string[][] {
  const r = rng(0x6b686f21);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    const cmd = COMMANDS[i % COMMANDS.length]!;
    const args = Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(TOKENS));
    // A demo with valid options runs the whole story: keep one option of its invalid.
    if (cmd[0] === 'demo') args.push('--generations', pick(['0', 'x', '51', '']));
    out.push([...cmd, ...args]);
  }
  return out;
}

function run(argv: string[]): Promise<{ status: number | null; signal: string | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...argv], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.resume();
    child.stdin.end('true\n');
    child.on('close', (status, signal) => {
      resolve({ status, signal, err });
    });
  });
}

test(`${RUNS} garbage command lines: an exit status, one clear message, no internals`, async () => {
  const all = cases(RUNS);
  for (let i = 0; i < all.length; i += 4) {
    const batch = all.slice(i, i + 4);
    const results = await Promise.all(batch.map(run));
    batch.forEach((argv, j) => {
      const r = results[j]!;
      const what = JSON.stringify(argv);
      assert.equal(r.signal, null, what);
      assert.doesNotMatch(r.err, INTERNALS, `${what}: ${r.err}`);
      if (argv[0] === 'shell' || argv[0] === 'run') return; // the machine's shell speaks for itself
      assert.ok(r.status === 0 || r.status === 1 || r.status === 2, `${what}: status ${r.status}`);
      assert.ok(r.err.trimEnd().split('\n').length <= 2, `${what}: ${r.err}`);
    });
  }
});
