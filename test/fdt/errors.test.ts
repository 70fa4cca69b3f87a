import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildBlob } from '../../src/fdt/convert.ts';
import { FDT_ERRORS, FdtError, type FdtErrorName } from '../../src/fdt/errors.ts';
import { checkFdt, Fdt, readTree } from '../../src/fdt/reader.ts';
import { hex, libfdt } from '../helpers/fdt-libfdt.ts';

/*
 * The base blob, byte by byte (buildBlob = libfdt sequential write):
 *   0 header | 48 reservation terminator | 64 BEGIN_NODE "" | 72 PROP len 4 "a" <1>
 *   88 BEGIN_NODE "n" | 96 PROP len 0 "b" | 108 END_NODE | 112 END_NODE | 116 END
 *   120 strings "b\0a\0" (reverse order of first use) | totalsize 124
 */
const BASE = buildBlob({
  version: 17,
  lastCompVersion: 16,
  bootCpuidPhys: 0,
  memreserve: [],
  root: {
    name: '',
    props: [{ name: 'a', value: new Uint8Array([0, 0, 0, 1]) }],
    children: [{ name: 'n', props: [{ name: 'b', value: new Uint8Array() }], children: [] }],
  },
});

function patch(edits: [number, number][], length = BASE.length): Uint8Array {
  const b = new Uint8Array(length);
  b.set(BASE.subarray(0, Math.min(length, BASE.length)));
  const dv = new DataView(b.buffer);
  for (const [off, v] of edits) dv.setUint32(off, v);
  return b;
}

/** BASE with one structure word inserted at absolute offset `at` (header sizes follow). */
function insertWord(at: number, word: number): Uint8Array {
  const b = new Uint8Array(BASE.length + 4);
  b.set(BASE.subarray(0, at));
  b.set(BASE.subarray(at), at + 4);
  const dv = new DataView(b.buffer);
  dv.setUint32(at, word);
  for (const field of [4, 12, 36]) dv.setUint32(field, dv.getUint32(field) + 4); // totalsize, strings, struct size
  return b;
}
const NOP = 4;

/** [what, blob, our error, offset, libfdt's fdt_check_full error or null when libfdt accepts it] */
const CASES: [string, Uint8Array, FdtErrorName, number, FdtErrorName | null][] = [
  ['buffer shorter than a header', BASE.slice(0, 20), 'FDT_ERR_TRUNCATED', 20, 'FDT_ERR_TRUNCATED'],
  ['bad magic', patch([[0, 0xd00dfeee]]), 'FDT_ERR_BADMAGIC', 0, 'FDT_ERR_BADMAGIC'],
  ['version 15', patch([[20, 15]]), 'FDT_ERR_BADVERSION', 20, 'FDT_ERR_BADVERSION'],
  [
    'last_comp_version 18',
    patch([
      [20, 18],
      [24, 18],
    ]),
    'FDT_ERR_BADVERSION',
    24,
    'FDT_ERR_BADVERSION',
  ],
  [
    'version below last_comp_version',
    patch([
      [20, 16],
      [24, 17],
    ]),
    'FDT_ERR_BADVERSION',
    20,
    'FDT_ERR_BADVERSION',
  ],
  ['totalsize beyond the buffer', patch([[4, 125]]), 'FDT_ERR_TRUNCATED', 4, 'FDT_ERR_TRUNCATED'],
  ['totalsize below the header', patch([[4, 39]]), 'FDT_ERR_TRUNCATED', 4, 'FDT_ERR_TRUNCATED'],
  ['reservation map past totalsize', patch([[16, 128]]), 'FDT_ERR_TRUNCATED', 16, 'FDT_ERR_TRUNCATED'],
  ['structure block past totalsize', patch([[36, 61]]), 'FDT_ERR_TRUNCATED', 8, 'FDT_ERR_TRUNCATED'],
  ['structure size wraps', patch([[36, 0xffffffff]]), 'FDT_ERR_TRUNCATED', 8, 'FDT_ERR_TRUNCATED'],
  ['strings block past totalsize', patch([[32, 5]]), 'FDT_ERR_TRUNCATED', 12, 'FDT_ERR_TRUNCATED'],
  ['misaligned reservation map', patch([[16, 44]]), 'FDT_ERR_ALIGNMENT', 16, null],
  [
    'misaligned structure block',
    patch([
      [8, 66],
      [36, 54],
    ]),
    'FDT_ERR_ALIGNMENT',
    8,
    'FDT_ERR_BADSTRUCTURE',
  ],
  [
    'reservation list without terminator',
    patch([
      [56, 1],
      [60, 1],
    ]),
    'FDT_ERR_TRUNCATED',
    64,
    'FDT_ERR_TRUNCATED',
  ],
  ['unknown token', patch([[96, 7]]), 'FDT_ERR_BADSTRUCTURE', 96, 'FDT_ERR_BADSTRUCTURE'],
  ['structure ends before END', patch([[36, 52]]), 'FDT_ERR_TRUNCATED', 116, 'FDT_ERR_TRUNCATED'],
  ['END inside a node', patch([[112, 9]]), 'FDT_ERR_BADSTRUCTURE', 112, 'FDT_ERR_BADSTRUCTURE'],
  ['END_NODE outside any node', patch([[116, 2]]), 'FDT_ERR_BADSTRUCTURE', 116, 'FDT_ERR_BADSTRUCTURE'],
  ['root node with a name', patch([[68, 0x72000000]]), 'FDT_ERR_BADSTRUCTURE', 68, 'FDT_ERR_BADSTRUCTURE'],
  [
    'property after a subnode',
    patch([
      [96, 2],
      [100, 3],
      [104, 0],
      [108, 0],
    ]),
    'FDT_ERR_BADSTRUCTURE',
    100,
    null,
  ],
  [
    'property name offset outside the strings',
    patch([[80, 4]]),
    'FDT_ERR_BADOFFSET',
    80,
    'FDT_ERR_BADOFFSET',
  ],
  [
    'property length past the structure block',
    patch([[76, 0x1000]]),
    'FDT_ERR_BADSTRUCTURE',
    76,
    'FDT_ERR_BADSTRUCTURE',
  ],
  [
    'node name runs past the structure block',
    patch([
      [92, 0x6e6e6e6e],
      [36, 32],
    ]),
    'FDT_ERR_BADSTRUCTURE',
    92,
    'FDT_ERR_BADSTRUCTURE',
  ],
  [
    'strings block overlaps the structure',
    patch([
      [12, 116],
      [32, 8],
    ]),
    'FDT_ERR_BADLAYOUT',
    116,
    null,
  ],
  ['reservation map overlaps the structure', patch([[16, 64]]), 'FDT_ERR_BADLAYOUT', 64, 'FDT_ERR_TRUNCATED'],
  [
    "FDT_NOP between the root's END_NODE and END",
    insertWord(116, NOP),
    'FDT_ERR_BADSTRUCTURE',
    116,
    'FDT_ERR_BADSTRUCTURE',
  ],
];

