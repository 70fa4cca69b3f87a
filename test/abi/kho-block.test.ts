import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeKhoBlockHeader,
  encodeKhoBlock,
  encodeKhoBlockHeader,
  KHO_BLOCK_HEADER_SIZE,
  KHO_BLOCK_MAX_BLOCKS,
  khoBlockCapacity,
  walkKhoBlocks,
} from '../../src/abi/kho-block.ts';
import { AbiError } from '../../src/abi/errors.ts';
import { FakeMemory, failsWith, hex, okValue } from './abi-helpers.ts';

function entry(size: number, fill: number): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

describe('kho_block', () => {
  it('header is next LE64, count LE64 (golden)', () => {
    assert.equal(KHO_BLOCK_HEADER_SIZE, 16);
    assert.equal(KHO_BLOCK_MAX_BLOCKS, 10000);
    const b = encodeKhoBlockHeader({ next: 0x5000, count: 3 });
    assert.equal(hex(b), '0050000000000000' + '0300000000000000');
    assert.deepEqual(okValue(decodeKhoBlockHeader(b)), { next: 0x5000, count: 3 });
    failsWith(decodeKhoBlockHeader(new Uint8Array(15)), 'TRUNCATED');
  });
  it('capacity is (4096 - 16) / entry size', () => {
    assert.equal(khoBlockCapacity(32), 127);
    assert.equal(khoBlockCapacity(8), 510);
    assert.equal(khoBlockCapacity(4080), 1);
    assert.throws(() => khoBlockCapacity(0), AbiError);
    assert.throws(() => khoBlockCapacity(4081), AbiError);
  });
  it('encodes entries after the header', () => {
    const b = encodeKhoBlock(0, 4, [entry(4, 0xaa), entry(4, 0xbb)]);
    assert.equal(hex(b.subarray(0, 24)), '0000000000000000' + '0200000000000000' + 'aaaaaaaa' + 'bbbbbbbb');
    assert.throws(() => encodeKhoBlock(0, 4, [entry(3, 0)]), AbiError);
    assert.throws(() => encodeKhoBlock(0, 2040, [entry(2040, 0), entry(2040, 0), entry(2040, 0)]), AbiError);
  });
  it('walks a chain and returns entries', () => {
    const mem = new FakeMemory();
    mem.write(0x1000, encodeKhoBlock(0x3000, 8, [entry(8, 1), entry(8, 2)]));
    mem.write(0x3000, encodeKhoBlock(0, 8, [entry(8, 3)]));
    const r = okValue(walkKhoBlocks(0x1000, 8, mem.read));
    assert.deepEqual(
      r.map((x) => [x.phys, x.entries.map((e) => e[0])]),
      [
        [0x1000, [1, 2]],
        [0x3000, [3]],
      ],
    );
    assert.deepEqual(okValue(walkKhoBlocks(0, 8, mem.read)), []);
  });
  it('rejects empty and overfull blocks, loops and unreadable blocks', () => {
    const mem = new FakeMemory();
    mem.write(0x1000, encodeKhoBlockHeader({ next: 0, count: 0 }));
    failsWith(walkKhoBlocks(0x1000, 8, mem.read), 'BAD_VALUE');
    mem.write(0x2000, encodeKhoBlockHeader({ next: 0, count: 511 }));
    failsWith(walkKhoBlocks(0x2000, 8, mem.read), 'BAD_VALUE');
    mem.write(0x3000, encodeKhoBlockHeader({ next: 0x4000, count: 1 }));
    mem.write(0x4000, encodeKhoBlockHeader({ next: 0x3000, count: 1 }));
    failsWith(walkKhoBlocks(0x3000, 8, mem.read), 'CYCLE');
    failsWith(walkKhoBlocks(0x9000, 8, mem.read), 'UNREADABLE');
  });
  it('stops after 10000 blocks', () => {
    const blank = encodeKhoBlock(0, 8, [entry(8, 0)]);
    const read = (phys: number): Uint8Array => {
      const b = blank.slice();
      // Block n links to block n+1 forever.
      b.set(encodeKhoBlockHeader({ next: phys + 0x1000, count: 1 }));
      return b;
    };
    failsWith(walkKhoBlocks(0x1000, 8, read), 'TOO_LONG');
  });
});
