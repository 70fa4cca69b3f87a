/**
 * Scratch regions (kernel/liveupdate/kexec_handover.c): sizing on a cold boot (`scratch_size_update` /
 * `scratch_size_node`), the memblock reservation (`kho_reserve_scratch`) with its failure path, and the two
 * ways the areas become CMA (movable-only) memory: whole pageblocks freed by `kho_init` on a cold boot,
 * pageblock marking before `memblock_free_all` on a KHO boot (`kho_release_scratch`).
 */
import { KHO_SCRATCH_SIZE } from '../abi/kho-scratch.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import type { ScratchSetting } from '../kernel/cmdline.ts';
import type { Buddy } from '../mm/buddy.ts';
import {
  ARCH_LOW_ADDRESS_LIMIT,
  MEMBLOCK_ALLOC_ACCESSIBLE,
  MEMBLOCK_KHO_SCRATCH,
  NUMA_NO_NODE,
  type Memblock,
} from '../mm/memblock.ts';
import { MmError, PHYS_ADDR_MAX } from '../mm/mm-error.ts';
import { MIGRATE_CMA, PAGEBLOCK_NR_PAGES } from '../mm/pageblock.ts';
import type { ScratchArea } from './context.ts';

/** `CMA_MIN_ALIGNMENT_BYTES`: one pageblock, 2 MiB. */
export const CMA_MIN_ALIGNMENT_BYTES = 2 * 1024 * 1024;
const PAGE_SIZE = 4096;
const TWO64 = 2 ** 64;

/** Requested sizes: lowmem, global, then one per memory node (ascending node id). */
export interface ScratchSizes {
  lowmem: number;
  global: number;
  nodes: { nid: number; size: number }[];
}

/** Round up to CMA_MIN_ALIGNMENT_BYTES. */
function roundCma(x: number): number {
  return Math.ceil(x / CMA_MIN_ALIGNMENT_BYTES) * CMA_MIN_ALIGNMENT_BYTES;
}

/**
 * `round_up(K·S/100 − lowmem, 2 MiB)` in u64 arithmetic: a small negative difference wraps and
 * rounds to 0 (the global-underflow QUIRK of scratch_size_update(), docs/quirks.md); a larger one would be an
 * enormous size, which no allocation can satisfy (clamped to PHYS_ADDR_MAX here).
 */
export function globalScratchSize(kGlobalScaled: number, lowmem: number): number {
  const d = kGlobalScaled - lowmem;
  if (d >= 0) return roundCma(d);
  const wrapped = TWO64 - Math.floor(-d / CMA_MIN_ALIGNMENT_BYTES) * CMA_MIN_ALIGNMENT_BYTES;
  return wrapped >= TWO64 ? 0 : PHYS_ADDR_MAX;
}

/**
 * Scratch sizes for the memblock state at `kho_memory_init()` time (`scratch_size_update()`,
 * `scratch_size_node()`). `nids` are the nodes with memory. `roundExplicit` rounds size-mode lowmem/global as
 * newer kernels do.
 */
export function scratchSizes(
  mb: Memblock,
  setting: ScratchSetting,
  nids: readonly number[],
  roundExplicit = false,
): ScratchSizes {
  if (setting.kind === 'sizes') {
    const r = (x: number): number => (roundExplicit ? roundCma(x) : x);
    return {
      lowmem: r(setting.lowmem),
      global: r(setting.global),
      nodes: nids.map((nid) => ({ nid, size: roundCma(setting.pernode) })),
    };
  }
  const s = setting.scale;
  const scaled = (k: number): number => Math.floor((k * s) / 100);
  const lowmem = roundCma(scaled(mb.reservedKernSize(ARCH_LOW_ADDRESS_LIMIT, NUMA_NO_NODE)));
  const global = globalScratchSize(scaled(mb.reservedKernSize(PHYS_ADDR_MAX, NUMA_NO_NODE)), lowmem);
  return {
    lowmem,
    global,
    nodes: nids.map((nid) => ({ nid, size: roundCma(scaled(mb.reservedKernSize(PHYS_ADDR_MAX, nid))) })),
  };
}

/** Result of {@link reserveScratch}: the array and its areas, or the failure. */
export type ReserveScratchResult =
  { ok: true; arrayPhys: number; areas: ScratchArea[] } | { ok: false; reason: string };

/**
 * `kho_reserve_scratch()` (kernel/liveupdate/kexec_handover.c): allocate the array and every area from
 * memblock; on any failure free what was taken and report it (the caller logs and disables KHO). The array is
 * written to memory (it is what `kho_fill_kimage` copies).
 */
