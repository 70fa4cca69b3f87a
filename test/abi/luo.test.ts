import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbiError } from '../../src/abi/errors.ts';
import { encodeKhoBlockHeader, buildKhoBlockChain } from '../../src/abi/kho-block.ts';
import { buildKhoVmalloc, walkKhoVmalloc, KHO_VMALLOC_ALLOC } from '../../src/abi/kho-vmalloc.ts';
import {
  decodeLuoFlbPage,
  decodeLuoSer,
  encodeLuoFileSer,
  encodeLuoFlbPage,
  encodeLuoSer,
  encodeLuoSessionSer,
  isLuoAbiCompatible,
  LUO_FILES_PER_BLOCK,
  LUO_FILE_SER_SIZE,
  LUO_FLB_MAX,
  LUO_SER_SIZE,
  LUO_SESSIONS_PER_BLOCK,
  LUO_SESSION_SER_SIZE,
  readLuoFlbPage,
  walkLuoFiles,
  walkLuoSessions,
} from '../../src/abi/luo.ts';
import {
  decodeMemfdFolioArray,
  decodeMemfdLuoSer,
  encodeMemfdFolioArray,
  encodeMemfdLuoSer,
  MEMFD_LUO_FH_COMPATIBLE,
  MEMFD_LUO_FOLIO_DIRTY,
  MEMFD_LUO_FOLIO_UPTODATE,
  F_SEAL_SEAL,
} from '../../src/abi/memfd-luo.ts';
import { khoBlockCapacity } from '../../src/abi/kho-block.ts';
import { ctypes } from './luo-ref.ts';
import { FakeMemory, failsWith, hex, okValue } from './abi-helpers.ts';

/** `s` as hex, NUL-padded to `n` bytes. */
function padHex(s: string, n: number): string {
  return Buffer.from(s)
    .toString('hex')
    .padEnd(n * 2, '0');
}

describe('luo-v5 structures', () => {
  it('sizes and block capacities follow the headers', () => {
    assert.equal(LUO_SER_SIZE, 32);
    assert.equal(LUO_SESSION_SER_SIZE, 80);
    assert.equal(LUO_FILE_SER_SIZE, 64);
    assert.equal(khoBlockCapacity(LUO_SESSION_SER_SIZE), LUO_SESSIONS_PER_BLOCK);
    assert.equal(LUO_SESSIONS_PER_BLOCK, 51);
    assert.equal(khoBlockCapacity(LUO_FILE_SER_SIZE), LUO_FILES_PER_BLOCK);
    assert.equal(LUO_FILES_PER_BLOCK, 63);
    assert.equal(LUO_FLB_MAX, 63);
  });

  it('luo_ser compatible check is strncmp over 8 bytes', () => {
    const c = (s: string): Uint8Array => {
      const b = new Uint8Array(8);
      b.set(Buffer.from(s, 'latin1'));
      return b;
    };
    assert.equal(isLuoAbiCompatible(c('luo-v5')), true);
    assert.equal(isLuoAbiCompatible(c('luo-v5\0X')), true, 'strncmp stops at the NUL');
    assert.equal(isLuoAbiCompatible(c('luo-v4')), false);
    assert.equal(isLuoAbiCompatible(c('luo-v50')), false);
    assert.equal(isLuoAbiCompatible(c('luo-v5ab')), false);
    assert.equal(isLuoAbiCompatible(c('')), false);
    const raw = new Uint8Array(32);
    raw.set(c('luo-v5\0X'));
    const d = okValue(decodeLuoSer(raw));
    assert.equal(d.compatible, 'luo-v5');
    assert.equal(isLuoAbiCompatible(d.compatibleBytes), true);
    failsWith(decodeLuoSer(new Uint8Array(31)), 'TRUNCATED');
  });

  it('encoders reject values that do not fit', () => {
    assert.throws(() => encodeLuoSessionSer({ name: 'x'.repeat(65), files: 0, count: 0 }), AbiError);
    assert.throws(() => encodeLuoFileSer({ compatible: 'c'.repeat(49), data: 0, token: 0 }), AbiError);
    assert.throws(() => encodeLuoFileSer({ compatible: 'memfd-v2', data: 0, token: 1n << 64n }), AbiError);
    assert.throws(() => encodeLuoSer({ liveupdateNum: -1, sessionsPa: 0, flbsPa: 0 }), AbiError);
    // 64 name bytes without a NUL are legal bytes (the kernel never writes them, a hostile image can).
    assert.equal(encodeLuoSessionSer({ name: 'y'.repeat(64), files: 0, count: 0 })[63], 0x79);
  });

  it('FLB page: header {pgcnt, count} and 64-byte entries; count above 63 is BAD_VALUE', () => {
    const page = encodeLuoFlbPage([
      { name: 'liveupdate-test-flb-v0', data: 0x1234n, count: 2 },
      { name: 'iommu-v1', data: 0xffff_ffff_ffff_ffffn, count: 1 },
    ]);
    const [hdr, e0, e1] = ctypes([
      ['luo_flb_header_ser', { pgcnt: 1, count: 2 }],
      ['luo_flb_ser', { name: 'liveupdate-test-flb-v0', data: 0x1234, count: 2 }],
      ['luo_flb_ser', { name: 'iommu-v1', data: 0xffff_ffff_ffff_ffffn, count: 1 }],
    ]);
    assert.deepEqual([hdr![0], e0![0]], [16, 64]);
    assert.equal(hex(page.subarray(0, 16 + 128)), hdr![1] + e0![1] + e1![1]);
    const d = okValue(decodeLuoFlbPage(page));
    assert.deepEqual(d.entries[1], { name: 'iommu-v1', data: 0xffff_ffff_ffff_ffffn, count: 1 });
    const bad = page.slice();
    bad[8] = 64;
    failsWith(decodeLuoFlbPage(bad), 'BAD_VALUE');
    failsWith(decodeLuoFlbPage(new Uint8Array(8)), 'TRUNCATED');
    failsWith(
      readLuoFlbPage(0x5000, () => null),
      'UNREADABLE',
    );
  });
});

