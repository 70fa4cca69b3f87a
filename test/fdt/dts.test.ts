/** DTS printer rules, stated as literal expectations (the golden test checks them against dtc). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPropertyValue, guessValueKind, toDts } from '../../src/fdt/dts.ts';
import type { FdtNode, FdtTree } from '../../src/fdt/tree.ts';

const enc = new TextEncoder();
const b = (...x: number[]) => Uint8Array.from(x);
const s = (text: string) => enc.encode(`${text}\0`);
const tree = (root: FdtNode, memreserve: FdtTree['memreserve'] = []): FdtTree => ({
  version: 17,
  lastCompVersion: 16,
  bootCpuidPhys: 0,
  memreserve,
  root,
});

test('value guess: strings, cells, bytes, empty', () => {
  assert.equal(guessValueKind(b()), 'empty');
  assert.equal(guessValueKind(s('abc')), 'string');
  assert.equal(guessValueKind(s('a\tb')), 'string');
  assert.equal(guessValueKind(b(0x61, 0, 0x62, 0)), 'string'); // NULs = non-NULs still a string
  assert.equal(guessValueKind(b(0x61, 0, 0, 0)), 'cells'); // NUL majority
  assert.equal(guessValueKind(b(0)), 'bytes'); // "" alone is not a string for dtc
  assert.equal(guessValueKind(b(0, 0, 0, 0)), 'cells');
  assert.equal(guessValueKind(b(0x61, 0x62, 0x63, 0x64)), 'cells'); // no terminator
  assert.equal(guessValueKind(b(0x61, 0x7f, 0)), 'bytes'); // DEL is not printable
  assert.equal(guessValueKind(b(0xc3, 0xa9, 0)), 'bytes'); // non-ASCII
});

test('value formats: escapes, inner NULs, cell padding, bytes', () => {
  assert.equal(formatPropertyValue(b()), ';');
  assert.equal(formatPropertyValue(s('a"b\\c\x07\b\t\n\v\f\r')), ' = "a\\"b\\\\c\\a\\b\\t\\n\\v\\f\\r";');
  assert.equal(formatPropertyValue(b(0x61, 0, 0x62, 0)), ' = "a\\0b";');
  assert.equal(formatPropertyValue(b(0, 0, 0, 1, 0x12, 0x34, 0x56, 0x78)), ' = <0x01 0x12345678>;');
  assert.equal(formatPropertyValue(b(0, 0x1f, 0xff)), ' = [00 1f ff];');
});

test('layout: header, memreserve, tabs, blank line before each child, trailing newline', () => {
  const t = tree(
    {
      name: '',
      props: [
        { name: 'compatible', value: s('x') },
        { name: 'flag', value: b() },
      ],
      children: [
        {
          name: 'a@1',
          props: [{ name: 'reg', value: b(0, 0, 0, 1) }],
          children: [{ name: 'b', props: [], children: [] }],
        },
        { name: 'c', props: [], children: [] },
      ],
    },
    [{ address: 0x1000n, size: 0x2000n }],
  );
  assert.equal(
    toDts(t),
    '/dts-v1/;\n\n/memreserve/\t0x0000000000001000 0x0000000000002000;\n/ {\n\tcompatible = "x";\n\tflag;\n\n' +
      '\ta@1 {\n\t\treg = <0x01>;\n\n\t\tb {\n\t\t};\n\t};\n\n\tc {\n\t};\n};\n',
  );
});

test('empty root prints "/ {" and "};"', () => {
  assert.equal(toDts(tree({ name: '', props: [], children: [] })), '/dts-v1/;\n\n/ {\n};\n');
});

test('a name property equal to the base name is dropped, a different one kept', () => {
  const t = tree({
    name: '',
    props: [],
    children: [
      { name: 'cpu@0', props: [{ name: 'name', value: s('cpu') }], children: [] },
      { name: 'cpu@1', props: [{ name: 'name', value: s('gpu') }], children: [] },
    ],
  });
  assert.equal(toDts(t), '/dts-v1/;\n\n/ {\n\n\tcpu@0 {\n\t};\n\n\tcpu@1 {\n\t\tname = "gpu";\n\t};\n};\n');
});

test('annotate hook appends a comment and leaves the rest alone', () => {
  const t = tree({
    name: '',
    props: [{ name: 'p', value: b(1, 0, 0, 0) }],
    children: [{ name: 'n', props: [{ name: 'q', value: b(2) }], children: [] }],
  });
  const seen: string[] = [];
  const text = toDts(t, (path, prop) => {
    seen.push(`${path.join('/')}:${prop.name}`);
    return prop.name === 'q' ? '/* q */' : undefined;
  });
  assert.deepEqual(seen, [':p', 'n:q']);
  assert.equal(text, '/dts-v1/;\n\n/ {\n\tp = <0x1000000>;\n\n\tn {\n\t\tq = [02]; /* q */\n\t};\n};\n');
  assert.equal(text.replace(' /* q */', ''), toDts(t));
});

test('very deep trees print without overflowing the stack', () => {
  let n: FdtNode = { name: 'leaf', props: [], children: [] };
  for (let i = 0; i < 5000; i++) n = { name: 'n', props: [], children: [n] };
  const text = toDts(tree({ name: '', props: [], children: [n] }));
  assert.equal(text.split('\n').filter((l) => l.endsWith('};')).length, 5002);
});
