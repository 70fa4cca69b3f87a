/**
 * Golden comparison: toDts(readTree(blob)) must equal `dtc -I dtb -O dts blob` (dtc 1.6.1)
 * byte for byte, for a seeded random corpus and hand-made edge cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBlob } from '../../src/fdt/convert.ts';
import { toDts } from '../../src/fdt/dts.ts';
import { readTree } from '../../src/fdt/reader.ts';
import type { FdtNode, FdtProperty, FdtTree } from '../../src/fdt/tree.ts';
import { dtcCompile, dtcDecompileAll } from '../fixtures/fdt/dtc.ts';
import { randomTree } from '../fixtures/fdt/random-tree.ts';

const CORPUS = Math.max(300, Number(process.env['FUZZ_RUNS'] ?? 0));

const enc = new TextEncoder();
const str = (...parts: string[]): Uint8Array => enc.encode(parts.map((p) => `${p}\0`).join(''));
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const prop = (name: string, value: Uint8Array): FdtProperty => ({ name, value });
const node = (name: string, props: FdtProperty[] = [], children: FdtNode[] = []): FdtNode => ({
  name,
  props,
  children,
});
const tree = (root: FdtNode, memreserve: FdtTree['memreserve'] = []): FdtTree => ({
  version: 17,
  lastCompVersion: 16,
  bootCpuidPhys: 0,
  memreserve,
  root,
});
const le64 = (x: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, x, true);
  return b;
};

function deep(levels: number): FdtNode {
  let n = node(`level@${levels}`, [prop('depth', bytes(0, 0, 0, levels))]);
  for (let i = levels - 1; i >= 1; i--) n = node(`level@${i}`, [prop('depth', bytes(0, 0, 0, i))], [n]);
  return node('', [], [n]);
}

/** Hand-made trees, each aimed at one dtc rule. */
const EDGE_TREES: Record<string, FdtTree> = {
  'empty root': tree(node('')),
  'deep nesting (64 levels)': tree(deep(64)),
  'long names': tree(
    node('', [prop(`p${'x'.repeat(300)}`, str('v'))], [node(`n${'y'.repeat(500)}@${'f'.repeat(16)}`)]),
  ),
  'unit addresses': tree(node('', [], [node('a@0'), node('b@1,2'), node('c@ffffffff,ffffffff'), node('d@')])),
  'empty properties': tree(
    node('', [prop('e', bytes()), prop('f', bytes())], [node('x', [prop('g', bytes())])]),
  ),
  'string lists': tree(
    node('', [
      prop('one', str('a')),
      prop('two', str('a', 'b')),
      prop('with-empty', str('a', '', 'b')),
      prop('trailing-empty', str('ab', '')),
      prop('leading-empty', str('', 'ab')),
      prop('only-empties', str('', '', '')),
    ]),
  ),
  'memreserve entries': tree(node(''), [
    { address: 0n, size: 1n },
    { address: 0x1234_5678_9abc_def0n, size: 0xffff_ffff_ffff_ffffn },
    { address: 0xffff_ffff_ffff_f000n, size: 0x1000n },
  ]),
  'escapes and controls': tree(
    node('', [
      prop('esc', str('\x07\b\t\n\v\f\r"\\')),
      prop('esc-only', str('\t')),
      prop('del', str('a\x7fb')),
      prop('esc-1b', str('a\x1bb')),
      prop('nul-in-middle', bytes(0x61, 0, 0x62, 0)),
      prop('half-nul', bytes(0x61, 0, 0, 0x62, 0x63, 0)),
      prop('nul-majority', bytes(0x61, 0, 0, 0)),
      prop('no-terminator', bytes(0x61, 0x62, 0x63, 0x64)),
      prop('no-terminator-odd', bytes(0x61, 0x62, 0x63)),
      prop('string-then-garbage', bytes(0x61, 0x62, 0, 0xff, 0xfe)),
      prop('high-bytes', str('caf\u00e9')),
    ]),
  ),
  '4-byte look-alikes': tree(
    node('', [
      prop('abc', str('abc')),
      prop('ab-nul-nul', bytes(0x61, 0x62, 0, 0)),
      prop('a-nul-b-nul', bytes(0x61, 0, 0x62, 0)),
      prop('zeros', bytes(0, 0, 0, 0)),
      prop('ones', bytes(0xff, 0xff, 0xff, 0xff)),
      prop('one-nul', bytes(0)),
      prop('two-nul', bytes(0, 0)),
    ]),
  ),
  'long values': tree(
    node('', [
      prop('long-string', str('x'.repeat(5000))),
      prop(
        'long-cells',
        new Uint8Array(4096).map((_, i) => i & 0xff),
      ),
      prop(
        'long-bytes',
        new Uint8Array(4097).map((_, i) => (i * 7) & 0xff),
      ),
    ]),
  ),
  'KHO root FDT (kho-v4, LE64 values)': tree(
    node(
      '',
      [prop('compatible', str('kho-v4')), prop('preserved-memory-map', le64(0x1234000n))],
      [
        node('LUO', [prop('preserved-data', le64(0x5200000n)), prop('blob-size', le64(0x1000n))]),
        node('kexec-metadata', [prop('preserved-data', le64(0x51ff000n)), prop('blob-size', le64(73n))]),
      ],
    ),
  ),
  'redundant name properties are dropped': tree(
    node(
      '',
      [prop('name', str(''))],
      [
        node('cpu@0', [prop('name', str('cpu')), prop('reg', bytes(0, 0, 0, 0))]),
        node('cpu@1', [prop('name', str('cpux'))]),
        node('plain', [prop('x', bytes(1)), prop('name', str('plain')), prop('y', bytes(2))]),
      ],
    ),
  ),
  'a non-string name stops the name pass': tree(
    node(
      '',
      [prop('name', str(''))],
      [node('a', [prop('name', bytes(1, 2))]), node('b', [prop('name', str('b'))])],
    ),
  ),
  'a duplicate property stops the name pass': tree(
    node('', [], [node('a', [prop('name', str('a')), prop('x', bytes(1)), prop('x', bytes(2))])]),
  ),
  'duplicate sibling names stop the name pass': tree(
    node('', [], [node('a', [prop('name', str('a'))]), node('a')]),
  ),
  'a bad node character stops the name pass': tree(
    node('', [], [node('a', [prop('name', str('a'))]), node('b!')]),
  ),
  'two @ in a node name stop the name pass': tree(node('', [], [node('a@1@2', [prop('name', str('a'))])])),
  'a bad property character stops the name pass': tree(
    node('', [prop('bad name', bytes(1))], [node('a', [prop('name', str('a'))])]),
  ),
  'only the first name property counts': tree(
    node('', [], [node('a', [prop('name', str('a')), prop('name', str('a'))])]),
  ),
  'non-ASCII node name': tree(node('', [], [node('caf\u00e9', [prop('v', str('x'))])])),
  'boot cpu id is not printed': { ...tree(node('', [prop('a', bytes(1))])), bootCpuidPhys: 3 },
};

