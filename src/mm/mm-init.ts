/**
 * Early memory bring-up of an x86-64 kernel, from "memblock knows the RAM" to "the page
 * allocator owns every free page" (setup_arch → start_kernel → mm_core_init → memblock_free_all).
 *
 * The early reservations are made through memblock with the sizes a real kernel uses, so that
 * K(limit, nid) of kernel/liveupdate/kexec_handover.c: scratch_size_node(), and with it KHO's default scratch
 * size, comes out as on a real host (DESIGN.md, "Early boot costs what it costs"). The figures and their
 * sources are in docs/mm.md. Two hooks let KHO run at the right moments:
 * - `onMemblockReady`: after memblock knows the RAM, before any early allocation (where the
 *   arch code calls `kho_populate()`, docs/kho.md);
 * - `beforeFreeAll`: after all early allocations, just before `memblock_free_all()`
 *   (`kho_memory_init()` from mm/mm_init.c: mm_core_init(); docs/kho.md).
 */
import type { FailPageAlloc } from './fail-page-alloc.ts';
import { Buddy, type PfnRange } from './buddy.ts';
import {
  ARCH_LOW_ADDRESS_LIMIT,
  MAX_DMA_PHYS,
  MEMBLOCK_ALLOC_ACCESSIBLE,
  MEMBLOCK_NOMAP,
  Memblock,
  NUMA_NO_NODE,
  SMP_CACHE_BYTES,
} from './memblock.ts';
import { MmError } from './mm-error.ts';
import { PageMeta } from './page-meta.ts';
import { swiotlbInit, type SwiotlbPool } from './swiotlb.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const PAGE_SIZE = 4096;

/** `sizeof(struct page)` on x86-64: the memmap costs 64 bytes per 4 KiB page. */
export const STRUCT_PAGE_SIZE = 64;
/** Section size (SECTION_SIZE_BITS = 27): the memmap is allocated per present section. */
export const SECTION_SIZE = 128 * MiB;
/** memmap bytes per section: 32768 pages × 64 B = 2 MiB (`section_map_size()`, PMD aligned). */
export const SECTION_MAP_SIZE = (SECTION_SIZE / PAGE_SIZE) * STRUCT_PAGE_SIZE;
/** `sizeof(pg_data_t)` rounded to a cache line, NODES_SHIFT=10 distro config (approximate). */
export const NODE_DATA_SIZE = 176 * KiB;
/** `mem_section_usage` + pageblock bitmap per section: 8 + 32 bytes. */
export const SECTION_USAGE_SIZE = 40;
/** Sections per `mem_section` root page (4096 / 16). */
export const SECTIONS_PER_ROOT = 256;
/** `NR_SECTION_ROOTS` × 8: the root pointer array (MAX_PHYSMEM_BITS 46). */
export const SECTION_ROOTS_SIZE = 16 * KiB;
/** Real-mode trampoline below 1 MiB (`real_mode_size_needed()`, approximate). */
export const REAL_MODE_SIZE = 24 * KiB;
/** Per-CPU unit size as dmesg reports it on distro kernels (`u262144`). */
export const PCPU_UNIT_SIZE = 256 * KiB;
/** Per-CPU allocation atom with 2 MiB pages (`PMD_SIZE`). */
export const PCPU_ATOM_SIZE = 2 * MiB;
/** Default swiotlb bounce buffer (`IO_TLB_DEFAULT_SIZE`). */
export const SWIOTLB_SIZE = 64 * MiB;
/** Default kernel image placement (`CONFIG_PHYSICAL_START`) and a typical `_end - _text`. */
export const KERNEL_IMAGE_BASE = 16 * MiB;
export const KERNEL_IMAGE_SIZE = 32 * MiB;

/** What `mmInit` needs of the machine (satisfied by `Topology`). */
export interface MemoryLayout {
  ramRanges(): readonly { start: number; end: number; nid: number }[];
}

/** One early memblock allocation or reservation made by `mmInit`. */
export interface EarlyAllocation {
  /** What it is, e.g. `memmap`, `node_data`, `kernel image`. */
  name: string;
  base: number;
  size: number;
  /** Node requested (-1 any). */
  nid: number;
  /** True for allocations (RSRV_KERN, counted by K), false for plain reservations. */
  kern: boolean;
}

