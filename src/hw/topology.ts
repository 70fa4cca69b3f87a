/**
 * Machine topology: where RAM lives in the physical address space and which NUMA node owns it.
 *
 * The layout is the one QEMU's `pc` machine (SeaBIOS firmware) gives a guest started with
 * `-m MEM -numa node,mem=MEM/N …`, simplified so it is easy to explain:
 * - installed RAM is `mem` bytes; below 3.5 GiB all of it sits at address 0, from 3.5 GiB on the
 *   first 3 GiB do and the rest starts at 4 GiB (QEMU `pc` with gigabyte alignment); the PCI
 *   hole below 4 GiB hides no RAM, so installed RAM always equals `mem`;
 * - firmware reserves [0x9fc00, 0x100000) (EBDA, VGA window, option and BIOS ROMs), and the
 *   kernel reserves page 0 (`trim_bios_range`), so System RAM starts at 0x1000 and has a hole
 *   below 1 MiB;
 * - node i owns the i-th `mem / nodes` slice of installed RAM, counted in address order with the
 *   PCI hole skipped (what QEMU's SRAT says), so node 0 gets the low memory.
 * `ramRanges()` is what the kernel's memblock ends up with (page-trimmed); `e820()` and
 * `iomem()` show the firmware and `/proc/iomem` views. See docs/hw.md.
 */
import { countAtMost } from '../util/search.ts';
import { KhoMemError } from './errors.ts';
import { MAX_PHYS_LIMIT, PAGE_SIZE } from './physical-memory.ts';

/** A byte range `[start, end)`. */
export interface MemRange {
  start: number;
  end: number;
}

/** One NUMA node: its RAM ranges (ascending) and their total size. */
export interface NumaNode {
  nid: number;
  ranges: readonly MemRange[];
  bytes: number;
}

/** What a machine is made of. */
export interface MachineSpec {
  /** Installed RAM in bytes. */
  mem: number;
  /** Number of NUMA nodes (1..64), each gets `mem / nodes`. */
  nodes: number;
}

/** An e820 table entry as firmware reports it (`end` exclusive). */
export interface E820Entry {
  start: number;
  end: number;
  type: 'usable' | 'reserved';
}

/** A `/proc/iomem` resource (`end` exclusive); nested when contained in another. */
export interface IomemResource {
  start: number;
  end: number;
  name: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** Where low RAM stops on machines of 3.5 GiB or more: QEMU `pc` aligns it to 3 GiB. */
export const LOW_RAM_TOP = 3 * GiB;
/** QEMU `pc`'s `max-ram-below-4g` default: smaller machines keep all their RAM below this. */
export const LOW_RAM_MAX = 0xe000_0000;
/** Where RAM above the PCI hole starts. */
export const HIGH_RAM_BASE = 4 * GiB;
/** End of the usable base memory reported by SeaBIOS (the EBDA starts here). */
export const EBDA_START = 0x9fc00;
/** Start of extended memory (1 MiB). */
export const EXT_MEM_START = 0x10_0000;
/** Highest number of nodes accepted (x86-64 default `CONFIG_NODES_SHIFT` = 6). */
export const MAX_NODES = 64;
/** Node sizes must be multiples of this (one pageblock), so node boundaries align to pageblocks. */
export const NODE_ALIGN = 2 * MiB;
/**
 * The model's per-node limit: a node's zone spans at most 2^32 pages (16 TiB of physical
 * addresses, holes included) so the buddy allocator's block indices stay 32-bit
 * (src/mm/buddy.ts). Linux has no such limit; the model does.
 */
export const MAX_NODE_SPAN = 16 * TiB;
/** The buddy allocator's largest block (MAX_PAGE_ORDER 10): zones are rounded out to it. */
const MAX_ORDER_BYTES = 4 * MiB;

/** Named machines. */
export const MACHINE_PRESETS: Readonly<Record<'default' | 'small' | 'big', MachineSpec>> = {
  default: { mem: 16 * GiB, nodes: 2 },
  small: { mem: 1 * GiB, nodes: 1 },
  big: { mem: 4 * TiB, nodes: 4 },
};

const SUFFIX: Record<string, bigint> = {
  '': 1n,
  k: 1n << 10n,
  m: 1n << 20n,
  g: 1n << 30n,
  t: 1n << 40n,
  p: 1n << 50n,
};

/**
 * Parses a size like the kernel's `memparse`: a decimal or `0x` hex integer with an optional
 * binary suffix K, M, G, T or P (any case, optionally followed by `iB` or `B`). Throws
 * `KhoMemError` (EINVAL) on anything else, including fractions and values of 2^53 or more.
 */
export function parseSize(text: string): number {
  if (typeof text !== 'string') throw new KhoMemError('EINVAL', -1, `size must be a string`);
  const m = /^(0x[0-9a-f]+|[0-9]+)([kmgtp]?)(i?b)?$/i.exec(text.trim());
  if (m === null) {
    throw new KhoMemError(
      'EINVAL',
      -1,
      `invalid size "${text}": expected an integer with an optional K/M/G/T/P suffix, e.g. 16G, 512M, 0x1000`,
    );
  }
  const digits = m[1]!;
  const suffix = m[2]!.toLowerCase();
  if (m[3] !== undefined && suffix === '') {
    throw new KhoMemError('EINVAL', -1, `invalid size "${text}": "B" needs a unit (K, M, G, T, P)`);
  }
  const value = BigInt(digits) * SUFFIX[suffix]!;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new KhoMemError('EINVAL', -1, `invalid size "${text}": larger than 2^53 bytes`);
  }
  return Number(value);
}