/** NOPs that libfdt accepts, and so do we: before the root, between properties, before END_NODE. */
const NOP_OK: [string, Uint8Array][] = [
  ['NOP before the root', insertWord(64, NOP)],
  ['NOP between a property and a subnode', insertWord(88, NOP)],
  ['NOP before an END_NODE', insertWord(108, NOP)],
];

test('each FdtError code on a hand-made bad blob, at the expected offset', () => {
  for (const [what, blob, code, offset] of CASES) {
    assert.throws(
      () => {
        checkFdt(blob);
      },
      (e: unknown) => {
        assert.ok(e instanceof FdtError, `${what}: not an FdtError: ${String(e)}`);
        assert.equal(e.code, code, `${what}: ${e.message}`);
        assert.equal(e.offset, offset, `${what}: ${e.message}`);
        assert.equal(e.errno, FDT_ERRORS[code]);
        return true;
      },
      what,
    );
  }
});

test('libfdt (fdt_check_full) on the same blobs: same code, except where we are stricter (null = libfdt accepts)', () => {
  const ref = libfdt(CASES.map(([, blob]) => ({ kind: 'read' as const, blob: hex(blob) })));
  CASES.forEach(([what, , , , lib], i) => {
    const got = ref[i]!.err;
    assert.equal(
      got === undefined
        ? null
        : (Object.keys(FDT_ERRORS) as FdtErrorName[]).find((k) => FDT_ERRORS[k] === got),
      lib,
      what,
    );
  });
});

test('NOPs where fdt_check_full accepts them: we read the base tree', () => {
  const ref = libfdt(NOP_OK.map(([, blob]) => ({ kind: 'check' as const, blob: hex(blob) })));
  NOP_OK.forEach(([what, blob], i) => {
    assert.equal(ref[i]!.err, undefined, what);
    assert.deepEqual(readTree(blob), readTree(BASE), what);
  });
});

test('the base blob and a v16 variant are fine; a bigger buffer than totalsize is fine', () => {
  checkFdt(BASE);
  assert.deepEqual(readTree(patch([], 200)), readTree(BASE));
  const f = new Fdt(BASE);
  assert.equal(f.nodeCount, 2);
  assert.equal(f.pathOffset('/n'), 24);
});

test('non-Uint8Array input fails as FdtError', () => {
  assert.throws(() => new Fdt('x' as unknown as Uint8Array), FdtError);
  assert.throws(() => buildBlob(null as unknown as Parameters<typeof buildBlob>[0]), FdtError);
  assert.throws(
    () =>
      buildBlob({
        version: 17,
        lastCompVersion: 16,
        bootCpuidPhys: 0,
        memreserve: [],
        root: { name: '', props: [{ name: 'x', value: [1] as unknown as Uint8Array }], children: [] },
      }),
    FdtError,
  );
  const f = new Fdt(BASE);
  assert.throws(() => f.pathOffset(3 as unknown as string), FdtError);
  assert.throws(() => f.subnode(f.root(), null as unknown as string), FdtError);
  assert.throws(() => f.getprop(f.root(), {} as unknown as string), FdtError);
  assert.throws(() => f.children(-4), FdtError);
  assert.throws(() => f.propertyValue(1.5), FdtError);
  assert.throws(() => f.nextProperty(0), FdtError); // a node, not a property
  const loop = { name: 'a', props: [], children: [] as unknown[] };
  loop.children.push(loop);
  assert.throws(
    () =>
      buildBlob({
        version: 17,
        lastCompVersion: 16,
        bootCpuidPhys: 0,
        memreserve: [],
        root: { name: '', props: [], children: [loop as never] },
      }),
    FdtError,
  );
});