/** The state `mmInit` builds and hands to its hooks. */
export interface MmContext {
  readonly memblock: Memblock;
  readonly meta: PageMeta;
  readonly mem: PhysicalMemory | null;
  /** Present once `free_area_init` ran (always in `beforeFreeAll`). */
  buddy: Buddy | null;
  /** The early allocations in the order they were made. */
  readonly early: EarlyAllocation[];
  /** Pages handed to the buddy allocator by `memblock_free_all()`. */
  freedPages: number;
  /** The early swiotlb pool, when the machine has one. */
  swiotlb?: SwiotlbPool;
}

/** Options of {@link mmInit}. */
export interface MmInitOptions {
  layout: MemoryLayout;
  mem?: PhysicalMemory | null;
  /** An existing memblock; when its memory list is empty it is filled from `layout`. */
  memblock?: Memblock;
  meta?: PageMeta;
  /** Kernel image `[base, base+size)`, reserved (not RSRV_KERN). */
  kernelImage?: { base: number; size: number };
  /** CPUs per node, for the per-CPU areas (default 8). */
  cpusPerNode?: number;
  /** Allocate the 64 MiB swiotlb below 4 GiB (default: when RAM extends above 4 GiB). */
  swiotlb?: boolean;
  /** Arch early setup point (kho_populate). */
  onMemblockReady?: (ctx: MmContext) => void;
  /** start_kernel's parse_args() point, after the per-CPU areas (where `panic=` takes effect). */
  onParseArgs?: () => void;
  /** kho_memory_init point, just before memblock_free_all. */
  beforeFreeAll?: (ctx: MmContext) => void;
  log?: MmLog;
  /** The kernel's `panic()`; never returns (default: throw `MmError` ENOMEM with the reason). */
  panic?: (reason: string) => never;
  /** fail_page_alloc as armed by the command line (default: one that never fails). */
  failPageAlloc?: FailPageAlloc;
}

/** A log line and its printk level (default info). */
export type MmLog = (line: string, level?: 'info' | 'warn' | 'err') => void;

function roundUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** Page-table bytes for a direct map of `ranges` with 1 GiB, 2 MiB and 4 KiB pages. */
export function directMapTableBytes(ranges: readonly { start: number; end: number }[]): number {
  const pud = new Set<number>();
  const pmd = new Set<number>();
  const pte = new Set<number>();
  for (const r of ranges) {
    const s = r.start;
    const e = r.end;
    for (let a = Math.floor(s / (512 * GiB)); a * 512 * GiB < e; a++) pud.add(a);
    // Parts not covered by whole 1 GiB pages need a PMD table per GiB; likewise 2 MiB → PTE.
    const g0 = roundUp(s, GiB);
    const g1 = Math.floor(e / GiB) * GiB;
    const edges: [number, number][] =
      g0 < g1
        ? [
            [s, g0],
            [g1, e],
          ]
        : [[s, e]];
    for (const [a, b] of edges) {
      if (a >= b) continue;
      for (let g = Math.floor(a / GiB); g * GiB < b; g++) pmd.add(g);
      const m0 = roundUp(a, 2 * MiB);
      const m1 = Math.floor(b / (2 * MiB)) * 2 * MiB;
      const small: [number, number][] =
        m0 < m1
          ? [
              [a, m0],
              [m1, b],
            ]
          : [[a, b]];
      for (const [x, y] of small) {
        if (x >= y) continue;
        for (let m = Math.floor(x / (2 * MiB)); m * 2 * MiB < y; m++) pte.add(m);
      }
    }
  }
  return (pud.size + pmd.size + pte.size) * PAGE_SIZE;
}

/** `alloc_large_system_hash` size for an early hash table (`scale` bytes of RAM per bucket). */
export function largeSystemHashBytes(kernelPages: number, allPages: number, scale: number): number {
  let n = roundUp(kernelPages, MiB / PAGE_SIZE);
  n = Math.floor(n / 2 ** (scale - 12));
  if (n * 8 < PAGE_SIZE) n = PAGE_SIZE / 8;
  n = 2 ** Math.ceil(Math.log2(n));
  const max = Math.min(Math.floor((allPages * PAGE_SIZE) / 16 / 8), 0x8000_0000);
  if (n > max) n = 2 ** Math.floor(Math.log2(max));
  return n * 8;
}

