/**
 * The ELF64 core writer and reader: binutils `readelf` agrees with what we write, the reader
 * maps physical addresses back to the same bytes (zero fill, extended numbering), and hostile
 * headers end in a clean ImageError or findings, never a crash or a huge allocation.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { openElfCore, PN_XNUM, writeElfCore } from '../../src/inspect/elf-core.ts';
import { Findings } from '../../src/inspect/findings.ts';
import { ImageError } from '../../src/inspect/memory-image.ts';
import { PhysicalMemory } from '../../src/hw/physical-memory.ts';
import { runs, tempDir } from './helpers.ts';

const dir = tempDir();
const hasReadelf = spawnSync('readelf', ['--version']).status === 0;

function sampleMemory(): PhysicalMemory {
  const mem = new PhysicalMemory({ limit: 1 << 30 });
  mem.fill(0x1000, 3 * 4096, 0x41); // pages 1..3
  mem.writeU64(0x10_0000, 0x1_2233_4455_6677); // page 0x100
  mem.page(0x101); // touched but zero: a hole in the file
  mem.writeU32(0x10_2000, 0xdeadbeef); // page 0x102: same run as 0x100 (gap of 0)
  mem.writeU32(0x3000_0000, 0xcafe); // far away
  mem.writeU32(0x3fff_f000, 7); // last page of memory
  return mem;
}

interface ReadelfLoad {
  offset: number;
  paddr: number;
  filesz: number;
  memsz: number;
}

function readelfLoads(path: string): { type: string; loads: ReadelfLoad[] } {
  const r = spawnSync('readelf', ['-hlW', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const type = /Type:\s+(\S+)/.exec(r.stdout)![1]!;
  const loads = [
    ...r.stdout.matchAll(
      /^\s+LOAD\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+)/gm,
    ),
  ].map((m) => ({ offset: Number(m[1]), paddr: Number(m[3]), filesz: Number(m[4]), memsz: Number(m[5]) }));
  return { type, loads };
}

test('readelf -l agrees with the written core: ET_CORE, one PT_LOAD per touched run, p_paddr = phys', (t) => {
  if (!hasReadelf) {
    t.skip('readelf (binutils) is not installed');
    return;
  }
  const mem = sampleMemory();
  const path = join(dir, 'sample.elf');
  const st = writeElfCore(mem, null, path, { mergeGapPages: 0 });
  const { type, loads } = readelfLoads(path);
  assert.equal(type, 'CORE');
  assert.deepEqual(
    loads.map((l) => [l.paddr, l.memsz, l.filesz]),
    [
      [0x1000, 0x3000, 0x3000],
      [0x10_0000, 0x3000, 0x3000],
      [0x3000_0000, 0x1000, 0x1000],
      [0x3fff_f000, 0x1000, 0x1000],
    ],
  );
  assert.equal(st.segments, 4);
  assert.equal(statSync(path).size, st.fileBytes);
  for (const l of loads) assert.equal(l.offset % 4096, 0);
});

test('ranges restrict the dump (RAM only) and the reader returns the same bytes', () => {
  const mem = sampleMemory();
  const path = join(dir, 'ram.elf');
  writeElfCore(mem, [{ start: 0, end: 0x2000_0000 }], path);
  const f = new Findings();
  const { image, info } = openElfCore(path, f);
  try {
    assert.equal(info.loads, 2);
    assert.deepEqual(f.finish(), []);
    assert.deepEqual(image.ranges, [
      { start: 0x1000, end: 0x4000 },
      { start: 0x10_0000, end: 0x10_3000 },
    ]);
    assert.deepEqual(image.read(0x1000, 3 * 4096), mem.read(0x1000, 3 * 4096));
    assert.deepEqual(image.read(0x10_0000, 3 * 4096), mem.read(0x10_0000, 3 * 4096));
    assert.equal(image.read(0x3000_0000, 4), null); // outside the RAM range given
    assert.equal(image.read(0x3ff0, 0x20), null); // runs off the end of a segment
    assert.equal(image.has(0x3fff), true);
    assert.equal(image.has(0x4000), false);
    assert.equal(image.read(-1, 4), null);
    assert.equal(image.read(0x1000, 2 ** 40), null);
  } finally {
    image.close();
  }
});

test('the core file is sparse: zero and untouched pages are holes', () => {
  const mem = new PhysicalMemory({ limit: 1 << 30 });
  mem.writeU32(0, 1);
  mem.writeU32(0x3000_0000 - 4096, 1);
  for (let p = 1; p < 512; p++) mem.page(p); // touched zero pages
  const path = join(dir, 'sparse.elf');
  const st = writeElfCore(mem, null, path);
  assert.ok(st.writtenBytes <= 3 * 4096, `wrote ${st.writtenBytes}`);
  const blocks = statSync(path).blocks * 512;
  assert.ok(blocks < 64 * 4096, `allocated ${blocks} bytes for a ${st.fileBytes}-byte file`);
});

test('extended numbering (PN_XNUM) is written and read back', (t) => {
  const mem = sampleMemory();
  const path = join(dir, 'xnum.elf');
  writeElfCore(mem, null, path, { mergeGapPages: 0, xnumFrom: 2 });
  const b = readFileSync(path);
  assert.equal(b.readUInt16LE(56), PN_XNUM);
  const f = new Findings();
  const { image, info } = openElfCore(path, f);
  image.close();
  assert.equal(info.phnum, 4);
  assert.equal(image.ranges.length, 4);
  if (hasReadelf) assert.equal(readelfLoads(path).loads.length, 4);
  else t.diagnostic('readelf not installed: PN_XNUM not cross-checked');
});

/** A hand-made ELF64 core with the given PT_LOADs (offset, paddr, filesz, memsz), data appended. */
function makeElf(
  loads: {
    offset: number | bigint;
    paddr: number | bigint;
    filesz: number | bigint;
    memsz: number | bigint;
  }[],
  data = 4096,
): Buffer {
  const phoff = 64;
  const b = Buffer.alloc(phoff + loads.length * 56 + data);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  b.writeUInt16LE(4, 16);
  b.writeUInt16LE(62, 18);
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(BigInt(phoff), 32);
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(loads.length, 56);
  loads.forEach((l, i) => {
    const o = phoff + i * 56;
    b.writeUInt32LE(1, o);
    b.writeBigUInt64LE(BigInt(l.offset), o + 8);
    b.writeBigUInt64LE(BigInt(l.paddr), o + 24);
    b.writeBigUInt64LE(BigInt(l.filesz), o + 32);
    b.writeBigUInt64LE(BigInt(l.memsz), o + 40);
  });
  return b;
}

