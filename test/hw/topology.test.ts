import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KhoMemError } from '../../src/hw/errors.ts';
import {
  MACHINE_PRESETS,
  machineSizeError,
  parseMachineSpec,
  parseSize,
  Topology,
  formatSize,
} from '../../src/hw/topology.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const TiB = 2 ** 40;
const LOW_HOLES = 0x1000 + (0x100000 - 0x9f000); // page 0 and [0x9f000, 1 MiB)
const isEinval = (e: unknown) => e instanceof KhoMemError && e.code === 'EINVAL';
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 200);

test('parseSize accepts memparse-style sizes', () => {
  const cases: [string, number][] = [
    ['16G', 16 * GiB],
    ['16g', 16 * GiB],
    ['512M', 512 * MiB],
    ['4T', 4 * TiB],
    ['1024K', MiB],
    ['4096', 4096],
    ['0', 0],
    ['0x1000', 4096],
    ['0x10M', 16 * MiB],
    ['2GiB', 2 * GiB],
    ['2GB', 2 * GiB],
    ['1P', 2 ** 50],
    [' 8G ', 8 * GiB],
  ];
  for (const [text, want] of cases) assert.equal(parseSize(text), want, text);
});

test('parseSize rejects anything else with EINVAL and a readable message', () => {
  for (const text of [
    '',
    'G',
    '1.5G',
    '-1G',
    '16X',
    '16 G',
    '0x',
    '1e9',
    '12B',
    '16Gb!',
    '8E',
    '9P',
    'abc',
  ]) {
    assert.throws(() => parseSize(text), isEinval, JSON.stringify(text));
  }
  assert.throws(() => parseSize('1.5G'), /invalid size "1.5G"/);
  assert.throws(() => parseSize(16 as unknown as string), isEinval);
});

test('the default preset: 16 GiB over 2 nodes, node 0 owns low memory, no RAM in the PCI hole', () => {
  const t = Topology.preset(MACHINE_PRESETS.default);
  assert.equal(t.installed, 16 * GiB);
  assert.equal(t.totalRam, 16 * GiB - LOW_HOLES);
  assert.deepEqual(t.ramRanges(), [
    { start: 0x1000, end: 0x9f000, nid: 0 },
    { start: 0x100000, end: 3 * GiB, nid: 0 },
    { start: 4 * GiB, end: 9 * GiB, nid: 0 },
    { start: 9 * GiB, end: 17 * GiB, nid: 1 },
  ]);
  assert.equal(t.nodes[0]!.bytes, 8 * GiB - LOW_HOLES);
  assert.equal(t.nodes[1]!.bytes, 8 * GiB);
  assert.equal(t.end, 17 * GiB);
  const at: [number, number][] = [
    [0, -1],
    [0xfff, -1],
    [0x1000, 0],
    [0x9efff, 0],
    [0x9f000, -1],
    [0xfffff, -1],
    [0x100000, 0],
    [3 * GiB - 1, 0],
    [3 * GiB, -1],
    [4 * GiB - 1, -1],
    [4 * GiB, 0],
    [9 * GiB - 1, 0],
    [9 * GiB, 1],
    [17 * GiB - 1, 1],
    [17 * GiB, -1],
    [-1, -1],
    [NaN, -1],
  ];
  for (const [phys, nid] of at) assert.equal(t.nodeOf(phys), nid, `nodeOf(0x${phys.toString(16)})`);
  assert.equal(t.isRam(4 * GiB, 5 * GiB), true);
  assert.equal(t.isRam(4 * GiB, 5 * GiB + 1), false, 'crosses into node 1');
  assert.equal(t.isRam(3 * GiB - 4096, 8192), false);
});

