/**
 * `kho inspect` output through real pipes: a report larger than a pipe's buffer reaches a
 * reader that sleeps before reading complete and equal to the in-process report; a reader that
 * leaves ends the command by SIGPIPE, quietly; a deeply nested sub-tree's DTS is streamed (in
 * the JSON string and the text report) and equals dtc's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBlob } from '../../src/fdt/convert.ts';
import { fdtTree, type FdtNode } from '../../src/fdt/tree.ts';
import { openElfCore, writeElfCore } from '../../src/inspect/elf-core.ts';
import { Findings } from '../../src/inspect/findings.ts';
import { inspectHandover } from '../../src/inspect/inspect.ts';
import { reportToJson } from '../../src/inspect/report-json.ts';
import { buildHandover, TEST_MEM } from '../fixtures/inspect/build-handover.ts';
import { tempDir } from './helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const dir = tempDir();

function sh(script: string) {
  const r = spawnSync('bash', ['-c', `KHO="$NODE $MAIN"; ${script}`], {
    encoding: 'utf8',
    env: { ...process.env, NODE: process.execPath, MAIN, D: dir },
    maxBuffer: 1 << 28,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** A valid blob nested `depth` levels deep. */
function deepBlob(depth: number): Uint8Array {
  let n: FdtNode = { name: 'leaf', props: [{ name: 'x', value: Uint8Array.of(0, 0, 0, 1) }], children: [] };
  for (let i = 0; i < depth; i++) n = { name: 'n', props: [], children: [n] };
  return buildBlob(fdtTree({ name: '', props: [], children: [n] }));
}

const deep = deepBlob(2000);
writeFileSync(join(dir, 'deep.dtb'), deep);
const h = buildHandover({
  version: 'kho-v4',
  seed: 5,
  testFolios: 2000,
  extraFdts: [{ name: 'deep', blob: deep }],
});
const elf = join(dir, 'core.elf');
writeElfCore(h.mem, [{ start: 0, end: TEST_MEM }], elf);

test('a report larger than a pipe reaches a slow reader complete, equal to the in-process one', () => {
  const findings = new Findings();
  const image = openElfCore(elf, findings).image;
  const want = reportToJson(inspectHandover({ image: { image, kind: 'elf', source: elf }, findings }));
  image.close();
  const r = sh('$KHO inspect --image "$D/core.elf" --json | (sleep 1; cat)');
  assert.equal(r.err, '');
  assert.ok(r.out.length > 1 << 20, `${r.out.length} bytes`); // far beyond a 64 KiB pipe buffer
  const got = JSON.parse(r.out) as Record<string, unknown>;
  assert.deepEqual(got, want);
});

test('a reader that leaves: SIGPIPE, nothing on stderr', () => {
  for (const mode of ['--json', '--limit=100000']) {
    const r = sh(
      `$KHO inspect --image "$D/core.elf" ${mode} | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`,
    );
    assert.equal(r.out, '141\n', mode);
    assert.equal(r.err, '', mode);
  }
});

test("a deep sub-tree's DTS streams into the JSON string and the text report, as dtc prints it", () => {
  const dts = spawnSync('dtc', ['-q', '-I', 'dtb', '-O', 'dts', join(dir, 'deep.dtb')], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  }).stdout;
  const r = sh('$KHO inspect --image "$D/core.elf" --json');
  const j = JSON.parse(r.out) as { subtrees: { name: string; dts?: string }[] };
  assert.ok(j.subtrees.find((s) => s.name === 'deep')!.dts === dts, 'the DTS in the JSON differs from dtc');
  const text = sh('$KHO inspect --image "$D/core.elf" --limit 16').out;
  const lines = dts.split('\n').slice(0, 64);
  assert.ok(text.includes(lines.map((l) => `    ${l}\n`).join('')));
  assert.match(text, new RegExp(`… ${dts.split('\n').length - 1 - 64} more DTS lines`));
});
