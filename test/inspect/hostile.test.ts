/**
 * Broken and hostile handover data: each problem is a finding with a stable code, the rest of
 * the data is still decoded, and nothing crashes or hangs (hand-made cycles, pointers outside the
 * image, wrong property sizes, unknown versions, overlaps, scratch violations, fuzzed images).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encodeLe64Prop } from '../../src/abi/kho-fdt.ts';
import { decodeKhoV1Chunk, encodeKhoV1Chunk } from '../../src/abi/kho-v1-mem-map.ts';
import type { KhoCompatible } from '../../src/abi/versions.ts';
import { FdtSw } from '../../src/fdt/sw.ts';
import { PhysicalMemory } from '../../src/hw/physical-memory.ts';
import { KhoRadixTree } from '../../src/kho/radix-tree.ts';
import { inspectHandover } from '../../src/inspect/inspect.ts';
import type { InspectInput, InspectReport } from '../../src/inspect/inspect.ts';
import { PhysMemImage } from '../../src/inspect/memory-image.ts';
import type { ImageRange } from '../../src/inspect/memory-image.ts';
import { formatReportText } from '../../src/inspect/report-text.ts';
import { formatReportJson } from '../../src/inspect/report-json.ts';
import { buildHandover } from '../fixtures/inspect/build-handover.ts';
import type { BuiltHandover } from '../fixtures/inspect/build-handover.ts';
import { codes, preservedList, runs } from './helpers.ts';

type Prop = [string, Uint8Array];

/** A root FDT with the given compatible, root props and sub-nodes. */
function rootFdt(compat: string | null, props: Prop[], nodes: [string, Prop[]][] = []): Uint8Array {
  const sw = FdtSw.create(8192);
  sw.finishReservemap();
  sw.beginNode('');
  if (compat !== null) sw.propertyString('compatible', compat);
  for (const [n, v] of props) sw.property(n, v);
  for (const [name, ps] of nodes) {
    sw.beginNode(name);
    for (const [n, v] of ps) sw.property(n, v);
    sw.endNode();
  }
  sw.endNode();
  return sw.finish();
}

const le = encodeLe64Prop;

function run(
  mem: PhysicalMemory,
  fdt: Uint8Array,
  extra: Partial<InspectInput> = {},
  ranges?: ImageRange[],
): InspectReport {
  const r = inspectHandover({
    fdt: { blob: fdt, source: 'test' },
    image: { image: new PhysMemImage(mem, ranges), kind: 'memory', source: 'mem' },
    ...extra,
  });
  // Both report forms must render whatever was found.
  formatReportText(r);
  JSON.parse(formatReportJson(r));
  return r;
}

/** A small radix tree: blocks at 16 MiB (order 0), 32 MiB (order 2); node pages from 1 MiB. */
function radixImage(): { mem: PhysicalMemory; tree: KhoRadixTree; nodes: number[] } {
  const mem = new PhysicalMemory({ limit: 1 << 28 });
  const nodes: number[] = [];
  let next = 0x100;
  const tree = KhoRadixTree.create(mem, {
    allocZeroedPage: () => {
      nodes.push(next * 4096);
      return next++;
    },
    freePage: () => undefined,
  })!;
  tree.add(0x1000, 0);
  tree.add(0x2000, 2);
  return { mem, tree, nodes };
}

