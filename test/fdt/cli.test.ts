/** `kho fdt dump|check|build` as a user runs it: stdout, stderr and exit codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { buildBlob } from '../../src/fdt/convert.ts';
import { toDts } from '../../src/fdt/dts.ts';
import { readTree } from '../../src/fdt/reader.ts';
import { fdtTree, type FdtNode } from '../../src/fdt/tree.ts';
import { dtcCompile, dtcDecompileAll } from '../fixtures/fdt/dtc.ts';
import { randomTree } from '../fixtures/fdt/random-tree.ts';

const dir = mkdtempSync(join(tmpdir(), 'kho-fdt-cli-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const file = (name: string, data: Uint8Array | string): string => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
const kho = (args: string[], input?: Uint8Array) =>
  spawnSync(process.execPath, ['src/cli/main.ts', 'fdt', ...args], {
    encoding: 'utf8',
    ...(input === undefined ? {} : { input }),
  });

const khoV4 = dtcCompile('kho-v4.dts');
const khoV4File = file('kho-v4.dtb', khoV4);

test('check: a valid blob prints "valid", exit 0', () => {
  const r = kho(['check', khoV4File]);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, 'valid\n');
  assert.equal(r.stderr, '');
});

test('check: an invalid blob names the libfdt error and offset, exit 1', () => {
  const badMagic = khoV4.slice();
  badMagic[0] = 0;
  let r = kho(['check', file('bad-magic.dtb', badMagic)]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^invalid: FDT_ERR_BADMAGIC at offset 0: /);
  r = kho(['check', file('short.dtb', khoV4.subarray(0, 30))]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^invalid: FDT_ERR_TRUNCATED at offset \d+: /);
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /); // no stack trace
});

test('missing files and directories given as FILE are usage errors, exit 2, one line', () => {
  for (const cmd of [['check'], ['dump'], ['dump', '--json'], ['build', '-o', join(dir, 'x.dtb')]]) {
    const missing = join(dir, 'nope.dtb');
    const r = kho([...cmd, missing]);
    assert.equal(r.status, 2, cmd.join(' '));
    assert.equal(r.stderr, `kho fdt: ${missing}: No such file or directory\n`);
    assert.equal(r.stdout, '');
  }
  const r = kho(['check', dir]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, `kho fdt: ${dir}: Is a directory\n`);
});

test('usage errors from the command line exit 2', () => {
  assert.equal(kho(['dump']).status, 2); // missing FILE
  assert.equal(kho(['build', khoV4File]).status, 2); // missing -o
  assert.equal(kho(['dump', '--bogus', khoV4File]).status, 2);
  assert.equal(kho(['frobnicate']).status, 2);
});

test('dump prints exactly what dtc prints', () => {
  const blobs = [
    khoV4,
    dtcCompile('edge.dts'),
    dtcCompile('edge.dts', ['-V', '16']),
    buildBlob(randomTree(42)),
  ];
  const want = dtcDecompileAll(blobs);
  blobs.forEach((b, i) => {
    const r = kho(['dump', file(`dump-${i}.dtb`, b)]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, want[i]);
  });
});

test('dump of an invalid blob: exit 1 with error name and offset on stderr', () => {
  const trunc = khoV4.slice(0, khoV4.length - 8);
  const p = file('trunc.dtb', trunc);
  const r = kho(['dump', p]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`^kho fdt: ${p}: FDT_ERR_\\w+ at offset \\d+: [^\\n]*\\n$`));
  assert.equal(r.stdout, '');
});

test('dump --kho adds comments and nothing else', () => {
  const r = kho(['dump', '--kho', khoV4File]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /compatible = "kho-v4"; \/\* KHO ABI kho-v4 /);
  assert.match(r.stdout, /preserved-memory-map = <0x402301 0x00>; \/\* LE64 0x1234000: /);
  assert.equal(r.stdout.replace(/ \/\* .*? \*\/$/gm, ''), toDts(readTree(khoV4)));
});

test('dump --json | build reproduces the identical blob', () => {
  const blobs = [
    buildBlob(readTree(khoV4)),
    buildBlob(readTree(dtcCompile('edge.dts'))),
    buildBlob(randomTree(3)),
  ];
  blobs.forEach((blob, i) => {
    const dump = kho(['dump', '--json', file(`rt-${i}.dtb`, blob)]);
    assert.equal(dump.status, 0);
    const out = join(dir, `rt-${i}.out.dtb`);
    const build = kho(['build', file(`rt-${i}.json`, dump.stdout), '-o', out]);
    assert.equal(build.status, 0, build.stderr);
    assert.equal(build.stdout + build.stderr, '');
    assert.deepEqual(new Uint8Array(readFileSync(out)), blob);
  });
});

test('dump --json --kho carries the notes as comments that build ignores', () => {
  const dump = kho(['dump', '--json', '--kho', khoV4File]);
  assert.equal(dump.status, 0);
  const doc = JSON.parse(dump.stdout) as { comment: string; root: { props: { comment?: string }[] } };
  assert.match(doc.comment, /^KHO ABI kho-v4/);
  assert.match(doc.root.props[1]!.comment!, /^LE64 0x1234000/);
  const out = join(dir, 'kho.out.dtb');
  assert.equal(kho(['build', file('kho.json', dump.stdout), '-o', out]).status, 0);
  assert.deepEqual(new Uint8Array(readFileSync(out)), buildBlob(readTree(khoV4)));
});

test('stdin works as "-" for dump and build', () => {
  const r = kho(['dump', '-'], khoV4);
  assert.equal(r.stdout, toDts(readTree(khoV4)));
  const json = kho(['dump', '--json', '-'], khoV4).stdout;
  const out = join(dir, 'stdin.dtb');
  assert.equal(kho(['build', '-', '-o', out], new TextEncoder().encode(json)).status, 0);
  assert.deepEqual(new Uint8Array(readFileSync(out)), buildBlob(readTree(khoV4)));
});

test('build: invalid JSON content is exit 1 with a one-line reason', () => {
  const cases: [string, RegExp][] = [
    ['{"root": ', /: not valid JSON: /],
    [
      '{"root": {"name": "", "props": [{"name": "p", "cells": ["zz"]}]}}',
      /: root\.props\[0\]\.cells\[0\]: expected an unsigned 32-bit integer/,
    ],
    ['[1, 2]', /: expected an object, got an array$/],
  ];
  cases.forEach(([text, re], i) => {
    const p = file(`bad-${i}.json`, text);
    const r = kho(['build', p, '-o', join(dir, `bad-${i}.dtb`)]);
    assert.equal(r.status, 1, text);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr); // one line + final newline
    assert.ok(r.stderr.startsWith(`kho fdt: ${p}: `), r.stderr);
    assert.match(r.stderr.trimEnd(), re);
  });
  const notText = kho(['build', file('bin.json', Uint8Array.of(0xff, 0xfe)), '-o', join(dir, 'bin.dtb')]);
  assert.equal(notText.status, 1);
  assert.match(notText.stderr, /: not UTF-8 text\n$/);
});

test('build: an unwritable output is a usage error, exit 2', () => {
  const r = kho(['build', file('ok.json', '{"root": {"name": ""}}'), '-o', join(dir, 'no/such/dir.dtb')]);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, `kho fdt: ${join(dir, 'no/such/dir.dtb')}: No such file or directory\n`);
});

test('a reader that stops early gets no EPIPE stack trace', () => {
  const big = buildBlob({
    ...readTree(khoV4),
    root: {
      name: '',
      props: [],
      children: Array.from({ length: 5000 }, (_, i) => ({
        name: `n${i}`,
        props: [{ name: 'x', value: new Uint8Array(64) }],
        children: [],
      })),
    },
  });
  const p = file('big.dtb', big);
  const r = spawnSync(
    'sh',
    ['-c', `"$0" src/cli/main.ts fdt dump "$1" | head -c 10 >/dev/null`, process.execPath, p],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
});

/** A valid blob nested `depth` levels below the root (a chain of `n` nodes, a leaf at the end). */
function deepBlob(depth: number): Uint8Array {
  let n: FdtNode = { name: 'leaf', props: [{ name: 'x', value: Uint8Array.of(0, 0, 0, 1) }], children: [] };
  for (let i = 0; i < depth; i++)
    n = { name: 'n', props: [{ name: 'name', value: enc('n\0') }], children: [n] };
  return buildBlob(fdtTree({ name: '', props: [], children: [n] }));
}
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('a 3,000-deep blob prints byte for byte as dtc; --json round-trips it', () => {
  const p = file('deep3k.dtb', deepBlob(3000));
  const r = spawnSync(process.execPath, ['src/cli/main.ts', 'fdt', 'dump', p], { maxBuffer: 1 << 28 });
  assert.equal(r.status, 0);
  const want = spawnSync('dtc', ['-q', '-I', 'dtb', '-O', 'dts', p], { maxBuffer: 1 << 28 });
  assert.ok(r.stdout.length > 9_000_000);
  assert.equal(Buffer.compare(r.stdout, want.stdout), 0);
  const json = join(dir, 'deep1k.json');
  const blob = deepBlob(1000);
  const d = spawnSync(
    process.execPath,
    ['src/cli/main.ts', 'fdt', 'dump', '--json', file('deep1k.dtb', blob)],
    {
      maxBuffer: 1 << 28,
    },
  );
  writeFileSync(json, d.stdout);
  const out = join(dir, 'deep1k.out.dtb');
  assert.equal(kho(['build', json, '-o', out]).status, 0);
  assert.deepEqual(new Uint8Array(readFileSync(out)), blob);
});

