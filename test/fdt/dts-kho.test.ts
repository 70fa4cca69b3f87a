/** `--kho` notes: KHO values decoded as comments, the dtc text otherwise untouched. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toDts } from '../../src/fdt/dts.ts';
import { asComment, khoDocument, khoNotes } from '../../src/abi/kho-annotate.ts';
import { writeLuoV1Fdt } from '../../src/abi/luo-v1.ts';
import { readTree } from '../../src/fdt/reader.ts';
import type { FdtNode, FdtTree } from '../../src/fdt/tree.ts';
import { dtcCompile } from '../fixtures/fdt/dtc.ts';

const khoDts = (t: FdtTree): string => {
  const { note } = khoNotes(t);
  return toDts(t, (path, prop) => {
    const text = note(path, prop);
    return text === undefined ? undefined : asComment(text);
  });
};
const stripComments = (text: string): string => text.replace(/ \/\* .*? \*\/$/gm, '');
const enc = new TextEncoder();
const s = (x: string) => enc.encode(`${x}\0`);
const le64 = (x: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, x, true);
  return b;
};
const tree = (root: FdtNode): FdtTree => ({
  version: 17,
  lastCompVersion: 16,
  bootCpuidPhys: 0,
  memreserve: [],
  root,
});

test('kho-v4 root FDT: every KHO value decoded', () => {
  const t = readTree(dtcCompile('kho-v4.dts'));
  assert.equal(
    khoDts(t),
    `/dts-v1/;

/ {
	compatible = "kho-v4"; /* KHO ABI kho-v4 (radix-tree memory map, sub-trees by \`preserved-data\` + \`blob-size\`) */
	preserved-memory-map = <0x402301 0x00>; /* LE64 0x1234000: phys of the radix-tree root page */

	kho_test {
		preserved-data = <0x2005 0x00>; /* LE64 0x5200000: phys of the sub-tree blob */
		blob-size = <0x58000000 0x00>; /* LE64 0x58 = 88 bytes: blob size */
	};

	memblock {
		preserved-data = <0x102005 0x00>; /* LE64 0x5201000: phys of the sub-tree blob */
		blob-size = <0xf0000000 0x00>; /* LE64 0xf0 = 240 bytes: blob size */
	};

	kexec-metadata {
		preserved-data = <0xf01f05 0x00>; /* LE64 0x51ff000: phys of the sub-tree blob */
		blob-size = <0x49000000 0x00>; /* LE64 0x49 = 73 bytes: blob size (kexec-metadata: 73) */
	};
};
`,
  );
});

test('the notes only add comments: stripping them gives the dtc text', () => {
  for (const f of ['kho-v4.dts', 'kho-v1.dts', 'kho-v9.dts', 'memblock.dts', 'kho-test.dts', 'edge.dts']) {
    const t = readTree(dtcCompile(f));
    assert.equal(stripComments(khoDts(t)), toDts(t), f);
  }
});

test('kho-v1: chunk list and `fdt` sub-tree pointers', () => {
  const text = khoDts(readTree(dtcCompile('kho-v1.dts')));
  assert.match(
    text,
    /compatible = "kho-v1"; \/\* KHO ABI kho-v1 \(chunk-list memory map, sub-trees by `fdt`\) \*\//,
  );
  assert.match(
    text,
    /preserved-memory-map = .*\/\* LE64 0x17fa00000: phys of the first khoser_mem_chunk \(0 = none\) \*\//,
  );
  assert.match(text, /fdt = .*\/\* LE64 0x5203000: phys of the sub-FDT \*\//);
});

test('an unknown kho-vN is named as unknown, its LE64 values still decoded', () => {
  const t = readTree(dtcCompile('kho-v9.dts'));
  assert.deepEqual(khoDocument(t), { kind: 'root', compatible: 'kho-v9', abi: null });
  const text = khoDts(t);
  assert.match(text, /"kho-v9"; \/\* unknown KHO ABI version kho-v9 \(known: kho-v1..kho-v4\) \*\//);
  assert.match(text, /blob-size = .*\/\* LE64 0x8 = 8 bytes: blob size \*\//);
  assert.match(text, /extra = <0x01>;\n/);
});

test('memblock and test_kho sub-trees', () => {
  const mb = khoDts(readTree(dtcCompile('memblock.dts')));
  assert.match(mb, /start = .*\/\* LE64 0x13c000000: reservation start \(phys\) \*\//);
  assert.match(mb, /size = .*\/\* LE64 0x100000 = 1048576 bytes: reservation size \*\//);
  assert.match(mb, /compatible = "reserve-mem-v1";\n/);
  const tk = khoDts(readTree(dtcCompile('kho-test.dts')));
  assert.match(tk, /magic = <0x214f484b>; \/\* LE32 0x4b484f21: magic "KHO!" \(ok\) \*\//);
  assert.match(tk, /nr_folios = .*\/\* LE32 0x2a = 42: number of folios \*\//);
  assert.match(tk, /csum = .*\/\* LE32 0xdeadbeef = 3735928559: checksum \*\//);
  assert.match(
    tk,
    /folios_info = .*\/\* struct kho_vmalloc: first 0x3a15000, total_pages 2048, flags 0x1 \(ALLOC\), order 0 \*\//,
  );
});

test('wrong lengths, wrong magic and unknown flags are pointed out', () => {
  const t = tree({
    name: '',
    props: [
      { name: 'compatible', value: s('kho-test-v1') },
      { name: 'magic', value: Uint8Array.of(1, 2, 3, 4) },
    ],
    children: [
      {
        name: 'data',
        props: [
          { name: 'nr_folios', value: Uint8Array.of(1, 2) },
          { name: 'folios_info', value: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x06, 0, 9, 0) },
        ],
        children: [],
      },
    ],
  });
  const text = khoDts(t);
  assert.match(text, /\/\* LE32 0x4030201: magic \(expected 0x4b484f21\) \*\//);
  assert.match(text, /\/\* expected 4 bytes \(LE32 number of folios\), got 2 \*\//);
  assert.match(text, /flags 0x6 \(HUGE_VMAP\|unknown 0x4\), order 9/);
  const bad = tree({
    name: '',
    props: [
      { name: 'compatible', value: s('kho-v4') },
      { name: 'preserved-memory-map', value: Uint8Array.of(1, 2, 3) },
    ],
    children: [],
  });
  assert.match(khoDts(bad), /\/\* expected 8 bytes \(LE64 phys of the radix-tree root page\), got 3 \*\//);
});

test('versions decode only what they define; values beyond 2^53 stay exact', () => {
  const sub = (data: string) => ({
    name: 'x',
    props: [
      { name: data, value: le64(0xffff_ffff_ffff_f000n) },
      { name: 'blob-size', value: le64(1n) },
      { name: 'fdt', value: le64(2n) },
    ],
    children: [],
  });
  const v2 = khoDts(
    tree({
      name: '',
      props: [{ name: 'compatible', value: s('kho-v2') }],
      children: [sub('preserved-data')],
    }),
  );
  assert.match(v2, /preserved-data = .*\/\* LE64 0xfffffffffffff000: phys of the sub-tree blob \*\//);
  assert.match(v2, /blob-size = <0x1000000 0x00>;\n/); // kho-v2 has no blob-size
  assert.match(v2, /fdt = <0x2000000 0x00>;\n/); // nor `fdt`
  // a compatible list: the first KHO version wins
  assert.equal(
    khoDocument(
      tree({
        name: '',
        props: [{ name: 'compatible', value: enc.encode('vendor,x\0kho-v3\0') }],
        children: [],
      }),
    ).kind,
    'root',
  );
});

test('no KHO document: no notes at all', () => {
  const t = readTree(dtcCompile('edge.dts'));
  assert.equal(khoNotes(t).summary, undefined);
  assert.equal(khoDts(t), toDts(t));
});

test('asComment cannot be closed early by the text', () => {
  assert.equal(asComment('a */ b'), '/* a * / b */');
});

test('the FDT-era LUO tree (luo-v1): live update number, session area and FLB page', () => {
  const page = writeLuoV1Fdt({ liveupdateNum: 3n, sessionHeader: 0x1_0400_0000, flbHeader: 0x5000 });
  const t = readTree(page.subarray(0, new DataView(page.buffer).getUint32(4)));
  assert.equal(khoDocument(t).kind, 'luo');
  const text = khoDts(t);
  assert.equal(stripComments(text), toDts(t));
  assert.match(
    text,
    /compatible = "luo-v1"; \/\* KHO sub-tree LUO: Live Update Orchestrator, FDT-era ABI luo-v1 \(v6\.19 … v7\.1\) \*\//,
  );
  assert.match(text, /liveupdate-number = <0x3000000 0x00>; \/\* LE64 0x3 = 3: live updates so far/);
  assert.match(
    text,
    /luo-session-header = <0x04 0x1000000>; \/\* LE64 0x104000000: phys of the 16-page session area: u64 count \+ 80-byte luo_session_ser \(at most 819\)/,
  );
  assert.match(text, /luo-flb-header = <0x500000 0x00>; \/\* LE64 0x5000: phys of the FLB page/);
  assert.match(text, /compatible = "luo-session-v2"; \/\* session ABI \*\//);
  const bad = tree({
    name: '',
    props: [
      { name: 'compatible', value: s('luo-v1') },
      { name: 'liveupdate-number', value: new Uint8Array(4) },
    ],
    children: [
      { name: 'luo-session', props: [{ name: 'compatible', value: s('luo-session-v1') }], children: [] },
    ],
  });
  assert.match(khoDts(bad), /expected 8 bytes \(LE64 live update count\), got 4/);
  assert.match(khoDts(bad), /session ABI: the successor expects "luo-session-v2"/);
});
