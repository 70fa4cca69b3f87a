/**
 * The LUO part of `kho inspect` on broken hand-overs: each corruption the successor would stop at
 * is a finding with a stable code that says what the successor does, the rest is still decoded,
 * and nothing crashes (hand-made cases in both formats, fuzzed LUO pages).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encodeKhoBlockHeader } from '../../src/abi/kho-block.ts';
import { encodeLuoSer, encodeLuoSessionSer, LUO_SESSION_SER_SIZE } from '../../src/abi/luo.ts';
import { writeLuoV1Fdt } from '../../src/abi/luo-v1.ts';
import { Findings } from '../../src/inspect/findings.ts';
import { inspectHandover } from '../../src/inspect/inspect.ts';
import type { InspectReport } from '../../src/inspect/inspect.ts';
import { decodeLuo } from '../../src/inspect/luo.ts';
import { PhysMemImage } from '../../src/inspect/memory-image.ts';
import type { ImageRange, MemoryImage } from '../../src/inspect/memory-image.ts';
import { formatReportJson } from '../../src/inspect/report-json.ts';
import { formatReportText } from '../../src/inspect/report-text.ts';
import { buildHandover } from '../fixtures/inspect/build-handover.ts';
import type { BuiltHandover } from '../fixtures/inspect/build-handover.ts';
import { runs } from './helpers.ts';

function inspect(h: BuiltHandover, ranges?: ImageRange[]): InspectReport {
  const r = inspectHandover({
    fdt: { blob: h.fdt, source: 'test' },
    image: { image: new PhysMemImage(h.mem, ranges), kind: 'memory', source: 'mem' },
    scratch: { entries: h.scratch, source: 't' },
  });
  formatReportText(r);
  formatReportJson(r);
  return r;
}

/** `code@at` of the findings with a LUO-related code, and their messages. */
function luoFindings(r: InspectReport): { keys: string[]; text: string } {
  const fs = r.findings.filter(
    (f) =>
      f.code.startsWith('luo') ||
      f.code.startsWith('memfd') ||
      ['cycle', 'ptr-outside-image', 'ptr-out-of-range'].includes(f.code),
  );
  return { keys: fs.map((f) => `${f.code}@${f.at}`), text: fs.map((f) => f.message).join('\n') };
}

const hx = (x: number): string => `0x${x.toString(16)}`;

