/**
 * Memory management: bringing a 4 TiB, 4-node machine up to a working page allocator, the
 * buddy allocator's order-0 alloc+free on a fragmented machine, and memblock allocation.
 * Inputs come from a seeded PRNG generated outside the timed regions.
 */
import { gc, mulberry32 as rng, round, secondsSince, type BenchEntry } from './harness.ts';
import { PhysicalMemory } from '../src/hw/physical-memory.ts';
import { Topology } from '../src/hw/topology.ts';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL } from '../src/mm/gfp.ts';
import { Memblock } from '../src/mm/memblock.ts';
import { earlyKernSummary, mmInit } from '../src/mm/mm-init.ts';

const SEED = 0x6b686f;
const GiB = 2 ** 30;
const TiB = 2 ** 40;
const MiB = 2 ** 20;

export const entries: BenchEntry[] = [
  {
    name: 'machine.boot_4T',
    description:
      'seconds to bring a 4 TiB, 4-node machine from topology to a working page allocator (memblock, early x86-64 reservations, zones, memblock_free_all); heap after GC in MiB',
    run: () => {
      gc();
      const t0 = process.hrtime.bigint();
      const topo = Topology.preset({ mem: 4 * TiB, nodes: 4 });
      const mem = new PhysicalMemory();
      const ctx = mmInit({ layout: topo, mem, cpusPerNode: 32 });
      const seconds = secondsSince(t0);
      const buddy = ctx.buddy!;
      const p = buddy.alloc(0, GFP_KERNEL);
      if (p === null) throw new Error('allocator not working');
      buddy.freePages(p, 0);
      gc();
      const k = earlyKernSummary(ctx.memblock, buddy.nids);
      return {
        seconds: round(seconds, 3),
        heap_mib: round(process.memoryUsage().heapUsed / MiB, 1),
        managed_gib: round((buddy.managedPages * 4096) / GiB, 2),
        memblock_reserved_gib: round(ctx.memblock.reservedSize() / GiB, 2),
        k_low_mib: round(k.low / MiB, 1),
        k_global_mib: round(k.global / MiB, 1),
        k_node0_mib: round(k.perNode.get(0)! / MiB, 1),
        memblock_regions: ctx.memblock.reserved.cnt + ctx.memblock.memory.cnt,
      };
    },
  },
  {
    name: 'buddy.alloc_free',
    description:
      'ns per order-0 GFP_KERNEL alloc+free pair after warm-up, on a 64 GiB 2-node machine fragmented by 200k mixed-order allocations (half freed at random); also a batch pattern (1000 allocs then 1000 frees)',
    run: () => {
      const ctx = mmInit({ layout: Topology.preset({ mem: 64 * GiB, nodes: 2 }) });
      const b = ctx.buddy!;
      const next = rng(SEED);
      const held: { pfn: number; order: number }[] = [];
      for (let i = 0; i < 200_000; i++) {
        const order = next() % 4;
        const gfp = next() % 2 === 0 ? GFP_KERNEL : GFP_HIGHUSER_MOVABLE;
        const pfn = b.alloc(order, gfp, next() % 2);
        if (pfn !== null) held.push({ pfn, order });
      }
      for (let i = held.length - 1; i > 0; i--) {
        const j = next() % (i + 1);
        const t = held[i]!;
        held[i] = held[j]!;
        held[j] = t;
      }
      for (const h of held.splice(0, held.length >> 1)) b.freePages(h.pfn, h.order);
      const pair = (n: number): void => {
        for (let i = 0; i < n; i++) {
          const p = b.alloc(0, GFP_KERNEL)!;
          b.freePages(p, 0);
        }
      };
      pair(500_000);
      const N = 2_000_000;
      const t0 = process.hrtime.bigint();
      pair(N);
      const nsPair = (secondsSince(t0) * 1e9) / N;
      const batch = new Float64Array(1000);
      const rounds = 1000;
      const t1 = process.hrtime.bigint();
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < 1000; i++) batch[i] = b.alloc(0, GFP_KERNEL)!;
        for (let i = 0; i < 1000; i++) b.freePages(batch[i]!, 0);
      }
      const nsBatch = (secondsSince(t1) * 1e9) / (rounds * 1000);
      return {
        ns_per_pair: round(nsPair, 1),
        ns_per_pair_batch: round(nsBatch, 1),
        held_blocks: held.length,
        free_mib: round((b.nrFreePages * 4096) / MiB, 1),
      };
    },
  },
  {
    name: 'memblock.alloc',
    description:
      'ns per memblock allocation (4-64 KiB, page aligned, rotating node preference) on a 4 TiB 4-node memblock',
    run: () => {
      const topo = Topology.preset({ mem: 4 * TiB, nodes: 4 });
      const next = rng(SEED);
      const N = 50_000;
      const sizes = Float64Array.from({ length: N }, () => (1 + (next() % 16)) * 4096);
      const make = (): Memblock => {
        const mb = new Memblock();
        for (const r of topo.ramRanges()) mb.add(r.start, r.end - r.start, r.nid);
        mb.reserve(0, MiB);
        mb.reserve(16 * MiB, 32 * MiB);
        return mb;
      };
      const warm = make();
      for (let i = 0; i < 5000; i++) warm.allocRange(sizes[i]!, 4096, 0, 0, i & 3, false);
      const mb = make();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) mb.allocRange(sizes[i]!, 4096, 0, 0, i & 3, false);
      const ns = (secondsSince(t0) * 1e9) / N;
      return { ns_per_alloc: round(ns, 1), reserved_regions: mb.reserved.cnt, allocations: N };
    },
  },
];