/** dtc-made blobs (dtc's own layout, strings in first-use order), including a version-16 one. */
const DTC_BLOBS: Record<string, Uint8Array> = {
  'edge.dts': dtcCompile('edge.dts'),
  'edge.dts as version 16': dtcCompile('edge.dts', ['-V', '16']),
  'kho-v4.dts': dtcCompile('kho-v4.dts'),
  'kho-v1.dts': dtcCompile('kho-v1.dts'),
  'memblock.dts': dtcCompile('memblock.dts'),
  'kho-test.dts': dtcCompile('kho-test.dts'),
};

test('dtc-made version-16 fixture really is version 16', () => {
  assert.equal(readTree(DTC_BLOBS['edge.dts as version 16']!).version, 16);
});

test(`toDts matches dtc 1.6.1 on ${CORPUS} random trees and ${Object.keys(EDGE_TREES).length + Object.keys(DTC_BLOBS).length} edge cases`, () => {
  const cases: { name: string; blob: Uint8Array }[] = [];
  for (const [name, t] of Object.entries(EDGE_TREES)) cases.push({ name, blob: buildBlob(t) });
  for (const [name, blob] of Object.entries(DTC_BLOBS)) cases.push({ name, blob });
  for (let seed = 0; seed < CORPUS; seed++)
    cases.push({ name: `random seed ${seed}`, blob: buildBlob(randomTree(seed)) });
  const want = dtcDecompileAll(cases.map((c) => c.blob));
  let passed = 0;
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const expected = want[i];
    if (expected === null || expected === undefined) {
      failures.push(`${c.name}: dtc failed`);
      return;
    }
    const got = toDts(readTree(c.blob));
    if (got === expected) passed++;
    else if (failures.length < 3) assert.equal(got, expected, c.name);
    else failures.push(c.name);
  });
  assert.deepEqual(failures, []);
  assert.equal(passed, cases.length);
});
