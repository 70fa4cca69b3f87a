/**
 * One running simulated kernel: what it booted with and the subsystems it brought up. A
 * `Kernel` is built by the boot code (boot.ts) and never survives a kexec: the successor is a
 * new object that learns about its predecessor only from memory.
 */
import type { KexecImage } from '../kexec/segments.ts';
import type { Kho } from '../kho/kho.ts';
import type { Luo } from '../luo/luo-core.ts';
import type { Buddy } from '../mm/buddy.ts';
import type { Memblock } from '../mm/memblock.ts';
import type { EarlyAllocation } from '../mm/mm-init.ts';
import type { Vmalloc } from '../mm/vmalloc.ts';
import type { CurrentTask } from '../mm/fault-inject.ts';
import type { ReserveMemRecord } from '../abi/memblock-reserve-mem.ts';
import type { KernelCmdline } from './cmdline.ts';
import type { Dmesg } from './dmesg.ts';
import { panic } from './panic.ts';
import type { KernelFs } from './fs/kernel-fs.ts';
import type { Machine } from './machine.ts';
import type { ReleaseProfile } from './profile.ts';
import type { PseudoDir } from './pseudo-fs.ts';

/** The fields the boot code fills in. */
export interface KernelParts {
  machine: Machine;
  profile: ReleaseProfile;
  cmdline: KernelCmdline;
  dmesg: Dmesg;
  memblock: Memblock;
  buddy: Buddy;
  vmalloc: Vmalloc;
  kho: Kho;
  debugfs: PseudoDir;
  procfs: PseudoDir;
  fs: KernelFs;
  luo: Luo;
  generation: number;
  kernelImage: { base: number; size: number };
  early: readonly EarlyAllocation[];
  reserveMem: readonly ReserveMemRecord[];
  current: CurrentTask;
}

/** A booted kernel. */
export class Kernel {
  readonly machine: Machine;
  readonly profile: ReleaseProfile;
  readonly cmdline: KernelCmdline;
  readonly dmesg: Dmesg;
  readonly memblock: Memblock;
  readonly buddy: Buddy;
  readonly vmalloc: Vmalloc;
  /** The KHO subsystem of this kernel. */
  readonly kho: Kho;
  /** Mounted at /sys/kernel/debug. */
  readonly debugfs: PseudoDir;
  /** /proc: cmdline, iomem, meminfo, and one directory per process. */
  readonly procfs: PseudoDir;
  /** Files: shmem, devtmpfs nodes, anonymous inodes. */
  readonly fs: KernelFs;
  /** The Live Update Orchestrator (`/dev/liveupdate`, sessions, file handlers). */
  readonly luo: Luo;
  /** kexec_count from the incoming kexec-metadata (0 on a cold boot). */
  readonly generation: number;
  /** Where this kernel's image sits (reserved for its lifetime). */
  readonly kernelImage: { base: number; size: number };
  /** Early memblock allocations, in order (for reports). */
  readonly early: readonly EarlyAllocation[];
  /** `reserve_mem=` regions (`reserved_mem_table`). */
  readonly reserveMem: readonly ReserveMemRecord[];
  /**
   * `current`: the task a system call runs for (the system-call layer sets it), null in the
   * kernel's own contexts; fault injection's `fail-nth` and `task-filter` look at it.
   */
  readonly current: CurrentTask;
  /** The loaded kexec image (`kexec -l`; src/kexec fills it). */
  kexecImage: KexecImage | null = null;
  /** The loaded crash image (`kexec -p`). */
  crashImage: KexecImage | null = null;

  constructor(p: KernelParts) {
    this.machine = p.machine;
    this.profile = p.profile;
    this.cmdline = p.cmdline;
    this.dmesg = p.dmesg;
    this.memblock = p.memblock;
    this.buddy = p.buddy;
    this.vmalloc = p.vmalloc;
    this.kho = p.kho;
    this.debugfs = p.debugfs;
    this.procfs = p.procfs;
    this.fs = p.fs;
    this.luo = p.luo;
    this.generation = p.generation;
    this.kernelImage = p.kernelImage;
    this.early = p.early;
    this.reserveMem = p.reserveMem;
    this.current = p.current;
  }

  /**
   * `panic(reason)` (kernel/panic.c): logs the panic, then the machine halts or, with `panic=N`,
   * restarts cold; never returns (the thrown `KernelPanic` must not be caught by kernel code).
   */
  panic(reason: string): never {
    return panic(this.dmesg, reason);
  }

  /** `uname -r`. */
  get release(): string {
    return this.profile.release;
  }
}
