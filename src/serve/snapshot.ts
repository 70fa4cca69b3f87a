/**
 * What the views show, gathered once per state change: the machine's RAM per node, scratch,
 * the kernel image, loaded kexec segments, poisoned memory, and the hand-over as the successor
 * would read it (decoded by `inspectHandover` over the machine's memory, or over a real FDT
 * and memory image in `--inspect` mode), plus the predecessor's blocks this kernel reserved.
 * Everything is kept as sorted typed arrays behind {@link Coverage}, so binning for the map is
 * O(bins · log n) whatever the number of blocks.
 *
 * Observing must not change the machine: reads go through `PhysMemImage` with the
 * sanitizer's page-access tracking detached (a view reading poisoned memory is no finding).
 */
import { POW2 } from '../abi/kho-radix.ts';
import { KHO_PAGE_MAGIC } from '../abi/kho-page.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { Machine } from '../kernel/machine.ts';
import type { JumpEvent } from '../kexec/execute.ts';
import { inspectHandover, type InspectReport } from '../inspect/inspect.ts';
import type { TrackerPage } from '../inspect/mem-map.ts';
import { PhysMemImage, type MemoryImage } from '../inspect/memory-image.ts';
import { MAX_BLOCK_ORDER } from '../inspect/preserved-set.ts';
import { BlockCoverage, RangeCoverage } from './coverage.ts';

const PAGE = 4096;

/** A known owner of preserved memory: a sub-tree (and what it lists) or the KHO FDT. */
export interface Owner {
  id: number;
  name: string;
  kind: string;
  cov: RangeCoverage;
}

/** The predecessor's blocks this kernel reserved, per order, and which were restored. */
export interface IncomingBlocks {
  orders: (BlockCoverage | null)[];
  /** Restored blocks per order (their `page->private` magic is gone). */
  restored: (BlockCoverage | null)[];
  blocks: number;
  bytes: number;
  restoredBlocks: number;
  restoredBytes: number;
}

/** One state of what is shown. */
export interface Snapshot {
  mode: 'machine' | 'inspect';
  title: string;
  kernel: Kernel | null;
  span: { start: number; end: number };
  nodes: { nid: number; bytes: number; ranges: { start: number; end: number }[]; cov: RangeCoverage }[];
  ram: RangeCoverage;
  scratch: RangeCoverage;
  kernelImage: RangeCoverage;
  segments: { role: string; dest: number; memsz: number }[];
  segmentCov: RangeCoverage;
  poisoned: RangeCoverage;
  /** Tracker pages sorted by address. */
  trackerPages: TrackerPage[];
  tracker: BlockCoverage;
  fdtPhys: number | null;
  fdt: RangeCoverage;
  /** Outgoing preserved blocks per order (index = order), null where none. */
  orders: (BlockCoverage | null)[];
  owners: Owner[];
  incoming: IncomingBlocks | null;
  /** The decoded hand-over (null: KHO off or nothing to decode). */
  report: InspectReport | null;
  /** Memory to read pages from. */
  image: MemoryImage | null;
  /** The machine's memory (machine mode), for page states. */
  mem: PhysicalMemory | null;
}

/** Run `fn` with the sanitizer's page-access tracking detached: looking is no access. */
export function quietly<T>(mem: PhysicalMemory, fn: () => T): T {
  return mem.quietly(fn);
}

function ordersOf(report: InspectReport | null): (BlockCoverage | null)[] {
  const out: (BlockCoverage | null)[] = new Array<BlockCoverage | null>(MAX_BLOCK_ORDER + 1).fill(null);
  const set = report?.preserved ?? null;
  if (set === null) return out;
  for (let o = 0; o <= MAX_BLOCK_ORDER; o++) {
    const a = set.ofOrder(o);
    if (a.length > 0) out[o] = new BlockCoverage(a, POW2[12 + o]!);
  }
  return out;
}

function pageUp(x: number): number {
  return Math.ceil(x / PAGE) * PAGE;
}