test('small and big presets', () => {
  const s = Topology.named('small');
  assert.equal(s.nodes.length, 1);
  assert.equal(s.totalRam, GiB - LOW_HOLES);
  assert.equal(s.end, GiB);
  assert.equal(s.nodeOf(GiB - 1), 0);
  assert.equal(s.nodeOf(4 * GiB), -1);
  const b = Topology.named('big');
  assert.equal(b.nodes.length, 4);
  assert.equal(b.installed, 4 * TiB);
  assert.equal(b.end, 4 * TiB + GiB);
  for (const n of b.nodes.slice(1)) assert.equal(n.bytes, TiB);
  assert.equal(b.nodeOf(TiB + GiB), 1, 'node 1 starts one GiB late: the hole shifted it');
  assert.equal(b.nodeOf(TiB + GiB - 1), 0);
  assert.throws(() => Topology.named('huge' as 'big'), isEinval);
});

test('below 3.5 GiB all RAM is low (QEMU pc); from 3.5 GiB on, 3 GiB low and the rest above 4 GiB', () => {
  for (const mem of [2 * MiB, 512 * MiB, 3 * GiB, 3.5 * GiB - 2 * MiB]) {
    const t = Topology.preset({ mem, nodes: 1 });
    assert.equal(t.end, mem);
    assert.equal(t.totalRam, mem - LOW_HOLES);
    assert.match(
      t.iomem(),
      new RegExp(`^${mem.toString(16).padStart(8, '0')}-febfffff : PCI Bus 0000:00$`, 'm'),
    );
  }
  const t = Topology.preset({ mem: 3.5 * GiB, nodes: 1 });
  assert.deepEqual(t.ramRanges().slice(-2), [
    { start: 0x100000, end: 3 * GiB, nid: 0 },
    { start: 4 * GiB, end: 4.5 * GiB, nid: 0 },
  ]);
  assert.equal(t.totalRam, 3.5 * GiB - LOW_HOLES);
});

test('bad machine descriptions are EINVAL', () => {
  const bad: { mem: number; nodes: number }[] = [
    { mem: 16 * GiB, nodes: 0 },
    { mem: 16 * GiB, nodes: 65 },
    { mem: 16 * GiB, nodes: 1.5 },
    { mem: 0, nodes: 1 },
    { mem: -GiB, nodes: 1 },
    { mem: NaN, nodes: 1 },
    { mem: 3 * MiB, nodes: 1 },
    { mem: 6 * MiB, nodes: 2 },
    { mem: 2 ** 52, nodes: 1 },
  ];
  for (const spec of bad) assert.throws(() => Topology.preset(spec), isEinval, JSON.stringify(spec));
  assert.throws(() => Topology.preset({ mem: 6 * MiB, nodes: 2 }), /3 MiB|2 MiB pageblocks/);
});

test('the per-node limit: a node spans at most 16 TiB, checked before anything is built', () => {
  // One node of 16 TiB also spans the 1 GiB hole below 4 GiB: over the limit.
  assert.match(machineSizeError(16 * TiB, 1)!, /per-node limit: a node spans at most 16 TiB/);
  assert.match(machineSizeError(3 * 2 ** 50, 1)!, /per-node limit/);
  assert.throws(() => Topology.preset({ mem: 16 * TiB, nodes: 1 }), /per-node limit/);
  assert.equal(machineSizeError(16 * TiB - 2 * GiB, 1), null);
  assert.match(machineSizeError(32 * TiB, 2)!, /per-node limit/); // node 0: 16 TiB + the hole
  assert.equal(machineSizeError(32 * TiB - 4 * GiB, 2), null);
  assert.match(machineSizeError(16 * GiB, 3)!, /use a multiple of 6 MiB/);
  // The limit is the buddy allocator's: a machine just under it boots its zones.
  const t = Topology.preset({ mem: 16 * TiB - 2 * GiB, nodes: 1 });
  assert.equal(t.nodes.length, 1);
});