describe('luo-v5 (kho-v4 hand-over)', () => {
  const fresh = (): BuiltHandover => buildHandover({ version: 'kho-v4', seed: 41 });

  test('a session block chain that loops makes the successor panic', () => {
    const h = fresh();
    const s = h.luo.sessionBlocks[0]!;
    h.mem.write(s, encodeKhoBlockHeader({ next: s, count: 3 }));
    const r = inspect(h);
    const f = luoFindings(r);
    assert.deepEqual(f.keys, [`cycle@${hx(s)}`]);
    assert.match(f.text, /block chain loops: the successor panics at boot/);
    assert.equal(r.luo!.complete, false);
    assert.equal(r.luo!.sessions.length, 3, 'the sessions read before the loop are shown');
  });

  test('a block with count 0 or past capacity', () => {
    const h = fresh();
    const s = h.luo.sessionBlocks[0]!;
    h.mem.write(s, encodeKhoBlockHeader({ next: 0, count: 52 }));
    let f = luoFindings(inspect(h));
    assert.deepEqual(f.keys, [`luo-block-count@${hx(s)}`]);
    assert.match(f.text, /count 52 not in 1\.\.51/);
    const fb = h.luo.fileBlocks[1]![0]!;
    h.mem.write(s, encodeKhoBlockHeader({ next: 0, count: 3 }));
    h.mem.write(fb, encodeKhoBlockHeader({ next: 0, count: 0 }));
    f = luoFindings(inspect(h));
    assert.deepEqual(f.keys, [`luo-block-count@${hx(fb)}`]);
    assert.match(
      f.text,
      /file blocks of session "test-session".*every open of \/dev\/liveupdate fails with EIO/,
    );
  });

  test('pointers outside the image, a file count mismatch, a duplicate name, an unknown handler', () => {
    const h = fresh();
    const s = h.luo.sessionBlocks[0]!;
    const at1 = s + 16 + LUO_SESSION_SER_SIZE;
    // Session 1 claims 5 files; session 2 is renamed to session 0's name; a file points nowhere.
    h.mem.write(
      at1,
      encodeLuoSessionSer({ name: 'test-session', files: h.luo.fileBlocks[1]![0]!, count: 5 }),
    );
    h.mem.write(
      at1 + LUO_SESSION_SER_SIZE,
      encodeLuoSessionSer({ name: 'kexec_simple_state', files: 0, count: 0 }),
    );
    const fb0 = h.luo.fileBlocks[0]![0]!;
    const memfd = h.mem.read(fb0 + 16, 64);
    memfd.set(new TextEncoder().encode('vfio-v1\0'), 0);
    h.mem.write(fb0 + 16, memfd);
    const f = luoFindings(inspect(h, [{ start: 0, end: 0x1000_0000 }]));
    assert.deepEqual(f.keys.sort(), [
      `luo-duplicate@${hx(s)}`,
      `luo-file-count@${hx(at1)}`,
      `luo-handler@${hx(s + 16)}`,
    ]);
    assert.match(f.text, /file count mismatch, expected 5, found 2/);
    assert.match(f.text, /handler 'vfio-v1' is not decoded here/);
    // A file block pointer past the image.
    h.mem.write(at1, encodeLuoSessionSer({ name: 'test-session', files: 0x2000_0000, count: 2 }));
    const g = luoFindings(inspect(h, [{ start: 0, end: 0x1000_0000 }]));
    assert.ok(g.keys.includes(`ptr-outside-image@0x20000000`), g.keys.join());
  });

  test('more than 10000 blocks', () => {
    // An image whose every page is a one-entry session block linking to the next page.
    const block = new Uint8Array(4096);
    block.set(encodeLuoSessionSer({ name: 'loop', files: 0, count: 0 }), 16);
    const view = new DataView(block.buffer);
    const img: MemoryImage = {
      ranges: [{ start: 0, end: 2 ** 40 }],
      has: () => true,
      close: () => undefined,
      read: (phys, len) => {
        if (phys === 0x1000)
          return encodeLuoSer({ liveupdateNum: 9, sessionsPa: 0x2000, flbsPa: 0 }).slice(0, len);
        view.setFloat64(0, 0); // next, count
        view.setUint32(0, phys + 0x1000, true);
        view.setUint32(8, 1, true);
        block.set(new TextEncoder().encode((phys / 4096).toString(16).padStart(8, '0')), 16);
        return block.subarray(0, len);
      },
    };
    const findings = new Findings();
    const r = decodeLuo({ image: img, preserved: null, findings, maxList: 10 }, 0x1000, 32)!;
    assert.equal(r.sessionBlocks.length, 10000);
    assert.deepEqual(
      findings.finish().map((f) => f.code),
      ['luo-too-long'],
    );
  });

  test('incompatible or short luo_ser', () => {
    const h = fresh();
    const ser = h.luo.subtree.phys;
    h.mem.write(ser, new TextEncoder().encode('luo-v4\0\0'));
    let r = inspect(h);
    assert.deepEqual(luoFindings(r).keys, [`luo-invalid@${hx(ser)}`]);
    assert.match(
      luoFindings(r).text,
      /incompatible with 'luo-v5' \(it says 'luo-v4'\): the successor panics/,
    );
    assert.equal(r.luo!.compatible, 'luo-v4');
    // blob-size 16 in the KHO FDT.
    const small = buildHandover({ version: 'kho-v4', seed: 41 });
    const fdt = small.fdt.slice();
    const text = Buffer.from(fdt);
    const idx = text.indexOf(Buffer.from([0x20, 0, 0, 0, 0, 0, 0, 0])); // blob-size 32 of LUO
    assert.ok(idx > 0);
    fdt[idx] = 16;
    r = inspectHandover({
      fdt: { blob: fdt, source: 'test' },
      image: { image: new PhysMemImage(small.mem), kind: 'memory', source: 'mem' },
    });
    assert.match(luoFindings(r).text, /LUO state is too small \(16 < 32\)/);
  });

  test('memfd problems: unknown seals, a folio that is not preserved, nr_folios past the array', () => {
    const h = fresh();
    const m = h.luo.sessions[1]!.files[1]!; // 3 pages
    h.mem.writeU32(m.ser + 16, 0x41);
    // Point the second folio entry at a page that is not preserved.
    h.mem.writeU32(m.arrayPage + 16, 0x0ff0_0);
    const f = luoFindings(inspect(h));
    assert.ok(f.keys.includes(`memfd-invalid@${hx(m.ser)}`), f.keys.join());
    assert.ok(f.keys.includes(`memfd-folio@${hx(0xff00 * 4096)}`), f.keys.join());
    assert.match(f.text, /seals 0x41 beyond 0x3f: RETRIEVE_FD fails with EOPNOTSUPP/);
    h.mem.writeU32(m.ser + 24, 1000);
    assert.match(luoFindings(inspect(h)).text, /nr_folios 1000 does not fit its 1-page folio array/);
  });

  test('LUO pages outside preserved memory', () => {
    const h = buildHandover({ version: 'kho-v4', seed: 42 });
    // Rebuild the FDT's memory map without the session block: simplest is to move the block.
    const s = h.luo.sessionBlocks[0]!;
    const moved = 0x0f00_0000;
    h.mem.write(moved, h.mem.read(s, 4096));
    const ser = h.luo.subtree.phys;
    h.mem.write(ser, encodeLuoSer({ liveupdateNum: 3, sessionsPa: moved, flbsPa: h.luo.flbPage }));
    const f = luoFindings(inspect(h));
    assert.deepEqual(f.keys, [`luo-not-preserved@${hx(moved)}`]);
  });
});

