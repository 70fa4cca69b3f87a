import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FdtSw } from '../../src/fdt/sw.ts';
import { FdtError } from '../../src/fdt/errors.ts';
import { readTree } from '../../src/fdt/reader.ts';
import { swOps, treeArb } from '../helpers/fdt-arb.ts';
import { hex, libfdt, ourSw } from '../helpers/fdt-libfdt.ts';

const RUNS = Math.min(Number(process.env['FUZZ_RUNS'] ?? 300), 3000);

test('sequential writer output is byte-identical to libfdt FdtSw for random trees', () => {
  const trees = fc.sample(treeArb, { numRuns: RUNS, seed: 42 });
  const cases = trees.map((t) => ({ kind: 'sw' as const, ops: swOps(t) }));
  const ref = libfdt(cases);
  cases.forEach((c, i) => {
    assert.deepEqual(ourSw(c.ops), ref[i], `case ${i}: ${JSON.stringify(c.ops).slice(0, 400)}`);
  });
});

test('KHO root layout: reservation map at 48, names in reverse order of first use', () => {
  const sw = FdtSw.create(4096);
  sw.finishReservemap();
  sw.beginNode('');
  sw.propertyString('compatible', 'kho-v1');
  sw.propertyU64('preserved-memory-map', 0);
  sw.endNode();
  const b = sw.finish();
  const ref = libfdt([
    {
      kind: 'sw',
      ops: [
        ['finrsv'],
        ['begin', ''],
        ['prop', 'compatible', hex(new TextEncoder().encode('kho-v1\0'))],
        ['prop', 'preserved-memory-map', '0000000000000000'],
        ['end'],
      ],
    },
  ]);
  assert.equal(hex(b), ref[0]!.hex);
  const dv = new DataView(b.buffer);
  assert.equal(dv.getUint32(16), 48); // off_mem_rsvmap
  assert.equal(dv.getUint32(8), 64); // off_dt_struct
  const strings = b.subarray(dv.getUint32(12));
  assert.equal(new TextDecoder().decode(strings), 'preserved-memory-map\0compatible\0');
});

test('a name that is the tail of an existing one reuses its bytes', () => {
  const sw = FdtSw.create(512);
  sw.finishReservemap();
  sw.beginNode('');
  sw.property('compatible', new Uint8Array());
  sw.property('patible', new Uint8Array());
  sw.endNode();
  const b = sw.finish();
  const dv = new DataView(b.buffer);
  assert.equal(dv.getUint32(32), 11); // only "compatible\0"
  const t = readTree(b);
  assert.deepEqual(
    t.root.props.map((p) => p.name),
    ['compatible', 'patible'],
  );
});

test('NOSPACE when the buffer is too small, and nothing else changes', () => {
  assert.throws(
    () => FdtSw.create(47),
    (e: unknown) => e instanceof FdtError && e.code === 'FDT_ERR_NOSPACE',
  );
  const sw = FdtSw.create(100);
  sw.finishReservemap(); // struct at 64
  sw.beginNode(''); // 8 bytes
  assert.throws(
    () => {
      sw.property('p', new Uint8Array(40));
    },
    (e: unknown) => e instanceof FdtError && e.code === 'FDT_ERR_NOSPACE',
  );
  sw.property('p', new Uint8Array(4));
  sw.endNode();
  const b = sw.finish();
  assert.equal(readTree(b).root.props.length, 1);
});

test('state errors: BADSTATE out of order, BADSTRUCTURE for unbalanced nodes', () => {
  const code = (f: () => void): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof FdtError) return e.code;
      throw e;
    }
    return 'ok';
  };
  const sw = FdtSw.create(1024);
  assert.equal(
    code(() => {
      sw.beginNode('');
    }),
    'FDT_ERR_BADSTATE',
  );
  sw.addReservemapEntry(1, 2);
  sw.finishReservemap();
  assert.equal(
    code(() => {
      sw.addReservemapEntry(1, 2);
    }),
    'FDT_ERR_BADSTATE',
  );
  assert.equal(
    code(() => {
      sw.property('x', new Uint8Array());
    }),
    'FDT_ERR_BADSTRUCTURE',
  );
  assert.equal(
    code(() => {
      sw.endNode();
    }),
    'FDT_ERR_BADSTRUCTURE',
  );
  assert.equal(
    code(() => {
      sw.beginNode('root');
    }),
    'FDT_ERR_BADSTRUCTURE',
  );
  sw.beginNode('');
  assert.equal(
    code(() => {
      sw.beginNode('a\0b');
    }),
    'FDT_ERR_BADVALUE',
  );
  assert.equal(
    code(() => sw.finish()),
    'FDT_ERR_BADSTRUCTURE',
  );
  sw.endNode();
  assert.equal(
    code(() => {
      sw.beginNode('');
    }),
    'FDT_ERR_BADSTRUCTURE',
  );
  sw.finish();
  assert.equal(
    code(() => {
      sw.beginNode('x');
    }),
    'FDT_ERR_BADSTATE',
  );
});

test('resize keeps the work and the result', () => {
  const a = FdtSw.create(4096);
  const b = FdtSw.create(200);
  for (const sw of [a, b]) {
    sw.finishReservemap();
    sw.beginNode('');
    sw.propertyU32('x', 7);
  }
  b.resize(1000);
  for (const sw of [a, b]) {
    sw.beginNode('n@1');
    sw.propertyString('s', 'hello');
    sw.endNode();
    sw.endNode();
  }
  assert.deepEqual(a.finish(), b.finish());
});
