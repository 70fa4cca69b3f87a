import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbiError } from '../../src/abi/errors.ts';
import {
  decodeLuoV1FileArray,
  decodeLuoV1Fdt,
  decodeLuoV1SessionArea,
  encodeLuoV1FileArray,
  encodeLuoV1SessionArea,
  LUO_V1_FILE_MAX,
  LUO_V1_SESSION_MAX,
  LuoV1FdtError,
  writeLuoV1Fdt,
} from '../../src/abi/luo-v1.ts';
import { FdtSw } from '../../src/fdt/sw.ts';
import { ctypes, libfdtLuoV1 } from './luo-ref.ts';
import { failsWith, hex, okValue } from './abi-helpers.ts';

const le64 = (x: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(x), true);
  return b;
};

/** A tree like the kernel's with one thing changed, for the incoming checks. */
function variant(change: {
  rootCompat?: string | null;
  ln?: Uint8Array | null;
  sessionNode?: string | null;
  sessionCompat?: string;
  sessionHeader?: Uint8Array | null;
  flbCompat?: string;
  flbHeader?: Uint8Array | null;
}): Uint8Array {
  const sw = FdtSw.create(4096);
  sw.finishReservemap();
  sw.beginNode('');
  if (change.rootCompat !== null) sw.propertyString('compatible', change.rootCompat ?? 'luo-v1');
  if (change.ln !== null) sw.property('liveupdate-number', change.ln ?? le64(3));
  if (change.sessionNode !== null) {
    sw.beginNode(change.sessionNode ?? 'luo-session');
    sw.propertyString('compatible', change.sessionCompat ?? 'luo-session-v2');
    if (change.sessionHeader !== null)
      sw.property('luo-session-header', change.sessionHeader ?? le64(0x10000));
    sw.endNode();
  }
  sw.beginNode('luo-flb');
  sw.propertyString('compatible', change.flbCompat ?? 'luo-flb-v1');
  if (change.flbHeader !== null) sw.property('luo-flb-header', change.flbHeader ?? le64(0x20000));
  sw.endNode();
  sw.endNode();
  return sw.finish();
}

function failsCheck(blob: Uint8Array, check: string, value: number): void {
  const r = decodeLuoV1Fdt(blob);
  if (r.ok) assert.fail(`expected ${check} to fail`);
  assert.ok(r.error instanceof LuoV1FdtError, r.error.message);
  assert.deepEqual([r.error.check, r.error.value], [check, value], r.error.message);
}

