import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildBlob } from '../../src/fdt/convert.ts';
import { FdtError } from '../../src/fdt/errors.ts';
import { Fdt, readTree } from '../../src/fdt/reader.ts';
import { FdtRw } from '../../src/fdt/rw.ts';
import { FdtSw } from '../../src/fdt/sw.ts';
import { nodeName, propName, propValue, treeArb } from '../helpers/fdt-arb.ts';
import { applyRw, assertSameResult, hex, libfdt, ourRw, type RwOp } from '../helpers/fdt-libfdt.ts';

const RUNS = Math.min(Number(process.env['FUZZ_RUNS'] ?? 250), 3000);

const KINDS = [
  'setprop',
  'setprop',
  'setprop',
  'appendprop',
  'delprop',
  'delprop',
  'add_subnode',
  'add_subnode',
  'del_node',
  'set_name',
  'nop_property',
  'nop_node',
  'add_mem_rsv',
  'del_mem_rsv',
  'pack',
  'pack_resize',
  'resize',
] as const;

interface AbstractOp {
  kind: (typeof KINDS)[number];
  node: number;
  pick: number;
  prop: string;
  name: string;
  value: Uint8Array;
  n: number;
}

const abstractOp: fc.Arbitrary<AbstractOp> = fc.record({
  kind: fc.constantFrom(...KINDS),
  node: fc.nat(),
  pick: fc.nat(),
  prop: propName,
  name: nodeName,
  value: propValue,
  n: fc.nat({ max: 400 }),
});

/** Turn abstract ops into concrete path-based ops, running them on ours as we go. */
function resolve(blob: Uint8Array, bufsize: number, abs: AbstractOp[], inplace: boolean): RwOp[] {
  const rw = inplace ? FdtRw.openInPlace(blob.slice()) : FdtRw.openInto(blob, bufsize);
  const ops: RwOp[] = [];
  for (const a of abs) {
    const f = new Fdt(rw.bytes()); // also checks that every edit leaves a valid blob
    const nodes: number[] = [];
    const walk = (n: number): void => {
      nodes.push(n);
      for (const c of f.children(n)) walk(c);
    };
    walk(f.root());
    const any = nodes[a.node % nodes.length]!;
    const nonRoot = nodes.length > 1 ? nodes[1 + (a.node % (nodes.length - 1))]! : -1;
    const path = f.getPath(any);
    const props = f.properties(any).map((p) => p.name);
    const existing = props.length > 0 && a.pick % 3 !== 0 ? props[a.pick % props.length]! : a.prop;
    const v = hex(a.value);
    const dsize = f.header.offDtStrings + f.header.sizeDtStrings;
    const grow = a.pick % 5 === 0 ? dsize + a.n - 60 : dsize + a.n; // sometimes too small: NOSPACE
    let op: RwOp;
    switch (a.kind) {
      case 'setprop':
        op = ['setprop', path, a.pick % 2 === 0 ? existing : a.prop, v];
        break;
      case 'appendprop':
        op = ['appendprop', path, existing, v];
        break;
      case 'delprop':
      case 'nop_property':
        op = [a.kind, path, existing];
        break;
      case 'add_subnode':
        op = ['add_subnode', path, a.name];
        break;
      case 'del_node':
      case 'nop_node':
        if (nonRoot < 0) continue;
        op = [a.kind, f.getPath(nonRoot)];
        break;
      case 'set_name':
        if (nonRoot < 0) continue;
        op = ['set_name', f.getPath(nonRoot), a.name];
        break;
      case 'add_mem_rsv':
        op = ['add_mem_rsv', a.n * 0x1000, a.pick + 1];
        break;
      case 'del_mem_rsv':
        op = ['del_mem_rsv', a.n % (f.numMemRsv() + 1)];
        break;
      case 'pack':
        op = ['pack'];
        break;
      case 'pack_resize':
        ops.push(['pack']);
        rw.pack();
        op = ['resize', dsize + a.n];
        break;
      case 'resize':
        op = ['resize', grow];
        break;
    }
    ops.push(op);
    try {
      applyRw(rw, op);
    } catch (e) {
      if (!(e instanceof FdtError)) throw e;
    }
  }
  return ops;
}

