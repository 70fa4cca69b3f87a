/**
 * The state of one kernel's KHO subsystem, shared by the files that implement it (one concept
 * per file; the `Kho` facade in kho.ts ties them together). Outgoing state lives here as
 * physical addresses into simulated memory; the incoming side records only what `kho_populate`
 * read from memory.
 */
import type { Topology } from '../hw/topology.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import type { Dmesg } from '../kernel/dmesg.ts';
import type { ReleaseProfile } from '../kernel/profile.ts';
import type { PseudoDir } from '../kernel/pseudo-fs.ts';
import type { Buddy } from '../mm/buddy.ts';
import type { Failslab } from '../mm/failslab.ts';
import type { Memblock } from '../mm/memblock.ts';
import type { Vmalloc } from '../mm/vmalloc.ts';
import type { WorkMeter } from '../util/long-work.ts';
import type { PreservedMemTracker } from './v1-tracker.ts';

/** One scratch area (`struct kho_scratch`). */
export interface ScratchArea {
  addr: number;
  size: number;
}

/** What `kho_populate` accepted (kernel/liveupdate/kexec_handover.c: kho_populate()). */
export interface KhoIncoming {
  fdtPhys: number;
  scratchPhys: number;
  scratchCnt: number;
  /** Value of `preserved-memory-map` (radix root or v1 chunk list head). */
  memMapPhys: number;
}

/** A registered outgoing sub-tree, for debugfs (`out/sub_fdts/<name>`). */
export interface SubtreeRecord {
  name: string;
  phys: number;
  size: number;
}

/** Everything the KHO files share. */
export interface KhoContext {
  readonly mem: PhysicalMemory;
  readonly topology: Topology;
  readonly dmesg: Dmesg;
  readonly profile: ReleaseProfile;
  /** Set once mm is up (memblock from the start). */
  memblock: Memblock;
  buddy: Buddy | null;
  vmalloc: Vmalloc | null;
  /** debugfs root (`/sys/kernel/debug`). */
  readonly debugfs: PseudoDir;

  /** `kho_enable` (outgoing side switch). */
  enabled: boolean;
  /** `liveupdate_enabled()`: on kho-v1, LUO finalizes at reboot, so loading needs no finalize. */
  readonly liveupdate: boolean;
  /** The scratch array in use: address and entry count (cold: allocated; KHO boot: incoming). */
  scratchPhys: number;
  scratchCnt: number;

  /** Outgoing tracker (radix or v1); null before `kho_init` or with KHO off. */
  tracker: PreservedMemTracker | null;
  /** Radix root page (v2+), 0 otherwise. */
  rootPhys: number;
  /** Outgoing root FDT page, 0 before `kho_init`. */
  fdtPhys: number;
  /** `totalsize` when `out/fdt` was created (the stale-length quirk). */
  outFdtLen: number;
  /** Outgoing sub-trees by name (mirror of the FDT for debugfs). */
  readonly subtrees: Map<string, SubtreeRecord>;
  /** kho-v1: finalized state and the pages of the serialized memory map. */
  v1Finalized: boolean;
  v1MapPages: number[];

  /** Incoming hand-over data, when populate accepted it. */
  incoming: KhoIncoming | null;
  /** `is_kho_boot()`. */
  khoBoot: boolean;
  /** WARN_ON_ONCE sites already fired. */
  readonly warned: Set<string>;
  /** The machine's long-work meter: long walks report progress through it (null: none). */
  readonly work: WorkMeter | null;
  /** failslab: where modelled `kzalloc()` calls of KHO and LUO may be made to fail (src/mm/failslab.ts). */
  readonly failslab: Failslab;
}

/** WARN_ON_ONCE: log the first time `site` fires. */
export function warnOnce(ctx: KhoContext, site: string, text: string): void {
  if (ctx.warned.has(site)) return;
  ctx.warned.add(site);
  ctx.dmesg.warnOn(site, text);
}

/** The buddy allocator, which exists from `mm_core_init` on. */
export function buddyOf(ctx: KhoContext): Buddy {
  if (ctx.buddy === null) throw new Error('KHO: page allocator used before mm_core_init');
  return ctx.buddy;
}

/** `0x<hex>` as the kernel's `%llx` after a `0x`. */
export function hexAddr(x: number): string {
  return `0x${x.toString(16)}`;
}