/** Owners named by the decoded sub-trees: the blob itself and the memory it lists. */
function ownersOf(report: InspectReport | null, fdtPhys: number | null): Owner[] {
  const owners: Owner[] = [];
  if (fdtPhys !== null) {
    owners.push({
      id: 0,
      name: 'KHO FDT',
      kind: 'fdt',
      cov: RangeCoverage.of([{ start: fdtPhys, end: fdtPhys + PAGE }]),
    });
  }
  for (const s of report?.subtrees ?? []) {
    const ranges: { start: number; end: number }[] = [];
    if (s.phys !== null) {
      const start = s.phys - (s.phys % PAGE);
      ranges.push({ start, end: pageUp(s.phys + Math.max(s.size ?? 1, 1)) });
    }
    for (const f of s.testKho?.folios ?? [])
      ranges.push({ start: f.phys, end: f.phys + POW2[12 + f.order]! });
    for (const c of s.testKho?.vmallocChunks ?? []) ranges.push({ start: c, end: c + PAGE });
    for (const r of s.memblock?.records ?? []) ranges.push({ start: r.start, end: r.start + r.size });
    if (ranges.length === 0) continue;
    owners.push({ id: owners.length, name: s.name, kind: s.kind, cov: RangeCoverage.of(ranges) });
  }
  return owners;
}

function trackerOf(report: InspectReport | null): { pages: TrackerPage[]; cov: BlockCoverage } {
  const pages = [...(report?.tracker.pages ?? [])].sort((a, b) => a.phys - b.phys);
  return {
    pages,
    cov: new BlockCoverage(
      Float64Array.from(pages, (p) => p.phys),
      PAGE,
    ),
  };
}

/**
 * The predecessor's blocks as this kernel holds them: every block of the jump's memory map,
 * restored when its head page lost the KHO magic in `page->private` (kho_restore_page clears
 * it; an unrestored block keeps it and stays reserved).
 */
export function incomingOf(k: Kernel, jump: JumpEvent): IncomingBlocks | null {
  const map = jump.map;
  if (map === null) return null;
  const orders: (BlockCoverage | null)[] = new Array<BlockCoverage | null>(MAX_BLOCK_ORDER + 1).fill(null);
  const restored: (BlockCoverage | null)[] = new Array<BlockCoverage | null>(MAX_BLOCK_ORDER + 1).fill(null);
  const meta = k.buddy.meta;
  let restoredBlocks = 0;
  let restoredBytes = 0;
  for (const o of map.orders) {
    if (o.order > MAX_BLOCK_ORDER) continue;
    const size = POW2[12 + o.order]!;
    const starts = new Float64Array(o.pfns.length);
    const done = new Float64Array(o.pfns.length);
    let n = 0;
    for (let i = 0; i < o.pfns.length; i++) {
      const pfn = o.pfns[i]!;
      starts[i] = pfn * PAGE;
      const magic = k.buddy.pfnValid(pfn) && meta.privateHi(pfn) >>> 0 === KHO_PAGE_MAGIC;
      if (!magic) done[n++] = pfn * PAGE;
    }
    orders[o.order] = new BlockCoverage(starts, size);
    if (n > 0) restored[o.order] = new BlockCoverage(done.slice(0, n), size);
    restoredBlocks += n;
    restoredBytes += n * size;
  }
  return {
    orders,
    restored,
    blocks: map.count,
    bytes: map.bytes,
    restoredBlocks,
    restoredBytes,
  };
}

/** Where the map's span ends: the highest RAM or image address, page-rounded. */
function spanOf(ranges: readonly { start: number; end: number }[]): { start: number; end: number } {
  let end = PAGE;
  for (const r of ranges) end = Math.max(end, r.end);
  return { start: 0, end: pageUp(end) };
}

