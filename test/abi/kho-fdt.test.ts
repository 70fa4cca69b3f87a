import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeLe64Prop,
  decodeStringListProp,
  encodeLe64Prop,
  encodeStringListProp,
  encodeStringProp,
  KHO_FDT_PROP_BLOB_SIZE,
  KHO_FDT_PROP_MEMORY_MAP,
  KHO_FDT_PROP_PRESERVED_DATA,
  KHO_FDT_PROP_SUB_FDT,
  stringListContains,
} from '../../src/abi/kho-fdt.ts';
import {
  KHO_ABI_DEFAULT,
  KHO_ABI_VERSIONS,
  khoAbiVersion,
  khoAbiVersionOfList,
} from '../../src/abi/versions.ts';
import { AbiError } from '../../src/abi/errors.ts';
import { failsWith, hex, okValue } from './abi-helpers.ts';

describe('KHO root FDT property values', () => {
  it('property names', () => {
    assert.equal(KHO_FDT_PROP_MEMORY_MAP, 'preserved-memory-map');
    assert.equal(KHO_FDT_PROP_PRESERVED_DATA, 'preserved-data');
    assert.equal(KHO_FDT_PROP_BLOB_SIZE, 'blob-size');
    assert.equal(KHO_FDT_PROP_SUB_FDT, 'fdt');
  });
  it('scalars are raw little-endian u64, not FDT big-endian cells (golden)', () => {
    assert.equal(hex(encodeLe64Prop(0x1_2345_6000)), '0060452301000000');
    assert.equal(hex(encodeLe64Prop(73)), '4900000000000000');
    assert.equal(okValue(decodeLe64Prop(encodeLe64Prop(2 ** 52))), 2 ** 52);
  });
  it('a scalar must be exactly 8 bytes', () => {
    failsWith(decodeLe64Prop(new Uint8Array(4)), 'BAD_LENGTH');
    failsWith(decodeLe64Prop(new Uint8Array(9)), 'BAD_LENGTH');
    failsWith(decodeLe64Prop(new Uint8Array(0)), 'BAD_LENGTH');
    failsWith(decodeLe64Prop(new Uint8Array(8).fill(0xff)), 'TOO_BIG');
    assert.throws(() => encodeLe64Prop(-1), AbiError);
  });
  it('compatible "kho-v4" is 7 bytes with its NUL', () => {
    assert.equal(hex(encodeStringProp('kho-v4')), '6b686f2d763400');
  });
  it('string lists follow libfdt: NUL-terminated members, an unterminated tail is not a member', () => {
    const b = encodeStringListProp(['foo', 'kho-v3']);
    assert.equal(hex(b), '666f6f00' + '6b686f2d763300');
    assert.deepEqual(decodeStringListProp(b), ['foo', 'kho-v3']);
    assert.equal(stringListContains(b, 'kho-v3'), true);
    assert.equal(stringListContains(b, 'kho-v'), false);
    assert.equal(stringListContains(new TextEncoder().encode('kho-v4'), 'kho-v4'), false);
  });
});

describe('ABI versions (KHO_FDT_COMPATIBLE)', () => {
  it('kho-v1 uses chunks, fdt, no blob-size, finalize', () => {
    assert.deepEqual(khoAbiVersion('kho-v1'), {
      compatible: 'kho-v1',
      version: 1,
      memoryMap: 'chunks',
      subtreeDataProp: 'fdt',
      hasBlobSize: false,
      hasFinalize: true,
      hasKexecMetadata: false,
    });
  });
  it('v2 switches to the radix tree and preserved-data; v3 adds blob-size; v4 is the default', () => {
    const v2 = khoAbiVersion('kho-v2')!;
    assert.equal(v2.memoryMap, 'radix');
    assert.equal(v2.subtreeDataProp, 'preserved-data');
    assert.equal(v2.hasBlobSize, false);
    assert.equal(v2.hasFinalize, false);
    assert.equal(khoAbiVersion('kho-v3')!.hasBlobSize, true);
    assert.equal(KHO_ABI_DEFAULT.compatible, 'kho-v4');
    assert.deepEqual(
      KHO_ABI_VERSIONS.map((v) => v.version),
      [1, 2, 3, 4],
    );
  });
  it('unknown strings are not versions', () => {
    assert.equal(khoAbiVersion('kho-v5'), null);
    assert.equal(khoAbiVersion('KHO-V4'), null);
    assert.equal(khoAbiVersionOfList(['acme,foo', 'kho-v2'])?.version, 2);
    assert.equal(khoAbiVersionOfList([]), null);
  });
});
