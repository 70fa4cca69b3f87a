import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  KHO_BITMAP_SIZE_LOG2,
  KHO_ORDER_0_LOG2,
  KHO_TABLE_SIZE_LOG2,
  KHO_TREE_MAX_DEPTH,
  KhoRadixError,
  decodeKey,
  decodeLeaf,
  decodeNode,
  encodeKey,
  encodeLeaf,
  encodeNode,
  keyFls,
  keyFromPath,
  keyOrder,
  keyPath,
  leafBit,
  leafBitLocation,
  levelIndex,
  nodeEntryOffset,
} from '../../src/abi/kho-radix.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300);

test('constants match include/linux/kho/abi/kexec_handover.h for 4 KiB pages', () => {
  assert.equal(KHO_ORDER_0_LOG2, 52);
  assert.equal(KHO_TABLE_SIZE_LOG2, 9);
  assert.equal(KHO_BITMAP_SIZE_LOG2, 15);
  assert.equal(KHO_TREE_MAX_DEPTH, 6);
  assert.equal(Math.ceil((KHO_ORDER_0_LOG2 - KHO_BITMAP_SIZE_LOG2) / KHO_TABLE_SIZE_LOG2) + 1, 6);
});

// Worked examples of kho_radix_encode_key(): pa, order, key, [L5..L1], leaf bit.
const EXAMPLES: [number, number, bigint, number[], number][] = [
  [0x1000, 0, 0x0010000000000001n, [2, 0, 0, 0, 0], 1],
  [0x1_0000_0000, 0, 0x0010000000100000n, [2, 0, 0, 0, 32], 0],
  [0x1234_5000, 0, 0x0010000000012345n, [2, 0, 0, 0, 2], 9029],
  [0x4000_0000, 1, 0x0008000000020000n, [1, 0, 0, 0, 4], 0],
  [0x20_0000, 9, 0x0000080000000001n, [0, 2, 0, 0, 0], 1],
  [0x4000_0000, 9, 0x0000080000000200n, [0, 2, 0, 0, 0], 512],
  [0x8000_0000, 18, 0x0000000400000002n, [0, 0, 2, 0, 0], 2],
];

for (const [pa, order, key, levels, bit] of EXAMPLES) {
  test(`worked example pa=0x${pa.toString(16)} order ${order}`, () => {
    const k = encodeKey(pa, order);
    assert.equal(BigInt(k), key);
    assert.deepEqual(keyPath(k), { levels, bit });
    for (let level = 5; level >= 1; level--) assert.equal(levelIndex(k, level), levels[5 - level]);
    assert.equal(leafBit(k), bit);
    // Cross-check against the C formula done in BigInt.
    const big = (1n << BigInt(52 - order)) | (BigInt(pa) >> BigInt(12 + order));
    assert.equal(BigInt(k), big);
    for (let level = 1; level <= 5; level++) {
      assert.equal(BigInt(levelIndex(k, level)), (big >> BigInt(15 + 9 * (level - 1))) & 511n);
    }
    assert.deepEqual(decodeKey(k), { phys: pa, order });
    assert.equal(keyFromPath(levels, bit), k);
  });
}

test('encode discards address bits below the block size', () => {
  assert.equal(encodeKey(0x20_0000 + 0x1234, 9), encodeKey(0x20_0000, 9));
  assert.equal(encodeKey(0x1fff, 0), encodeKey(0x1000, 0));
});

test('order bit ranges: keys of order o lie in [2^(52-o), 2^(53-o))', () => {
  for (let o = 0; o <= 52; o++) {
    const k = encodeKey(0, o);
    assert.equal(k, 2 ** (52 - o));
    assert.equal(keyOrder(k), o);
    assert.equal(keyFls(k), 53 - o);
  }
  // Highest order-0 key for a 2^52-byte machine.
  assert.equal(keyOrder(encodeKey(2 ** 52 - 4096, 0)), 0);
});

test('decode(encode) round trip over orders 0..52 and aligned addresses < 2^52', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 52 }), fc.double({ min: 0, max: 1, noNaN: true }), (order, f) => {
      const blocks = order <= 40 ? 2 ** (40 - order) : 1;
      const index = Math.min(blocks - 1, Math.floor(f * blocks));
      const pa = index * 2 ** (12 + order);
      const key = encodeKey(pa, order);
      assert.ok(key >= 2 ** (52 - order) && key < 2 ** (53 - order));
      assert.deepEqual(decodeKey(key), { phys: pa, order });
      // Path round trip and the BigInt reference.
      const path = keyPath(key);
      assert.equal(keyFromPath(path.levels, path.bit), key);
      const big = (1n << BigInt(52 - order)) | (BigInt(pa) >> BigInt(12 + order));
      assert.equal(BigInt(key), big);
      assert.equal(BigInt(path.bit), big & 0x7fffn);
    }),
    { numRuns: RUNS },
  );
});