describe('radix tree problems', () => {
  test('a cycle (an entry pointing back at the root) is reported once; the walk ends', () => {
    const { mem, tree } = radixImage();
    // Root entry 2 leads to order-0 keys; make its level-4 node point back at the root.
    const l4 = mem.readU64(tree.rootPhys + 2 * 8);
    mem.writeU64(l4 + 8 * 5, tree.rootPhys);
    const r = run(mem, rootFdt('kho-v4', [['preserved-memory-map', le(tree.rootPhys)]]));
    assert.deepEqual(codes(r, 'error'), ['cycle']);
    assert.deepEqual(preservedList(r), ['0x1000000:0', '0x2000000:2'].sort());
  });

  test('node pointers outside the image, unaligned, beyond the limit; root entries ≥ 4', () => {
    const { mem, tree } = radixImage();
    const l4 = mem.readU64(tree.rootPhys + 2 * 8);
    mem.writeU64(l4 + 8 * 1, 0x0800_0000); // inside memory, outside the image ranges below
    mem.writeU64(l4 + 8 * 2, 0x0123_4567); // unaligned
    mem.writeU64(l4 + 8 * 3, 2 ** 45); // beyond the image
    mem.writeU64(tree.rootPhys + 8 * 7, 0x0010_0000); // root entry 7: keys ≥ 2^53
    const r = run(mem, rootFdt('kho-v4', [['preserved-memory-map', le(tree.rootPhys)]]), {}, [
      { start: 0, end: 0x0400_0000 },
      { start: 0x0900_0000, end: 0x1000_0000 },
    ]);
    assert.deepEqual(codes(r, 'error').sort(), [
      'bad-key',
      'ptr-out-of-range',
      'ptr-outside-image',
      'ptr-unaligned',
    ]);
    assert.equal(r.memoryMap?.blocks, 2);
  });

  test('the root outside the image', () => {
    const { mem } = radixImage();
    const r = run(mem, rootFdt('kho-v3', [['preserved-memory-map', le(0x0f00_0000)]]), {}, [
      { start: 0, end: 0x0100_0000 },
    ]);
    assert.deepEqual(codes(r, 'error'), ['ptr-outside-image']);
    assert.equal(r.memoryMap?.complete, false);
  });

  test('overlapping blocks of different orders', () => {
    const { mem, tree } = radixImage();
    tree.add(0x2001, 0); // inside the order-2 block at 0x2000 pfn
    tree.add(0x1000, 3); // covers the order-0 block at 0x1000
    const r = run(mem, rootFdt('kho-v4', [['preserved-memory-map', le(tree.rootPhys)]]));
    assert.deepEqual(codes(r, 'error'), ['overlap', 'overlap']);
    assert.deepEqual(r.ranges.toArray(), [
      { start: 0x100_0000, end: 0x100_8000 },
      { start: 0x200_0000, end: 0x200_4000 },
    ]);
  });

  test('budgets: too many blocks, too many nodes; a hostile all-ones leaf stays bounded', () => {
    const { mem, tree, nodes } = radixImage();
    const leaf = nodes[nodes.length - 1]!; // last allocated: the order-2 leaf
    mem.fill(leaf, 4096, 0xff);
    const fdt = rootFdt('kho-v4', [['preserved-memory-map', le(tree.rootPhys)]]);
    const r1 = run(mem, fdt, { limits: { maxBlocks: 1000 } });
    assert.ok(codes(r1, 'error').includes('too-many-blocks'));
    assert.equal(r1.memoryMap?.blocks, 1000);
    const r2 = run(mem, fdt, { limits: { maxNodes: 3 } });
    assert.ok(codes(r2, 'error').includes('walk-budget'));
    const r3 = run(mem, fdt);
    assert.equal(r3.memoryMap?.blocks, 32768 + 1);
  });
});

/** A v1 map with one order-0 chunk holding one bitmap. */
function v1Image(): { mem: PhysicalMemory; chunk: number; bitmap: number } {
  const mem = new PhysicalMemory({ limit: 1 << 28 });
  const chunk = 0x0010_0000;
  const bitmap = 0x0010_1000;
  mem.write(chunk, encodeKhoV1Chunk({ next: 0, order: 0, bitmaps: [{ physStart: 0, bitmap }] }));
  mem.writeU8(bitmap + 0x200, 0b101); // pfns 0x1000 and 0x1002
  return { mem, chunk, bitmap };
}

