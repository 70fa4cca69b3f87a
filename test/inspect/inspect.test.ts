/**
 * The inspector against handovers built with the project's own building blocks, for every ABI
 * version and every image form (ELF core, raw dump, in-memory): it must list exactly the
 * preserved set, the tracker pages and the sub-trees with their decoded content.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { KhoCompatible } from '../../src/abi/versions.ts';
import { openElfCore, writeElfCore } from '../../src/inspect/elf-core.ts';
import { Findings } from '../../src/inspect/findings.ts';
import { inspectHandover } from '../../src/inspect/inspect.ts';
import type { InspectInput, InspectReport } from '../../src/inspect/inspect.ts';
import { openRawImage, PhysMemImage } from '../../src/inspect/memory-image.ts';
import type { MemoryImage } from '../../src/inspect/memory-image.ts';
import { formatReportJson, reportToJson } from '../../src/inspect/report-json.ts';
import { formatReportText } from '../../src/inspect/report-text.ts';
import { buildHandover, TEST_MEM, writeRawDump } from '../fixtures/inspect/build-handover.ts';
import type { BuiltHandover } from '../fixtures/inspect/build-handover.ts';
import { blockList, codes, preservedList, tempDir } from './helpers.ts';

const VERSIONS: KhoCompatible[] = ['kho-v1', 'kho-v2', 'kho-v3', 'kho-v4'];
const dir = tempDir();

function checkReport(h: BuiltHandover, r: InspectReport): void {
  assert.deepEqual(codes(r, 'error'), [], JSON.stringify(r.findings));
  assert.deepEqual(codes(r, 'warning'), [], JSON.stringify(r.findings));
  assert.equal(r.abi.compatible, h.version);
  const mm = r.memoryMap;
  assert.ok(mm !== null);
  assert.equal(mm.root, h.mapRoot);
  assert.equal(mm.complete, true);
  assert.deepEqual(preservedList(r), blockList(h.preserved));
  assert.equal(mm.blocks, h.preserved.length);
  const bytes = h.preserved.reduce((s, b) => s + 4096 * 2 ** b.order, 0);
  assert.equal(mm.bytes, bytes);
  assert.deepEqual(
    r.tracker.pages.map((p) => p.phys).sort((a, b) => a - b),
    h.tracker,
  );
  // Sub-trees: names, addresses, sizes, kinds (newest first, as in the FDT).
  const subs = [...h.subtrees].reverse();
  assert.deepEqual(
    r.subtrees.map((s) => [s.name, s.phys, s.size, s.kind, s.preserved]),
    subs.map((s) => [s.name, s.phys, s.size, s.kind, true]),
  );
  const test = r.subtrees.find((s) => s.name === 'kho_test')!.testKho!;
  assert.equal(test.nrFolios, h.folios.length);
  assert.equal(test.csum, 0x1234abcd);
  assert.deepEqual(test.folios, h.folios);
  const mb = r.subtrees.find((s) => s.name === 'memblock')!.memblock!;
  assert.deepEqual(mb.records, h.reserveMem);
  const meta = r.subtrees.find((s) => s.name === 'kexec-metadata');
  if (h.version === 'kho-v3' || h.version === 'kho-v4') {
    assert.deepEqual(meta?.kexecMetadata, { version: 1, previousRelease: '7.1.0-kho', kexecCount: 2 });
    assert.match(r.subtrees.find((s) => s.name === 'raw-blob')!.hexdump!, /^00000000 {2}00 07 0e 15/);
  } else {
    assert.equal(meta, undefined);
  }
  if (h.luo.format === 'luo-v1') {
    assert.match(r.subtrees.find((s) => s.name === 'LUO')!.dts!.toString(), /compatible = "luo-v1";/);
  }
  // The LUO sub-tree: every session, token and memfd as built.
  const luo = r.luo!;
  assert.deepEqual(
    [luo.format, luo.liveupdateNumber, luo.complete],
    [h.luo.format, h.luo.liveupdateNumber, true],
  );
  assert.deepEqual(luo.sessionBlocks, h.luo.sessionBlocks);
  assert.deepEqual(luo.flbs, []);
  assert.deepEqual(
    luo.sessions.map((s) => ({
      name: s.name,
      blocks: s.fileBlocks,
      files: s.files.map((f) => [
        f.token,
        f.memfd?.size,
        f.memfd?.seals,
        f.memfd?.folios.map((x) => x.pfn * 4096),
      ]),
    })),
    h.luo.sessions.map((s, i) => ({
      name: s.name,
      blocks: h.luo.fileBlocks[i],
      files: s.files.map((f) => [f.token, f.size, f.seals, f.folios]),
    })),
  );
  // Coalesced ranges cover exactly the blocks.
  const covered = r.ranges.bytes();
  assert.equal(covered, bytes);
}

function inspectWith(
  h: BuiltHandover,
  image: MemoryImage,
  kind: 'elf' | 'raw' | 'memory',
  extra: Partial<InspectInput> = {},
) {
  return inspectHandover({
    fdt: { blob: h.fdt, source: 'fdt' },
    fdtPhys: h.fdtPhys,
    image: { image, kind, source: kind },
    scratch: { entries: h.scratch, source: 'test' },
    ...extra,
  });
}

describe('every ABI version, every image form', () => {
  for (const version of VERSIONS) {
    const h = buildHandover({ version, seed: version.charCodeAt(5) });
    test(`${version}: ELF core`, () => {
      const path = join(dir, `${version}.elf`);
      writeElfCore(h.mem, [{ start: 0, end: TEST_MEM }], path);
      const f = new Findings();
      const img = openElfCore(path, f).image;
      try {
        checkReport(h, inspectWith(h, img, 'elf', { findings: f }));
      } finally {
        img.close();
      }
    });
    test(`${version}: raw dump`, () => {
      const path = join(dir, `${version}.raw`);
      writeRawDump(h.mem, path, 0, TEST_MEM);
      const img = openRawImage(path, 0);
      try {
        checkReport(h, inspectWith(h, img, 'raw'));
      } finally {
        img.close();
      }
    });
    test(`${version}: in-memory image, FDT found by scanning`, () => {
      const r = inspectHandover({
        image: {
          image: new PhysMemImage(h.mem, [{ start: 0, end: TEST_MEM }]),
          kind: 'memory',
          source: 'mem',
        },
        scratch: { entries: h.scratch, source: 'test' },
      });
      assert.equal(r.fdt?.phys, h.fdtPhys);
      assert.deepEqual(codes(r, 'info'), ['fdt-found']);
      checkReport(h, r);
    });
  }
});

test('a raw dump taken from a base address maps file offset 0 to the base', () => {
  const h = buildHandover({ version: 'kho-v4', seed: 9 });
  const base = 0x0400_0000;
  const path = join(dir, 'based.raw');
  writeRawDump(h.mem, path, base, TEST_MEM - base);
  const img = openRawImage(path, base);
  try {
    assert.deepEqual(img.ranges, [{ start: base, end: TEST_MEM }]);
    assert.equal(img.read(base - 4096, 8), null);
    checkReport(h, inspectWith(h, img, 'raw'));
  } finally {
    img.close();
  }
});

test('the FDT alone lists versions and sub-trees and says the image is missing', () => {
  const h = buildHandover({ version: 'kho-v4', seed: 5 });
  const r = inspectHandover({ fdt: { blob: h.fdt, source: 'fdt' } });
  assert.equal(r.abi.compatible, 'kho-v4');
  assert.equal(r.memoryMap, null);
  assert.deepEqual(
    r.subtrees.map((s) => [s.name, s.phys, s.size]),
    [...h.subtrees].reverse().map((s) => [s.name, s.phys, s.size]),
  );
  assert.deepEqual(codes(r).sort(), ['no-image', 'scratch-missing']);
});

test('a v2 sub-tree has no size: it is read from the FDT header', () => {
  const h = buildHandover({ version: 'kho-v2', seed: 2 });
  const r = inspectWith(h, new PhysMemImage(h.mem), 'memory');
  const luo = r.subtrees.find((s) => s.name === 'LUO')!;
  assert.equal(luo.sizeFrom, 'fdt-header');
  assert.equal(luo.size, h.subtrees.find((s) => s.name === 'LUO')!.size);
});

test('--fdt-addr reads the FDT from the image; a wrong address is fdt-missing', () => {
  const h = buildHandover({ version: 'kho-v3', seed: 4 });
  const img = new PhysMemImage(h.mem);
  const ok = inspectHandover({ image: { image: img, kind: 'memory', source: 'm' }, fdtPhys: h.fdtPhys });
  assert.equal(ok.abi.compatible, 'kho-v3');
  assert.deepEqual(preservedList(ok), blockList(h.preserved));
  const bad = inspectHandover({
    image: { image: img, kind: 'memory', source: 'm' },
    fdtPhys: h.fdtPhys + 4096,
  });
  assert.deepEqual(codes(bad, 'error'), ['fdt-missing']);
});

test('with several KHO FDTs in memory the newest (highest kexec count) is chosen', () => {
  const h = buildHandover({ version: 'kho-v4', seed: 8 });
  // A stale predecessor FDT with kexec count 1 at a lower address.
  const old = buildHandover({ version: 'kho-v4', seed: 8 });
  const meta = old.subtrees.find((s) => s.name === 'kexec-metadata')!;
  old.mem.writeU32(meta.phys + 69, 1);
  // A clone of h's FDT at a lower page, whose metadata says count 1.
  const lowFdt = 0x0300_0000;
  const lowMeta = 0x0300_1000;
  h.mem.write(lowMeta, old.mem.read(meta.phys, 73));
  // The clone's kexec-metadata points at the count-1 blob (patch the LE64 value bytes).
  const blob = Uint8Array.from(h.fdt);
  const needle = new Uint8Array(8);
  new DataView(needle.buffer).setUint32(0, meta.phys, true);
  const idx = Buffer.from(blob).indexOf(Buffer.from(needle));
  assert.ok(idx > 0);
  new DataView(blob.buffer).setUint32(idx, lowMeta, true);
  h.mem.write(lowFdt, blob);
  const r = inspectHandover({ image: { image: new PhysMemImage(h.mem), kind: 'memory', source: 'm' } });
  assert.equal(r.fdt?.phys, h.fdtPhys);
  assert.deepEqual(r.fdt.otherCandidates, [lowFdt]);
});

test('text and JSON reports carry the same facts', () => {
  const h = buildHandover({ version: 'kho-v4', seed: 6 });
  const r = inspectWith(h, new PhysMemImage(h.mem), 'memory');
  const text = formatReportText(r, { limit: 1000 });
  for (const s of [
    'ABI',
    'FDT',
    'Image',
    'Scratch',
    'Memory map',
    'Preserved ranges',
    'Tracker pages',
    'Sub-trees',
    'Findings',
  ]) {
    assert.match(text, new RegExp(`^${s}`, 'm'));
  }
  assert.match(text, /previous release "7\.1\.0-kho", kexec count 2/);
  const j = JSON.parse(JSON.stringify(reportToJson(r))) as Record<string, unknown>;
  assert.deepEqual(
    j['preserved'],
    h.preserved.map((b) => ({ phys: `0x${b.phys.toString(16)}`, order: b.order })),
  );
  assert.equal(j['preservedTotal'], h.preserved.length);
  assert.equal(j['preservedTruncated'], false);
  assert.deepEqual(Object.keys(j), [
    'schema',
    'abi',
    'fdt',
    'image',
    'scratch',
    'memoryMap',
    'preserved',
    'preservedTotal',
    'preservedTruncated',
    'ranges',
    'rangesTotal',
    'rangesTruncated',
    'tracker',
    'subtrees',
    'luo',
    'findings',
    'summary',
  ]);
  const jl = j['luo'] as {
    compatible: string;
    liveupdateNumber: number;
    sessions: { name: string; files: unknown[] }[];
  };
  assert.deepEqual([jl.compatible, jl.liveupdateNumber], ['luo-v5', 3]);
  assert.deepEqual(jl.sessions[1]!.files[0], {
    ...(jl.sessions[1]!.files[0] as object),
    token: '0x1a',
    compatible: 'memfd-v2',
    memfd: {
      ...(jl.sessions[1]!.files[0] as { memfd: object }).memfd,
      size: 4096,
      pos: 0,
      seals: 1,
      nrFolios: 1,
    },
  });
  assert.match(
    text,
    /^Live Update Orchestrator\n {2}luo-v5 \(luo-v5\) at 0x[0-9a-f]+: liveupdate number 3, 3 session\(s\), 3 file\(s\)$/m,
  );
  assert.match(text, /^ {4}token 0xfffffffffffffff0: memfd-v2, data 0x[0-9a-f]+$/m);
  assert.match(text, /^ {6}memfd: size 12288 \(12\.0 KiB\), pos 0, seals 0, 3 folio\(s\)/m);
  // The streamed text parses to the same document.
  assert.deepEqual(JSON.parse(formatReportJson(r)), j);
  const capped = reportToJson({ ...r, maxList: 3 });
  assert.equal((capped['preserved'] as unknown[]).length, 3);
  assert.equal(capped['preservedTruncated'], true);
  assert.equal((capped['ranges'] as unknown[]).length, 3);
  assert.equal(capped['rangesTotal'], r.ranges.length);
  writeFileSync(join(dir, 'report.json'), JSON.stringify(j));
});

test('a truncated out/fdt (debugfs quirk) is replaced by the matching FDT in the image', () => {
  const h = buildHandover({ version: 'kho-v4', seed: 12 });
  const truncated = h.fdt.slice(0, 160); // header still says the full totalsize
  const img = new PhysMemImage(h.mem);
  const r = inspectHandover({
    fdt: { blob: truncated, source: 'out-fdt' },
    image: { image: img, kind: 'memory', source: 'm' },
  });
  assert.equal(r.fdt?.phys, h.fdtPhys);
  assert.deepEqual(
    r.findings.filter((f) => f.code === 'fdt-invalid').map((f) => f.severity),
    ['warning'],
  );
  assert.deepEqual(preservedList(r), blockList(h.preserved));
  // Without an image the truncated blob is an error that says what happened.
  const alone = inspectHandover({ fdt: { blob: truncated, source: 'out-fdt' } });
  assert.deepEqual(codes(alone, 'error'), ['fdt-truncated']);
  assert.equal(
    alone.findings.find((f) => f.code === 'fdt-truncated')!.message,
    `out/fdt is truncated: header says ${h.fdt.length} bytes, file has 160; the kernel sizes this file at kho_init`,
  );
  // A truncated blob whose root differs matches nothing in the image: still an error.
  const mismatch = inspectHandover({
    fdt: { blob: truncated.map((x, i) => (i >= 40 && i < 60 ? x ^ 0xff : x)), source: 'x' },
    image: { image: img, kind: 'memory', source: 'm' },
  });
  assert.deepEqual(codes(mismatch, 'error'), ['fdt-truncated']);
});

test('root FDTs compiled by dtc from the fdt fixtures (kho-v1, kho-v4, kho-v9)', (t) => {
  const compile = (name: string): Uint8Array | null => {
    const src = new URL(`../fixtures/fdt/${name}.dts`, import.meta.url).pathname;
    const r = spawnSync('dtc', ['-q', '-I', 'dts', '-O', 'dtb', src]);
    return r.status === 0 ? new Uint8Array(r.stdout) : null;
  };
  const v1 = compile('kho-v1');
  if (v1 === null) {
    t.skip('dtc not installed');
    return;
  }
  const r1 = inspectHandover({ fdt: { blob: v1, source: 'kho-v1.dtb' } });
  assert.equal(r1.abi.compatible, 'kho-v1');
  assert.deepEqual(
    r1.subtrees.map((s) => [s.name, s.phys, s.size]),
    [['memblock', 0x5203000, null]],
  );
  const r4 = inspectHandover({ fdt: { blob: compile('kho-v4')!, source: 'kho-v4.dtb' } });
  assert.deepEqual(
    r4.subtrees.map((s) => [s.name, s.phys, s.size, s.sizeFrom]),
    [
      ['kho_test', 0x5200000, 0x58, 'blob-size'],
      ['memblock', 0x5201000, 0xf0, 'blob-size'],
      ['kexec-metadata', 0x51ff000, 0x49, 'blob-size'],
    ],
  );
  assert.deepEqual(codes(r4, 'error'), []);
  const r9 = inspectHandover({ fdt: { blob: compile('kho-v9')!, source: 'kho-v9.dtb' } });
  assert.deepEqual(codes(r9, 'error'), ['abi-unknown']);
  assert.deepEqual(
    r9.subtrees.map((s) => s.name),
    ['thing'],
  );
});
