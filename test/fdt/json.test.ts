/** The JSON form: lossless round trips, the accepted input forms, and clear errors on bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildBlob } from '../../src/fdt/convert.ts';
import {
  FDT_JSON_FORMAT,
  FdtJsonError,
  formatTreeJson,
  jsonToTree,
  parseTreeJson,
  propToJson,
  treeToJson,
} from '../../src/fdt/json.ts';
import { readTree } from '../../src/fdt/reader.ts';
import { fdtTree, type FdtTree } from '../../src/fdt/tree.ts';
import { randomTree } from '../fixtures/fdt/random-tree.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300);
const enc = new TextEncoder();
const roundTrip = (t: FdtTree): FdtTree => parseTreeJson(formatTreeJson(t));

test('seeded corpus: JSON round trip gives the same tree and the identical blob', () => {
  for (let seed = 0; seed < 200; seed++) {
    const blob = buildBlob(randomTree(seed));
    const t = readTree(blob);
    const back = roundTrip(t);
    assert.deepEqual(back, t, `seed ${seed}`);
    assert.deepEqual(buildBlob(back), blob, `seed ${seed}`);
  }
});

test('any property value survives the round trip (fast-check)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.string({ maxLength: 10 }), (value, name) => {
      fc.pre(!name.includes('\0'));
      const t: FdtTree = {
        version: 17,
        lastCompVersion: 16,
        bootCpuidPhys: 0,
        memreserve: [],
        root: { name: '', props: [{ name, value }], children: [] },
      };
      assert.deepEqual(roundTrip(t), t);
    }),
    { numRuns: RUNS },
  );
});

test('memreserve and header fields survive, including full 64-bit values', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          address: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          size: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
        }),
        {
          maxLength: 4,
        },
      ),
      fc.nat(0xffffffff),
      (entries, cpu) => {
        const t: FdtTree = {
          version: 16,
          lastCompVersion: 16,
          bootCpuidPhys: cpu,
          memreserve: entries.map(({ address, size }) => ({ address, size })),
          root: { name: '', props: [], children: [] },
        };
        assert.deepEqual(roundTrip(t), t);
      },
    ),
    { numRuns: RUNS },
  );
});

test('value forms follow dtc: string, strings, cells, bytes, empty', () => {
  const p = (value: Uint8Array) => propToJson({ name: 'p', value });
  assert.deepEqual(p(enc.encode('kho-v4\0')), { name: 'p', string: 'kho-v4' });
  assert.deepEqual(p(enc.encode('a\0\0bc\0')), { name: 'p', strings: ['a', '', 'bc'] });
  assert.deepEqual(p(enc.encode('a\0\0b\0')), { name: 'p', bytes: '61 00 00 62 00' }); // NUL majority
  assert.deepEqual(p(Uint8Array.of(0, 0, 0x10, 0, 0xff, 0xff, 0xff, 0xff)), {
    name: 'p',
    cells: ['0x1000', '0xffffffff'],
  });
  assert.deepEqual(p(Uint8Array.of(0, 0x1f, 0xa0)), { name: 'p', bytes: '00 1f a0' });
  assert.deepEqual(p(Uint8Array.of()), { name: 'p' });
});

test('the text form: one property per line, comments only when asked', () => {
  const t = readTree(
    buildBlob({
      version: 17,
      lastCompVersion: 16,
      bootCpuidPhys: 0,
      memreserve: [{ address: 0x1000n, size: 0x2000n }],
      root: {
        name: '',
        props: [{ name: 'compatible', value: enc.encode('x\0') }],
        children: [{ name: 'n@1', props: [{ name: 'reg', value: Uint8Array.of(0, 0, 0, 1) }], children: [] }],
      },
    }),
  );
  assert.equal(
    formatTreeJson(t),
    `{
  "format": "kho-fdt/1",
  "version": 17,
  "lastCompVersion": 16,
  "bootCpuidPhys": 0,
  "memreserve": [
    { "address": "0x1000", "size": "0x2000" }
  ],
  "root": {
    "name": "",
    "props": [
      { "name": "compatible", "string": "x" }
    ],
    "children": [
      {
        "name": "n@1",
        "props": [
          { "name": "reg", "cells": ["0x1"] }
        ],
        "children": []
      }
    ]
  }
}
`,
  );
  const annotated = treeToJson(t, {
    comment: (path, prop) => `${path.join('/')}:${prop.name}`,
    docComment: 'doc',
  });
  assert.equal(annotated.comment, 'doc');
  assert.equal(annotated.root.children[0]!.props[0]!.comment, 'n@1:reg');
  assert.deepEqual(jsonToTree(annotated), t); // comments are ignored on input
});

test('input forms: numbers, decimal and hex strings, spaced hex, defaults', () => {
  const t = jsonToTree({
    memreserve: [{ address: 4096, size: '8192' }],
    root: {
      name: '',
      props: [
        { name: 'c', cells: [1, '0x2', '3', '0XFFFFFFFF'] },
        { name: 'b', bytes: '00:1F a0\n0b' },
        { name: 'u', string: 'caf\u00e9' },
        { name: 'e', cells: [] },
        { name: 'z' },
      ],
    },
  });
  assert.equal(t.version, 17);
  assert.equal(t.lastCompVersion, 16);
  assert.equal(t.bootCpuidPhys, 0);
  assert.deepEqual(t.memreserve, [{ address: 4096n, size: 8192n }]);
  const [c, b, u, e, z] = t.root.props;
  assert.deepEqual(c!.value, Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff));
  assert.deepEqual(b!.value, Uint8Array.of(0, 0x1f, 0xa0, 0x0b));
  assert.deepEqual(u!.value, Uint8Array.of(0x63, 0x61, 0x66, 0xc3, 0xa9, 0));
  assert.equal(e!.value.length, 0);
  assert.equal(z!.value.length, 0);
  assert.deepEqual(t.root.children, []);
});

const base = () => ({
  format: FDT_JSON_FORMAT,
  root: { name: '', props: [] as unknown[], children: [] as unknown[] },
});
const withProp = (p: unknown) => {
  const d = base();
  d.root.props.push(p);
  return d;
};

const BAD: [string, unknown, string][] = [
  ['not an object', [], 'expected an object, got an array'],
  ['no root', { format: FDT_JSON_FORMAT }, 'missing "root" node'],
  ['wrong format', { ...base(), format: 'dts' }, 'format: expected "kho-fdt/1", got string "dts"'],
  [
    'typo key',
    { ...base(), memreserv: [] },
    'unknown key "memreserv" (allowed: format, version, lastCompVersion, bootCpuidPhys, memreserve, root, comment)',
  ],
  [
    'version text',
    { ...base(), version: 'x' },
    'version: expected an unsigned 32-bit integer (a number, or a string like "0x1f"), got string "x"',
  ],
  ['root name number', { root: { name: 1 } }, 'root.name: expected a string, got number 1'],
  ['name with NUL', withProp({ name: 'a\0b' }), 'root.props[0].name: a name cannot contain NUL'],
  [
    'two value forms',
    withProp({ name: 'p', cells: [], bytes: '' }),
    'root.props[0]: give one value form, not cells and bytes',
  ],
  [
    'cell too big',
    withProp({ name: 'p', cells: ['0x100000000'] }),
    'root.props[0].cells[0]: 0x100000000 does not fit in 32 bits',
  ],
  [
    'cell negative',
    withProp({ name: 'p', cells: [-1] }),
    'root.props[0].cells[0]: expected an unsigned 32-bit integer (a number, or a string like "0x1f"), got number -1',
  ],
  [
    'cell fraction',
    withProp({ name: 'p', cells: [1.5] }),
    'root.props[0].cells[0]: expected an unsigned 32-bit integer (a number, or a string like "0x1f"), got number 1.5',
  ],
  [
    'cells not array',
    withProp({ name: 'p', cells: '0x1' }),
    'root.props[0].cells: expected an array, got string "0x1"',
  ],
  ['odd hex', withProp({ name: 'p', bytes: 'abc' }), 'root.props[0].bytes: odd number of hex digits'],
  [
    'bad hex',
    withProp({ name: 'p', bytes: 'zz' }),
    'root.props[0].bytes: expected hex digits (e.g. "00 1f a0")',
  ],
  [
    'string with NUL',
    withProp({ name: 'p', string: 'a\0' }),
    'root.props[0].string: a string cannot contain NUL (use "strings" or "bytes")',
  ],
  [
    'strings element',
    withProp({ name: 'p', strings: ['a', 2] }),
    'root.props[0].strings[1]: expected a string, got number 2',
  ],
  ['prop null', withProp(null), 'root.props[0]: expected an object, got null'],
  [
    'unknown prop key',
    withProp({ name: 'p', value: 'x' }),
    'root.props[0]: unknown key "value" (allowed: name, string, strings, cells, bytes, comment)',
  ],
  [
    'zero-size reservation',
    { ...base(), memreserve: [{ address: 0, size: 0 }] },
    'memreserve[0].size: a reservation of size 0 would end the reservation map',
  ],
  [
    'reservation over 64 bits',
    { ...base(), memreserve: [{ address: '0x10000000000000000', size: 1 }] },
    'memreserve[0].address: 0x10000000000000000 does not fit in 64 bits',
  ],
  [
    'unsafe number',
    { ...base(), memreserve: [{ address: 2 ** 60, size: 1 }] },
    'memreserve[0].address: expected an unsigned 64-bit integer (a number, or a string like "0x1f"), got number 1152921504606847000',
  ],
  [
    'deep child',
    {
      root: {
        name: '',
        children: [{ name: 'a', children: [{ name: 'b', props: [{ name: 'x', cells: [true] }] }] }],
      },
    },
    'root.children[0].children[0].props[0].cells[0]: expected an unsigned 32-bit integer (a number, or a string like "0x1f"), got boolean true',
  ],
  [
    'children not array',
    { root: { name: '', children: {} } },
    'root.children: expected an array, got an object',
  ],
];

for (const [what, input, message] of BAD) {
  test(`bad JSON input is reported clearly: ${what}`, () => {
    assert.throws(
      () => jsonToTree(input),
      (err: unknown) => err instanceof FdtJsonError && err.message === message,
    );
  });
}

test('JSON syntax errors are FdtJsonError too', () => {
  assert.throws(
    () => parseTreeJson('{"root": '),
    (err: unknown) => err instanceof FdtJsonError && /^not valid JSON: /.test(err.message),
  );
});

test('arbitrary JSON never escapes as anything but FdtJsonError (fast-check)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        jsonToTree(v);
      } catch (err) {
        if (!(err instanceof FdtJsonError)) throw err;
      }
    }),
    { numRuns: RUNS },
  );
});

test('a valid document with one part replaced by random JSON fails only with FdtJsonError', () => {
  const doc = JSON.parse(formatTreeJson(readTree(buildBlob(randomTree(7))))) as unknown;
  // every path into the document
  const paths: (string | number)[][] = [];
  const walk = (x: unknown, path: (string | number)[]) => {
    paths.push(path);
    if (Array.isArray(x))
      x.forEach((y, i) => {
        walk(y, [...path, i]);
      });
    else if (typeof x === 'object' && x !== null)
      for (const [k, y] of Object.entries(x)) walk(y, [...path, k]);
  };
  walk(doc, []);
  fc.assert(
    fc.property(fc.nat(paths.length - 1), fc.jsonValue({ maxDepth: 2 }), (i, replacement) => {
      const copy = structuredClone(doc) as Record<string | number, unknown>;
      const path = paths[i]!;
      if (path.length === 0) return;
      let at: Record<string | number, unknown> = copy;
      for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
      at[path[path.length - 1]!] = replacement;
      try {
        buildBlob(jsonToTree(copy));
      } catch (err) {
        if (!(err instanceof FdtJsonError) && !(err instanceof Error && err.name === 'FdtError')) throw err;
      }
    }),
    { numRuns: RUNS },
  );
});

test('deep JSON documents convert without overflowing the stack', () => {
  let n: unknown = { name: 'leaf' };
  for (let i = 0; i < 1000; i++) n = { name: 'n', children: [n] };
  const t = jsonToTree({ root: { name: '', children: [n] } });
  let depth = 0;
  for (let x = t.root; x.children.length > 0; x = x.children[0]!) depth++;
  assert.equal(depth, 1001);
  const text = formatTreeJson(t);
  assert.deepEqual(buildBlob(parseTreeJson(text)), buildBlob(t)); // deepEqual itself would recurse
});

test('the streamed text is the document treeToJson builds, comments included', () => {
  const comment = (path: readonly string[], prop: { name: string }) =>
    prop.name.length % 2 === 0 ? `${path.join('/')}:${prop.name}` : undefined;
  for (let seed = 0; seed < 50; seed++) {
    const t = readTree(buildBlob(randomTree(seed)));
    assert.deepEqual(
      JSON.parse(formatTreeJson(t, { comment, docComment: 'd' })),
      JSON.parse(JSON.stringify(treeToJson(t, { comment, docComment: 'd' }))),
      `seed ${seed}`,
    );
  }
});

test('values larger than one streamed piece keep their form and bytes', () => {
  const big = 40_000;
  const str = new Uint8Array(big + 1).map((_, i) => (i === big ? 0 : i % 7 === 6 ? 0 : 0x61 + (i % 26)));
  str[big - 1] = 0x62; // no NUL right before the terminator
  const cells = new Uint8Array(big * 4).map((_, i) => (i * 13) & 0xff);
  const bytes = new Uint8Array(big + 3).map((_, i) => (i * 29) & 0xff);
  const quoted = new Uint8Array(big + 1).map((_, i) => (i === big ? 0 : i % 3 === 0 ? 0x22 : 0x5c));
  const t = fdtTree({
    name: '',
    props: [
      { name: 'strs', value: str },
      { name: 'cells', value: cells },
      { name: 'bytes', value: bytes },
      { name: 'quoted', value: quoted },
    ],
    children: [],
  });
  const text = formatTreeJson(t);
  assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(treeToJson(t))));
  assert.deepEqual(buildBlob(parseTreeJson(text)), buildBlob(t));
});