/**
 * Parses a machine as a user types it: a preset name (`default`, `small`, `big`), or a size
 * with an optional node count, `16G` or `16G,2` (one node when omitted). Throws `KhoMemError`
 * (EINVAL) on anything else; the layout itself is checked by {@link Topology.preset}.
 */
export function parseMachineSpec(text: string): MachineSpec {
  if (typeof text !== 'string') throw new KhoMemError('EINVAL', -1, 'machine must be a string');
  const t = text.trim();
  const preset = (MACHINE_PRESETS as Record<string, MachineSpec | undefined>)[t];
  if (preset !== undefined && Object.hasOwn(MACHINE_PRESETS, t)) return { ...preset };
  const m = /^([^,]+?)\s*(?:,\s*([0-9]+))?$/.exec(t);
  if (m === null) {
    throw new KhoMemError(
      'EINVAL',
      -1,
      `invalid machine "${text}": expected ${Object.keys(MACHINE_PRESETS).join('|')} or SIZE[,NODES], e.g. 16G,2`,
    );
  }
  const mem = parseSize(m[1]!);
  const nodes = m[2] === undefined ? 1 : Number(m[2]);
  return { mem, nodes };
}

/** Human size for messages: `16 GiB`, `512 MiB`, `4 KiB`, or bytes. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [
    ['PiB', 1024 * TiB],
    ['TiB', TiB],
    ['GiB', GiB],
    ['MiB', MiB],
    ['KiB', KiB],
  ] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes} B`;
}

/**
 * Why `mem` bytes over `nodes` nodes cannot make a machine, saying what is allowed; null when
 * they can. Checked before anything is built, so a front end can refuse the options at once.
 */
export function machineSizeError(mem: number, nodes: number): string | null {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES)
    return `nodes must be an integer from 1 to ${MAX_NODES}, got ${String(nodes)}`;
  if (!Number.isSafeInteger(mem) || mem <= 0)
    return `mem must be a positive integer byte count, got ${String(mem)}`;
  if (mem % (nodes * NODE_ALIGN) !== 0) {
    return `${formatSize(mem)} does not split into ${nodes} node(s) of whole 2 MiB pageblocks: use a multiple of ${formatSize(nodes * NODE_ALIGN)}`;
  }
  const low = lowRamOf(mem);
  const highEnd = mem > low ? HIGH_RAM_BASE + (mem - low) : low;
  if (highEnd > MAX_PHYS_LIMIT) return `${formatSize(mem)} does not fit below 2^52 bytes`;
  // Node 0 also spans the hole below 4 GiB; the last node's end is the highest address.
  const per = mem / nodes;
  const firstEnd = per <= low ? per : HIGH_RAM_BASE + (per - low);
  const span = (start: number, end: number): number =>
    Math.ceil(end / MAX_ORDER_BYTES) * MAX_ORDER_BYTES -
    Math.floor(start / MAX_ORDER_BYTES) * MAX_ORDER_BYTES;
  const lastStart = mem - per < low ? mem - per : HIGH_RAM_BASE + (mem - per - low);
  if (span(0, firstEnd) > MAX_NODE_SPAN || span(lastStart, highEnd) > MAX_NODE_SPAN) {
    return `${formatSize(mem)} over ${nodes} node(s) exceeds the model's per-node limit: a node spans at most ${formatSize(MAX_NODE_SPAN)} of physical addresses (node 0 with the hole below 4 GiB); use more nodes (at most ${MAX_NODES}) or less memory`;
  }
  return null;
}