function open(buf: Buffer, name: string): { findings: string[]; ranges: unknown; error: string | null } {
  const path = join(dir, name);
  writeFileSync(path, buf);
  const f = new Findings();
  try {
    const { image } = openElfCore(path, f);
    const ranges = image.ranges;
    image.close();
    return { findings: f.finish().map((x) => x.code), ranges, error: null };
  } catch (err) {
    assert.ok(err instanceof ImageError, String(err));
    return { findings: f.finish().map((x) => x.code), ranges: null, error: err.message };
  }
}

test('p_filesz < p_memsz reads as zero fill; filesz > memsz and data past the end are clipped', () => {
  const e = makeElf([{ offset: 64 + 56, paddr: 0x10_0000, filesz: 16, memsz: 8192 }]);
  e.fill(0x5a, 64 + 56, 64 + 56 + 16);
  const path = join(dir, 'zerofill.elf');
  writeFileSync(path, e);
  const { image } = openElfCore(path, new Findings());
  const b = image.read(0x10_0000, 8192)!;
  image.close();
  assert.deepEqual([...b.subarray(0, 17)], [...new Array<number>(16).fill(0x5a), 0]);
  assert.ok(b.subarray(16).every((x) => x === 0));
  const big = open(makeElf([{ offset: 120, paddr: 0x2000, filesz: 100, memsz: 50 }]), 'f-gt-m.elf');
  assert.deepEqual(big.findings, ['elf-segment']);
  assert.deepEqual(big.ranges, [{ start: 0x2000, end: 0x2000 + 50 }]);
  const past = open(makeElf([{ offset: 120, paddr: 0x2000, filesz: 1 << 30, memsz: 1 << 30 }]), 'past.elf');
  assert.deepEqual(past.findings, ['elf-segment']);
  assert.deepEqual(past.ranges, [{ start: 0x2000, end: 0x2000 + 4096 }]);
});

