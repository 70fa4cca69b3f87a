import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeKexecMetadata,
  encodeKexecMetadata,
  KEXEC_METADATA_SIZE,
  KHO_KEXEC_METADATA_NAME,
  KHO_KEXEC_METADATA_VERSION,
} from '../../src/abi/kexec-metadata.ts';
import { failsWith, hex, okValue } from './abi-helpers.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 200);

describe('kexec-metadata', () => {
  it('constants', () => {
    assert.equal(KHO_KEXEC_METADATA_NAME, 'kexec-metadata');
    assert.equal(KHO_KEXEC_METADATA_VERSION, 1);
    assert.equal(KEXEC_METADATA_SIZE, 73);
  });
  it('is packed: version u32, release[65], count u32 at 69 (golden)', () => {
    const b = encodeKexecMetadata({ version: 1, previousRelease: '6.19.0-kho', kexecCount: 3 });
    assert.equal(b.length, 73);
    const release = Buffer.from('6.19.0-kho').toString('hex').padEnd(130, '0');
    assert.equal(hex(b), '01000000' + release + '03000000');
    assert.deepEqual(okValue(decodeKexecMetadata(b)), {
      version: 1,
      previousRelease: '6.19.0-kho',
      kexecCount: 3,
    });
  });
  it('cuts a long release to 64 bytes so the NUL fits', () => {
    const b = encodeKexecMetadata({ version: 1, previousRelease: 'x'.repeat(100), kexecCount: 1 });
    assert.equal(b[68], 0);
    assert.equal(okValue(decodeKexecMetadata(b)).previousRelease, 'x'.repeat(64));
  });
  it('reads a release without NUL as its first 64 bytes', () => {
    const b = encodeKexecMetadata({ version: 1, previousRelease: '', kexecCount: 1 });
    b.fill(0x61, 4, 69);
    assert.equal(okValue(decodeKexecMetadata(b)).previousRelease, 'a'.repeat(64));
  });
  it('checks in the successor order: size < 4, version, size < 73', () => {
    failsWith(decodeKexecMetadata(new Uint8Array(3)), 'TRUNCATED');
    const good = encodeKexecMetadata({ version: 1, previousRelease: 'r', kexecCount: 1 });
    const v2 = good.slice();
    v2[0] = 2;
    failsWith(decodeKexecMetadata(v2), 'BAD_VERSION');
    failsWith(decodeKexecMetadata(v2.subarray(0, 10)), 'BAD_VERSION');
    failsWith(decodeKexecMetadata(good.subarray(0, 72)), 'TRUNCATED');
  });
  it('garbage never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        decodeKexecMetadata(b);
      }),
      { numRuns: RUNS },
    );
  });
});