describe('kho-v1 chunk list problems', () => {
  const fdtFor = (head: number) => rootFdt('kho-v1', [['preserved-memory-map', le(head)]]);

  test('a sound map', () => {
    const { mem, chunk } = v1Image();
    const r = run(mem, fdtFor(chunk));
    assert.deepEqual(codes(r, 'error'), []);
    assert.deepEqual(preservedList(r), ['0x1000000:0', '0x1002000:0']);
    assert.deepEqual(
      r.tracker.pages.map((p) => p.kind),
      ['v1-chunk', 'v1-bitmap'],
    );
  });

  test('a chunk list that loops, a bitmap shared by two entries', () => {
    const { mem, chunk, bitmap } = v1Image();
    mem.writeU64(chunk, chunk);
    assert.deepEqual(codes(run(mem, fdtFor(chunk)), 'error'), ['cycle']);
    const v = v1Image();
    v.mem.write(
      v.chunk,
      encodeKhoV1Chunk({
        next: 0,
        order: 0,
        bitmaps: [
          { physStart: 0, bitmap },
          { physStart: 0, bitmap },
        ],
      }),
    );
    const r = run(v.mem, fdtFor(v.chunk));
    assert.deepEqual(codes(r, 'error'), ['cycle']);
    assert.deepEqual(preservedList(r), ['0x1000000:0', '0x1002000:0']);
  });

  test('num_elms > 255, order > 40, chunk outside the image', () => {
    const { mem, chunk } = v1Image();
    mem.writeU32(chunk + 12, 300);
    assert.deepEqual(codes(run(mem, fdtFor(chunk)), 'error'), ['v1-chunk']);
    const b = v1Image();
    b.mem.writeU32(b.chunk + 8, 60);
    assert.ok(decodeKhoV1Chunk(b.mem.read(b.chunk, 4096)).ok);
    assert.deepEqual(codes(run(b.mem, fdtFor(b.chunk)), 'error'), ['v1-chunk']);
    const c = v1Image();
    assert.deepEqual(codes(run(c.mem, fdtFor(0x0f00_0000), {}, [{ start: 0, end: 0x0200_0000 }]), 'error'), [
      'ptr-outside-image',
    ]);
  });

  test('a misaligned phys_start gives misaligned blocks', () => {
    const { mem, chunk, bitmap } = v1Image();
    mem.write(chunk, encodeKhoV1Chunk({ next: 0, order: 1, bitmaps: [{ physStart: 0x1000, bitmap }] }));
    const r = run(mem, fdtFor(chunk));
    assert.deepEqual(
      codes(r)
        .filter((c) => c !== 'scratch-missing')
        .sort(),
      ['misaligned-block', 'misaligned-block', 'v1-bitmap-start'],
    );
  });

  test('preserved-memory-map 0 is "nothing preserved" in v1 but an error in v2+', () => {
    const mem = new PhysicalMemory({ limit: 1 << 24 });
    assert.deepEqual(codes(run(mem, fdtFor(0)), 'error'), []);
    assert.ok(codes(run(mem, fdtFor(0))).includes('memmap-empty'));
    assert.deepEqual(codes(run(mem, rootFdt('kho-v2', [['preserved-memory-map', le(0)]])), 'error'), [
      'memmap-empty',
    ]);
  });
});

describe('root FDT problems', () => {
  const mem = new PhysicalMemory({ limit: 1 << 24 });
  test('unknown version, missing or mis-sized map, invalid blob', () => {
    assert.deepEqual(codes(run(mem, rootFdt('kho-v9', [])), 'error'), ['abi-unknown']);
    assert.deepEqual(codes(run(mem, rootFdt(null, [])), 'error'), ['abi-unknown']);
    assert.deepEqual(codes(run(mem, rootFdt('kho-v4', [])), 'error'), ['prop-missing']);
    assert.deepEqual(
      codes(run(mem, rootFdt('kho-v4', [['preserved-memory-map', new Uint8Array(4)]])), 'error'),
      ['prop-size'],
    );
    const big = new Uint8Array(8).fill(0xff);
    assert.deepEqual(codes(run(mem, rootFdt('kho-v4', [['preserved-memory-map', big]])), 'error'), [
      'ptr-out-of-range',
    ]);
    const bad = rootFdt('kho-v4', []);
    bad[9]! ^= 0xff; // totalsize
    assert.deepEqual(codes(run(mem, bad), 'error'), ['fdt-invalid']);
    assert.deepEqual(codes(run(mem, new Uint8Array(0)), 'error'), ['fdt-invalid']);
  });

  test("sub-node properties: sizes, missing, other versions' names", () => {
    const { mem: m, tree } = radixImage();
    const map: Prop = ['preserved-memory-map', le(tree.rootPhys)];
    const r = run(
      m,
      rootFdt(
        'kho-v4',
        [map],
        [
          [
            'short',
            [
              ['preserved-data', new Uint8Array(4)],
              ['blob-size', le(4)],
            ],
          ],
          ['nosize', [['preserved-data', le(0x0100_0000)]]],
          ['nodata', [['blob-size', le(4)]]],
          ['v1style', [['fdt', le(0x0100_0000)]]],
        ],
      ),
    );
    assert.deepEqual(
      r.findings.filter((f) => f.severity !== 'info').map((f) => `${f.code}@${f.at}`),
      [
        'prop-size@/short/preserved-data',
        'prop-missing@/nosize/blob-size',
        'subtree-no-data@/nodata',
        'abi-mismatch@/v1style/fdt',
        'subtree-no-data@/v1style',
      ],
    );
  });
});