describe('luo-v1 (kho-v1 … kho-v3 hand-overs)', () => {
  test('decodes sessions, files and memfd-v1 with the same facts', () => {
    for (const version of ['kho-v1', 'kho-v2', 'kho-v3'] as const) {
      const h = buildHandover({ version, seed: 43 });
      const r = inspect(h);
      assert.deepEqual(luoFindings(r).keys, [], version);
      assert.equal(r.luo!.format, 'luo-v1');
      assert.deepEqual(
        r.luo!.sessions.map((s) => [
          s.name,
          s.files.map((f) => [f.compatible, f.memfd!.version, f.memfd!.size]),
        ]),
        [
          ['kexec_simple_state', [['memfd-v1', 'memfd-v1', 4096]]],
          [
            'test-session',
            [
              ['memfd-v1', 'memfd-v1', 4096],
              ['memfd-v1', 'memfd-v1', 12288],
            ],
          ],
          ['empty-session', []],
        ],
      );
    }
  });

  test('the tree checks, a session count past 819, a missing luo-flb node', () => {
    const h = buildHandover({ version: 'kho-v3', seed: 44 });
    const area = h.luo.sessionBlocks[0]!;
    h.mem.writeU32(area, 820);
    let f = luoFindings(inspect(h));
    assert.deepEqual(f.keys, [`luo-invalid@${hx(area)}`]);
    assert.match(f.text, /count 820 is more than 819/);
    h.mem.writeU32(area, 3);
    const fdt = h.luo.subtree.phys;
    h.mem.write(fdt, writeLuoV1Fdt({ liveupdateNum: 3n, sessionHeader: area, flbHeader: null }));
    f = luoFindings(inspect(h));
    assert.deepEqual(f.keys, [`luo-flb@${hx(fdt)}/luo-flb`]);
    // A tree without the session node.
    const page = h.mem.read(fdt, 4096);
    const name = Buffer.from(page).indexOf('luo-session');
    page[name + 4] = 0x58; // luo-Xession
    h.mem.write(fdt, page);
    f = luoFindings(inspect(h));
    assert.deepEqual(f.keys, [`luo-invalid@${hx(fdt)}`]);
    assert.match(f.text, /no 'luo-session' node: the successor panics at boot/);
  });
});

test('random corruption of LUO pages never crashes the inspector', () => {
  for (const version of ['kho-v4', 'kho-v3'] as const) {
    const h = buildHandover({ version, seed: 45 });
    const pages = [h.luo.subtree.phys, ...h.luo.pages];
    const snapshot = pages.map((p) => h.mem.read(p, 4096));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            page: fc.nat(pages.length - 1),
            off: fc.nat(4088),
            v: fc.integer({ min: 0, max: 0xffff_ffff }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (patches) => {
          pages.forEach((p, i) => {
            h.mem.write(p, snapshot[i]!);
          });
          for (const x of patches) h.mem.writeU32(pages[x.page]! + (x.off & ~3), x.v);
          const r = inspect(h);
          assert.ok(r.luo === null || Array.isArray(r.luo.sessions));
        },
      ),
      { numRuns: runs(120) },
    );
  }
});