/**
 * Bring memory management up: memblock from the layout, the early x86-64 reservations, the
 * zones, the `beforeFreeAll` hook, then `memblock_free_all()`. Each early allocation fails the
 * way the kernel's does (a KHO successor allocates only inside the scratch areas): page tables,
 * node data, section roots, hash tables and per-CPU areas panic through `opts.panic`; the
 * trampoline is skipped; a node whose usage map or memory map cannot be backed loses the
 * memory that has no `struct page`; swiotlb shrinks or goes without (swiotlb.ts).
 */
export function mmInit(opts: MmInitOptions): MmContext {
  const log: MmLog = opts.log ?? (() => undefined);
  const panic =
    opts.panic ??
    ((reason: string): never => {
      throw new MmError('ENOMEM', reason);
    });
  const mem = opts.mem ?? null;
  const mb =
    opts.memblock ??
    new Memblock({
      mem,
      log: (l) => {
        log(l);
      },
    });
  const meta = opts.meta ?? new PageMeta();
  const ctx: MmContext = { memblock: mb, meta, mem, buddy: null, early: [], freedPages: 0 };
  const ram = opts.layout.ramRanges();
  if (ram.length === 0) throw new MmError('EINVAL', 'no RAM');

  const reserve = (name: string, base: number, size: number): void => {
    mb.reserve(base, size);
    ctx.early.push({ name, base, size, nid: NUMA_NO_NODE, kern: false });
  };
  const took = (name: string, base: number, size: number, nid: number): number => {
    if (base !== 0 || size === 0) ctx.early.push({ name, base, size, nid, kern: true });
    return base;
  };
  const orPanic = (name: string, base: number, size: number, nid: number, reason: string): number => {
    if (base === 0 && size !== 0) panic(reason);
    return took(name, base, size, nid);
  };

  // early_reserve_memory(): the kernel image; e820__memblock_setup(): RAM, [0, 1 MiB) scratch.
  const img = opts.kernelImage ?? { base: KERNEL_IMAGE_BASE, size: KERNEL_IMAGE_SIZE };
  reserve('kernel image', img.base, img.size);
  if (mb.memory.cnt === 0) for (const r of ram) mb.add(r.start, r.end - r.start, r.nid);
  mb.markKhoScratch(0, MiB);
  opts.onMemblockReady?.(ctx);

  // reserve_real_mode(): trampoline below 1 MiB (none: an info line, no panic), then the first MiB.
  const tramp = took(
    'real mode trampoline',
    mb.physAllocRange(REAL_MODE_SIZE, PAGE_SIZE, 0, MiB),
    REAL_MODE_SIZE,
    NUMA_NO_NODE,
  );
  if (tramp === 0) log('No sub-1M memory is available for the trampoline');
  reserve('first 1 MiB', 0, MiB);
  mb.clearKhoScratch(0, MiB);

  // init_mem_mapping() → alloc_low_pages(): direct-map page tables.
  const pt = directMapTableBytes(ram);
  orPanic(
    'direct map page tables',
    mb.physAlloc(pt, PAGE_SIZE),
    pt,
    NUMA_NO_NODE,
    'alloc_low_pages: can not alloc memory',
  );

  // Nodes and their sections.
  const nodes = new Map<number, { sections: Set<number>; pages: number }>();
  for (const r of ram) {
    let n = nodes.get(r.nid);
    if (n === undefined) {
      n = { sections: new Set(), pages: 0 };
      nodes.set(r.nid, n);
    }
    for (let s = Math.floor(r.start / SECTION_SIZE); s * SECTION_SIZE < r.end; s++) n.sections.add(s);
    n.pages += Math.floor(r.end / PAGE_SIZE) - Math.ceil(r.start / PAGE_SIZE);
  }
  const nids = [...nodes.keys()].sort((a, b) => a - b);

  // initmem_init() → alloc_node_data() (mm/numa.c): node-local, then any node, else panic.
  for (const nid of nids)
    orPanic(
      'node_data',
      mb.physAllocTryNid(NODE_DATA_SIZE, SMP_CACHE_BYTES, nid),
      NODE_DATA_SIZE,
      nid,
      `Cannot allocate ${NODE_DATA_SIZE} bytes for node ${nid} data`,
    );

  // sparse_init(): section roots, usage maps, then the memmap per node (sparse.ts).
  orPanic(
    'mem_section roots',
    mb.alloc(SECTION_ROOTS_SIZE, SMP_CACHE_BYTES),
    SECTION_ROOTS_SIZE,
    NUMA_NO_NODE,
    `memblocks_present: Failed to allocate ${SECTION_ROOTS_SIZE} bytes align=0x${SMP_CACHE_BYTES.toString(16)}`,
  );
  const unbacked: { start: number; end: number }[] = [];
  for (const nid of nids) {
    const n = nodes.get(nid)!;
    const roots = new Set([...n.sections].map((s) => Math.floor(s / SECTIONS_PER_ROOT)));
    for (let i = 0; i < roots.size; i++)
      orPanic(
        'mem_section',
        mb.allocNode(PAGE_SIZE, SMP_CACHE_BYTES, nid),
        PAGE_SIZE,
        nid,
        `sparse_index_alloc: Failed to allocate ${PAGE_SIZE} bytes nid=${nid}`,
      );
    const sections = [...n.sections].sort((a, b) => a - b);
    const backed = sparseInitNid(mb, nid, sections, took, log);
    for (const s of sections.slice(backed))
      unbacked.push({ start: s * SECTION_SIZE, end: (s + 1) * SECTION_SIZE });
  }
  // Sections without a memory map are not present: their memory never reaches the allocator.
  for (const u of unbacked) {
    for (const r of ram) {
      const a = Math.max(u.start, r.start);
      const b = Math.min(u.end, r.end);
      if (a < b) mb.markFlags('memory', a, b - a, MEMBLOCK_NOMAP);
    }
  }

  // setup_per_cpu_areas(): one embedded first-chunk group per node, atom aligned; when that
  // fails the page allocator of the first chunk is tried, then the kernel panics.
  const cpus = opts.cpusPerNode ?? 8;
  const upa = PCPU_ATOM_SIZE / PCPU_UNIT_SIZE;
  let embedFailed = false;
  for (const nid of nids) {
    const sz = roundUp(cpus, upa) * PCPU_UNIT_SIZE;
    let p = embedFailed
      ? 0
      : mb.allocTryNid(sz, PCPU_ATOM_SIZE, MAX_DMA_PHYS, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
    if (p === 0 && !embedFailed) {
      embedFailed = true;
      log('percpu: embed allocator failed (-12), falling back to page size', 'warn');
    }
    if (p === 0) p = mb.allocTryNid(sz, PAGE_SIZE, MAX_DMA_PHYS, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
    orPanic('percpu', p, sz, nid, 'cannot initialize percpu area (err=-12)');
  }
  // start_kernel(): parse_args("Booting kernel") runs here (`panic=` takes effect).
  opts.onParseArgs?.();

  // vfs_caches_init_early() (after parse_args in start_kernel): on a single-node machine (hashdist off) the dentry and inode
  // hash tables come from memblock; alloc_large_system_hash() halves a table that does not fit.
  const allPages = [...nodes.values()].reduce((a, n) => a + n.pages, 0);
  if (nids.length === 1) {
    const kernelPages = allPages - Math.ceil(allPages / 64);
    for (const [name, scale] of [
      ['Dentry cache', 13],
      ['Inode-cache', 14],
    ] as const) {
      let sz = largeSystemHashBytes(kernelPages, allPages, scale);
      let p = mb.alloc(sz, SMP_CACHE_BYTES);
      while (p === 0 && sz > PAGE_SIZE) {
        sz /= 2;
        p = mb.alloc(sz, SMP_CACHE_BYTES);
      }
      orPanic(`${name} hash table`, p, sz, NUMA_NO_NODE, `Failed to allocate ${name} hash table`);
      const order = Math.log2(sz) - 12;
      log(`${name} hash table entries: ${sz / 8} (order: ${order}, ${sz} bytes, linear)`);
    }
  }

  // free_area_init(): zones (one per node) over memblock's view of RAM.
  const ranges: PfnRange[] = [];
  for (const m of mb.memory.regions) {
    if ((m.flags & MEMBLOCK_NOMAP) !== 0) continue;
    const s = Math.ceil(m.base / PAGE_SIZE);
    const e = Math.floor((m.base + m.size) / PAGE_SIZE);
    if (s >= e) continue;
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last.endPfn === s && last.nid === m.nid) last.endPfn = e;
    else ranges.push({ startPfn: s, endPfn: e, nid: m.nid });
  }
  ctx.buddy = new Buddy(ranges, {
    mem,
    meta,
    log: (l) => {
      log(l);
    },
    ...(opts.failPageAlloc === undefined ? {} : { failPageAlloc: opts.failPageAlloc }),
  });

  // mm_core_init(): arch_mm_preinit() (swiotlb), kho_memory_init(), memblock_free_all().
  const highRam = ram.some((r) => r.end > 4 * GiB);
  if (opts.swiotlb ?? highRam) {
    const pool = swiotlbInit(mb, cpus * nids.length, log);
    for (const a of pool.allocations) took(a.name, a.base, a.size, NUMA_NO_NODE);
    ctx.swiotlb = pool;
  }
  opts.beforeFreeAll?.(ctx);
  ctx.freedPages = mb.freeAll(ctx.buddy);
  return ctx;
}

/**
 * sparse_init_nid() (mm/sparse.c): the usage maps, then the node's memory map, first as one
 * exact-node buffer (sparse_buffer_init), else section by section from any node
 * (vmemmap_alloc_block falls back to memblock_alloc_try_nid_raw). Returns how many of the
 * node's sections got a memory map; the kernel marks the rest not present and says so.
 */
function sparseInitNid(
  mb: Memblock,
  nid: number,
  sections: readonly number[],
  took: (name: string, base: number, size: number, nid: number) => number,
  log: MmLog,
): number {
  const usage = sections.length * SECTION_USAGE_SIZE;
  if (took('section usage', mb.allocNode(usage, SMP_CACHE_BYTES, nid), usage, nid) === 0) {
    log(`sparse_init_nid: node[${nid}] usemap allocation failed`, 'err');
    return 0;
  }
  const memmap = sections.length * SECTION_MAP_SIZE;
  const buf = mb.allocExactNidRaw(memmap, SECTION_MAP_SIZE, MAX_DMA_PHYS, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
  let backed = sections.length;
  if (buf !== 0) took('memmap', buf, memmap, nid);
  else {
    for (let i = 0; i < sections.length; i++) {
      const p = mb.allocTryNid(
        SECTION_MAP_SIZE,
        SECTION_MAP_SIZE,
        MAX_DMA_PHYS,
        MEMBLOCK_ALLOC_ACCESSIBLE,
        nid,
        {
          raw: true,
        },
      );
      if (p === 0) {
        backed = i;
        break;
      }
      took('memmap', p, SECTION_MAP_SIZE, nid);
    }
  }
  // vmemmap page tables: a PMD table per GiB of memmap, a PUD table per 512 GiB.
  const mapped = backed * SECTION_MAP_SIZE;
  const vpt = (Math.ceil(mapped / GiB) + Math.ceil(mapped / (512 * GiB))) * PAGE_SIZE;
  if (
    mapped > 0 &&
    took(
      'vmemmap page tables',
      mb.allocTryNid(vpt, PAGE_SIZE, MAX_DMA_PHYS, MEMBLOCK_ALLOC_ACCESSIBLE, nid, { raw: true }),
      vpt,
      nid,
    ) === 0
  )
    backed = 0;
  if (backed < sections.length) {
    log(`sparse_init_nid: node[${nid}] memory map backing failed. Some memory will not be available.`, 'err');
  }
  return backed;
}

/** Memory K(limit, nid) would count right now, per category (for docs and reports). */
export function earlyKernSummary(
  mb: Memblock,
  nids: readonly number[],
): { low: number; global: number; perNode: Map<number, number> } {
  const perNode = new Map<number, number>();
  for (const nid of nids) perNode.set(nid, mb.reservedKernSize(Number.MAX_SAFE_INTEGER, nid));
  return {
    low: mb.reservedKernSize(ARCH_LOW_ADDRESS_LIMIT, NUMA_NO_NODE),
    global: mb.reservedKernSize(Number.MAX_SAFE_INTEGER, NUMA_NO_NODE),
    perNode,
  };
}