describe('placement checks against preserved memory and scratch', () => {
  const built = (v: KhoCompatible): BuiltHandover => buildHandover({ version: v, seed: 11 });

  test('blobs, folios and reserve_mem ranges that are not preserved', () => {
    const h = built('kho-v4');
    // Rebuild the tracker without some blocks: drop the memblock blob, a test folio, the
    // reserve_mem pages and the vmalloc chunk.
    const memblock = h.subtrees.find((s) => s.name === 'memblock')!.phys;
    const folio = h.folios[0]!;
    const res = h.reserveMem[0]!;
    const tree = new KhoRadixTree(
      h.mem,
      { allocZeroedPage: () => null, freePage: () => undefined },
      h.mapRoot,
    );
    tree.del(memblock / 4096, 0);
    tree.del(folio.phys / 4096, folio.order);
    tree.del(res.start / 4096, 0);
    const r = run(h.mem, h.fdt, { scratch: { entries: h.scratch, source: 't' } });
    assert.deepEqual(codes(r, 'error').sort(), [
      'reserve-mem-not-preserved',
      'subtree-not-preserved',
      'test-kho-folio',
    ]);
  });

  test('preserved memory, tracker pages, blobs and the FDT inside scratch', () => {
    const h = built('kho-v3');
    const scratch = [{ addr: 0x0400_0000, size: 0x0100_0000 }]; // the kernel pages
    const r = run(h.mem, h.fdt, { scratch: { entries: scratch, source: 't' }, fdtPhys: h.fdtPhys });
    const c = new Set(codes(r, 'error'));
    assert.deepEqual([...c].sort(), [
      'fdt-in-scratch',
      'preserved-in-scratch',
      'subtree-in-scratch',
      'tracker-in-scratch',
    ]);
  });

  test('scratch entries that overlap or are empty', () => {
    const h = built('kho-v2');
    const r = run(h.mem, h.fdt, {
      scratch: {
        entries: [
          { addr: 0x0100_0000, size: 0x0100_0000 },
          { addr: 0x0180_0000, size: 0x0100_0000 },
          { addr: 0x0e00_0000, size: 0 },
          { addr: 0x0f00_0800, size: 0x1000 },
        ],
        source: 't',
      },
    });
    assert.deepEqual(
      codes(r)
        .filter((c) => c.startsWith('scratch'))
        .sort(),
      ['scratch-entry', 'scratch-entry', 'scratch-overlap'],
    );
  });

  test('a sub-tree blob outside the image; a corrupt sub-FDT; kexec-metadata with a bad version', () => {
    const h = built('kho-v4');
    const memblock = h.subtrees.find((s) => s.name === 'memblock')!;
    h.mem.writeU32(memblock.phys + 8, 0xffff_ffff); // off_dt_struct
    const meta = h.subtrees.find((s) => s.name === 'kexec-metadata')!;
    h.mem.writeU32(meta.phys, 9);
    const r = run(h.mem, h.fdt, {}, [
      { start: 0, end: h.subtrees.find((s) => s.name === 'raw-blob')!.phys },
      { start: 0x0800_0000, end: 0x1000_0000 },
    ]);
    const errs = r.findings.filter((f) => f.severity === 'error').map((f) => `${f.code}@${f.at}`);
    assert.ok(errs.includes('ptr-outside-image@/raw-blob'), errs.join());
    assert.ok(errs.includes('subtree-invalid@/memblock'), errs.join());
    assert.ok(errs.includes('subtree-invalid@/kexec-metadata'), errs.join());
  });
});

