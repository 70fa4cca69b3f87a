import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildBlob, readTree } from '../../src/fdt/convert.ts';
import {
  buildMemblockTree,
  decodeMemblockTree,
  MEMBLOCK_KHO_FDT,
  MEMBLOCK_KHO_NODE_COMPATIBLE,
  RESERVE_MEM_KHO_NODE_COMPATIBLE,
} from '../../src/abi/memblock-reserve-mem.ts';
import {
  buildTestKhoTree,
  decodeFolioInfo,
  decodeTestKhoTree,
  encodeFolioInfo,
  KHO_TEST_COMPAT,
  KHO_TEST_FDT,
  KHO_TEST_MAGIC,
} from '../../src/abi/test-kho.ts';
import { encodeLe64Prop } from '../../src/abi/kho-fdt.ts';
import { AbiError } from '../../src/abi/errors.ts';
import { failsWith, hex, okValue } from './abi-helpers.ts';

const HAVE_FDTGET = spawnSync('fdtget', ['--help'], { encoding: 'utf8' }).error === undefined;

/** `fdtget -t bx` of one property, via the reference tool. */
function fdtget(blob: Uint8Array, node: string, prop: string, type = 'bx'): string {
  const dir = mkdtempSync(join(tmpdir(), 'kho-abi-'));
  try {
    const file = join(dir, 'sub.dtb');
    writeFileSync(file, blob);
    const r = spawnSync('fdtget', ['-t', type, file, node, prop], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const RECORDS = [
  { name: 'oops', start: 0x1_2340_0000, size: 0xc0_0000 },
  { name: 'trace', start: 0x8000_0000, size: 0x10_0000 },
];

describe('memblock reserve_mem sub-tree', () => {
  it('names and compatibles', () => {
    assert.equal(MEMBLOCK_KHO_FDT, 'memblock');
    assert.equal(MEMBLOCK_KHO_NODE_COMPATIBLE, 'memblock-v1');
    assert.equal(RESERVE_MEM_KHO_NODE_COMPATIBLE, 'reserve-mem-v1');
  });
  it('builds root compatible then one child per record: compatible, start, size', () => {
    const t = buildMemblockTree(RECORDS);
    assert.deepEqual(
      t.root.props.map((p) => p.name),
      ['compatible'],
    );
    assert.deepEqual(
      t.root.children.map((c) => [c.name, c.props.map((p) => p.name)]),
      [
        ['oops', ['compatible', 'start', 'size']],
        ['trace', ['compatible', 'start', 'size']],
      ],
    );
    assert.equal(hex(t.root.children[0]!.props[1]!.value), '0000402301000000');
    assert.equal(hex(t.root.children[0]!.props[2]!.value), '0000c00000000000');
  });
  it('round-trips through the FDT writer and reader', () => {
    const blob = buildBlob(buildMemblockTree(RECORDS));
    assert.deepEqual(okValue(decodeMemblockTree(readTree(blob))), { records: RECORDS, rejected: [] });
  });
  it('matches what fdtget reads (start/size are raw LE bytes)', { skip: !HAVE_FDTGET }, () => {
    const blob = buildBlob(buildMemblockTree(RECORDS));
    assert.equal(fdtget(blob, '/', 'compatible', 's'), 'memblock-v1');
    assert.equal(fdtget(blob, '/oops', 'compatible', 's'), 'reserve-mem-v1');
    assert.equal(fdtget(blob, '/oops', 'start'), '0 0 40 23 1 0 0 0');
    assert.equal(fdtget(blob, '/trace', 'size'), '0 0 10 0 0 0 0 0');
  });
  it('rejects a wrong root and reports bad children one by one', () => {
    const t = buildMemblockTree(RECORDS);
    const bad = structuredClone(t);
    bad.root.props[0]!.value = new TextEncoder().encode('memblock-v2\0');
    failsWith(decodeMemblockTree(bad), 'BAD_MAGIC');
    const mixed = structuredClone(t);
    mixed.root.children[0]!.props[1]!.value = new Uint8Array(4);
    mixed.root.children.push({
      name: 'x',
      props: [{ name: 'start', value: encodeLe64Prop(0) }],
      children: [],
    });
    const r = okValue(decodeMemblockTree(mixed));
    assert.deepEqual(r.records, [RECORDS[1]]);
    assert.deepEqual(
      r.rejected.map((x) => x.name),
      ['oops', 'x'],
    );
  });
});

describe('test_kho sub-tree', () => {
  const STATE = {
    nrFolios: 42,
    foliosInfo: { first: 0x1_0000_0000, totalPages: 1, flags: 1, order: 0 },
    csum: 0xdead_beef,
  };
  it('constants', () => {
    assert.equal(KHO_TEST_FDT, 'kho_test');
    assert.equal(KHO_TEST_COMPAT, 'kho-test-v1');
    assert.equal(KHO_TEST_MAGIC, 0x4b484f21);
  });
  it('lays out / {compatible, magic; data {nr_folios, folios_info, csum}} (golden values)', () => {
    const t = buildTestKhoTree(STATE);
    assert.deepEqual(
      t.root.props.map((p) => [p.name, hex(p.value)]),
      [
        ['compatible', '6b686f2d746573742d763100'],
        ['magic', '214f484b'],
      ],
    );
    assert.deepEqual(
      t.root.children[0]!.props.map((p) => [p.name, hex(p.value)]),
      [
        ['nr_folios', '2a000000'],
        ['folios_info', '0000000001000000' + '01000000' + '0100' + '0000'],
        ['csum', 'efbeadde'],
      ],
    );
  });
  it('round-trips through the FDT writer and reader', () => {
    const blob = buildBlob(buildTestKhoTree(STATE));
    assert.deepEqual(okValue(decodeTestKhoTree(readTree(blob))), STATE);
  });
  it('matches what fdtget reads', { skip: !HAVE_FDTGET }, () => {
    const blob = buildBlob(buildTestKhoTree(STATE));
    assert.equal(fdtget(blob, '/', 'compatible', 's'), 'kho-test-v1');
    // The LE u32 reads back byte-swapped as a big-endian cell.
    assert.equal(fdtget(blob, '/', 'magic', 'x'), '214f484b');
    assert.equal(fdtget(blob, '/data', 'nr_folios', 'x'), '2a000000');
  });
  it('restore checks: compatible, magic, lengths', () => {
    const wrongMagic = buildTestKhoTree(STATE, 0x12345678);
    failsWith(decodeTestKhoTree(wrongMagic), 'BAD_MAGIC');
    const wrongCompat = buildTestKhoTree(STATE);
    wrongCompat.root.props[0]!.value = new TextEncoder().encode('kho-test-v2\0');
    failsWith(decodeTestKhoTree(wrongCompat), 'BAD_MAGIC');
    const shortCsum = buildTestKhoTree(STATE);
    shortCsum.root.children[0]!.props[2]!.value = new Uint8Array(2);
    failsWith(decodeTestKhoTree(shortCsum), 'BAD_LENGTH');
    const noData = buildTestKhoTree(STATE);
    noData.root.children = [];
    failsWith(decodeTestKhoTree(noData), 'BAD_VALUE');
  });
  it('folios_info entries are phys | order', () => {
    assert.equal(encodeFolioInfo(0x1_2345_6000, 10), 0x1_2345_600a);
    assert.deepEqual(decodeFolioInfo(0x1_2345_600a), { phys: 0x1_2345_6000, order: 10 });
    assert.throws(() => encodeFolioInfo(0x1001, 0), AbiError);
    assert.throws(() => encodeFolioInfo(0x1000, 4096), AbiError);
  });
});
