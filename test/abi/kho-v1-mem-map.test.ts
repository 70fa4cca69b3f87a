import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  buildKhoV1MemMap,
  decodeKhoV1Chunk,
  encodeKhoV1Chunk,
  KHO_V1_BITMAP_BITS,
  KHO_V1_BITMAPS_PER_CHUNK,
  walkKhoV1MemMap,
} from '../../src/abi/kho-v1-mem-map.ts';
import { AbiError } from '../../src/abi/errors.ts';
import { FakeMemory, failsWith, hex, okValue } from './abi-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);

function image(blocks: { pfn: number; order: number }[]): { mem: FakeMemory; head: number; kinds: string[] } {
  const mem = new FakeMemory(0x10000);
  const img = buildKhoV1MemMap(blocks, mem.alloc);
  for (const p of img.pages) mem.write(p.phys, p.bytes);
  return { mem, head: img.head, kinds: img.pages.map((p) => `${p.kind}@${p.phys.toString(16)}`) };
}

describe('khoser_mem_chunk', () => {
  it('constants', () => {
    assert.equal(KHO_V1_BITMAPS_PER_CHUNK, 255);
    assert.equal(KHO_V1_BITMAP_BITS, 32768);
  });
  it('header next, order u32, num_elms u32, then {phys_start, bitmap} pairs (golden)', () => {
    const b = encodeKhoV1Chunk({
      next: 0x14000,
      order: 0,
      bitmaps: [
        { physStart: 0, bitmap: 0x10000 },
        { physStart: 0x800_0000, bitmap: 0x11000 },
      ],
    });
    assert.equal(b.length, 4096);
    assert.equal(
      hex(b.subarray(0, 48)),
      '0040010000000000' +
        '00000000' +
        '02000000' +
        '0000000000000000' +
        '0000010000000000' +
        '0000000800000000' +
        '0010010000000000',
    );
    assert.ok(b.subarray(48).every((x) => x === 0));
  });
  it('num_elms above 255 is BAD_VALUE; short pages TRUNCATED', () => {
    const b = encodeKhoV1Chunk({ next: 0, order: 0, bitmaps: [] });
    b[12] = 0;
    b[13] = 1; // 256
    failsWith(decodeKhoV1Chunk(b), 'BAD_VALUE');
    failsWith(decodeKhoV1Chunk(new Uint8Array(100)), 'TRUNCATED');
    const full = Array.from({ length: 256 }, () => ({ physStart: 0, bitmap: 0 }));
    assert.throws(() => encodeKhoV1Chunk({ next: 0, order: 0, bitmaps: full }), AbiError);
  });
});

