import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeKhoScratch,
  decodeKhoScratchArray,
  encodeKhoScratch,
  encodeKhoScratchArray,
  KHO_SCRATCH_SIZE,
} from '../../src/abi/kho-scratch.ts';
import { encodeKhoPageInfo, KHO_PAGE_MAGIC, khoPageInfo, khoPageOrder } from '../../src/abi/kho-page.ts';
import { AbiError, unwrap } from '../../src/abi/errors.ts';
import { failsWith, hex, okValue, unhex } from './abi-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 200);

describe('struct kho_scratch', () => {
  it('is 16 bytes: addr LE64, size LE64 (golden)', () => {
    assert.equal(KHO_SCRATCH_SIZE, 16);
    const b = encodeKhoScratch({ addr: 0x1_2345_6000, size: 0x4000_0000 });
    assert.equal(hex(b), '0060452301000000' + '0000004000000000');
    assert.deepEqual(okValue(decodeKhoScratch(b)), { addr: 0x1_2345_6000, size: 0x4000_0000 });
  });
  it('arrays: n × 16 bytes, entries in order', () => {
    const entries = [
      { addr: 0x100_0000, size: 0x200_0000 },
      { addr: 0x4_0000_0000, size: 0x8000_0000 },
      { addr: 0x8_0000_0000, size: 0x4000_0000 },
    ];
    const b = encodeKhoScratchArray(entries);
    assert.equal(b.length, 48);
    assert.equal(hex(b.subarray(16, 32)), '0000000004000000' + '0000008000000000');
    assert.deepEqual(okValue(decodeKhoScratchArray(b)), { entries, trailingBytes: 0 });
  });
  it('a length that is not a multiple of 16 drops the tail, as the kernel does', () => {
    const b = new Uint8Array(40);
    const r = okValue(decodeKhoScratchArray(b));
    assert.equal(r.entries.length, 2);
    assert.equal(r.trailingBytes, 8);
  });
  it('short input is TRUNCATED, never a RangeError', () => {
    failsWith(decodeKhoScratch(new Uint8Array(15)), 'TRUNCATED');
    failsWith(decodeKhoScratch(new Uint8Array(16), 8), 'TRUNCATED');
    failsWith(decodeKhoScratch(new Uint8Array(0)), 'TRUNCATED');
  });
  it('values of 2^53 and above are TOO_BIG', () => {
    failsWith(decodeKhoScratch(unhex('0000000000002000' + '0000000000000000')), 'TOO_BIG');
    assert.equal(okValue(decodeKhoScratch(unhex('ffffffffffff1f00' + '00'.repeat(8)))).addr, 2 ** 53 - 1);
  });
  it('encoding a negative or fractional value is a typed error', () => {
    assert.throws(() => encodeKhoScratch({ addr: -1, size: 0 }), AbiError);
    assert.throws(() => encodeKhoScratch({ addr: 1.5, size: 0 }), AbiError);
    assert.throws(() => unwrap(decodeKhoScratch(new Uint8Array(3))), AbiError);
  });
  it('round-trips any safe values', () => {
    const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(safe, safe).map(([addr, size]) => ({ addr, size })),
          { maxLength: 8 },
        ),
        (entries) => {
          assert.deepEqual(okValue(decodeKhoScratchArray(encodeKhoScratchArray(entries))).entries, entries);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('page->private stamp (KHO_PAGE_MAGIC)', () => {
  it('is order in the low half and "KHOP" in the high half', () => {
    assert.equal(KHO_PAGE_MAGIC, 0x4b484f50);
    assert.equal(hex(encodeKhoPageInfo(9)), '09000000' + '504f484b');
    assert.deepEqual(khoPageInfo(3), { lo: 3, hi: 0x4b484f50 });
    assert.equal(khoPageOrder(3, 0x4b484f50), 3);
    assert.equal(khoPageOrder(3, 0), null);
  });
});
