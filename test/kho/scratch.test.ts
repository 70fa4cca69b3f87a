/** Scratch sizing and reservation on cold boots (scratch_size_update(), kho_reserve_scratch(), kho_init()), checked against the formula. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine } from '../../src/kernel/machine.ts';
import { profileByName } from '../../src/kernel/profile.ts';
import { ARCH_LOW_ADDRESS_LIMIT, MEMBLOCK_RSRV_KERN } from '../../src/mm/memblock.ts';
import { mmInit } from '../../src/mm/mm-init.ts';
import { globalScratchSize } from '../../src/kho/scratch.ts';
import { Buddy } from '../../src/mm/buddy.ts';
import { boot, dec, GiB, MiB } from './kho-helpers.ts';

const R = (x: number): number => Math.ceil(x / (2 * MiB)) * 2 * MiB;

/** K(limit, nid) of the memblock state just before kho_memory_init, computed by hand. */
function kValues(mem: number, nodes: number): { low: number; all: number; node: Map<number, number> } {
  const m = Machine.create({ mem, nodes });
  let out = { low: 0, all: 0, node: new Map<number, number>() };
  mmInit({
    layout: m.topology,
    beforeFreeAll: (ctx) => {
      const node = new Map<number, number>();
      let low = 0;
      let all = 0;
      for (const r of ctx.memblock.reserved.regions) {
        if ((r.flags & MEMBLOCK_RSRV_KERN) === 0) continue;
        all += r.size;
        low += Math.max(0, Math.min(r.base + r.size, ARCH_LOW_ADDRESS_LIMIT) - r.base);
        if (r.nid >= 0) node.set(r.nid, (node.get(r.nid) ?? 0) + r.size);
      }
      out = { low, all, node };
    },
  });
  return out;
}

for (const [mem, nodes] of [
  [1 * GiB, 1],
  [16 * GiB, 2],
  [64 * GiB, 4],
] as const) {
  test(`default scale 200%: ${mem / GiB} GiB, ${nodes} node(s)`, () => {
    const k = boot({ mem, nodes });
    const K = kValues(mem, nodes);
    const low = R(Math.floor((K.low * 200) / 100));
    const areas = k.kho.scratch;
    assert.equal(areas.length, nodes + 2);
    assert.equal(areas[0]!.size, low);
    assert.ok(areas[0]!.addr + areas[0]!.size <= 2 ** 32);
    const gDiff = Math.floor((K.all * 200) / 100) - low;
    assert.equal(areas[1]!.size, gDiff <= 0 ? 0 : R(gDiff));
    for (let n = 0; n < nodes; n++) {
      const a = areas[2 + n]!;
      assert.equal(a.size, R(Math.floor(((K.node.get(n) ?? 0) * 200) / 100)));
      assert.equal(k.machine.topology.nodeOf(a.addr), n);
      assert.equal(a.addr % (2 * MiB), 0);
    }
    if (mem === GiB) assert.equal(areas[1]!.size, 0, 'global underflow QUIRK');
    // Scratch is CMA after kho_init: CmaTotal counts every scratch page.
    const total = areas.reduce((s, a) => s + a.size, 0);
    assert.equal(k.buddy.meminfo().CmaTotal * 1024, total);
    assert.equal(k.buddy.meminfo().CmaFree * 1024, total);
  });
}

test('global underflow: a negative difference rounds to 0, a large one cannot be allocated', () => {
  assert.equal(globalScratchSize(10 * MiB, 10 * MiB), 0);
  assert.equal(globalScratchSize(10 * MiB - 5, 10 * MiB), 0);
  assert.equal(globalScratchSize(10 * MiB + 1, 10 * MiB), 2 * MiB);
  assert.ok(globalScratchSize(1 * MiB, 10 * MiB) > 2 ** 51);
});

