/**
 * The outgoing root FDT is byte-identical to what libfdt produces for the same sequence: the
 * kernel's fdt_create … fdt_finish, then for each add/remove fdt_open_into(PAGE_SIZE), the
 * edits (add_subnode, setprop preserved-data, setprop blob-size / del_node) and fdt_pack.
 * Reference: python3-libfdt through test/helpers/libfdt-ops.py.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeLe64Prop } from '../../src/abi/kho-fdt.ts';
import type { KhoCompatible } from '../../src/abi/versions.ts';
import { hex, libfdt, type LibfdtCase, type RwOp } from '../helpers/fdt-libfdt.ts';
import { buildRootFdtPage } from '../../src/kho/out-fdt.ts';
import { buildMemblockFdtPage } from '../../src/kho/reserve-mem.ts';
import { boot } from './kho-helpers.ts';

type Op = { kind: 'add'; name: string; size: number } | { kind: 'remove'; index: number };

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 40);

interface Run {
  ours: Uint8Array;
  sw: LibfdtCase;
  rw: RwOp[];
}

/** Replay `ops` on a cold-booted kernel and write the libfdt operations of the same sequence. */
function run(profile: KhoCompatible, ops: Op[]): Run {
  const k = boot({ profile });
  const kho = k.kho;
  const abi = k.profile.abi;
  const sw: LibfdtCase = {
    kind: 'sw',
    ops: [
      ['finrsv'],
      ['begin', ''],
      ['prop', 'compatible', hex(new TextEncoder().encode(`${abi.compatible}\0`))],
      ['prop', 'preserved-memory-map', hex(encodeLe64Prop(kho.rootPhys))],
      ['end'],
    ],
  };
  const rw: RwOp[] = [];
  const add = (name: string, phys: number, size: number): void => {
    rw.push(['resize', 4096], ['add_subnode', '/', name]);
    rw.push(['setprop', `/${name}`, abi.subtreeDataProp, hex(encodeLe64Prop(phys))]);
    if (abi.hasBlobSize) rw.push(['setprop', `/${name}`, 'blob-size', hex(encodeLe64Prop(size))]);
    rw.push(['pack']);
  };
  if (abi.hasKexecMetadata) add('kexec-metadata', kho.ctx.subtrees.get('kexec-metadata')!.phys, 73);
  const blobs: number[] = [];
  const inTree = new Map<number, string>(); // phys -> node name
  for (const op of ops) {
    if (op.kind === 'add') {
      const phys = kho.allocPreserve(4096);
      blobs.push(phys);
      const exists = [...inTree.values()].includes(op.name);
      assert.equal(kho.addSubtree(op.name, phys, op.size), exists ? -17 : 0);
      if (exists) rw.push(['resize', 4096], ['add_subnode', '/', op.name], ['pack']);
      else {
        add(op.name, phys, op.size);
        inTree.set(phys, op.name);
      }
    } else if (blobs.length > 0) {
      const phys = blobs[op.index % blobs.length]!;
      kho.removeSubtree(phys);
      rw.push(['resize', 4096]);
      const name = inTree.get(phys);
      if (name !== undefined) {
        rw.push(['del_node', `/${name}`]);
        inTree.delete(phys);
      }
      rw.push(['pack']);
    }
  }
  return { ours: kho.outFdt()!, sw, rw };
}

test('initial page: libfdt sequential-write blob, strings copy left at the page end', () => {
  const page = buildRootFdtPage('kho-v4', 0x1234000);
  const [r] = libfdt([
    {
      kind: 'sw',
      ops: [
        ['finrsv'],
        ['begin', ''],
        ['prop', 'compatible', hex(new TextEncoder().encode('kho-v4\0'))],
        ['prop', 'preserved-memory-map', hex(encodeLe64Prop(0x1234000))],
        ['end'],
      ],
    },
  ]);
  const blob = Buffer.from(r!.hex!, 'hex');
  assert.equal(hex(page.subarray(0, blob.length)), r!.hex);
  const strings = 'preserved-memory-map\0compatible\0';
  assert.equal(Buffer.from(page.subarray(4096 - strings.length)).toString('latin1'), strings);
  assert.ok(page.subarray(blob.length, 4096 - strings.length).every((b) => b === 0));
});

for (const profile of ['kho-v1', 'kho-v2', 'kho-v3', 'kho-v4'] as const) {
  test(`${profile}: add/remove sequences give libfdt's bytes`, () => {
    const names = ['memblock', 'kho_test', 'LUO', 'a', 'node@1', 'x'.repeat(30)];
    const opArb = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        name: fc.constantFrom(...names),
        size: fc.nat(1 << 20),
      }),
      fc.record({ kind: fc.constant('remove' as const), index: fc.nat(20) }),
    );
    const cases = fc.sample(fc.array(opArb, { maxLength: 12 }), { numRuns: RUNS, seed: 42 });
    const runs = cases.map((ops) => run(profile, ops));
    const sw = libfdt(runs.map((r) => r.sw));
    const out = libfdt(runs.map((r, i) => ({ kind: 'rw', blob: sw[i]!.hex!, bufsize: 4096, ops: r.rw })));
    runs.forEach((r, i) => {
      // No edit at all: the kernel's page still holds the unpacked sequential-write blob.
      const ref = Buffer.from(r.rw.length === 0 ? sw[i]!.hex! : out[i]!.hex!, 'hex');
      assert.equal(hex(r.ours), ref.subarray(0, ref.readUInt32BE(4)).toString('hex'), `case ${i}`);
    });
  });
}

