/**
 * The KHO subsystem of one simulated kernel (kernel/liveupdate/kexec_handover.c), as a facade
 * over the files that implement each concept. All addresses are physical; results follow the
 * kernel (0 or -errno; null for failed restores). The state lives in simulated memory except
 * what the kernel itself keeps in variables (`KhoContext`).
 */
import { KHO_SCRATCH_SIZE } from '../abi/kho-scratch.ts';
import type { Topology } from '../hw/topology.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import type { Dmesg } from '../kernel/dmesg.ts';
import type { ReleaseProfile } from '../kernel/profile.ts';
import type { PseudoDir } from '../kernel/pseudo-fs.ts';
import type { WorkMeter } from '../util/long-work.ts';
import { GFP_KERNEL, __GFP_ZERO } from '../mm/gfp.ts';
import { disarmedFailslab, type Failslab } from '../mm/failslab.ts';
import type { Memblock } from '../mm/memblock.ts';
import { allocPreserve, unpreserveFree } from './alloc-preserve.ts';
import { buddyOf, type KhoContext, type ScratchArea } from './context.ts';
import { createInDebugfs, createOutDebugfs, createOutFdtFile } from './debugfs.ts';
import { kexecMetadataInit, readIncomingKexecMetadata } from './kexec-metadata.ts';
import { createRootFdt, readRootFdt } from './out-fdt.ts';
import { preserveFolio, preservePages, unpreserveFolio, unpreservePages } from './preserve.ts';
import { KhoRadixTree } from './radix-tree.ts';
import { restoreFolio, restoreFree, restorePages, restoreVmalloc } from './restore.ts';
import { readScratchArray, releaseScratchCma } from './scratch.ts';
import { addSubtree, removeSubtree, retrieveSubtree, type RetrieveResult } from './subtree.ts';
import { v1Abort, v1Finalize } from './v1-finalize.ts';
import { KhoV1Tracker } from './v1-tracker.ts';
import { preserveVmalloc, unpreserveVmalloc } from './vmalloc-preserve.ts';

const PAGE_SIZE = 4096;

/** What `kho_fill_kimage` gives the kexec loader. */
export interface KhoKimageInfo {
  /** Physical address of the root FDT page (`image->kho.fdt`). */
  fdtPhys: number;
  /** The scratch array bytes to place as a segment (`cnt × 16`). */
  scratch: Uint8Array;
}

/** Construction inputs. */
export interface KhoOptions {
  mem: PhysicalMemory;
  topology: Topology;
  dmesg: Dmesg;
  profile: ReleaseProfile;
  memblock: Memblock;
  debugfs: PseudoDir;
  /** `kho=` as the command line left it. */
  enabled: boolean;
  /** `liveupdate=` (LUO finalizes kho-v1 at reboot). Default false. */
  liveupdate?: boolean;
  /** The machine's long-work meter (progress of long walks); none in unit tests. */
  work?: WorkMeter | null;
  /** The kernel's failslab (mm/failslab.c); default: one that never fails. */
  failslab?: Failslab;
}

/** The KHO subsystem. */
export class Kho {
  /** Shared state (for the boot code and tests; consumers use the methods). */
  readonly ctx: KhoContext;
  /** Incoming kexec count (0 on a cold boot or without metadata). */
  incomingKexecCount = 0;

  constructor(o: KhoOptions) {
    this.ctx = {
      mem: o.mem,
      topology: o.topology,
      dmesg: o.dmesg,
      profile: o.profile,
      memblock: o.memblock,
      buddy: null,
      vmalloc: null,
      debugfs: o.debugfs,
      enabled: o.enabled,
      liveupdate: o.liveupdate ?? false,
      scratchPhys: 0,
      scratchCnt: 0,
      tracker: null,
      rootPhys: 0,
      fdtPhys: 0,
      outFdtLen: 0,
      subtrees: new Map(),
      v1Finalized: false,
      v1MapPages: [],
      incoming: null,
      khoBoot: false,
      warned: new Set(),
      work: o.work ?? null,
      failslab: o.failslab ?? disarmedFailslab(),
    };
  }

  /** `kho_is_enabled()`. */
  isEnabled(): boolean {
    return this.ctx.enabled;
  }