describe('v1 memory map layout', () => {
  const BLOCKS = [
    { pfn: 3, order: 0 },
    { pfn: 1, order: 0 },
    { pfn: 32768, order: 0 },
    { pfn: 8, order: 2 },
  ];
  it('allocates bitmaps by (order, index) then one chunk per order, linked', () => {
    const { mem, head, kinds } = image(BLOCKS);
    assert.deepEqual(kinds, ['bitmap@10000', 'bitmap@11000', 'bitmap@12000', 'chunk@13000', 'chunk@14000']);
    assert.equal(head, 0x13000);
    const c0 = okValue(decodeKhoV1Chunk(mem.read(0x13000, 4096)!));
    assert.deepEqual(c0, {
      next: 0x14000,
      order: 0,
      bitmaps: [
        { physStart: 0, bitmap: 0x10000 },
        // phys_start = (1 × 32768) << 12
        { physStart: 0x800_0000, bitmap: 0x11000 },
      ],
    });
    const c1 = okValue(decodeKhoV1Chunk(mem.read(0x14000, 4096)!));
    assert.deepEqual(c1, { next: 0, order: 2, bitmaps: [{ physStart: 0, bitmap: 0x12000 }] });
    // Bits 1 and 3 of the first order-0 bitmap; bit 0 of the second; bit 2 (pfn 8 >> 2) at order 2.
    assert.equal(hex(mem.read(0x10000, 2)!), '0a00');
    assert.equal(hex(mem.read(0x11000, 1)!), '01');
    assert.equal(hex(mem.read(0x12000, 1)!), '04');
  });
  it('walks back every block in chunk, bitmap, bit order', () => {
    const { mem, head } = image(BLOCKS);
    const r = okValue(walkKhoV1MemMap(head, mem.read));
    assert.deepEqual(r.blocks, [
      { phys: 0x1000, order: 0 },
      { phys: 0x3000, order: 0 },
      { phys: 0x800_0000, order: 0 },
      { phys: 0x8000, order: 2 },
    ]);
    assert.deepEqual(
      r.chunks.map((c) => c.phys),
      [0x13000, 0x14000],
    );
  });
  it('spills into a second chunk of the same order after 255 bitmaps', () => {
    const blocks = Array.from({ length: 256 }, (_, j) => ({ pfn: j * KHO_V1_BITMAP_BITS, order: 0 }));
    const { mem, head } = image(blocks);
    const r = okValue(walkKhoV1MemMap(head, mem.read));
    assert.deepEqual(
      r.chunks.map((c) => [c.order, c.bitmaps.length]),
      [
        [0, 255],
        [0, 1],
      ],
    );
    assert.equal(r.blocks.length, 256);
    assert.equal(r.blocks[255]!.phys, 255 * 32768 * 4096);
  });
  it('nothing preserved → head 0 and no pages', () => {
    const mem = new FakeMemory();
    const img = buildKhoV1MemMap([], mem.alloc);
    assert.deepEqual(img, { head: 0, pages: [] });
    assert.deepEqual(okValue(walkKhoV1MemMap(0, mem.read)), { chunks: [], blocks: [] });
  });
  it('drops pfn bits below the block size, like the kernel key pfn >> order', () => {
    const { mem, head } = image([{ pfn: 0x203, order: 9 }]);
    assert.deepEqual(okValue(walkKhoV1MemMap(head, mem.read)).blocks, [{ phys: 0x20_0000, order: 9 }]);
  });
  it('onBlock streams instead of collecting', () => {
    const { mem, head } = image(BLOCKS);
    const seen: number[] = [];
    const r = okValue(walkKhoV1MemMap(head, mem.read, { onBlock: (p) => seen.push(p) }));
    assert.equal(r.blocks.length, 0);
    assert.equal(seen.length, 4);
  });
  it('rejects loops, long lists, unreadable bitmaps and absurd orders', () => {
    const mem = new FakeMemory();
    mem.write(0x1000, encodeKhoV1Chunk({ next: 0x2000, order: 0, bitmaps: [] }));
    mem.write(0x2000, encodeKhoV1Chunk({ next: 0x1000, order: 0, bitmaps: [] }));
    failsWith(walkKhoV1MemMap(0x1000, mem.read), 'CYCLE');
    failsWith(walkKhoV1MemMap(0x1000, mem.read, { maxChunks: 1 }), 'TOO_LONG');
    mem.write(0x3000, encodeKhoV1Chunk({ next: 0, order: 0, bitmaps: [{ physStart: 0, bitmap: 0x9000 }] }));
    failsWith(walkKhoV1MemMap(0x3000, mem.read), 'UNREADABLE');
    mem.write(0x4000, encodeKhoV1Chunk({ next: 0, order: 41, bitmaps: [] }));
    failsWith(walkKhoV1MemMap(0x4000, mem.read), 'BAD_VALUE');
    const big = new Uint8Array(4096);
    big[4095] = 0x80;
    mem.write(0x5000, big);
    mem.write(0x6000, encodeKhoV1Chunk({ next: 0, order: 40, bitmaps: [{ physStart: 0, bitmap: 0x5000 }] }));
    failsWith(walkKhoV1MemMap(0x6000, mem.read), 'TOO_BIG');
  });
  it('round-trips random block sets (as sets of aligned blocks per order)', () => {
    const block = fc
      .tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 2 ** 26 }))
      .map(([order, idx]) => ({ pfn: idx * 2 ** order, order }));
    fc.assert(
      fc.property(fc.array(block, { maxLength: 60 }), (blocks) => {
        const { mem, head } = image(blocks);
        const got = okValue(walkKhoV1MemMap(head, mem.read)).blocks.map((b) => `${b.order}:${b.phys}`);
        const want = [...new Set(blocks.map((b) => `${b.order}:${b.pfn * 4096}`))];
        assert.deepEqual([...got].sort(), want.sort());
        // Orders come out ascending.
        const orders = got.map((s) => Number(s.split(':')[0]));
        assert.deepEqual(
          orders,
          [...orders].sort((a, b) => a - b),
        );
      }),
      { numRuns: RUNS },
    );
  });
  it('garbage chunk pages never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4096, maxLength: 4096 }), (page) => {
        const mem = new FakeMemory();
        mem.write(0x1000, page);
        walkKhoV1MemMap(0x1000, mem.read);
      }),
      { numRuns: RUNS },
    );
  });
});