test('any valid machine: nodes split mem evenly, ranges ascending and disjoint, nodeOf agrees', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 4096 }),
      fc.integer({ min: 0, max: 2 ** 20 }),
      (nodes, units, probe) => {
        const mem = nodes * units * 2 * MiB;
        const t = Topology.preset({ mem, nodes });
        assert.equal(t.totalRam, mem - LOW_HOLES);
        const per = mem / nodes;
        t.nodes.forEach((n, nid) => {
          assert.equal(n.bytes, nid === 0 ? per - LOW_HOLES : per);
        });
        const r = t.ramRanges();
        for (let i = 1; i < r.length; i++) assert.ok(r[i - 1]!.end <= r[i]!.start);
        for (const x of r) {
          assert.ok(x.start < x.end && x.start % 4096 === 0 && x.end % 4096 === 0);
          assert.ok(x.end <= 3.5 * GiB || x.start >= 4 * GiB, 'nothing in the PCI hole');
          if (mem >= 3.5 * GiB) assert.ok(x.end <= 3 * GiB || x.start >= 4 * GiB);
          assert.equal(t.nodeOf(x.start), x.nid);
          assert.equal(t.nodeOf(x.end - 1), x.nid);
        }
        const phys = Math.floor((probe / 2 ** 20) * t.end);
        const owner = r.find((x) => phys >= x.start && phys < x.end);
        assert.equal(t.nodeOf(phys), owner === undefined ? -1 : owner.nid);
      },
    ),
    { numRuns: RUNS },
  );
});

test('iomem() prints the /proc/iomem layout with kernel padding and nesting', () => {
  const t = Topology.preset(MACHINE_PRESETS.default);
  const text = t.iomem([
    { start: 0x1000000, end: 0x2000000, name: 'Kernel code' },
    { start: 0x2000000, end: 0x2800000, name: 'Kernel data' },
  ]);
  assert.equal(
    text,
    [
      '00000000-00000fff : Reserved',
      '00001000-0009fbff : System RAM',
      '0009fc00-0009ffff : Reserved',
      '000a0000-000bffff : PCI Bus 0000:00',
      '000f0000-000fffff : Reserved',
      '  000f0000-000fffff : System ROM',
      '00100000-bfffffff : System RAM',
      '  01000000-01ffffff : Kernel code',
      '  02000000-027fffff : Kernel data',
      'c0000000-febfffff : PCI Bus 0000:00',
      'fec00000-fec003ff : IOAPIC 0',
      'fee00000-fee00fff : Local APIC',
      'fffc0000-ffffffff : Reserved',
      '100000000-43fffffff : System RAM',
      '',
    ].join('\n'),
  );
  assert.match(Topology.named('small').iomem(), /^00100000-3fffffff : System RAM$/m);
  assert.match(Topology.named('small').iomem(), /^40000000-febfffff : PCI Bus 0000:00$/m);
});

test('e820 table as the kernel logs it', () => {
  const t = Topology.preset({ mem: 16 * GiB, nodes: 2 });
  assert.equal(
    t.e820Text(),
    [
      'BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable',
      'BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved',
      'BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved',
      'BIOS-e820: [mem 0x0000000000100000-0x00000000bfffffff] usable',
      'BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved',
      'BIOS-e820: [mem 0x0000000100000000-0x000000043fffffff] usable',
      '',
    ].join('\n'),
  );
  const usable = t.e820().filter((e) => e.type === 'usable');
  assert.equal(
    usable.reduce((s, e) => s + e.end - e.start, 0),
    16 * GiB - (0x100000 - 0x9fc00),
  );
});

test('formatSize', () => {
  assert.equal(formatSize(16 * GiB), '16 GiB');
  assert.equal(formatSize(3 * MiB), '3 MiB');
  assert.equal(formatSize(4097), '4097 B');
});

test('parseMachineSpec takes preset names or SIZE[,NODES]', () => {
  assert.deepEqual(parseMachineSpec('default'), { mem: 16 * GiB, nodes: 2 });
  assert.deepEqual(parseMachineSpec('big'), { mem: 4 * TiB, nodes: 4 });
  assert.deepEqual(parseMachineSpec('16G'), { mem: 16 * GiB, nodes: 1 });
  assert.deepEqual(parseMachineSpec('64G, 4'), { mem: 64 * GiB, nodes: 4 });
  for (const bad of ['', 'huge', '16G,', '16G,x', '16G,2,3', 'toString', ',2']) {
    assert.throws(() => parseMachineSpec(bad), isEinval, JSON.stringify(bad));
  }
  assert.throws(() => parseMachineSpec('huge'), /invalid size "huge"/);
});
