import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildBlob } from '../../src/fdt/convert.ts';
import { FdtError } from '../../src/fdt/errors.ts';
import { Fdt, readTree } from '../../src/fdt/reader.ts';
import { FdtRw } from '../../src/fdt/rw.ts';
import type { FdtNode, FdtTree } from '../../src/fdt/tree.ts';
import { treeArb } from '../helpers/fdt-arb.ts';
import { hex, libfdt, type LibfdtResult } from '../helpers/fdt-libfdt.ts';
import { asLibfdt, dtcCompile, dtcFromBlob, fdtget, rsvAsStrings, scratch } from '../helpers/fdt-tools.ts';

const RUNS = Math.min(Number(process.env['FUZZ_RUNS'] ?? 60), 1000);

function sameAsLibfdt(t: FdtTree, ref: LibfdtResult, what: string): void {
  assert.equal(ref.err, undefined, `${what}: libfdt rejected it (${ref.err})`);
  assert.deepEqual(asLibfdt(t.root), ref.tree, what);
  assert.deepEqual(rsvAsStrings(t), ref.rsv, what);
  assert.deepEqual(
    [t.version, t.lastCompVersion, t.bootCpuidPhys],
    [ref.version, ref.last_comp, ref.cpu],
    what,
  );
}

const DEEP = (() => {
  let s = '/dts-v1/;\n/ {\n';
  for (let i = 0; i < 60; i++) s += `n${i}@${i.toString(16)} { p${i} = <${i}>;\n`;
  for (let i = 0; i < 60; i++) s += '};\n';
  return s + '};\n';
})();

const WIDE = (() => {
  let s = '/dts-v1/;\n/ {\n';
  for (let i = 0; i < 300; i++)
    s += `node@${i.toString(16)} { reg = <${i}>; status = "okay"; list = "a", "bb", "ccc"; };\n`;
  return s + '};\n';
})();

const SOURCES: Record<string, string> = {
  edge: readFileSync(new URL('../fixtures/fdt/edge.dts', import.meta.url), 'utf8'),
  kho: readFileSync(new URL('../fixtures/fdt/kho-v4.dts', import.meta.url), 'utf8'),
  features: `/dts-v1/;
/memreserve/ 0x1000 0x2000;
/memreserve/ 0x0 0x1;
/ {
  compatible = "foo,bar", "baz";
  empty;
  bytes = [01 02 03 04 05];
  cells = <1 2 3>, <4>;
  mixed = "s", <5>, [aa];
  u8 = /bits/ 8 <1 2 3>;
  u16 = /bits/ 16 <0xffff>;
  aliases { serial0 = "/soc/uart@1000"; };
  soc {
    #address-cells = <1>; #size-cells = <1>;
    uart@1000 { reg = <0x1000 0x100>; status = "okay"; };
    uart@2000 { reg = <0x2000 0x100>; status = "disabled"; };
    label: gpio@3000 { reg = <0x3000 0x100>; };
    user { gpios = <&label 1>; };
  };
  ${'x'.repeat(200)} { ${'y'.repeat(300)} = "long"; };
};
`,
  deep: DEEP,
  wide: WIDE,
};

test('dtc-compiled blobs (v17, v16, padded, aligned) read as libfdt sees them', () => {
  const { dir, done } = scratch();
  try {
    const blobs: [string, Uint8Array][] = [];
    for (const [name, src] of Object.entries(SOURCES)) {
      blobs.push([name, dtcCompile(dir, name, src)]);
      blobs.push([`${name}-v16`, dtcCompile(dir, `${name}16`, src, ['-V', '16'])]);
      blobs.push([`${name}-pad`, dtcCompile(dir, `${name}p`, src, ['-p', '100', '-a', '64', '-b', '3'])]);
    }
    const ref = libfdt(blobs.map(([, b]) => ({ kind: 'read' as const, blob: hex(b) })));
    blobs.forEach(([name, b], i) => {
      sameAsLibfdt(readTree(b), ref[i]!, name);
    });
    assert.equal(new Fdt(blobs[3]![1]).version, 17);
    assert.equal(new Fdt(blobs[4]![1]).version, 16);
  } finally {
    done();
  }
});