  /** `is_kho_boot()`. */
  isKhoBoot(): boolean {
    return this.ctx.khoBoot;
  }

  /** Physical address of the outgoing root FDT page (0 before `kho_init` / KHO off). */
  get fdtPhys(): number {
    return this.ctx.fdtPhys;
  }

  /** Radix root page of the outgoing tracker (0 for kho-v1 or before init). */
  get rootPhys(): number {
    return this.ctx.rootPhys;
  }

  /** The scratch areas in use (read from the array in memory). */
  get scratch(): ScratchArea[] {
    const c = this.ctx;
    if (c.scratchCnt === 0) return [];
    return readScratchArray(c.mem, c.scratchPhys, c.scratchCnt);
  }

  /** Physical address of the scratch array. */
  get scratchPhys(): number {
    return this.ctx.scratchPhys;
  }

  /**
   * `kho_init()` (fs_initcall, kernel/liveupdate/kexec_handover.c; docs/kho.md): radix root, FDT page (the
   * first preserved block), debugfs, the FDT, kexec-metadata; cold boot: scratch to CMA and `out/fdt`;
   * KHO boot: `in/` debugfs. Failure disables KHO.
   */
  init(release: string): void {
    const c = this.ctx;
    if (!c.enabled) return;
    const buddy = buddyOf(c);
    // kho_init()'s error path is silent (kexec-metadata logs its own failure).
    const fail = (undo: () => void): void => {
      undo();
      c.tracker = null;
      c.fdtPhys = 0;
      c.rootPhys = 0;
      c.debugfs.remove('kho');
      // QUIRK: the kernel frees scratch again on a KHO boot (double free); the model does not.
      if (c.incoming === null) {
        for (const a of this.scratch) if (a.size > 0) buddy.freeReservedArea(a.addr, a.addr + a.size);
      }
      c.enabled = false;
    };
    const v1 = c.profile.abi.memoryMap === 'chunks';
    let rootPfn = 0;
    if (v1) {
      c.tracker = new KhoV1Tracker();
    } else {
      const tree = KhoRadixTree.create(
        c.mem,
        {
          allocZeroedPage: () => buddy.alloc(0, GFP_KERNEL | __GFP_ZERO),
          freePage: (pfn) => {
            buddy.freePages(pfn, 0);
          },
        },
        {
          warn: (m) => {
            c.dmesg.warn(m);
          },
        },
      );
      if (tree === null) {
        fail(() => undefined);
        return;
      }
      c.tracker = tree;
      c.rootPhys = tree.rootPhys;
      rootPfn = tree.rootPhys / PAGE_SIZE;
    }
    const freeRoot = (): void => {
      if (rootPfn !== 0) buddy.freePages(rootPfn, 0);
    };
    const fdt = allocPreserve(c, PAGE_SIZE);
    if (fdt < 0) {
      fail(freeRoot);
      return;
    }
    createOutDebugfs(c);
    createRootFdt(c.mem, fdt, c.profile.abi.compatible, c.rootPhys);
    c.fdtPhys = fdt;
    if (c.profile.abi.hasKexecMetadata) {
      const r = kexecMetadataInit(c, release);
      this.incomingKexecCount = r.incoming;
      if (r.err !== 0) {
        fail(() => {
          unpreserveFree(c, fdt);
          freeRoot();
        });
        return;
      }
    }
    if (c.incoming !== null) {
      createInDebugfs(c);
      if (c.profile.options.outFdtOnKhoBoot) createOutFdtFile(c);
      return;
    }
    releaseScratchCma(buddy, this.scratch, (l) => {
      c.dmesg.warn(l);
    });
    createOutFdtFile(c);
  }

  /** The incoming kexec count from memory (without kho_init's log line). */
  readIncomingCount(): number {
    return readIncomingKexecMetadata(this.ctx, false)?.count ?? 0;
  }

  // ---------------------------------------------------------------- preservation (kho_preserve_folio/pages/vmalloc)

  /** `kho_preserve_folio`: 0 or -errno. */
  preserveFolio(pfn: number, order: number): number {
    return preserveFolio(this.ctx, pfn, order);
  }

  /** `kho_unpreserve_folio`. */
  unpreserveFolio(pfn: number, order: number): void {
    unpreserveFolio(this.ctx, pfn, order);
  }