test('rw edits (+ pack, open_into) are byte-identical to libfdt, whole buffer included', () => {
  const samples = fc.sample(
    fc.record({
      tree: treeArb,
      extra: fc.nat({ max: 300 }),
      ops: fc.array(abstractOp, { minLength: 5, maxLength: 40, size: 'max' }),
    }),
    { numRuns: RUNS, seed: 7 },
  );
  const cases = samples.map((s) => {
    let blob = buildBlob(s.tree);
    const bufsize = blob.length + s.extra;
    // A third of the cases open in place, in a buffer whose free space holds junk (stale bytes
    // must surface exactly where libfdt lets them).
    const inplace = s.extra % 3 === 0;
    if (inplace) {
      const buf = new Uint8Array(bufsize).map((_, i) => (i * 37 + 11) & 0xff);
      buf.set(blob);
      blob = buf;
    }
    return {
      kind: 'rw' as const,
      blob: hex(blob),
      bufsize,
      ops: resolve(blob, bufsize, s.ops, inplace),
      inplace,
    };
  });
  const ref = libfdt(cases);
  let errors = 0;
  let done = 0;
  cases.forEach((c, i) => {
    const ours = ourRw(new Uint8Array(Buffer.from(c.blob, 'hex')), c.bufsize, c.ops, c.inplace);
    errors += ours.errs!.length;
    if (process.env['FDT_STATS']) for (const [j, e] of ours.errs!) console.log('ERR', c.ops[j]![0], e);
    done += c.ops.length - ours.errs!.length;
    assertSameResult(ours, ref[i]!, `case ${i}: ${JSON.stringify(c.ops).slice(0, 600)}`);
  });
  // The generator must reach error paths too (NOSPACE, EXISTS, NOTFOUND), not only successes.
  assert.ok(errors > RUNS / 5, `only ${errors} ops failed`);
  assert.ok(done > RUNS * 8, `only ${done} ops succeeded`);
});

test('KHO pattern: sw create in 4096 bytes, open_into, add sub-tree nodes, pack after each edit', () => {
  const sw = FdtSw.create(4096);
  sw.finishReservemap();
  sw.beginNode('');
  sw.propertyString('compatible', 'kho-v1');
  sw.propertyU64('preserved-memory-map', 0);
  sw.endNode();
  const base = sw.finish();
  const ops: RwOp[] = [
    ['add_subnode', '/', 'kexec-metadata'],
    ['setprop', '/kexec-metadata', 'preserved-data', '0010000000000000'],
    ['setprop', '/kexec-metadata', 'blob-size', '0010000000000000'],
    ['pack'],
    ['resize', 4096],
    ['add_subnode', '/', 'memblock'],
    ['setprop', '/memblock', 'preserved-data', '0020000000000000'],
    ['pack'],
  ];
  const ours = ourRw(base, 4096, ops);
  assert.deepEqual(ours, libfdt([{ kind: 'rw', blob: hex(base), bufsize: 4096, ops }])[0]);
  const t = readTree(Buffer.from(ours.hex!, 'hex'));
  // New subnodes go first; new properties go first in their node.
  assert.deepEqual(
    t.root.children.map((c) => c.name),
    ['memblock', 'kexec-metadata'],
  );
  assert.deepEqual(
    t.root.children[1]!.props.map((p) => p.name),
    ['blob-size', 'preserved-data'],
  );
  const b = Buffer.from(ours.hex!, 'hex');
  assert.equal(b.readUInt32BE(16), 40); // packed: map at 40
  assert.equal(b.readUInt32BE(8), 56); // structure right after the one-entry map
  assert.equal(b.readUInt32BE(4), b.length); // totalsize = used bytes
});

test('open_into repacks blobs whose blocks are out of libfdt order', () => {
  // Hand-build: header, strings first, then map, then structure.
  const blob = buildBlob({
    version: 17,
    lastCompVersion: 16,
    bootCpuidPhys: 3,
    memreserve: [{ address: 0x1000n, size: 0x10n }],
    root: { name: '', props: [{ name: 'p', value: new Uint8Array([1]) }], children: [] },
  });
  const dv = new DataView(blob.buffer);
  const offMem = dv.getUint32(16);
  const offStruct = dv.getUint32(8);
  const offStr = dv.getUint32(12);
  const sizeStr = dv.getUint32(32);
  const structSize = dv.getUint32(36);
  const mem = blob.slice(offMem, offStruct);
  const st = blob.slice(offStruct, offStruct + structSize);
  const str = blob.slice(offStr, offStr + sizeStr);
  const out = new Uint8Array(48 + 8 + mem.length + st.length);
  out.set(blob.subarray(0, 40));
  out.set(str, 40);
  const m = 48 + 8; // strings occupy 40..42; map 8-aligned at 56
  out.set(mem, m);
  out.set(st, m + mem.length);
  const odv = new DataView(out.buffer);
  odv.setUint32(4, out.length);
  odv.setUint32(12, 40);
  odv.setUint32(16, m);
  odv.setUint32(8, m + mem.length);
  assert.deepEqual(readTree(out), readTree(blob));
  const ops: RwOp[] = [['setprop', '/', 'q', '02']];
  assert.deepEqual(ourRw(out, 200, ops), libfdt([{ kind: 'rw', blob: hex(out), bufsize: 200, ops }])[0]);
});