/**
 * The first kexec of luo_kexec_simple after a cold boot: two sessions, each with one memfd of
 * one page (4096 bytes, seals F_SEAL_SEAL) holding a short string.
 */
describe('golden: luo_kexec_simple hand-over', () => {
  // Page addresses as an allocator might hand them out above 4 GiB.
  const L = 0x1_0400_0000; // struct luo_ser
  const F = 0x1_0400_1000; // FLB page
  const S = 0x1_0400_2000; // session block
  const A = 0x1_0400_3000; // file block of kexec_simple_state
  const B = 0x1_0400_4000; // file block of test-session
  const MA = 0x1_0400_5000; // memfd_luo_ser of the state memfd
  const CA = 0x1_0400_6000; // its vmalloc chunk
  const FA = 0x1_0400_7000; // its folio array page
  const PFN_A = 0x104100; // its data folio

  it('struct luo_ser', () => {
    const b = encodeLuoSer({ liveupdateNum: 1, sessionsPa: S, flbsPa: F });
    assert.equal(hex(b), '6c756f2d76350000' + '0100000000000000' + '0020000401000000' + '0010000401000000');
    const [ref] = ctypes([
      ['luo_ser', { compatible: 'luo-v5', liveupdate_num: 1, sessions_pa: S, flbs_pa: F }],
    ]);
    assert.deepEqual(ref, [32, hex(b)]);
    assert.deepEqual(okValue(decodeLuoSer(b)), {
      compatible: 'luo-v5',
      compatibleBytes: b.slice(0, 8),
      liveupdateNum: 1n,
      sessionsPa: S,
      flbsPa: F,
    });
    assert.equal(L % 4096, 0);
  });

  it('session block, file blocks, memfd_luo_ser and folio entry, byte for byte', () => {
    const mem = new FakeMemory();
    const sessions = [
      encodeLuoSessionSer({ name: 'kexec_simple_state', files: A, count: 1 }),
      encodeLuoSessionSer({ name: 'test-session', files: B, count: 1 }),
    ];
    const chain = buildKhoBlockChain(LUO_SESSION_SER_SIZE, sessions, () => S);
    assert.equal(chain.head, S);
    const sBlock = chain.blocks[0]!.bytes;
    assert.equal(
      hex(sBlock.subarray(0, 16 + 160)),
      '0000000000000000' +
        '0200000000000000' +
        padHex('kexec_simple_state', 64) +
        '0030000401000000' +
        '0100000000000000' +
        padHex('test-session', 64) +
        '0040000401000000' +
        '0100000000000000',
    );
    assert.ok(sBlock.subarray(176).every((x) => x === 0));
    const fileA = encodeLuoFileSer({ compatible: MEMFD_LUO_FH_COMPATIBLE, data: MA, token: 999 });
    assert.equal(hex(fileA), padHex('memfd-v2', 48) + '0050000401000000' + 'e703000000000000');
    const fileB = encodeLuoFileSer({ compatible: MEMFD_LUO_FH_COMPATIBLE, data: MA + 0x10000, token: 0x1a });
    const aBlock = buildKhoBlockChain(LUO_FILE_SER_SIZE, [fileA], () => A).blocks[0]!.bytes;
    assert.equal(hex(aBlock.subarray(0, 16)), hex(encodeKhoBlockHeader({ next: 0, count: 1 })));

    // The folio array: one entry, pfn | (DIRTY | UPTODATE) << 52, index 0, in one vmalloc page.
    const folios = encodeMemfdFolioArray([
      { pfn: PFN_A, flags: MEMFD_LUO_FOLIO_DIRTY | MEMFD_LUO_FOLIO_UPTODATE, index: 0 },
    ]);
    assert.equal(hex(folios), '0041100000003000' + '0000000000000000');
    const vm = buildKhoVmalloc([FA], 0, KHO_VMALLOC_ALLOC, () => CA);
    const ser = encodeMemfdLuoSer({ pos: 0, size: 4096, seals: F_SEAL_SEAL, nrFolios: 1, folios: vm.desc });
    assert.equal(
      hex(ser),
      '0000000000000000' + // pos
        '0010000000000000' + // size 4096
        '01000000' + // seals: F_SEAL_SEAL
        '00000000' + // flags
        '0100000000000000' + // nr_folios
        '0060000401000000' + // folios.first = chunk page
        '01000000' + // total_pages
        '0100' + // flags: KHO_VMALLOC_ALLOC
        '0000', // order
    );

    // The same structures laid out by ctypes from the C declarations.
    const ref = ctypes([
      ['kho_block_header_ser', { next: 0, count: 2 }],
      ['luo_session_ser', { name: 'kexec_simple_state', file_set_ser: { files: A, count: 1 } }],
      ['luo_session_ser', { name: 'test-session', file_set_ser: { files: B, count: 1 } }],
      ['luo_file_ser', { compatible: 'memfd-v2', data: MA, token: 999 }],
      [
        'memfd_luo_ser',
        {
          pos: 0,
          size: 4096,
          seals: 1,
          flags: 0,
          nr_folios: 1,
          folios: { first: CA, total_pages: 1, flags: 1, order: 0 },
        },
      ],
      ['memfd_luo_folio_ser', { pfn: PFN_A, flags: 3, index: 0 }],
    ]);
    assert.deepEqual(
      ref.map((r) => r[0]),
      [16, 80, 80, 64, 48, 16],
    );
    assert.equal(hex(sBlock.subarray(0, 176)), ref[0]![1] + ref[1]![1] + ref[2]![1]);
    assert.equal(hex(fileA), ref[3]![1]);
    assert.equal(hex(ser), ref[4]![1]);
    assert.equal(hex(folios), ref[5]![1]);

    // And the successor's walk finds it all again.
    mem.write(S, sBlock);
    mem.write(A, aBlock);
    mem.write(B, buildKhoBlockChain(LUO_FILE_SER_SIZE, [fileB], () => B).blocks[0]!.bytes);
    mem.write(MA, ser);
    for (const c of vm.chunks) mem.write(c.phys, c.bytes);
    mem.write(FA, folios);
    const ss = okValue(walkLuoSessions(S, mem.read));
    assert.deepEqual(ss.blocks, [S]);
    assert.deepEqual(
      ss.entries.map((s) => [s.name, s.files, s.count]),
      [
        ['kexec_simple_state', A, 1],
        ['test-session', B, 1],
      ],
    );
    const fa = okValue(walkLuoFiles(A, mem.read)).entries;
    assert.deepEqual(fa, [{ compatible: 'memfd-v2', data: BigInt(MA), token: 999n }]);
    assert.equal(okValue(walkLuoFiles(B, mem.read)).entries[0]!.token, 0x1an);
    const m = okValue(decodeMemfdLuoSer(mem.read(Number(fa[0]!.data), 48)!));
    assert.deepEqual([m.pos, m.size, m.seals, m.flags, m.nrFolios], [0, 4096, 1, 0, 1]);
    const pieces = okValue(walkKhoVmalloc(m.folios, mem.read)).pieces;
    assert.deepEqual(pieces, [FA]);
    assert.deepEqual(okValue(decodeMemfdFolioArray(mem.read(FA, 16)!, 1)), [
      { pfn: PFN_A, flags: 3, index: 0 },
    ]);
  });

  it('session and file chains spill into new blocks at 51 and 63 entries', () => {
    let next = 0x20_0000;
    const alloc = (): number => (next += 0x1000);
    const sessions = Array.from({ length: 103 }, (_, i) =>
      encodeLuoSessionSer({ name: `many-test-${i}`, files: 0, count: 0 }),
    );
    const chain = buildKhoBlockChain(LUO_SESSION_SER_SIZE, sessions, alloc);
    assert.equal(chain.blocks.length, 3);
    const mem = new FakeMemory();
    for (const b of chain.blocks) mem.write(b.phys, b.bytes);
    const w = okValue(walkLuoSessions(chain.head, mem.read));
    assert.equal(w.entries.length, 103);
    assert.equal(w.entries[102]!.name, 'many-test-102');
    assert.deepEqual(
      chain.blocks.map((b) => new DataView(b.bytes.buffer).getUint32(8, true)),
      [51, 51, 1],
    );
    const files = Array.from({ length: 64 }, (_, i) =>
      encodeLuoFileSer({ compatible: 'memfd-v2', data: 0, token: i }),
    );
    assert.equal(buildKhoBlockChain(LUO_FILE_SER_SIZE, files, alloc).blocks.length, 2);
    // A corrupt count in a file block fails the walk as kho_block_set_restore() does.
    const bad = chain.blocks[1]!.bytes.slice();
    bad[8] = 52;
    mem.write(chain.blocks[1]!.phys, bad);
    failsWith(walkLuoSessions(chain.head, mem.read), 'BAD_VALUE');
  });
});
