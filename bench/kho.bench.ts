/**
 * KHO figures: preserving a 1 TiB page range on a 1 TiB two-node machine (the NUMA-aware
 * decomposition and the radix inserts), how long a 16 GiB machine takes from power-on to a
 * running kernel with KHO on (and to a KHO-booted successor after a hand-made jump), and a full
 * test_kho cycle preserving 64 GiB of data on a 4 TiB machine.
 */
import { loadavg } from 'node:os';
import type { BenchEntry, BenchResult } from './harness.ts';
import { peakRssMiB, round, secondsSince } from './harness.ts';
import { writeBootParams } from '../src/kexec/boot-params.ts';
import { kexecExecute } from '../src/kexec/execute.ts';
import { kexecFileLoad } from '../src/kexec/file-load.ts';
import { mkImage } from '../src/kexec/image.ts';
import { Machine } from '../src/kernel/machine.ts';
import { modprobe } from '../src/kernel/module.ts';
import { defaultModuleCatalog } from '../src/kernel/modules/catalog.ts';
import { testKhoStatus } from '../src/kernel/modules/test-kho.ts';
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
  const j = handJump(m, k);
  if (!j.kernel.kho.isKhoBoot()) throw new Error('successor did not accept the hand-over');
  const khoBoot = j.seconds;
  return {
    seconds: round(runs[2]!, 4),
    min_seconds: round(runs[0]!, 4),
    kho_boot_seconds: round(khoBoot, 4),
    scratch_mib: k.kho.scratch.reduce((s, a) => s + a.size, 0) / 2 ** 20,
  };
}

/** Jump by hand (zero page + scratch copy in lowmem scratch) and time the successor's boot. */
function handJump(
  m: Machine,
  k: ReturnType<Machine['coldBoot']>,
): { seconds: number; kernel: ReturnType<Machine['coldBoot']> } {
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
  return { seconds: secondsSince(t0), kernel: k2 };
}

function khoBootScattered(): BenchResult {
  const m = Machine.create({ mem: 8 * GiB, nodes: 1 });
  const k = m.coldBoot({ cmdline: 'console=ttyS0 kho=on', profile: v4 });
  const pfns: number[] = [];
  for (let i = 0; i < 200_000; i++) pfns.push(k.buddy.alloc(0, 0xcc0)!);
  for (let i = 0; i < pfns.length; i += 2) k.buddy.freePages(pfns[i]!, 0);
  const t0 = process.hrtime.bigint();
  for (let i = 1; i < pfns.length; i += 2) k.kho.preserveFolio(pfns[i]!, 0);
  const preserve = secondsSince(t0);
  const j = handJump(m, k);
  const t1 = process.hrtime.bigint();
  for (let i = 1; i < pfns.length; i += 2) j.kernel.kho.restoreFolio(pfns[i]! * 4096);
  return {
    blocks: pfns.length / 2,
    preserve_seconds: round(preserve, 4),
    kho_boot_seconds: round(j.seconds, 4),
    restore_seconds: round(secondsSince(t1), 4),
  };
}

function cpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * `kho run --mem 4T --nodes 4` with the sanitizer on: `modprobe test_kho max_mem=68719476736`
 * (64 GiB of random folios, checksummed), `kexec -l` + `kexec -e`, and `modprobe test_kho` in
 * the successor, which restores every folio and verifies the checksum.
 */
function cycle4T64GData(): BenchResult {
  const CMD = 'console=ttyS0 kho=on';
  const catalog = defaultModuleCatalog();
  const t0 = process.hrtime.bigint();
  const m = Machine.create({ mem: 4 * TiB, nodes: 4, sanitize: true, seed: 0x6b686f });
  const k = m.coldBoot({ cmdline: CMD, profile: v4 });
  const bootS = secondsSince(t0);
  const c0 = cpuS();
  const tS = process.hrtime.bigint();
  modprobe(k, catalog, 'test_kho', [`max_mem=${64 * GiB}`]);
  const saveS = secondsSince(tS);
  const saved = testKhoStatus(k)?.saved;
  if (saved === null || saved === undefined) throw new Error('test_kho saved nothing');
  const tL = process.hrtime.bigint();
  kexecFileLoad(k, { image: mkImage({ profile: v4, size: 12 * 1024 * 1024 }), cmdline: CMD });
  const r = kexecExecute(m);
  const jumpAndBootS = secondsSince(tL);
  if (r.report.findings.length !== 0) throw new Error(JSON.stringify(r.report.findings.slice(0, 3)));
  const tR = process.hrtime.bigint();
  modprobe(r.successor, catalog, 'test_kho', []);
  const restoreS = secondsSince(tR);
  const restored = testKhoStatus(r.successor)?.restore;
  if (restored?.ok !== true || restored.csum !== saved.csum) throw new Error('KHO restore failed');
  return {
    cold_boot_s: round(bootS),
    save_s: round(saveS),
    load_and_jump_s: round(jumpAndBootS - r.timings.boot),
    jump_sanitize_s: round(r.timings.sanitize),
    successor_boot_s: round(r.timings.boot),
    restore_s: round(restoreS),
    cycle_s: round(saveS + jumpAndBootS + restoreS),
    total_s: round(secondsSince(t0)),
    cycle_cpu_s: round(cpuS() - c0),
    folios: saved.pfns.length,
    preserved_gib: round(saved.bytes / GiB, 3),
    preserved_blocks: r.report.preservedBlocks,
    csum: `0x${restored.csum.toString(16)}`,
    touched_pages_after: m.mem.touchedCount,
    peak_rss_mib: round(peakRssMiB(), 0),
    load_avg_1m: round(loadavg()[0]!, 2),
  };
}

export const entries: BenchEntry[] = [
  {
    name: 'kho.cycle_4T_64G_data',
    description:
      'test_kho max_mem=64G on a 4 TiB 4-node machine, sanitizer on: save, kexec -e, restore with the checksum verified; seconds per phase, peak RSS MiB (goals: total < 60 s, RSS < 2048 MiB)',
    run: cycle4T64GData,
  },
  {
    name: 'kho.boot_100k_blocks',
    description:
      'KHO boot of an 8 GiB machine with 100000 scattered preserved order-0 pages (every other page): preserve, successor boot (walk + reservations) and restore seconds',
    run: khoBootScattered,
  },
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