  /** `kho_preserve_pages`: 0 or -errno; `stats.blocks` receives the keys added. */
  preservePages(pfn: number, nr: number, stats?: { blocks: number }): number {
    return preservePages(this.ctx, pfn, nr, stats);
  }

  /** `kho_unpreserve_pages`. */
  unpreservePages(pfn: number, nr: number): void {
    unpreservePages(this.ctx, pfn, nr);
  }

  /** `kho_preserve_vmalloc(ptr, out)`: writes the descriptor at `descPhys`; 0 or -errno. */
  preserveVmalloc(va: number, descPhys: number): number {
    return preserveVmalloc(this.ctx, va, descPhys);
  }

  /** `kho_unpreserve_vmalloc`. */
  unpreserveVmalloc(descPhys: number): void {
    unpreserveVmalloc(this.ctx, descPhys);
  }

  /** `kho_alloc_preserve(size)`: physical address or -errno. */
  allocPreserve(size: number): number {
    return allocPreserve(this.ctx, size);
  }

  /** `kho_unpreserve_free(mem)`. */
  unpreserveFree(phys: number): void {
    unpreserveFree(this.ctx, phys);
  }

  // ---------------------------------------------------------------- sub-trees (kho_add_subtree)

  /** `kho_add_subtree`: 0, -EEXIST or -ENOMEM. */
  addSubtree(name: string, phys: number, size: number): number {
    return addSubtree(this.ctx, name, phys, size);
  }

  /** `kho_remove_subtree`. */
  removeSubtree(phys: number): void {
    removeSubtree(this.ctx, phys);
  }

  /** `kho_retrieve_subtree`: `{phys, size}` or `{errno}` (errno negative). */
  retrieveSubtree(name: string): RetrieveResult {
    return retrieveSubtree(this.ctx, name);
  }

  // ---------------------------------------------------------------- restore (kho_restore_*)

  /** `kho_restore_folio`: pfn or null. */
  restoreFolio(phys: number): number | null {
    return restoreFolio(this.ctx, phys);
  }

  /** `kho_restore_pages`: first pfn or null. */
  restorePages(phys: number, nr: number): number | null {
    return restorePages(this.ctx, phys, nr);
  }

  /** `kho_restore_vmalloc`: the new virtual address or null. */
  restoreVmalloc(descPhys: number): number | null {
    return restoreVmalloc(this.ctx, descPhys);
  }

  /** `kho_restore_free`. */
  restoreFree(phys: number): void {
    restoreFree(this.ctx, phys);
  }

  // ---------------------------------------------------------------- kexec (kho_fill_kimage)

  /**
   * `kho_fill_kimage`: null when KHO is disabled or for a crash image, and on kho-v1 kernels
   * when user space has not finalized (v6.16 … v7.0 passed nothing then, unless LUO, which
   * finalizes at reboot, was enabled); else the FDT address and the scratch array bytes.
   */
  fillKimage(opts: { crash?: boolean } = {}): KhoKimageInfo | null {
    const c = this.ctx;
    if (!c.enabled || c.fdtPhys === 0 || opts.crash === true) return null;
    if (c.profile.abi.hasFinalize && !c.v1Finalized && !c.liveupdate) return null;
    return { fdtPhys: c.fdtPhys, scratch: c.mem.read(c.scratchPhys, c.scratchCnt * KHO_SCRATCH_SIZE) };
  }

  /**
   * kho-v1's `kho_finalize()` (what `echo 1 > /sys/kernel/debug/kho/out/finalize` does):
   * serialize the tracker so that a kexec image loaded afterwards carries the KHO data; a
   * second call serializes again. 0 or -errno; -EOPNOTSUPP with KHO off. Later ABIs have no
   * finalize step: 0.
   */
  finalize(): number {
    const c = this.ctx;
    if (!c.profile.abi.hasFinalize) return 0;
    if (!c.enabled || c.fdtPhys === 0) return -95;
    if (c.v1Finalized) v1Abort(c);
    return v1Finalize(c);
  }

  /** The outgoing FDT blob (current totalsize). */
  outFdt(): Uint8Array | null {
    return this.ctx.fdtPhys === 0 ? null : readRootFdt(this.ctx.mem, this.ctx.fdtPhys);
  }
}