test('rw errors: EXISTS by unit-address rule, NOTFOUND, NOSPACE leaves the blob intact, root protected', () => {
  const rw = FdtRw.openInto(
    buildBlob({
      version: 17,
      lastCompVersion: 16,
      bootCpuidPhys: 0,
      memreserve: [],
      root: { name: '', props: [], children: [{ name: 'a@1', props: [], children: [] }] },
    }),
    120,
  );
  const code = (f: () => void): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof FdtError) return e.code;
      throw e;
    }
    return 'ok';
  };
  assert.equal(
    code(() => rw.addSubnode('/', 'a')),
    'FDT_ERR_EXISTS',
  );
  assert.equal(
    code(() => rw.addSubnode('/', 'a@2')),
    'ok',
  );
  assert.equal(
    code(() => {
      rw.delprop('/a@1', 'nope');
    }),
    'FDT_ERR_NOTFOUND',
  );
  assert.equal(
    code(() => {
      rw.setprop('/nope', 'x', new Uint8Array());
    }),
    'FDT_ERR_NOTFOUND',
  );
  const before = rw.toFdt().toTree();
  const sizes = [rw.totalsize, rw.buffer.subarray(32, 40).join()];
  assert.equal(
    code(() => {
      rw.setprop('/', 'big', new Uint8Array(200));
    }),
    'FDT_ERR_NOSPACE',
  );
  // The tree and header are unchanged; the rolled-back name's bytes stay in the free space, as in libfdt.
  assert.deepEqual(rw.toFdt().toTree(), before);
  assert.deepEqual([rw.totalsize, rw.buffer.subarray(32, 40).join()], sizes);
  assert.equal(
    code(() => {
      rw.delNode('/');
    }),
    'FDT_ERR_BADOFFSET',
  );
  assert.equal(
    code(() => {
      rw.setprop(5, 'x', new Uint8Array());
    }),
    'FDT_ERR_BADOFFSET',
  );
  assert.equal(
    code(() => {
      rw.delMemRsv(0);
    }),
    'FDT_ERR_NOTFOUND',
  );
  assert.equal(
    code(() => FdtRw.inPlace(new Uint8Array(10))),
    'FDT_ERR_TRUNCATED',
  );
});

test('open in place (fdt_open_into(buf, buf, size)): ordered, misordered and sw-finished pages', () => {
  const sw = FdtSw.create(512);
  sw.finishReservemap();
  sw.beginNode('');
  sw.propertyString('compatible', 'kho-v1');
  sw.endNode();
  sw.finish();
  const page = sw.buffer.slice(); // with fdt_finish's stale strings copy at the end
  const blob = buildBlob({
    version: 17,
    lastCompVersion: 16,
    bootCpuidPhys: 0,
    memreserve: [{ address: 1n, size: 2n }],
    root: { name: '', props: [{ name: 'p', value: new Uint8Array([1]) }], children: [] },
  });
  // Misordered: strings moved in front of the map; free space filled with a pattern.
  const dv = new DataView(blob.buffer);
  const [offMem, offStruct, offStr, sizeStr] = [16, 8, 12, 32].map((o) => dv.getUint32(o));
  const mis = new Uint8Array(400).fill(0xaa);
  mis.set(blob.subarray(0, 40));
  mis.set(blob.subarray(offStr, offStr! + sizeStr!), 40);
  mis.set(blob.subarray(offMem, offStr), 48);
  const mdv = new DataView(mis.buffer);
  mdv.setUint32(12, 40);
  mdv.setUint32(16, 48);
  mdv.setUint32(8, 48 + offStruct! - offMem!);
  mdv.setUint32(4, 48 + offStr! - offMem!);
  const ops: RwOp[] = [['setprop', '/', 'q', '0203'], ['add_subnode', '/', 'n'], ['pack']];
  for (const [what, buf] of [
    ['sw page', page],
    ['misordered', mis],
    ['too small to repack in place', mis.slice(0, 150)],
  ] as const) {
    const ref = libfdt([{ kind: 'rw', blob: hex(buf), bufsize: buf.length, ops, inplace: true }])[0]!;
    assertSameResult(ourRw(buf.slice(), buf.length, ops, true), ref, what);
  }
});
