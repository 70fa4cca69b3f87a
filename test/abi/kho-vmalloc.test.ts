import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  buildKhoVmalloc,
  decodeKhoVmalloc,
  decodeKhoVmallocChunk,
  encodeKhoVmalloc,
  encodeKhoVmallocChunk,
  KHO_VMALLOC_ALLOC,
  KHO_VMALLOC_DESC_SIZE,
  KHO_VMALLOC_HUGE_VMAP,
  KHO_VMALLOC_SIZE,
  walkKhoVmalloc,
} from '../../src/abi/kho-vmalloc.ts';
import { AbiError } from '../../src/abi/errors.ts';
import { FakeMemory, failsWith, hex, okValue } from './abi-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);

describe('struct kho_vmalloc', () => {
  it('is 16 bytes: first LE64, total_pages u32, flags u16, order u16 (golden)', () => {
    assert.equal(KHO_VMALLOC_DESC_SIZE, 16);
    assert.equal(KHO_VMALLOC_ALLOC, 1);
    assert.equal(KHO_VMALLOC_HUGE_VMAP, 2);
    const d = { first: 0x1_0000_3000, totalPages: 0x201, flags: 3, order: 9 };
    const b = encodeKhoVmalloc(d);
    assert.equal(hex(b), '0030000001000000' + '01020000' + '0300' + '0900');
    assert.deepEqual(okValue(decodeKhoVmalloc(b)), d);
  });
  it('short input is TRUNCATED', () => {
    for (let n = 0; n < 16; n++) failsWith(decodeKhoVmalloc(new Uint8Array(n)), 'TRUNCATED');
  });
  it('rejects out-of-range fields when encoding', () => {
    assert.throws(() => encodeKhoVmalloc({ first: 0, totalPages: 2 ** 32, flags: 0, order: 0 }), AbiError);
    assert.throws(() => encodeKhoVmalloc({ first: 0, totalPages: 0, flags: 0x10000, order: 0 }), AbiError);
  });
});

describe('struct kho_vmalloc_chunk', () => {
  it('is one page: next, then 511 phys entries (golden)', () => {
    assert.equal(KHO_VMALLOC_SIZE, 511);
    const b = encodeKhoVmallocChunk(0x2000, [0x5000, 0x1_0000_0000]);
    assert.equal(b.length, 4096);
    assert.equal(hex(b.subarray(0, 24)), '0020000000000000' + '0050000000000000' + '0000000001000000');
    assert.ok(b.subarray(24).every((x) => x === 0));
    assert.deepEqual(okValue(decodeKhoVmallocChunk(b)), { next: 0x2000, phys: [0x5000, 0x1_0000_0000] });
  });
  it('a full chunk has no terminating zero', () => {
    const phys = Array.from({ length: 511 }, (_, i) => (i + 1) * 4096);
    const c = okValue(decodeKhoVmallocChunk(encodeKhoVmallocChunk(0, phys)));
    assert.equal(c.phys.length, 511);
    assert.equal(c.phys[510], 511 * 4096);
    assert.throws(() => encodeKhoVmallocChunk(0, [...phys, 0x1000]), AbiError);
  });
  it('a short page is TRUNCATED', () => {
    failsWith(decodeKhoVmallocChunk(new Uint8Array(4095)), 'TRUNCATED');
  });
});

