/**
 * One full KHO kexec cycle on a 1 TiB, 4-node machine with 64 GiB preserved, sanitizer on:
 * - 16 GiB of scattered 4 KiB folios: 16384 order-10 blocks (spread over the nodes) of which a
 *   seeded random quarter of the pages is preserved page by page (4 Mi order-0 keys);
 * - 16 GiB of 2 MiB folios (8192 order-9 allocations, preserved as order-9 folios);
 * - 32 GiB of 1 GiB folios: 1 GiB exceeds MAX_PAGE_ORDER (4 MiB), so, as `alloc_contig_range`
 *   does for gigantic pages, the bench allocates order-10 blocks (the allocator hands them out in
 *   ascending address order), keeps the 1 GiB-aligned ranges it fully owns, and preserves each
 *   with `kho_preserve_pages` (one order-18 key each).
 * Page contents are never written, so memory stays sparse. Timed phases: preserve, load
 * (kexec_file_load of a 12 MiB image), jump (read the memory map, findings, copy, sanitize),
 * successor boot (including KHO memory init: walk + reserve of every block), restore (every
 * folio). Peak RSS covers the whole run.
 */
import {
  mulberry32 as rng,
  peakRssMiB,
  round,
  secondsSince,
  type BenchEntry,
  type BenchResult,
} from './harness.ts';
import { Machine } from '../src/kernel/machine.ts';
import { profileByName } from '../src/kernel/profile.ts';
import { GFP_KERNEL } from '../src/mm/gfp.ts';
import { mkImage } from '../src/kexec/image.ts';
import { kexecFileLoad } from '../src/kexec/file-load.ts';
import { kexecExecute } from '../src/kexec/execute.ts';

const TiB = 2 ** 40;
const GiB = 2 ** 30;
const SEED = 0x6b686f;
const CMD = 'console=ttyS0 kho=on';