export function reserveScratch(
  mb: Memblock,
  mem: PhysicalMemory,
  sizes: ScratchSizes,
  log: (line: string) => void,
): ReserveScratchResult {
  const cnt = sizes.nodes.length + 2;
  const taken: ScratchArea[] = [];
  const undo = (arrayPhys: number): void => {
    for (const a of taken) if (a.size > 0) mb.free(a.addr, a.size);
    mb.free(arrayPhys, cnt * KHO_SCRATCH_SIZE);
  };
  const arrayPhys = mb.alloc(cnt * KHO_SCRATCH_SIZE, PAGE_SIZE);
  if (arrayPhys === 0) {
    log('KHO: Failed to reserve scratch array');
    return { ok: false, reason: 'array' };
  }
  const take = (size: number, addr: number, what: string): boolean => {
    if (addr === 0) {
      log(`KHO: Failed to reserve ${what} scratch buffer`);
      undo(arrayPhys);
      return false;
    }
    taken.push({ addr, size });
    return true;
  };
  const safe = (f: () => number): number => {
    try {
      return f();
    } catch {
      return 0;
    }
  };
  if (
    !take(
      sizes.lowmem,
      safe(() => mb.physAllocRange(sizes.lowmem, CMA_MIN_ALIGNMENT_BYTES, 0, ARCH_LOW_ADDRESS_LIMIT)),
      'lowmem',
    )
  )
    return { ok: false, reason: 'lowmem' };
  if (
    !take(
      sizes.global,
      safe(() => mb.physAlloc(sizes.global, CMA_MIN_ALIGNMENT_BYTES)),
      'global',
    )
  )
    return { ok: false, reason: 'global' };
  for (const n of sizes.nodes) {
    const addr = safe(() =>
      mb.allocRange(n.size, CMA_MIN_ALIGNMENT_BYTES, 0, MEMBLOCK_ALLOC_ACCESSIBLE, n.nid, true),
    );
    if (!take(n.size, addr, `nid ${n.nid}`)) return { ok: false, reason: `nid ${n.nid}` };
  }
  writeScratchArray(mem, arrayPhys, taken);
  return { ok: true, arrayPhys, areas: taken };
}

/** Write `areas` as `struct kho_scratch` entries at `phys`. */
export function writeScratchArray(mem: PhysicalMemory, phys: number, areas: readonly ScratchArea[]): void {
  areas.forEach((a, i) => {
    mem.writeU64(phys + i * KHO_SCRATCH_SIZE, a.addr);
    mem.writeU64(phys + i * KHO_SCRATCH_SIZE + 8, a.size);
  });
}

/** Read `cnt` entries at `phys` (throws KhoMemError on values ≥ 2^53 or bad addresses). */
export function readScratchArray(mem: PhysicalMemory, phys: number, cnt: number): ScratchArea[] {
  const out: ScratchArea[] = [];
  for (let i = 0; i < cnt; i++) {
    out.push({
      addr: mem.readU64(phys + i * KHO_SCRATCH_SIZE),
      size: mem.readU64(phys + i * KHO_SCRATCH_SIZE + 8),
    });
  }
  return out;
}

/**
 * Cold boot, end of `kho_init()` (kernel/liveupdate/kexec_handover.c): every pageblock from each area's base
 * while `pfn < base_pfn + size/PAGE_SIZE` goes to `init_cma_reserved_pageblock`.
 */
export function releaseScratchCma(
  buddy: Buddy,
  areas: readonly ScratchArea[],
  log: (line: string) => void = () => undefined,
): number {
  let blocks = 0;
  for (const a of areas) {
    const base = Math.floor(a.addr / PAGE_SIZE);
    const end = base + Math.floor(a.size / PAGE_SIZE);
    for (let pfn = base; pfn < end; pfn += PAGEBLOCK_NR_PAGES) {
      try {
        buddy.initCmaReservedPageblock(pfn);
        blocks++;
      } catch (e) {
        if (!(e instanceof MmError)) throw e;
        // An unrounded explicit size (QUIRK, docs/quirks.md): the last pageblock runs past the area
        // into pages the allocator already owns; the kernel would free them twice.
        log(`KHO: scratch pageblock at pfn 0x${pfn.toString(16)} runs past its area; not released (model)`);
      }
    }
  }
  return blocks;
}

/**
 * KHO boot, `kho_release_scratch()` (kernel/liveupdate/kexec_handover.c): every pageblock overlapping a
 * memblock memory region flagged KHO_SCRATCH (rounded outward) becomes MIGRATE_CMA before
 * `memblock_free_all`.
 */
export function markScratchPageblocksCma(mb: Memblock, buddy: Buddy): number {
  let blocks = 0;
  for (const r of mb.memory.regions) {
    if ((r.flags & MEMBLOCK_KHO_SCRATCH) === 0 || r.size === 0) continue;
    const s = Math.floor(r.base / PAGE_SIZE / PAGEBLOCK_NR_PAGES) * PAGEBLOCK_NR_PAGES;
    const e = Math.ceil((r.base + r.size) / PAGE_SIZE / PAGEBLOCK_NR_PAGES) * PAGEBLOCK_NR_PAGES;
    for (let pfn = s; pfn < e; pfn += PAGEBLOCK_NR_PAGES) {
      try {
        buddy.setMigratetype(pfn, MIGRATE_CMA);
        blocks++;
      } catch {
        // A pageblock outside every zone (a hole): nothing to mark.
      }
    }
  }
  return blocks;
}