test('a 40,000-deep valid blob streams (dtc prints 1.6 GB): no RangeError, output starts at once', () => {
  const p = file('deep40k.dtb', deepBlob(40_000));
  for (const mode of ['', '--kho', '--json']) {
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"$0" src/cli/main.ts fdt dump ${mode} "$1" | head -c 1000000 | wc -c; echo "\${PIPESTATUS[0]}"`,
        process.execPath,
        p,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.stdout, '1000000\n141\n', mode); // the reader left; kho died of SIGPIPE, as dtc would
    assert.equal(r.stderr, '', mode);
  }
  assert.equal(kho(['check', p]).stdout, 'valid\n');
});

test('values far larger than one printed piece print as dtc prints them', () => {
  const big = 200_000;
  const blob = buildBlob(
    fdtTree({
      name: '',
      props: [
        { name: 'bytes', value: new Uint8Array(big + 1).map((_, i) => (i * 7) & 0xff) },
        { name: 'cells', value: new Uint8Array(big * 4).map((_, i) => (i * 13) & 0xff) },
        {
          name: 'str',
          value: new Uint8Array(big + 1).map((_, i) => (i === big ? 0 : i % 9 === 8 ? 0 : 0x21 + (i % 90))),
        },
      ],
      children: [],
    }),
  );
  const want = dtcDecompileAll([blob])[0];
  const r = spawnSync(process.execPath, ['src/cli/main.ts', 'fdt', 'dump', file('bigvalues.dtb', blob)], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  assert.ok(r.stdout.length > 3_000_000);
  assert.ok(r.stdout === want, 'kho fdt dump and dtc differ');
});