function cycle(): BenchResult {
  const t0 = process.hrtime.bigint();
  const m = Machine.create({ mem: TiB, nodes: 4, sanitize: true, seed: SEED });
  const profile = profileByName('kho-v4')!;
  const k = m.coldBoot({ cmdline: CMD, profile });
  const coldBoot = secondsSince(t0);

  // ---- allocations (not timed as a phase)
  const tA = process.hrtime.bigint();
  const buddy = k.buddy;
  // 1 GiB folios first, from whole aligned gigabytes of order-10 blocks.
  const perGig = new Map<number, number[]>();
  const gigs: number[] = [];
  while (gigs.length < 32) {
    const pfn = buddy.alloc(10, GFP_KERNEL);
    if (pfn === null) throw new Error('out of memory for 1 GiB folios');
    const g = Math.floor(pfn / 262144);
    let list = perGig.get(g);
    if (list === undefined) perGig.set(g, (list = []));
    list.push(pfn);
    if (list.length === 256) gigs.push(g);
  }
  for (const [g, list] of perGig) if (!gigs.includes(g)) for (const p of list) buddy.freePages(p, 10);
  const huge2m: number[] = [];
  for (let i = 0; i < 8192; i++) huge2m.push(buddy.alloc(9, GFP_KERNEL, i & 3)!);
  const next = rng(SEED);
  const small = new Float64Array(4 * 1024 * 1024);
  let n = 0;
  for (let b = 0; b < 16384; b++) {
    const base = buddy.alloc(10, GFP_KERNEL, b & 3);
    if (base === null) throw new Error('out of memory for 4K folios');
    // A random quarter of the block's 1024 pages: 8 pages of each 32-page group.
    for (let w = 0; w < 32; w++) {
      let bits = next() & next(); // each bit set with probability 1/4
      // Top up or trim to exactly 8 pages per 32 so the total is exactly 4 Mi.
      let c = popcount(bits);
      for (let j = 0; c < 8 && j < 32; j++) {
        if ((bits & (1 << j)) === 0) {
          bits |= 1 << j;
          c++;
        }
      }
      for (let j = 31; c > 8 && j >= 0; j--) {
        if ((bits & (1 << j)) !== 0) {
          bits &= ~(1 << j);
          c--;
        }
      }
      for (let j = 0; j < 32; j++) if ((bits & (1 << j)) !== 0) small[n++] = base + w * 32 + j;
    }
  }
  const allocSeconds = secondsSince(tA);
  if (n !== small.length) throw new Error(`picked ${n} pages`);

  // ---- preserve
  globalThis.gc?.();
  const c0 = process.cpuUsage();
  const tP = process.hrtime.bigint();
  const cp0 = cpuS();
  let err = 0;
  for (const g of gigs) err |= k.kho.preservePages(g * 262144, 262144);
  for (const p of huge2m) err |= k.kho.preserveFolio(p, 9);
  for (let i = 0; i < small.length; i++) err |= k.kho.preserveFolio(small[i]!, 0);
  const preserve = secondsSince(tP);
  const preserveCpu = cpuS() - cp0;
  if (err !== 0) throw new Error(`preserve failed: ${err}`);

  // ---- load
  const image = mkImage({ profile, size: 12 * 1024 * 1024 });
  const tL = process.hrtime.bigint();
  const cl0 = cpuS();
  kexecFileLoad(k, { image, imageName: 'bzImage', cmdline: CMD });
  const load = secondsSince(tL);
  const loadCpu = cpuS() - cl0;

  // ---- jump + successor boot
  const tJ = process.hrtime.bigint();
  const r = kexecExecute(m);
  const jumpAndBoot = secondsSince(tJ);
  const s = r.successor;
  if (!s.dmesg.has('KHO: found kexec handover data.')) throw new Error('no hand-over');
  if (r.report.findings.length !== 0) throw new Error(JSON.stringify(r.report.findings.slice(0, 3)));

  // ---- restore
  const tR = process.hrtime.bigint();
  const cr0 = cpuS();
  let lost = 0;
  for (const g of gigs) if (s.kho.restoreFolio(g * GiB) === null) lost++;
  for (const p of huge2m) if (s.kho.restoreFolio(p * 4096) === null) lost++;
  for (let i = 0; i < small.length; i++) if (s.kho.restoreFolio(small[i]! * 4096) === null) lost++;
  const restore = secondsSince(tR);
  const restoreCpu = cpuS() - cr0;
  const cpu = process.cpuUsage(c0);
  if (lost !== 0) throw new Error(`${lost} folios not restored`);

  const jump = r.timings.prepare + r.timings.copy + r.timings.sanitize;
  return {
    cold_boot_s: round(coldBoot),
    alloc_s: round(allocSeconds),
    preserve_s: round(preserve),
    load_s: round(load),
    jump_s: round(jump),
    jump_read_map_and_findings_s: round(r.timings.prepare),
    jump_copy_s: round(r.timings.copy),
    jump_sanitize_s: round(r.timings.sanitize),
    successor_boot_s: round(r.timings.boot),
    successor_boot_minus_cold_boot_s: round(r.timings.boot - coldBoot),
    restore_s: round(restore),
    cycle_s: round(preserve + load + jumpAndBoot + restore),
    cycle_cpu_s: round((cpu.user + cpu.system) / 1e6),
    cpu_preserve_s: round(preserveCpu),
    cpu_load_s: round(loadCpu),
    cpu_jump_s: round(r.cpuTimings.prepare + r.cpuTimings.copy + r.cpuTimings.sanitize),
    cpu_jump_sanitize_s: round(r.cpuTimings.sanitize),
    cpu_successor_boot_s: round(r.cpuTimings.boot),
    cpu_restore_s: round(restoreCpu),
    total_s: round(secondsSince(t0)),
    peak_rss_mib: round(peakRssMiB(), 0),
    preserved_blocks: r.report.preservedBlocks,
    preserved_gib: round(r.report.preservedBytes / GiB, 3),
    poisoned_pages: r.report.poisonedPages,
    kept_pages: r.report.keptPages,
    touched_pages_after: m.mem.touchedCount,
  };
}

/** CPU seconds (user + system) of this process so far: less disturbed by a busy machine. */
function cpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function popcount(x: number): number {
  let v = x >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

export const entries: BenchEntry[] = [
  {
    name: 'kexec.cycle_64G',
    description:
      'KHO kexec cycle on a 1 TiB 4-node machine, 64 GiB preserved (16 GiB scattered 4K, 16 GiB 2M, 32 GiB 1G folios), sanitizer on; seconds per phase, peak RSS MiB (goals: cycle < 10 s, RSS < 2048 MiB)',
    run: cycle,
  },
];
