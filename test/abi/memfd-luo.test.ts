import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbiError } from '../../src/abi/errors.ts';
import {
  decodeMemfdFolioArray,
  decodeMemfdFolioSer,
  decodeMemfdLuoSer,
  encodeMemfdFolioSer,
  encodeMemfdLuoSer,
  MEMFD_LUO_ALL_SEALS,
  MEMFD_LUO_MAX_PFN,
  memfdLuoVersion,
  sealsText,
} from '../../src/abi/memfd-luo.ts';
import { ctypes } from './luo-ref.ts';
import { failsWith, hex, okValue } from './abi-helpers.ts';

const folios = { first: 0x7654_3000, totalPages: 3, flags: 1, order: 0 };

describe('memfd_luo_ser', () => {
  it('memfd-v2 (48 bytes, seals) and memfd-v1 (40 bytes) match the C layout', () => {
    const v2 = encodeMemfdLuoSer({ pos: 5, size: 0x2800, seals: 0x3f, nrFolios: 3, folios });
    const v1 = encodeMemfdLuoSer({ pos: 5, size: 0x2800, nrFolios: 3, folios }, 'memfd-v1');
    const desc = { first: folios.first, total_pages: 3, flags: 1, order: 0 };
    const [r2, r1] = ctypes([
      ['memfd_luo_ser', { pos: 5, size: 0x2800, seals: 0x3f, flags: 0, nr_folios: 3, folios: desc }],
      ['memfd_luo_ser_v1', { pos: 5, size: 0x2800, nr_folios: 3, folios: desc }],
    ]);
    assert.deepEqual(r2, [48, hex(v2)]);
    assert.deepEqual(r1, [40, hex(v1)]);
    assert.deepEqual(okValue(decodeMemfdLuoSer(v2)), {
      pos: 5,
      size: 0x2800,
      seals: 0x3f,
      flags: 0,
      nrFolios: 3,
      folios,
    });
    assert.deepEqual(okValue(decodeMemfdLuoSer(v1, 'memfd-v1')), {
      pos: 5,
      size: 0x2800,
      seals: 0,
      flags: 0,
      nrFolios: 3,
      folios,
    });
    failsWith(decodeMemfdLuoSer(v1), 'TRUNCATED');
    assert.throws(
      () => encodeMemfdLuoSer({ pos: 0, size: 0, seals: 1, nrFolios: 0, folios }, 'memfd-v1'),
      AbiError,
    );
  });

  it('folio entry: pfn in bits 0-51, flags in bits 52-63 (the C bitfield), index', () => {
    const cases = [
      { pfn: 0x104100, flags: 3, index: 0 },
      { pfn: MEMFD_LUO_MAX_PFN, flags: 0xfff, index: 2 ** 53 - 1 },
      { pfn: 0x1_2345_6789, flags: 1, index: 262_143 },
    ];
    const ref = ctypes(cases.map((c) => ['memfd_luo_folio_ser', { ...c, index: BigInt(c.index) }]));
    cases.forEach((c, i) => {
      assert.deepEqual(ref[i], [16, hex(encodeMemfdFolioSer(c))]);
      assert.deepEqual(okValue(decodeMemfdFolioSer(encodeMemfdFolioSer(c))), c);
    });
    assert.throws(() => encodeMemfdFolioSer({ pfn: 2 ** 52, flags: 0, index: 0 }), AbiError);
    assert.throws(() => encodeMemfdFolioSer({ pfn: 1, flags: 0x1000, index: 0 }), AbiError);
    assert.throws(() => encodeMemfdFolioSer({ pfn: 1, flags: 0, index: -1 }), AbiError);
    const huge = new Uint8Array(16).fill(0xff);
    failsWith(decodeMemfdFolioSer(huge), 'TOO_BIG');
    failsWith(decodeMemfdFolioArray(new Uint8Array(31), 2), 'TRUNCATED');
  });

  it('seal and version names', () => {
    assert.equal(MEMFD_LUO_ALL_SEALS, 0x3f);
    assert.equal(sealsText(0), '0');
    assert.equal(sealsText(0x1), 'SEAL');
    assert.equal(sealsText(0x0e), 'SHRINK|GROW|WRITE');
    assert.equal(sealsText(0x41), 'SEAL|0x40');
    assert.equal(memfdLuoVersion('memfd-v2'), 'memfd-v2');
    assert.equal(memfdLuoVersion('memfd-v1'), 'memfd-v1');
    assert.equal(memfdLuoVersion('memfd-v3'), null);
  });
});