/** The RAM layout of a machine, per NUMA node. */
export class Topology {
  /** Nodes in id order. */
  readonly nodes: readonly NumaNode[];
  /** Bytes of System RAM the kernel can use (sum of `ramRanges()`). */
  readonly totalRam: number;
  /** Installed RAM (`mem`), including the firmware-reserved bytes below 1 MiB. */
  readonly installed: number;
  /** First byte above all RAM (a page multiple); a good `PhysicalMemory` limit. */
  readonly end: number;

  // Flat sorted arrays for nodeOf's binary search.
  private readonly rStart: number[];
  private readonly rEnd: number[];
  private readonly rNid: number[];
  private readonly firmware: readonly E820Entry[];

  private constructor(nodes: NumaNode[], installed: number, firmware: E820Entry[]) {
    this.nodes = nodes;
    this.installed = installed;
    this.firmware = firmware;
    const flat = nodes.flatMap((n) => n.ranges.map((r) => ({ ...r, nid: n.nid })));
    flat.sort((a, b) => a.start - b.start);
    this.rStart = flat.map((r) => r.start);
    this.rEnd = flat.map((r) => r.end);
    this.rNid = flat.map((r) => r.nid);
    this.totalRam = nodes.reduce((s, n) => s + n.bytes, 0);
    this.end = this.rEnd.length === 0 ? 0 : this.rEnd[this.rEnd.length - 1]!;
  }

  /**
   * Builds the x86-64 layout for `mem` bytes split evenly over `nodes` nodes. `mem` must be a
   * multiple of `nodes × 2 MiB`; throws `KhoMemError` (EINVAL) otherwise.
   */
  static preset(opts: { mem: number; nodes: number }): Topology {
    const { mem, nodes } = opts;
    const bad = machineSizeError(mem, nodes);
    if (bad !== null) throw new KhoMemError('EINVAL', -1, bad);
    const low = lowRamOf(mem);
    const highEnd = mem > low ? HIGH_RAM_BASE + (mem - low) : low;
    // Installed RAM in address order; offsets into it map to addresses with the hole skipped.
    const toAddr = (off: number): number => (off < low ? off : HIGH_RAM_BASE + (off - low));
    // Firmware and kernel holes inside installed RAM (what memblock never sees).
    const holes: MemRange[] = [
      { start: 0, end: PAGE_SIZE },
      { start: EBDA_START & ~(PAGE_SIZE - 1), end: EXT_MEM_START },
    ];
    const per = mem / nodes;
    const list: NumaNode[] = [];
    for (let nid = 0; nid < nodes; nid++) {
      const a = nid * per;
      const b = a + per;
      const pieces: MemRange[] = [];
      if (a < low) pieces.push({ start: toAddr(a), end: Math.min(b, low) });
      if (b > low) pieces.push({ start: toAddr(Math.max(a, low)), end: toAddr(b - 1) + 1 });
      const ranges = subtract(pieces, holes);
      list.push({ nid, ranges, bytes: ranges.reduce((s, r) => s + r.end - r.start, 0) });
    }
    // SeaBIOS's table: base memory, EBDA, BIOS ROM, extended memory, flash, high memory.
    const firmware: E820Entry[] = [{ start: 0, end: Math.min(EBDA_START, low), type: 'usable' }];
    if (low > EBDA_START) firmware.push({ start: EBDA_START, end: 0xa0000, type: 'reserved' });
    firmware.push({ start: 0xf0000, end: EXT_MEM_START, type: 'reserved' });
    if (low > EXT_MEM_START) firmware.push({ start: EXT_MEM_START, end: low, type: 'usable' });
    firmware.push({ start: 0xfffc0000, end: HIGH_RAM_BASE, type: 'reserved' });
    if (mem > low) firmware.push({ start: HIGH_RAM_BASE, end: highEnd, type: 'usable' });
    return new Topology(list, mem, firmware);
  }

  /** Topology of a named preset. */
  static named(name: keyof typeof MACHINE_PRESETS): Topology {
    const spec = (MACHINE_PRESETS as Record<string, MachineSpec | undefined>)[name];
    if (spec === undefined) {
      throw new KhoMemError(
        'EINVAL',
        -1,
        `unknown machine preset "${name}" (known: ${Object.keys(MACHINE_PRESETS).join(', ')})`,
      );
    }
    return Topology.preset(spec);
  }

  /** All RAM ranges with their node, ascending by address. */
  ramRanges(): { start: number; end: number; nid: number }[] {
    return this.rStart.map((start, i) => ({ start, end: this.rEnd[i]!, nid: this.rNid[i]! }));
  }

