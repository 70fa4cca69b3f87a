/**
 * `kho inspect` end to end: files on disk (FDT, ELF core, raw dump, scratch in every form), the
 * text and JSON reports, and the exit codes 0 / 1 / 2. Also the scratch parsers and the hexdump
 * excerpt against the real `hexdump -C`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeKhoScratchArray } from '../../src/abi/kho-scratch.ts';
import { writeElfCore } from '../../src/inspect/elf-core.ts';
import { hexdumpC } from '../../src/inspect/hexdump.ts';
import { parseScratchFile, parseScratchPair, ScratchInputError } from '../../src/inspect/scratch.ts';
import { buildHandover, TEST_MEM, writeRawDump } from '../fixtures/inspect/build-handover.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir();
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

function kho(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, 'inspect', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** As {@link kho}, asynchronously (usage cases run side by side). */
function khoAsync(...args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, 'inspect', ...args]);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.resume();
    child.on('close', (code) => {
      resolve({ code, err });
    });
  });
}

const h = buildHandover({ version: 'kho-v4', seed: 31 });
const fdt = join(dir, 'fdt');
const elf = join(dir, 'core.elf');
const raw = join(dir, 'mem.raw');
const scratchBin = join(dir, 'scratch.bin');
const scratchTxt = join(dir, 'scratch.txt');
const phys = join(dir, 'scratch_phys');
const len = join(dir, 'scratch_len');
writeFileSync(fdt, h.fdt);
writeElfCore(h.mem, [{ start: 0, end: TEST_MEM }], elf);
writeRawDump(h.mem, raw, 0x0400_0000, TEST_MEM - 0x0400_0000);
writeFileSync(scratchBin, encodeKhoScratchArray(h.scratch));
writeFileSync(
  scratchTxt,
  h.scratch.map((s) => `0x${s.addr.toString(16)}\t0x${s.size.toString(16)}\n`).join(''),
);
writeFileSync(phys, h.scratch.map((s) => `0x${s.addr.toString(16)}\n`).join(''));
writeFileSync(len, h.scratch.map((s) => `0x${s.size.toString(16)}\n`).join(''));

test('a sound handover: exit 0, every section printed', () => {
  const r = kho('--fdt', fdt, '--image', elf, '--scratch', scratchBin);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /compatible kho-v4 \(version 4, memory map: radix tree\)/);
  assert.match(r.out, new RegExp(`total\\s+${h.preserved.length}\\s`));
  assert.match(r.out, /Findings \(0 error\(s\), 0 warning\(s\)/);
});

test('JSON: the preserved set, sub-trees and findings, addresses as hex strings', () => {
  const r = kho(
    '--image',
    raw,
    '--base',
    '0x4000000',
    '--scratch-phys',
    phys,
    '--scratch-len',
    len,
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as {
    abi: { compatible: string };
    preserved: { phys: string; order: number }[];
    subtrees: { name: string; phys: string }[];
    scratch: { entries: { addr: string; size: number }[] };
    findings: { code: string }[];
    fdt: { phys: string };
  };
  assert.equal(j.abi.compatible, 'kho-v4');
  assert.equal(j.fdt.phys, `0x${h.fdtPhys.toString(16)}`);
  assert.deepEqual(
    j.preserved,
    h.preserved.map((b) => ({ phys: `0x${b.phys.toString(16)}`, order: b.order })),
  );
  assert.deepEqual(
    j.subtrees.map((s) => s.phys),
    [...h.subtrees].reverse().map((s) => `0x${s.phys.toString(16)}`),
  );
  assert.deepEqual(
    j.scratch.entries,
    h.scratch.map((s) => ({ addr: `0x${s.addr.toString(16)}`, size: s.size })),
  );
  assert.deepEqual(
    j.findings.map((f) => f.code),
    ['fdt-found'],
  );
});

test('an error finding exits 1; the combined scratch text form', () => {
  // Scratch over the kernel pages: tracker, FDT and blobs in scratch.
  const bad = join(dir, 'bad-scratch.txt');
  writeFileSync(bad, '0x4000000 0x1000000\n');
  const r = kho('--fdt', fdt, '--image', elf, '--scratch', bad);
  assert.equal(r.code, 1);
  assert.match(r.out, /error\s+preserved-in-scratch/);
  assert.equal(kho('--fdt', fdt, '--image', elf, '--scratch', scratchTxt).code, 0);
});

test('usage errors exit 2 with one line', async () => {
  const cases: [string[], RegExp][] = [
    [[], /--fdt FILE and\/or --image FILE/],
    [['--fdt', join(dir, 'missing')], /: No such file or directory\n$/],
    [['--fdt', fdt, '--base', '0'], /--base needs --image/],
    [['--fdt', fdt, '--scratch-phys', phys], /go together/],
    [['--fdt', fdt, '--scratch', scratchBin, '--scratch-phys', phys, '--scratch-len', len], /not both/],
    [['--image', raw, '--base', 'zz'], /not a number/],
    [['--fdt', fdt, '--scratch', fdt], /whole number of 16-byte entries|ADDR SIZE/],
  ];
  const results = await Promise.all(cases.map(([args]) => khoAsync(...args)));
  for (const [i, [args, re]] of cases.entries()) {
    const r = results[i]!;
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1);
  }
});

test('a broken ELF header is an error finding, not a crash', () => {
  const broken = join(dir, 'broken.elf');
  const b = Buffer.alloc(200);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(100, 56);
  b.writeBigUInt64LE(64n, 32);
  writeFileSync(broken, b);
  const r = kho('--fdt', fdt, '--image', broken, '--json');
  assert.equal(r.code, 1);
  const j = JSON.parse(r.out) as { findings: { code: string; severity: string }[] };
  assert.ok(j.findings.some((f) => f.code === 'elf-header' && f.severity === 'error'));
});

test('scratch parsers: binary, combined text, debugfs pair; bad input is a ScratchInputError', () => {
  const e = [
    { addr: 0x1000_0000, size: 0x200_0000 },
    { addr: 0x4_0000_0000, size: 0x1000 },
  ];
  assert.deepEqual(parseScratchFile(encodeKhoScratchArray(e)), e);
  assert.deepEqual(
    parseScratchFile(new TextEncoder().encode('0x10000000 0x2000000\n0x400000000\t4096\n')),
    e,
  );
  assert.deepEqual(parseScratchPair('0x10000000\n0x400000000\n', '0x2000000\n0x1000\n'), e);
  for (const bad of [
    () => parseScratchPair('0x1\n', ''),
    () => parseScratchFile(new TextEncoder().encode('0x1 0x2 0x3\n')),
    () => parseScratchFile(new TextEncoder().encode('0x1 0xfffffffffffffffff\n')),
    () => parseScratchFile(new Uint8Array(17).fill(1)),
  ]) {
    assert.throws(bad, ScratchInputError);
  }
});

test('hexdump excerpts match hexdump -C', (t) => {
  const bytes = new Uint8Array(300).map((_, i) => (i < 64 ? 0 : (i * 37) & 0xff));
  const path = join(dir, 'hd.bin');
  writeFileSync(path, bytes);
  const r = spawnSync('hexdump', ['-C', path], { encoding: 'utf8' });
  if (r.status !== 0) {
    t.skip('hexdump not installed');
    return;
  }
  assert.equal(`${hexdumpC(bytes)}\n`, r.stdout);
});