describe('luo-v1 FDT', () => {
  it('is byte for byte what python3-libfdt writes (with and without luo-flb)', () => {
    const cases = [
      { ln: 1, session: 0x1_0400_0000, flb: 0x1_0401_0000 },
      { ln: 7, session: 0x8000_0000, flb: null },
      { ln: 2 ** 40, session: 0x1000, flb: 0x2000 },
    ];
    const ref = libfdtLuoV1(cases);
    cases.forEach((c, i) => {
      const ours = writeLuoV1Fdt({ liveupdateNum: BigInt(c.ln), sessionHeader: c.session, flbHeader: c.flb });
      assert.equal(ours.length, 4096);
      assert.equal(hex(ours), ref[i], `case ${i}`);
      const d = okValue(decodeLuoV1Fdt(ours));
      assert.deepEqual(d, { liveupdateNum: BigInt(c.ln), sessionHeader: c.session, flbHeader: c.flb });
    });
  });

  it('incoming checks fail in the kernel order with the number the kernel prints', () => {
    okValue(decodeLuoV1Fdt(variant({})));
    failsCheck(variant({ rootCompat: null }), 'compatible', -1);
    failsCheck(variant({ rootCompat: 'luo-v5' }), 'compatible', 1);
    failsCheck(new Uint8Array(64), 'compatible', -9); // -FDT_ERR_BADMAGIC
    failsCheck(variant({ ln: null }), 'liveupdate-number', -1);
    failsCheck(variant({ ln: new Uint8Array(4) }), 'liveupdate-number', 4);
    failsCheck(variant({ sessionNode: null }), 'session-node', -1);
    failsCheck(variant({ sessionCompat: 'luo-session-v1' }), 'session-compatible', 1);
    failsCheck(variant({ sessionHeader: null }), 'session-header', -1);
    failsCheck(variant({ sessionHeader: new Uint8Array(16) }), 'session-header', 16);
    failsCheck(variant({ flbCompat: 'luo-flb-v2' }), 'flb-compatible', 1);
    failsCheck(variant({ flbHeader: new Uint8Array(0) }), 'flb-header', 0);
    // fdt_subnode_offset() also matches a unit address.
    assert.equal(okValue(decodeLuoV1Fdt(variant({ sessionNode: 'luo-session@0' }))).sessionHeader, 0x10000);
  });

  it('session area: {u64 count} + 80-byte entries, 819 at most', () => {
    assert.equal(LUO_V1_SESSION_MAX, 819);
    const area = encodeLuoV1SessionArea([
      { name: 'kexec_simple_state', files: 0x5000, count: 1 },
      { name: 'empty', files: 0, count: 0 },
    ]);
    assert.equal(area.length, 65536);
    const ref = ctypes([
      ['luo_session_header_ser', { count: 2 }],
      ['luo_session_ser', { name: 'kexec_simple_state', file_set_ser: { files: 0x5000, count: 1 } }],
      ['luo_session_ser', { name: 'empty', file_set_ser: { files: 0, count: 0 } }],
    ]);
    assert.equal(hex(area.subarray(0, 168)), ref.map((r) => r[1]).join(''));
    const d = okValue(decodeLuoV1SessionArea(area));
    assert.deepEqual(
      d.sessions.map((s) => [s.name, s.files, s.count]),
      [
        ['kexec_simple_state', 0x5000, 1],
        ['empty', 0, 0],
      ],
    );
    const full = encodeLuoV1SessionArea(
      Array.from({ length: 819 }, (_, i) => ({ name: `many-test-${i}`, files: 0, count: 0 })),
    );
    assert.equal(okValue(decodeLuoV1SessionArea(full)).sessions[818]!.name, 'many-test-818');
    assert.throws(
      () => encodeLuoV1SessionArea(Array.from({ length: 820 }, () => ({ name: 'x', files: 0, count: 0 }))),
      AbiError,
    );
    const bad = area.slice();
    bad[0] = 0x34; // count 820
    bad[1] = 0x03;
    failsWith(decodeLuoV1SessionArea(bad), 'BAD_VALUE');
    failsWith(decodeLuoV1SessionArea(area.subarray(0, 100)), 'TRUNCATED');
  });

  it('file array: 128 entries of 64 bytes, no header', () => {
    assert.equal(LUO_V1_FILE_MAX, 128);
    const arr = encodeLuoV1FileArray([{ compatible: 'memfd-v1', data: 0x9000, token: 0x1a }]);
    assert.equal(arr.length, 8192);
    const [ref] = ctypes([['luo_file_ser', { compatible: 'memfd-v1', data: 0x9000, token: 0x1a }]]);
    assert.equal(hex(arr.subarray(0, 64)), ref![1]);
    assert.deepEqual(okValue(decodeLuoV1FileArray(arr, 1)), [
      { compatible: 'memfd-v1', data: 0x9000n, token: 0x1an },
    ]);
    failsWith(decodeLuoV1FileArray(arr, 129), 'BAD_VALUE');
    failsWith(decodeLuoV1FileArray(arr.subarray(0, 100), 2), 'TRUNCATED');
    assert.throws(
      () =>
        encodeLuoV1FileArray(
          Array.from({ length: 129 }, () => ({ compatible: 'memfd-v1', data: 0, token: 0 })),
        ),
      AbiError,
    );
  });
});