  /** The node owning `phys`, or -1 when `phys` is not System RAM. */
  nodeOf(phys: number): number {
    const s = this.rStart;
    const lo = countAtMost(s, phys);
    // lo-1 is the last range starting at or below phys (NaN compares false: -1 below).
    const i = lo - 1;
    return i >= 0 && phys < this.rEnd[i]! ? this.rNid[i]! : -1;
  }

  /** True when `[start, start+len)` lies entirely inside one RAM range. */
  isRam(start: number, len: number): boolean {
    const nid = this.nodeOf(start);
    if (nid < 0) return false;
    const i = this.rangeIndex(start);
    return start + len <= this.rEnd[i]!;
  }

  private rangeIndex(phys: number): number {
    let lo = 0;
    let hi = this.rStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rStart[mid]! <= phys) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** The firmware (SeaBIOS) e820 table, ascending. */
  e820(): E820Entry[] {
    return this.firmware.map((e) => ({ ...e }));
  }

  /** The e820 table as the kernel prints it at boot (`BIOS-e820: [mem …] usable`). */
  e820Text(): string {
    return this.firmware
      .map((e) => `BIOS-e820: [mem ${hex16(e.start)}-${hex16(e.end - 1)}] ${e.type}\n`)
      .join('');
  }

  /**
   * `/proc/iomem` text: System RAM as the kernel registers it from e820 (page 0 turned
   * Reserved), firmware reservations, the PCI window, and any `extra` resources (Kernel code,
   * Crash kernel, …), nested under the resource that contains them with two spaces per level.
   * Addresses use `%08lx`-style padding (8 hex digits, more when needed), like the kernel.
   */
  iomem(extra: readonly IomemResource[] = []): string {
    const res: IomemResource[] = [];
    for (const e of this.firmware) {
      if (e.type === 'usable') {
        if (e.start === 0) {
          res.push({ start: 0, end: PAGE_SIZE, name: 'Reserved' });
          if (e.end > PAGE_SIZE) res.push({ start: PAGE_SIZE, end: e.end, name: 'System RAM' });
        } else res.push({ start: e.start, end: e.end, name: 'System RAM' });
      } else res.push({ start: e.start, end: e.end, name: 'Reserved' });
    }
    res.push({ start: 0xa0000, end: 0xc0000, name: 'PCI Bus 0000:00' });
    res.push({ start: 0xf0000, end: EXT_MEM_START, name: 'System ROM' });
    const low = lowRamOf(this.installed);
    res.push({ start: low, end: 0xfec00000, name: 'PCI Bus 0000:00' });
    res.push({ start: 0xfec00000, end: 0xfec00400, name: 'IOAPIC 0' });
    res.push({ start: 0xfee00000, end: 0xfee01000, name: 'Local APIC' });
    for (const r of extra) res.push({ ...r });
    return renderIomem(res);
  }
}

/**
 * RAM below 4 GiB for `mem` bytes, as QEMU `pc` (`pc_init1`) decides: everything when `mem` is
 * below 3.5 GiB, else 3 GiB (gigabyte alignment), the rest going above 4 GiB.
 */
export function lowRamOf(mem: number): number {
  return mem >= LOW_RAM_MAX ? LOW_RAM_TOP : mem;
}

/** `ranges` minus `holes`, both ascending; empty pieces dropped. */
function subtract(ranges: MemRange[], holes: MemRange[]): MemRange[] {
  let cur = ranges;
  for (const h of holes) {
    const next: MemRange[] = [];
    for (const r of cur) {
      if (h.end <= r.start || h.start >= r.end) {
        next.push(r);
        continue;
      }
      if (r.start < h.start) next.push({ start: r.start, end: h.start });
      if (h.end < r.end) next.push({ start: h.end, end: r.end });
    }
    cur = next;
  }
  return cur;
}

function hex16(x: number): string {
  return `0x${x.toString(16).padStart(16, '0')}`;
}

function hex8(x: number): string {
  return x.toString(16).padStart(8, '0');
}

/**
 * Renders resources as a tree: sorted by start (larger first on ties), each child indented two
 * spaces below the innermost resource that contains it. Partial overlaps stay at the outer level.
 */
function renderIomem(res: IomemResource[]): string {
  const sorted = res.slice().sort((a, b) => a.start - b.start || b.end - a.end);
  const stack: IomemResource[] = [];
  let out = '';
  for (const r of sorted) {
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (r.start >= top.start && r.end <= top.end) break;
      stack.pop();
    }
    out += `${'  '.repeat(stack.length)}${hex8(r.start)}-${hex8(r.end - 1)} : ${r.name}\n`;
    stack.push(r);
  }
  return out;
}