describe('vmalloc chunk lists', () => {
  function store(
    pieces: number[],
    order: number,
  ): { mem: FakeMemory; desc: ReturnType<typeof buildKhoVmalloc>['desc'] } {
    const mem = new FakeMemory(0x100_0000);
    const img = buildKhoVmalloc(pieces, order, KHO_VMALLOC_ALLOC, mem.alloc);
    for (const c of img.chunks) mem.write(c.phys, c.bytes);
    return { mem, desc: img.desc };
  }

  it('builds one chunk up front and links a new one every 511 entries', () => {
    const pieces = Array.from({ length: 1023 }, (_, i) => 0x4000_0000 + i * 4096);
    const mem = new FakeMemory(0x100_0000);
    const img = buildKhoVmalloc(pieces, 0, KHO_VMALLOC_ALLOC, mem.alloc);
    assert.equal(img.chunks.length, 3);
    assert.deepEqual(
      img.chunks.map((c) => c.phys),
      [0x100_0000, 0x100_1000, 0x100_2000],
    );
    assert.deepEqual(img.desc, { first: 0x100_0000, totalPages: 1023, flags: 1, order: 0 });
    assert.equal(okValue(decodeKhoVmallocChunk(img.chunks[0]!.bytes)).next, 0x100_1000);
    assert.equal(okValue(decodeKhoVmallocChunk(img.chunks[2]!.bytes)).next, 0);
    assert.equal(okValue(decodeKhoVmallocChunk(img.chunks[2]!.bytes)).phys.length, 1);
  });
  it('an empty area still has its (empty) first chunk', () => {
    const { mem, desc } = store([], 0);
    assert.equal(desc.totalPages, 0);
    assert.deepEqual(okValue(walkKhoVmalloc(desc, mem.read)), { chunks: [0x100_0000], pieces: [] });
  });
  it('walks back what was built, with order > 0 pieces', () => {
    const pieces = [0x20_0000, 0x60_0000, 0xa0_0000];
    const { mem, desc } = store(pieces, 9);
    assert.equal(desc.totalPages, 3 * 512);
    assert.deepEqual(okValue(walkKhoVmalloc(desc, mem.read)).pieces, pieces);
  });
  it('rejects more entries than total_pages and fewer', () => {
    const { mem, desc } = store([0x1000, 0x2000], 0);
    failsWith(walkKhoVmalloc({ ...desc, totalPages: 1 }, mem.read), 'BAD_VALUE');
    failsWith(walkKhoVmalloc({ ...desc, totalPages: 3 }, mem.read), 'BAD_VALUE');
  });
  it('rejects loops, unreadable chunks and huge orders', () => {
    const mem = new FakeMemory();
    mem.write(0x1000, encodeKhoVmallocChunk(0x2000, [0x9000]));
    mem.write(0x2000, encodeKhoVmallocChunk(0x1000, [0xa000]));
    failsWith(
      walkKhoVmalloc({ first: 0x1000, totalPages: 100, flags: 1, order: 0 }, mem.read, { maxChunks: 10 }),
      'CYCLE',
    );
    // Empty chunks chained past what total_pages can need.
    mem.write(0x3000, encodeKhoVmallocChunk(0x4000, []));
    mem.write(0x4000, encodeKhoVmallocChunk(0x5000, []));
    mem.write(0x5000, encodeKhoVmallocChunk(0, []));
    failsWith(walkKhoVmalloc({ first: 0x3000, totalPages: 0, flags: 1, order: 0 }, mem.read), 'TOO_LONG');
    assert.deepEqual(
      okValue(
        walkKhoVmalloc({ first: 0x3000, totalPages: 0, flags: 1, order: 0 }, mem.read, { maxChunks: 3 }),
      ).chunks,
      [0x3000, 0x4000, 0x5000],
    );
    failsWith(walkKhoVmalloc({ first: 0x7000, totalPages: 1, flags: 1, order: 0 }, mem.read), 'UNREADABLE');
    failsWith(walkKhoVmalloc({ first: 0x1000, totalPages: 1, flags: 1, order: 40 }, mem.read), 'BAD_VALUE');
    const throwing = (): Uint8Array => {
      throw new Error('outside');
    };
    failsWith(walkKhoVmalloc({ first: 0x1000, totalPages: 1, flags: 1, order: 0 }, throwing), 'UNREADABLE');
  });
  it('round-trips random piece lists', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 2 ** 30 }), { maxLength: 1200 }), (pfns) => {
        const pieces = pfns.map((p) => p * 4096);
        const { mem, desc } = store(pieces, 0);
        assert.deepEqual(okValue(walkKhoVmalloc(desc, mem.read)).pieces, pieces);
      }),
      { numRuns: Math.min(RUNS, 50) },
    );
  });
  it('garbage chunk pages never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4096, maxLength: 4096 }), fc.nat(2000), (page, total) => {
        const mem = new FakeMemory();
        mem.write(0x1000, page);
        walkKhoVmalloc({ first: 0x1000, totalPages: total, flags: 1, order: 0 }, mem.read);
      }),
      { numRuns: RUNS },
    );
  });
});