/** The kernel functions written with python3-libfdt in one page (test/kho/kho-fdt-ref.py). */
const REF = fileURLToPath(new URL('./kho-fdt-ref.py', import.meta.url));

interface RefCase {
  compat: string;
  memmap: number;
  blobsize: boolean;
  dataprop: string;
  ops: (['add', string, number, number] | ['remove', number])[];
}

function reference(cases: RefCase[]): { page: string; rets: number[] }[] {
  const out = execFileSync('/usr/bin/python3', [REF], { input: JSON.stringify(cases), maxBuffer: 1 << 28 });
  return JSON.parse(out.toString()) as { page: string; rets: number[] }[];
}

test('whole FDT page and return codes equal libfdt in place, up to a full page and back', () => {
  const nameArb = fc.oneof(
    fc.constantFrom('memblock', 'LUO', 'kho_test', 'a@1'),
    fc.stringMatching(/^[a-z][a-z0-9_,.+-]{0,60}$/),
    fc.tuple(fc.integer({ min: 0, max: 999 }), fc.nat(60)).map(([n, pad]) => `n${n}${'_'.repeat(pad)}`),
  );
  const opArb = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), name: nameArb, size: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), index: fc.nat(200) }) },
  );
  const seqs = fc.sample(fc.array(opArb, { minLength: 90, maxLength: 200 }), { numRuns: RUNS, seed: 3 });
  const cases: RefCase[] = [];
  const ours: { page: string; rets: number[] }[] = [];
  for (const [i, seq] of seqs.entries()) {
    const profile = (['kho-v1', 'kho-v2', 'kho-v3', 'kho-v4'] as const)[i % 4]!;
    const k = boot({ profile });
    const abi = k.profile.abi;
    const c: RefCase = {
      compat: abi.compatible,
      memmap: k.kho.rootPhys,
      blobsize: abi.hasBlobSize,
      dataprop: abi.subtreeDataProp,
      ops: [],
    };
    if (abi.hasKexecMetadata)
      c.ops.push(['add', 'kexec-metadata', k.kho.ctx.subtrees.get('kexec-metadata')!.phys, 73]);
    const rets: number[] = abi.hasKexecMetadata ? [0] : [];
    const blobs: number[] = [];
    for (const op of seq) {
      if (op.kind === 'add') {
        const phys = 0x1000 * (blobs.length + 1) + 0x4000_0000;
        blobs.push(phys);
        rets.push(k.kho.addSubtree(op.name, phys, op.size));
        c.ops.push(['add', op.name, phys, op.size]);
      } else if (blobs.length > 0) {
        const phys = blobs[op.index % blobs.length]!;
        k.kho.removeSubtree(phys);
        rets.push(0);
        c.ops.push(['remove', phys]);
      }
    }
    cases.push(c);
    ours.push({ page: hex(k.machine.mem.read(k.kho.fdtPhys, 4096)), rets });
  }
  const refs = reference(cases);
  let full = 0;
  refs.forEach((r, i) => {
    const bad = r.rets.findIndex((x, j) => x !== ours[i]!.rets[j]);
    assert.equal(
      bad,
      -1,
      `case ${i} return codes differ at op ${bad}: ${JSON.stringify(cases[i]!.ops.slice(0, bad + 1))}`,
    );
    assert.equal(ours[i]!.page, r.page, `case ${i} page bytes`);
    if (r.rets.includes(-12)) full++;
  });
  assert.ok(full > 0, 'some sequences filled the page');
});

test('memblock sub-FDT page equals python3-libfdt FdtSw(4096), strings copy included', () => {
  const records = [
    { name: 'trace', start: 0x3fc0_0000, size: 4 << 20 },
    { name: 'oops', start: 0x1_2340_0000, size: 1 << 20 },
  ];
  const ours = buildMemblockFdtPage(records);
  const py = `
import libfdt, struct, sys, json
recs = json.loads(sys.argv[1])
sw = libfdt.FdtSw(4096)
sw.finish_reservemap()
sw.begin_node("")
sw.property_string("compatible", "memblock-v1")
for r in recs:
    sw.begin_node(r["name"])
    sw.property_string("compatible", "reserve-mem-v1")
    sw.property("start", struct.pack("<Q", r["start"]))
    sw.property("size", struct.pack("<Q", r["size"]))
    sw.end_node()
sw.end_node()
print(bytes(sw.as_fdt().as_bytearray()).hex())
`;
  const ref = execFileSync('/usr/bin/python3', ['-c', py, JSON.stringify(records)])
    .toString()
    .trim();
  assert.equal(hex(ours), ref);
});