describe('fuzzing', () => {
  const base = buildHandover({ version: 'kho-v4', seed: 21 });
  const v1 = buildHandover({ version: 'kho-v1', seed: 22 });
  const targets = (h: BuiltHandover): number[] => [
    h.fdtPhys,
    ...h.tracker,
    ...h.subtrees.map((s) => s.phys),
    ...h.luo.pages,
  ];

  for (const h of [base, v1]) {
    test(`${h.version}: random corruption of tracker, FDT and blob pages never crashes`, () => {
      const pages = targets(h);
      const snapshot = pages.map((p) => h.mem.read(p, 4096));
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              page: fc.nat(pages.length - 1),
              off: fc.nat(4095),
              bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
            }),
            { minLength: 1, maxLength: 16 },
          ),
          (patches) => {
            pages.forEach((p, i) => {
              h.mem.write(p, snapshot[i]!);
            });
            for (const x of patches) {
              const at = pages[x.page]! + Math.min(x.off, 4096 - x.bytes.length);
              h.mem.write(at, x.bytes);
            }
            const fdt = h.mem.read(h.fdtPhys, h.fdt.length);
            const r = run(h.mem, fdt, {
              scratch: { entries: h.scratch, source: 't' },
              limits: { maxBlocks: 1 << 18 },
            });
            assert.ok(r.findings.length >= 0);
          },
        ),
        { numRuns: runs(150) },
      );
      pages.forEach((p, i) => {
        h.mem.write(p, snapshot[i]!);
      });
    });
  }

  test('the memory map and blobs pointing at arbitrary pages of a real image', () => {
    const pages = base.mem.touchedPfns().map((p) => p * 4096);
    fc.assert(
      fc.property(
        fc.constantFrom<KhoCompatible>('kho-v1', 'kho-v2', 'kho-v3', 'kho-v4'),
        fc.nat(pages.length - 1),
        fc.array(fc.tuple(fc.nat(pages.length - 1), fc.nat(0x3000)), { maxLength: 4 }),
        (version, root, blobs) => {
          const dataProp = version === 'kho-v1' ? 'fdt' : 'preserved-data';
          const fdt = rootFdt(
            version,
            [['preserved-memory-map', le(pages[root]!)]],
            blobs.map(([p, size], i): [string, Prop[]] => [
              `n${i}`,
              [
                [dataProp, le(pages[p]!)],
                ['blob-size', le(size)],
              ],
            ]),
          );
          const r = run(base.mem, fdt, { limits: { maxBlocks: 1 << 16 } });
          assert.equal(r.abi.compatible, version);
        },
      ),
      { numRuns: runs(150) },
    );
  });

  test('arbitrary bytes as the root FDT and as memory', () => {
    const mem = new PhysicalMemory({ limit: 1 << 24 });
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 512 }),
        fc.uint8Array({ minLength: 16, maxLength: 4096 }),
        (fdt, page) => {
          mem.write(0x1000, page);
          const r = run(mem, fdt);
          assert.ok(r.findings.some((f) => f.severity === 'error'));
        },
      ),
      { numRuns: runs(200) },
    );
  });
});

test('an image full of FDT magic pages: the scan gives up after a bounded number of tries', () => {
  const mem = new PhysicalMemory({ limit: 1 << 26 });
  const page = new Uint8Array(64);
  new DataView(page.buffer).setUint32(0, 0xd00dfeed); // magic
  new DataView(page.buffer).setUint32(4, 1 << 20); // totalsize 1 MiB: each try reads a lot
  for (let p = 0; p < 6000; p++) mem.write(p * 4096, page);
  const r = inspectHandover({ image: { image: new PhysMemImage(mem), kind: 'memory', source: 'm' } });
  const miss = r.findings.filter((f) => f.code === 'fdt-missing');
  assert.equal(miss.length, 1);
  assert.match(miss[0]!.message, /scan stopped after 4096 pages/);
  assert.equal(miss[0]!.severity, 'error');
});