test('Fdt lookups match libfdt: paths, unit-address rule (first match), aliases, typed getters', () => {
  const { dir, done } = scratch();
  try {
    const b = dtcCompile(dir, 'f', SOURCES['features']!);
    const f = new Fdt(b);
    const uart = f.pathOffset('/soc/uart');
    assert.equal(f.getPath(uart), '/soc/uart@1000'); // no '@' in the search name: first uart@… wins
    assert.equal(f.pathOffset('//soc//uart@2000/'), f.pathOffset('/soc/uart@2000'));
    assert.equal(f.pathOffset('serial0'), uart);
    assert.equal(f.pathOffset('/soc/uart@3000'), -1);
    assert.equal(f.pathOffset('/soc/gpio@3000/x'), -1);
    assert.throws(
      () => f.pathOffset('nosuchalias'),
      (e: unknown) => e instanceof FdtError && e.code === 'FDT_ERR_BADPATH',
    );
    assert.equal(f.subnode(f.pathOffset('/soc'), 'uart@2'), -1); // '@' in the name: exact only
    assert.deepEqual(f.getStringList(f.root(), 'compatible'), ['foo,bar', 'baz']);
    assert.equal(f.getString(uart, 'status'), 'okay');
    assert.equal(f.getU32(f.pathOffset('/soc'), '#size-cells'), 1);
    assert.equal(f.getprop(f.root(), 'nope'), null);
    assert.throws(
      () => f.getU32(f.root(), 'cells'),
      (e: unknown) => e instanceof FdtError && e.code === 'FDT_ERR_BADVALUE',
    );
    assert.throws(
      () => f.getString(f.root(), 'bytes'),
      (e: unknown) => e instanceof FdtError && e.code === 'FDT_ERR_BADVALUE',
    );
    assert.deepEqual(f.memreserve(), [
      { address: 0x1000n, size: 0x2000n },
      { address: 0n, size: 1n },
    ]);
    assert.equal(f.parent(uart), f.pathOffset('/soc'));
    assert.equal(f.parent(f.root()), -1);
    assert.equal(f.depth(uart), 2);
    assert.throws(
      () => f.getName(uart + 4),
      (e: unknown) => e instanceof FdtError && e.code === 'FDT_ERR_BADOFFSET',
    );
    // The same offsets libfdt returns.
    const py = JSON.parse(
      runPython(
        `import libfdt,sys; f=libfdt.Fdt(bytes.fromhex(sys.argv[1])); print([f.path_offset(p) for p in ['/soc/uart','/soc/uart@2000','serial0','/soc/user']])`,
        hex(b),
      ).replace(/'/g, '"'),
    ) as number[];
    assert.deepEqual(
      py,
      ['/soc/uart', '/soc/uart@2000', 'serial0', '/soc/user'].map((p) => f.pathOffset(p)),
    );
    // 64-bit getters: big-endian and KHO's little-endian.
    const kho = new Fdt(dtcCompile(dir, 'k', SOURCES['kho']!));
    const sub = kho.pathOffset('/kho_test');
    assert.equal(kho.getU64LE(sub, 'preserved-data'), 0x05200000);
    assert.equal(kho.getU64LE(sub, 'blob-size'), 0x58);
    assert.equal(kho.getU64(sub, 'blob-size'), 0x5800000000000000 > Number.MAX_SAFE_INTEGER ? null : 0);
  } catch (e) {
    if (e instanceof FdtError && e.code === 'FDT_ERR_BADVALUE') {
      // getU64 of 0x5800000000000000 exceeds 2^53: that is the expected refusal.
      return;
    }
    throw e;
  } finally {
    done();
  }
});

function uniqueProps(n: FdtNode): FdtNode {
  const seen = new Set<string>();
  const props = n.props.filter((p) => !seen.has(p.name) && seen.add(p.name));
  return { name: n.name, props, children: n.children.map(uniqueProps) };
}

function runPython(code: string, arg: string): string {
  return execFileSync('/usr/bin/python3', ['-c', code, arg]).toString();
}

test('our blobs: libfdt reads the same tree; dtc accepts them and fdtget agrees', () => {
  // dtc merges duplicate property names, so keep names unique per node (the format allows them).
  const trees = fc
    .sample(treeArb, { numRuns: RUNS, seed: 11 })
    .map((t) => ({ ...t, root: uniqueProps(t.root) }));
  const blobs = trees.map(buildBlob);
  const ref = libfdt(blobs.map((b) => ({ kind: 'read' as const, blob: hex(b) })));
  trees.forEach((t, i) => {
    sameAsLibfdt(t, ref[i]!, `tree ${i}`);
  });
  const { dir, done } = scratch();
  try {
    for (let i = 0; i < Math.min(blobs.length, 25); i++) {
      // dtc's own reader must accept the blob, and its dtb re-encoding must hold the same tree.
      const again = new Uint8Array(dtcFromBlob(dir, `r${i}`, blobs[i]!, 'dtb'));
      assert.deepEqual(asLibfdt(readTree(again).root), asLibfdt(trees[i]!.root));
      assert.match(dtcFromBlob(dir, `s${i}`, blobs[i]!, 'dts').toString(), /^\/dts-v1\/;/);
      const withProp = trees[i]!.root.props.find((p) => p.value.length > 0);
      if (withProp) {
        const got = fdtget(dir, `g${i}`, blobs[i]!, '/', withProp.name);
        assert.equal(got, Array.from(withProp.value, (x) => x.toString(16)).join(' '));
      }
    }
  } finally {
    done();
  }
});

test('path lookups (unit-address rule, first match, repeated slashes) give the offsets libfdt gives, reader and rw alike', () => {
  const trees = fc.sample(treeArb, { numRuns: 60, seed: 5 });
  const cases = trees.map((t) => {
    const blob = buildBlob(t);
    const f = new Fdt(blob);
    const paths: string[] = [];
    const todo = [f.root()];
    while (todo.length > 0) {
      const n = todo.pop()!;
      const p = f.getPath(n);
      paths.push(p, p.replace(/@[^/]*/g, ''), p.replace(/\//g, '//'), `${p}/nope`);
      todo.push(...f.children(n));
    }
    return { kind: 'paths' as const, blob: hex(blob), paths };
  });
  const ref = libfdt(cases);
  cases.forEach((c, i) => {
    const blob = new Uint8Array(Buffer.from(c.blob, 'hex'));
    const f = new Fdt(blob);
    const rw = FdtRw.openInto(blob, blob.length);
    const want = ref[i]!.offsets!.map((o) => (o < 0 ? -1 : o));
    assert.deepEqual(
      c.paths.map((p) => f.pathOffset(p)),
      want,
      `tree ${i}`,
    );
    assert.deepEqual(
      c.paths.map((p) => rw.pathOffset(p)),
      want,
      `tree ${i} (rw)`,
    );
  });
});
