import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeKhoSetupData,
  decodeSetupDataHeader,
  encodeKhoSetupData,
  findKhoSetupData,
  KHO_SETUP_DATA_LEN,
  KHO_SETUP_DATA_SIZE,
  SETUP_KEXEC_KHO,
} from '../../src/abi/x86-setup-data.ts';
import { CHOSEN_KHO_FDT, CHOSEN_KHO_SCRATCH, decodeRegPair, encodeRegPair } from '../../src/abi/dt-chosen.ts';
import { AbiError } from '../../src/abi/errors.ts';
import { FakeMemory, failsWith, hex, okValue, unhex } from './abi-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 200);

const DATA = { fdtAddr: 0x7fff_f000, fdtSize: 0x1000, scratchAddr: 0x1_0000_0000, scratchSize: 0x40 };
const GOLDEN =
  '0090000000000000' + // next
  '0a000000' + // type SETUP_KEXEC_KHO
  '20000000' + // len 32
  '00f0ff7f00000000' + // fdt_addr
  '0010000000000000' + // fdt_size
  '0000000001000000' + // scratch_addr
  '4000000000000000'; // scratch_size

describe('x86 setup_data SETUP_KEXEC_KHO', () => {
  it('constants', () => {
    assert.equal(SETUP_KEXEC_KHO, 10);
    assert.equal(KHO_SETUP_DATA_LEN, 32);
    assert.equal(KHO_SETUP_DATA_SIZE, 48);
  });
  it('encodes 48 bytes (golden)', () => {
    const b = encodeKhoSetupData(0x9000, DATA);
    assert.equal(hex(b), GOLDEN);
    const r = okValue(decodeKhoSetupData(b));
    assert.deepEqual(r.header, { next: 0x9000, type: 10, len: 32 });
    assert.deepEqual(r.data, DATA);
  });
  it('rejects another type, a short len and short input', () => {
    const other = unhex(GOLDEN);
    other[8] = 3;
    failsWith(decodeKhoSetupData(other), 'BAD_MAGIC');
    const shortLen = unhex(GOLDEN);
    shortLen[12] = 16;
    failsWith(decodeKhoSetupData(shortLen), 'BAD_LENGTH');
    for (const n of [0, 15, 16, 47]) failsWith(decodeKhoSetupData(unhex(GOLDEN).subarray(0, n)), 'TRUNCATED');
    failsWith(decodeSetupDataHeader(new Uint8Array(15)), 'TRUNCATED');
  });
  it('finds the KHO record in a setup_data list', () => {
    const mem = new FakeMemory();
    // Another record type (SETUP_E820_EXT = 1) first, then KHO.
    const other = new Uint8Array(24);
    other.set(unhex('0020000000000000' + '01000000' + '08000000'));
    mem.write(0x1000, other);
    mem.write(0x2000, encodeKhoSetupData(0, DATA));
    assert.deepEqual(okValue(findKhoSetupData(0x1000, mem.read)), { phys: 0x2000, data: DATA });
    assert.equal(okValue(findKhoSetupData(0, mem.read)), null);
    const loop = unhex('0010000000000000' + '01000000' + '00000000');
    mem.write(
      0x3000,
      loop.map((x, i) => (i === 1 ? 0x30 : x)),
    );
    failsWith(findKhoSetupData(0x3000, mem.read), 'CYCLE');
    failsWith(findKhoSetupData(0x5000, mem.read), 'UNREADABLE');
  });
  it('garbage never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        decodeKhoSetupData(b);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('devicetree /chosen properties', () => {
  it('names', () => {
    assert.equal(CHOSEN_KHO_FDT, 'linux,kho-fdt');
    assert.equal(CHOSEN_KHO_SCRATCH, 'linux,kho-scratch');
  });
  it('encodes <addr size> in big-endian cells (golden)', () => {
    assert.equal(
      hex(encodeRegPair({ addr: 0x1_2345_6000, size: 0x1000 })),
      '00000001' + '23456000' + '00000000' + '00001000',
    );
    assert.equal(hex(encodeRegPair({ addr: 0x2345_6000, size: 0x30 }, 1, 1)), '23456000' + '00000030');
    assert.equal(
      hex(encodeRegPair({ addr: 0x2345_6000, size: 0x30 }, 2, 1)),
      '00000000' + '23456000' + '00000030',
    );
  });
  it('decodes only the exact length', () => {
    const b = encodeRegPair({ addr: 0x1_2345_6000, size: 0x1000 });
    assert.deepEqual(okValue(decodeRegPair(b)), { addr: 0x1_2345_6000, size: 0x1000 });
    failsWith(decodeRegPair(b, 1, 1), 'BAD_LENGTH');
    failsWith(decodeRegPair(b.subarray(0, 12)), 'BAD_LENGTH');
    failsWith(decodeRegPair(b, 3, 1), 'BAD_VALUE');
    assert.throws(() => encodeRegPair({ addr: 2 ** 32, size: 0 }, 1, 1), AbiError);
  });
});
