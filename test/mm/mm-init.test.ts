import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology } from '../../src/hw/topology.ts';
import { MEMBLOCK_KHO_SCRATCH, MEMBLOCK_RSRV_KERN, Memblock } from '../../src/mm/memblock.ts';
import { MmError } from '../../src/mm/mm-error.ts';
import {
  NODE_DATA_SIZE,
  SECTION_MAP_SIZE,
  SWIOTLB_SIZE,
  directMapTableBytes,
  earlyKernSummary,
  largeSystemHashBytes,
  mmInit,
  type MmContext,
} from '../../src/mm/mm-init.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';

const MiB = 1 << 20;
const GiB = 1 << 30;

describe('mm init', () => {
  it('reserves what an x86-64 kernel reserves and frees the rest (1 GiB, one node)', () => {
    const topo = Topology.preset({ mem: GiB, nodes: 1 });
    const ctx = mmInit({ layout: topo });
    const mb = ctx.memblock;
    const names = ctx.early.map((e) => e.name);
    for (const n of [
      'kernel image',
      'real mode trampoline',
      'first 1 MiB',
      'memmap',
      'node_data',
      'percpu',
      'Dentry cache hash table',
    ]) {
      assert.ok(names.includes(n), n);
    }
    assert.ok(!names.includes('swiotlb buffer'), 'no swiotlb without RAM above 4 GiB');
    const memmap = ctx.early.find((e) => e.name === 'memmap')!;
    assert.equal(memmap.size, 8 * SECTION_MAP_SIZE); // 1 GiB = 8 sections = 16 MiB of struct page
    assert.equal(memmap.nid, 0);
    // The trampoline is below 1 MiB, RSRV_KERN, and the first MiB is not scratch any more.
    const tramp = ctx.early.find((e) => e.name === 'real mode trampoline')!;
    assert.ok(tramp.base < MiB);
    assert.equal(mb.reserved.find(tramp.base)!.flags, MEMBLOCK_RSRV_KERN);
    assert.equal(mb.memory.find(0x1000)!.flags & MEMBLOCK_KHO_SCRATCH, 0);
    // Every RAM page is either managed by the buddy allocator or reserved.
    const buddy = ctx.buddy!;
    const reservedRam = mb.reserved.regions.reduce((acc, r) => {
      let n = 0;
      for (const ram of topo.ramRanges()) {
        const a = Math.max(r.base, ram.start);
        const b = Math.min(r.base + r.size, ram.end);
        if (a < b) n += Math.ceil(b / 4096) - Math.floor(a / 4096);
      }
      return acc + n;
    }, 0);
    const ramPages = topo.ramRanges().reduce((a, r) => a + (r.end - r.start) / 4096, 0);
    assert.equal(buddy.managedPages + reservedRam, ramPages);
    assert.equal(buddy.nrFreePages, buddy.managedPages);
    assert.equal(ctx.freedPages, buddy.managedPages);
    assert.equal(buddy.isReserved(memmap.base / 4096), true);
    assert.notEqual(buddy.alloc(0, GFP_KERNEL), null);
    assert.equal(mb.releasedToBuddy, true);
  });

  it('puts each node its own memmap, node data and per-CPU area (4 nodes, 128 GiB)', () => {
    const topo = Topology.preset({ mem: 128 * GiB, nodes: 4 });
    const ctx = mmInit({ layout: topo, cpusPerNode: 16 });
    for (const nid of [0, 1, 2, 3]) {
      for (const name of ['memmap', 'node_data', 'percpu']) {
        const e = ctx.early.find((x) => x.name === name && x.nid === nid)!;
        assert.equal(topo.nodeOf(e.base), nid, `${name} of node ${nid}`);
      }
    }
    assert.equal(ctx.early.find((x) => x.name === 'percpu')!.size, 16 * 256 * 1024);
    assert.equal(ctx.early.find((x) => x.name === 'node_data')!.size, NODE_DATA_SIZE);
    const k = earlyKernSummary(ctx.memblock, [0, 1, 2, 3]);
    // Lowmem: the swiotlb buffer dominates; per node: the memmap (1/64 of the node) dominates.
    assert.ok(k.low >= SWIOTLB_SIZE && k.low < SWIOTLB_SIZE + 2 * MiB, `low ${k.low}`);
    for (const nid of [0, 1, 2, 3]) {
      const v = k.perNode.get(nid)!;
      assert.ok(v > (32 * GiB) / 64 && v < (32 * GiB) / 64 + 8 * MiB, `node ${nid}: ${v}`);
    }
    assert.ok(k.global > 2 * GiB);
  });

  it('runs the KHO hooks at the right moments; scratch-only boots allocate in scratch', () => {
    const topo = Topology.preset({ mem: 16 * GiB, nodes: 2 });
    const order: string[] = [];
    const scratch = [
      { base: 0x3000_0000, size: 256 * MiB }, // lowmem
      { base: 0x2_0000_0000, size: 512 * MiB }, // node 0
      { base: 0x3_f000_0000, size: 256 * MiB }, // node 1
    ];
    let ctxAtFreeAll: MmContext | null = null;
    const ctx = mmInit({
      layout: topo,
      onMemblockReady: (c) => {
        order.push('populate');
        assert.equal(c.memblock.reservedKernSize(), 0, 'no early allocation yet');
        for (const s of scratch) c.memblock.markKhoScratch(s.base, s.size);
        c.memblock.setKhoScratchOnly();
      },
      beforeFreeAll: (c) => {
        order.push('kho_memory_init');
        assert.notEqual(c.buddy, null);
        assert.equal(c.memblock.releasedToBuddy, false);
        assert.equal(c.memblock.khoScratchOnly, true);
        ctxAtFreeAll = c;
      },
    });
    assert.deepEqual(order, ['populate', 'kho_memory_init']);
    assert.equal(ctxAtFreeAll, ctx);
    assert.equal(ctx.memblock.khoScratchOnly, false);
    for (const e of ctx.early.filter((x) => x.kern)) {
      const inScratch =
        scratch.some((s) => e.base >= s.base && e.base + e.size <= s.base + s.size) || e.base + e.size <= MiB;
      assert.ok(inScratch, `${e.name} at 0x${e.base.toString(16)} outside scratch`);
    }
  });

  it('scratch too small: the memory map falls back to any node, then the per-CPU areas panic', () => {
    const topo = Topology.preset({ mem: 16 * GiB, nodes: 2 });
    const lines: string[] = [];
    assert.throws(
      () =>
        mmInit({
          layout: topo,
          log: (l, level) => lines.push(`${level ?? 'info'}: ${l}`),
          onMemblockReady: (c) => {
            c.memblock.markKhoScratch(0x3000_0000, 256 * MiB);
            c.memblock.setKhoScratchOnly();
          },
        }),
      (e: unknown) =>
        e instanceof MmError &&
        e.code === 'ENOMEM' &&
        e.message === 'ENOMEM: cannot initialize percpu area (err=-12)',
    );
    // Node 0's memory map fits section by section in the lowmem area; node 1's does not.
    assert.ok(!lines.some((l) => l.includes('node[0] memory map backing failed')), lines.join('\n'));
    assert.ok(
      lines.includes(
        'err: sparse_init_nid: node[1] memory map backing failed. Some memory will not be available.',
      ),
      lines.join('\n'),
    );
    assert.ok(lines.includes('warn: percpu: embed allocator failed (-12), falling back to page size'));
  });

  it('swiotlb halves its buffer until it fits the scratch, then goes without (kernel/dma/swiotlb.c)', () => {
    const topo = Topology.preset({ mem: 16 * GiB, nodes: 2 });
    const run = (lowMiB: number): { lines: string[]; ctx: MmContext } => {
      const lines: string[] = [];
      const ctx = mmInit({
        layout: topo,
        log: (l, level) => lines.push(`${level ?? 'info'}: ${l}`),
        onMemblockReady: (c) => {
          c.memblock.markKhoScratch(0x3000_0000, lowMiB * MiB); // lowmem
          c.memblock.markKhoScratch(0x1_0000_0000, 512 * MiB); // above 4 GiB
          c.memblock.markKhoScratch(0x2_8000_0000, 512 * MiB); // node 1
          c.memblock.setKhoScratchOnly();
        },
      });
      return { lines: lines.filter((l) => /IO TLB/.test(l)), ctx };
    };
    const fail = (n: number): string =>
      `warn: software IO TLB: swiotlb_memblock_alloc: Failed to allocate ${n} bytes tlb structure`;
    const small = run(16);
    assert.deepEqual(small.lines, [
      'info: software IO TLB: area num 16.',
      fail(64 * MiB),
      fail(32 * MiB),
      'info: software IO TLB: SWIOTLB bounce buffer size adjusted 32768 -> 8192 slabs',
    ]);
    assert.equal(small.ctx.swiotlb!.nslabs, 8192);
    assert.ok(small.ctx.swiotlb!.start >= 0x3000_0000 && small.ctx.swiotlb!.start < 0x3100_0000);
    const none = run(0);
    assert.deepEqual(none.lines, [
      'info: software IO TLB: area num 16.',
      ...[64, 32, 16, 8, 4, 2, 1].map((m) => fail(m * MiB)),
    ]);
    assert.equal(none.ctx.swiotlb!.nslabs, 0);
    assert.equal(run(128).lines.length, 1);
  });

  it('uses a given memblock and its reservations', () => {
    const topo = Topology.preset({ mem: 2 * GiB, nodes: 1 });
    const mb = new Memblock();
    for (const r of topo.ramRanges()) mb.add(r.start, r.end - r.start, r.nid);
    mb.reserve(0x4000_0000, 64 * MiB);
    const ctx = mmInit({ layout: topo, memblock: mb });
    assert.equal(ctx.buddy!.isReserved(0x4000_0000 / 4096), true);
    assert.equal(ctx.buddy!.isFree(0x4400_0000 / 4096), true);
  });

  it('sizes page tables and hash tables like the kernel', () => {
    // 1 GiB-aligned RAM needs one PUD page only; a ragged start adds PMD and PTE pages.
    assert.equal(directMapTableBytes([{ start: 0, end: 4 * GiB }]), 4096);
    assert.equal(directMapTableBytes([{ start: 0x1000, end: GiB }]), 3 * 4096);
    // 8 GiB VM: "Dentry cache hash table entries: 1048576 (order: 11, 8388608 bytes, linear)".
    const pages = (8 * GiB) / 4096;
    assert.equal(largeSystemHashBytes(pages - pages / 64, pages, 13), 8 * MiB);
    assert.equal(largeSystemHashBytes(pages - pages / 64, pages, 14), 4 * MiB);
    assert.throws(
      () => mmInit({ layout: { ramRanges: () => [] } }),
      (e: unknown) => e instanceof MmError,
    );
  });
});