/** A snapshot of a live machine; `lastJump` is the jump that started the running kernel, if any. */
export function machineSnapshot(machine: Machine, lastJump: JumpEvent | null): Snapshot {
  const mem = machine.mem;
  return quietly(mem, () => {
    const k = machine.kernel;
    const ramRanges = machine.topology.ramRanges();
    const image = new PhysMemImage(mem, ramRanges);
    const nodes = machine.topology.nodes.map((n) => ({
      nid: n.nid,
      bytes: n.bytes,
      ranges: n.ranges.map((r) => ({ start: r.start, end: r.end })),
      cov: RangeCoverage.of(n.ranges),
    }));
    let report: InspectReport | null = null;
    let fdtPhys: number | null = null;
    const scratchAreas = k?.kho.scratch ?? [];
    if (k !== null && k.kho.isEnabled() && k.kho.fdtPhys !== 0) {
      fdtPhys = k.kho.fdtPhys;
      report = inspectHandover({
        image: { image, kind: 'memory', source: 'machine' },
        fdtPhys,
        scratch: { entries: scratchAreas, source: 'kho/out/scratch_phys' },
      });
    }
    const tracker = trackerOf(report);
    const segments = (k?.kexecImage?.segments ?? []).map((s) => ({
      role: s.role,
      dest: s.dest,
      memsz: s.memsz,
    }));
    const kernelRanges =
      k === null ? [] : [{ start: k.kernelImage.base, end: k.kernelImage.base + k.kernelImage.size }];
    const incoming =
      k !== null && lastJump !== null && lastJump.result.successor === k ? incomingOf(k, lastJump) : null;
    return {
      mode: 'machine',
      title:
        k === null
          ? 'machine halted'
          : `${k.release} · ${Math.round(machine.topology.installed / 2 ** 30)} GiB, ${nodes.length} node(s)`,
      kernel: k,
      span: spanOf(ramRanges),
      nodes,
      ram: RangeCoverage.of(ramRanges),
      scratch: RangeCoverage.of(scratchAreas.map((a) => ({ start: a.addr, end: a.addr + a.size }))),
      kernelImage: RangeCoverage.of(kernelRanges),
      segments,
      segmentCov: RangeCoverage.of(segments.map((s) => ({ start: s.dest, end: s.dest + s.memsz }))),
      poisoned: RangeCoverage.of(mem.poisonedRanges()),
      trackerPages: tracker.pages,
      tracker: tracker.cov,
      fdtPhys,
      fdt: RangeCoverage.of(fdtPhys === null ? [] : [{ start: fdtPhys, end: fdtPhys + PAGE }]),
      orders: ordersOf(report),
      owners: ownersOf(report, fdtPhys),
      incoming,
      report,
      image,
      mem,
    };
  });
}

/** A snapshot of real data decoded by `kho inspect`: the image ranges stand for RAM. */
export function inspectSnapshot(report: InspectReport, image: MemoryImage | null, title: string): Snapshot {
  const ranges = image === null ? [] : image.ranges.map((r) => ({ start: r.start, end: r.end }));
  const fdtPhys = report.fdt?.phys ?? null;
  const tracker = trackerOf(report);
  const scratch = (report.scratch?.entries ?? []).map((e) => ({ start: e.addr, end: e.addr + e.size }));
  const all = [...ranges, ...scratch];
  for (const p of tracker.pages) all.push({ start: p.phys, end: p.phys + PAGE });
  const orders = ordersOf(report);
  for (const c of orders)
    if (c !== null && c.length > 0) all.push({ start: 0, end: c.start(c.length - 1) + c.blockSize });
  return {
    mode: 'inspect',
    title,
    kernel: null,
    span: spanOf(all),
    nodes:
      ranges.length === 0
        ? []
        : [
            {
              nid: -1,
              bytes: ranges.reduce((s, r) => s + r.end - r.start, 0),
              ranges,
              cov: RangeCoverage.of(ranges),
            },
          ],
    ram: RangeCoverage.of(ranges),
    scratch: RangeCoverage.of(scratch),
    kernelImage: RangeCoverage.EMPTY,
    segments: [],
    segmentCov: RangeCoverage.EMPTY,
    poisoned: RangeCoverage.EMPTY,
    trackerPages: tracker.pages,
    tracker: tracker.cov,
    fdtPhys,
    fdt: RangeCoverage.of(fdtPhys === null ? [] : [{ start: fdtPhys, end: fdtPhys + PAGE }]),
    orders,
    owners: ownersOf(report, fdtPhys),
    incoming: null,
    report,
    image,
    mem: null,
  };
}