test('decode matches the BigInt reference for any key in [1, 2^53)', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: (1n << 53n) - 1n }), (big) => {
      const key = Number(big);
      let fls = 0;
      while (big >> BigInt(fls) !== 0n) fls++;
      const order = 52 - fls + 1;
      const pa = (big << BigInt(12 + order)) & ((1n << 64n) - 1n);
      assert.deepEqual(decodeKey(key), { phys: Number(pa), order });
    }),
    { numRuns: RUNS },
  );
});

test('bad inputs fail with KhoRadixError carrying an errno', () => {
  const bad: (() => unknown)[] = [
    () => encodeKey(0x1000, 53),
    () => encodeKey(0x1000, -1),
    () => encodeKey(0x1000, 1.5),
    () => encodeKey(-4096, 0),
    () => encodeKey(Number.NaN, 0),
    () => encodeKey(2 ** 60, 0),
    () => decodeKey(0),
    () => decodeKey(2 ** 53),
    () => decodeKey(-1),
    () => levelIndex(1, 6),
    () => levelIndex(1, 0),
    () => keyFromPath([4, 0, 0, 0, 0], 0),
    () => keyFromPath([0, 0, 0, 0], 0),
    () => keyFromPath([0, 0, 0, 0, 512], 0),
    () => keyFromPath([0, 0, 0, 0, 0], 32768),
    () => decodeNode(new Uint8Array(100)),
    () => decodeLeaf(new Uint8Array(4097)),
    () => encodeNode([[512, 0]]),
    () => encodeNode([[0, -1]]),
    () => encodeLeaf([32768]),
  ];
  for (const f of bad) {
    assert.throws(f, (e: unknown) => e instanceof KhoRadixError && (e.errno === 22 || e.errno === 34));
  }
  assert.throws(() => decodeKey(0), { code: 'ERANGE', errno: 34 });
  assert.throws(() => encodeKey(0, 53), { code: 'EINVAL', errno: 22 });
});

test('node layout: entry i is an LE64 at byte 8·i', () => {
  const bytes = encodeNode([
    [2, 0x1234_5678_9000],
    [511, 0x1000],
  ]);
  assert.equal(nodeEntryOffset(2), 16);
  assert.deepEqual([...bytes.subarray(16, 24)], [0x00, 0x90, 0x78, 0x56, 0x34, 0x12, 0, 0]);
  assert.deepEqual([...bytes.subarray(4088, 4096)], [0x00, 0x10, 0, 0, 0, 0, 0, 0]);
  const entries = decodeNode(bytes);
  assert.equal(entries.length, 512);
  assert.equal(entries[2], 0x1234_5678_9000);
  assert.equal(entries[511], 0x1000);
  assert.equal(entries.filter((e) => e !== 0).length, 2);
  // A hostile entry beyond 2^53 decodes as a bigint, not a wrong number.
  bytes.fill(0xff, 0, 8);
  assert.equal(decodeNode(bytes)[0], 0xffff_ffff_ffff_ffffn);
});

test('leaf layout: bit i is bit i%64 of LE64 word i/64', () => {
  const bits = [0, 1, 63, 64, 9029, 32767];
  const bytes = encodeLeaf(bits);
  const view = new DataView(bytes.buffer);
  for (const bit of bits) {
    const loc = leafBitLocation(bit);
    const word = view.getBigUint64(loc.word * 8, true);
    assert.equal((word >> BigInt(loc.bitInWord)) & 1n, 1n, `bit ${bit}`);
    assert.equal((bytes[loc.byteOffset]! >> loc.bitInByte) & 1, 1);
  }
  assert.equal(bytes[0], 0b11);
  assert.equal(bytes[7], 0x80); // bit 63 = top bit of word 0
  assert.equal(bytes[8], 0x01); // bit 64 = bit 0 of word 1
  assert.equal(bytes[4095], 0x80);
  assert.deepEqual(decodeLeaf(bytes), bits);
});