test('hostile ELF headers: clean errors or findings', () => {
  const good = makeElf([{ offset: 120, paddr: 0x1000, filesz: 4096, memsz: 4096 }]);
  const cases: [string, (b: Buffer) => Buffer, RegExp | string[]][] = [
    ['short', (b) => b.subarray(0, 40), /too short/],
    ['32-bit', (b) => (b.writeUInt8(1, 4), b), /ELF64/],
    ['big-endian', (b) => (b.writeUInt8(2, 5), b), /little-endian/],
    ['phentsize', (b) => (b.writeUInt16LE(32, 54), b), /e_phentsize/],
    ['phoff past end', (b) => (b.writeBigUInt64LE(1n << 40n, 32), b), /extend past/],
    ['phoff beyond 2^53', (b) => (b.writeBigUInt64LE(0xffff_ffff_ffff_ff00n, 32), b), /beyond 2\^53/],
    ['phnum too many for the file', (b) => (b.writeUInt16LE(0xfff0, 56), b), /extend past/],
    ['PN_XNUM without sections', (b) => (b.writeUInt16LE(0xffff, 56), b), /PN_XNUM/],
    ['not a core', (b) => (b.writeUInt16LE(2, 16), b), ['elf-header']],
    ['odd machine', (b) => (b.writeUInt16LE(3, 18), b), ['elf-header']],
    ['odd e_ehsize', (b) => (b.writeUInt16LE(52, 52), b), ['elf-header']],
    ['no headers', (b) => (b.writeUInt16LE(0, 56), b), ['image-empty']],
  ];
  for (const [name, mutate, want] of cases) {
    const r = open(mutate(Buffer.from(good)), `${name}.elf`);
    if (want instanceof RegExp) assert.match(r.error ?? '', want, name);
    else assert.deepEqual(r.findings, want, name);
  }
});

test('hostile segments: beyond 2^52, u64 overflow, all p_paddr 0, overlaps', () => {
  const hi = open(makeElf([{ offset: 120, paddr: 1n << 52n, filesz: 16, memsz: 16 }]), 'hi.elf');
  assert.deepEqual(hi.findings, ['elf-segment', 'image-empty']);
  const huge = open(
    makeElf([{ offset: 120, paddr: 0x1000, filesz: 16, memsz: 0xffff_ffff_ffff_ffffn }]),
    'huge.elf',
  );
  assert.deepEqual(huge.findings, ['elf-segment', 'image-empty']);
  const zero = open(
    makeElf([
      { offset: 120, paddr: 0, filesz: 16, memsz: 16 },
      { offset: 136, paddr: 0, filesz: 16, memsz: 16 },
    ]),
    'zero.elf',
  );
  assert.match(zero.error ?? '', /p_paddr 0/);
  const ov = open(
    makeElf([
      { offset: 176, paddr: 0x1000, filesz: 4096, memsz: 4096 },
      { offset: 176, paddr: 0x1800, filesz: 4096, memsz: 4096 },
    ]),
    'overlap.elf',
  );
  assert.deepEqual(ov.findings, ['elf-overlap']);
  assert.deepEqual(ov.ranges, [{ start: 0x1000, end: 0x2800 }]);
});

test('fuzz: mutated ELF headers never crash the reader, reads stay bounded', () => {
  const mem = sampleMemory();
  const path = join(dir, 'fuzz-base.elf');
  writeElfCore(mem, null, path, { mergeGapPages: 0 });
  const base = readFileSync(path).subarray(0, 64 + 4 * 56 + 4096);
  fc.assert(
    fc.property(
      fc.array(fc.record({ off: fc.nat(64 + 4 * 56 - 1), byte: fc.integer({ min: 0, max: 255 }) }), {
        minLength: 1,
        maxLength: 12,
      }),
      (patches) => {
        const b = Buffer.from(base);
        for (const p of patches) b[p.off] = p.byte;
        const fpath = join(dir, 'fuzz.elf');
        writeFileSync(fpath, b);
        const f = new Findings();
        let img;
        try {
          img = openElfCore(fpath, f).image;
        } catch (err) {
          assert.ok(err instanceof ImageError, String(err));
          return;
        }
        try {
          for (const r of img.ranges.slice(0, 8)) {
            const got = img.read(r.start, Math.min(4096, r.end - r.start));
            assert.ok(got !== null);
          }
          assert.equal(img.read(0x3fff_f000, 1 << 30), null);
        } finally {
          img.close();
        }
      },
    ),
    { numRuns: runs(200) },
  );
});
