/**
 * KHO figures: preserving a 1 TiB page range on a 1 TiB two-node machine (the NUMA-aware
 * decomposition and the radix inserts), and how long a 16 GiB machine takes from power-on to a
 * running kernel with KHO on (and to a KHO-booted successor after a hand-made jump).
 */
import type { BenchEntry, BenchResult } from './harness.ts';
import { round, secondsSince } from './harness.ts';
import { writeBootParams } from '../src/kexec/boot-params.ts';
import { Machine } from '../src/kernel/machine.ts';
import { profileByName } from '../src/kernel/profile.ts';
import type { KhoRadixTree } from '../src/kho/radix-tree.ts';

const GiB = 2 ** 30;
const TiB = 2 ** 40;
const v4 = profileByName('kho-v4')!;

function preserve1T(): BenchResult {
  const m = Machine.create({ mem: TiB, nodes: 2 });
  const k = m.coldBoot({ cmdline: 'kho=on', profile: v4 });
  // From 4 GiB + 1 page (unaligned start), 2^28 pages: crosses the node boundary.
  const start = (4 * GiB) / 4096 + 1;
  const stats = { blocks: 0 };
  const t0 = process.hrtime.bigint();
  const err = k.kho.preservePages(start, TiB / 4096, stats);
  const seconds = secondsSince(t0);
  if (err !== 0) throw new Error(`preservePages failed: ${err}`);
  const t1 = process.hrtime.bigint();
  k.kho.unpreservePages(start, TiB / 4096);
  const unSeconds = secondsSince(t1);
  const tree = k.kho.ctx.tracker as KhoRadixTree;
  return {
    seconds: round(seconds, 6),
    blocks: stats.blocks,
    unpreserve_seconds: round(unSeconds, 6),
    tree_node_pages: tree.nodePages(),
  };
}

function coldBoot16G(): BenchResult {
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    const m = Machine.create({ mem: 16 * GiB, nodes: 2 });
    m.coldBoot({ cmdline: 'console=ttyS0 kho=on', profile: v4 });
    runs.push(secondsSince(t0));
  }
  runs.sort((a, b) => a - b);
  // A KHO boot after a hand-made jump (zero page + scratch copy in lowmem scratch).
  const m = Machine.create({ mem: 16 * GiB, nodes: 2 });
  const k = m.coldBoot({ cmdline: 'console=ttyS0 kho=on', profile: v4 });
  for (let i = 0; i < 1000; i++) k.kho.preserveFolio(k.buddy.alloc(0, 0xcc0)!, 0);
  const info = k.kho.fillKimage()!;
  const low = k.kho.scratch[0]!;
  const copy = Math.floor((low.addr + low.size - info.scratch.length) / 65536) * 65536;
  m.mem.write(copy, info.scratch);
  const kernel = low.addr + 2 * 1024 * 1024;
  m.mem.write(kernel, new TextEncoder().encode(`Linux version ${v4.release} \0`));
  writeBootParams(m.mem, low.addr, {
    cmdline: 'console=ttyS0 kho=on',
    kernel: { phys: kernel, size: 4 * 1024 * 1024 },
    initrd: null,
    kho: { fdtPhys: info.fdtPhys, fdtSize: 4096, scratchPhys: copy, scratchSize: info.scratch.length },
  });
  const t0 = process.hrtime.bigint();
  const k2 = m.bootSuccessor(low.addr);
  const khoBoot = secondsSince(t0);
  if (!k2.kho.isKhoBoot()) throw new Error('successor did not accept the hand-over');
  return {
    seconds: round(runs[2]!, 4),
    min_seconds: round(runs[0]!, 4),
    kho_boot_seconds: round(khoBoot, 4),
    scratch_mib: k.kho.scratch.reduce((s, a) => s + a.size, 0) / 2 ** 20,
  };
}

export const entries: BenchEntry[] = [
  {
    name: 'kho.preserve_pages_1T',
    description:
      'kho_preserve_pages over 2^28 pages (1 TiB) from an unaligned pfn across a NUMA boundary on a 1 TiB machine: seconds, blocks recorded, unpreserve seconds',
    run: preserve1T,
  },
  {
    name: 'kernel.cold_boot_16G',
    description:
      'seconds from Machine.create to a running kernel with kho=on on 16 GiB / 2 nodes (median of 5), and a KHO boot of the successor with 1000 preserved pages',
    run: coldBoot16G,
  },
];