test('kho_scratch= sizes: lowmem/global as given, per-node rounded; scale form', () => {
  const k = boot({ mem: 16 * GiB, nodes: 2, cmdline: 'kho=on kho_scratch=16M,512M,255M' });
  assert.ok(k.dmesg.has('KHO: scratch areas: lowmem: 16MiB global: 512MiB pernode: 255MiB'));
  assert.deepEqual(
    k.kho.scratch.map((a) => a.size / MiB),
    [16, 512, 256, 256],
  );
  const half = boot({ mem: 16 * GiB, nodes: 2, cmdline: 'kho=on kho_scratch=100%' });
  const full = boot({ mem: 16 * GiB, nodes: 2 });
  assert.ok(half.dmesg.has('KHO: scratch scale is 100%'));
  assert.ok(half.kho.scratch[0]!.size < full.kho.scratch[0]!.size);
  assert.ok(half.kho.scratch[2]!.size <= full.kho.scratch[2]!.size / 2 + 2 * MiB);
});

test('unrounded explicit sizes (QUIRK) and roundExplicitScratch', () => {
  const k = boot({ cmdline: 'kho=on kho_scratch=3M,5M,1M' });
  assert.deepEqual(
    k.kho.scratch.map((a) => a.size / MiB),
    [3, 5, 2],
  );
  const r = boot({ cmdline: 'kho=on kho_scratch=3M,5M,1M', options: { roundExplicitScratch: true } });
  assert.deepEqual(
    r.kho.scratch.map((a) => a.size / MiB),
    [4, 6, 2],
  );
  assert.equal(r.buddy.meminfo().CmaTotal, 12 * 1024);
});

test('reservation failure: logged, array and areas freed, KHO disabled', () => {
  for (const [arg, what] of [
    ['8G,0,0', 'lowmem'],
    ['0,100G,0', 'global'],
    ['0,0,100G', 'nid 0'],
  ] as const) {
    const k = boot({ cmdline: `kho=on kho_scratch=${arg}` });
    assert.ok(k.dmesg.has(`KHO: Failed to reserve ${what} scratch buffer`), k.dmesg.text());
    assert.ok(k.dmesg.has('KHO: Failed to reserve scratch area, disabling kexec handover'));
    assert.equal(k.kho.isEnabled(), false);
    assert.equal(k.kho.scratch.length, 0);
    assert.equal(k.debugfs.lookup('kho'), undefined);
    assert.equal(k.buddy.meminfo().CmaTotal, 0);
    // Nothing leaked: the same machine without KHO has the same free memory.
    const plain = boot({ cmdline: 'console=ttyS0' });
    assert.equal(k.buddy.nrFreePages, plain.buddy.nrFreePages);
  }
});

test('kho=off: no scratch, no debugfs, no FDT', () => {
  const k = boot({ cmdline: 'kho=off' });
  assert.equal(k.kho.isEnabled(), false);
  assert.equal(k.kho.fdtPhys, 0);
  assert.equal(k.kho.fillKimage(), null);
  const e = Machine.create({ mem: GiB, nodes: 1 }).coldBoot({
    cmdline: 'console=ttyS0',
    profile: profileByName('kho-v4', { khoEnableDefault: true })!,
  });
  assert.equal(e.kho.isEnabled(), true);
  assert.equal(dec(new Uint8Array()), '');
});

test('kho_init failure (no page for the FDT): KHO off, scratch back to the allocator, no debugfs', () => {
  const proto = Buddy.prototype as { allocFolio: (...a: unknown[]) => number | null };
  const orig = Object.getOwnPropertyDescriptor(proto, 'allocFolio')!;
  proto.allocFolio = () => null;
  let k;
  try {
    k = boot();
  } finally {
    Object.defineProperty(proto, 'allocFolio', orig);
  }
  // kho_init()'s error path logs nothing.
  assert.ok(!k.dmesg.has('KHO: failed to initialize'));
  assert.equal(k.kho.isEnabled(), false);
  assert.equal(k.debugfs.lookup('kho'), undefined);
  assert.equal(k.buddy.meminfo().CmaTotal, 0);
  assert.equal(k.kho.fillKimage(), null);
  assert.equal(k.kho.preserveFolio(0x1000, 0), -22);
  // The scratch areas are ordinary free memory now.
  for (const a of k.kho.scratch) if (a.size > 0) assert.equal(k.buddy.isFree(a.addr / 4096), true);
});
