/**
 * A simulated machine: NUMA RAM layout, sparse physical memory, a seed, and the kernel running
 * on it. `coldBoot` powers on (memory cleared); `bootSuccessor` starts a new kernel after a
 * kexec jump from nothing but memory and the `boot_params` address (DESIGN.md, "the one rule").
 */
import { PhysicalMemory } from '../hw/physical-memory.ts';
import { InterruptFlag } from '../util/interrupt.ts';
import { WorkMeter } from '../util/long-work.ts';
import { Topology } from '../hw/topology.ts';
import { readBootParams } from '../kexec/boot-params.ts';
import { runModulesLoad } from './module.ts';
import { bootKernel } from './boot.ts';
import type { Kernel } from './kernel.ts';
import { KernelPanic, panicTail } from './panic.ts';
import { DEFAULT_OPTIONS, profileByRelease, type KernelOptions, type ReleaseProfile } from './profile.ts';
import { seededRng } from './rng.ts';

/** What a machine is built from. */
export interface MachineOptions {
  /** RAM in bytes (a multiple of nodes × 2 MiB). */
  mem: number;
  nodes: number;
  /** Seed of every random stream (default 1). */
  seed?: number;
  /** Poison unpreserved memory at kexec (src/kexec reads it). */
  sanitize?: boolean;
  /** The interrupt flag its front end raises on Ctrl-C (default: a new one). */
  interrupt?: InterruptFlag;
}

/** How far the successor looks for its own `Linux version` banner in its image. */
const BANNER_SCAN = 1024 * 1024;
const BANNER = 'Linux version ';

/**
 * The release named by a `Linux version <release> ` banner in `bytes` (what a kernel's
 * `linux_banner` holds), or null.
 */
export function findBannerRelease(bytes: Uint8Array): string | null {
  const needle = Buffer.from(BANNER, 'latin1');
  const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(needle);
  if (at < 0) return null;
  let end = at + needle.length;
  while (end < bytes.length && bytes[end]! > 0x20 && bytes[end]! < 0x7f && end - at < 120) end++;
  return Buffer.from(bytes.subarray(at + needle.length, end)).toString('latin1') || null;
}

/** A machine. */
export class Machine {
  readonly topology: Topology;
  readonly mem: PhysicalMemory;
  readonly seed: number;
  readonly sanitize: boolean;
  /** Pending interrupt (Ctrl-C): long kernel-side work polls it as `signal_pending()`. */
  readonly interrupt: InterruptFlag;
  /**
   * Long kernel-side work on this machine polls the interrupt through this and reports progress
   * to its sink (a front end sets `work.sink`; src/util/long-work.ts).
   */
  readonly work: WorkMeter;
  /** The running kernel (null before power-on, during a jump and once halted). */
  kernel: Kernel | null = null;
  /** The panic that halted the machine (null while a kernel runs or after a restart). */
  halted: KernelPanic | null = null;
  /** The panic that made the last restart (`panic=N`), null otherwise. */
  lastPanic: KernelPanic | null = null;
  /** What power-on boots (the last cold boot's command line and profile). */
  private powerOn: { cmdline: string; profile: ReleaseProfile } | null = null;
  /** True while a restart after a panic boots: a second panic there halts (no boot loop). */
  private restarting = false;
  /**
   * Build options of the kernels this machine runs (CONFIG_* and model quirk switches): a
   * kexec'd image does not carry them, so successors inherit the last cold boot's.
   */
  buildOptions: KernelOptions = { ...DEFAULT_OPTIONS };
  /** The profile of the kernel that ran last (used when an image's release is unknown). */
  private lastProfile: ReleaseProfile | null = null;

  private constructor(topology: Topology, seed: number, sanitize: boolean, interrupt: InterruptFlag) {
    this.topology = topology;
    this.interrupt = interrupt;
    this.work = new WorkMeter(interrupt);
    this.mem = new PhysicalMemory({ limit: Math.max(topology.end, 4096) });
    this.seed = seed;
    this.sanitize = sanitize;
  }

  /** A machine with `mem` bytes over `nodes` NUMA nodes (x86-64 layout with holes). */
  static create(opts: MachineOptions): Machine {
    const topo = Topology.preset({ mem: opts.mem, nodes: opts.nodes });
    return new Machine(topo, opts.seed ?? 1, opts.sanitize ?? false, opts.interrupt ?? new InterruptFlag());
  }

  /**
   * `fatal_signal_pending(current)`: Ctrl-C reaches the process a running kernel is working for;
   * while a kernel boots (`kernel` is null) there is none, and kernel work is not interrupted.
   */
  signalPending(): boolean {
    return this.kernel !== null && this.interrupt.pending();
  }

  /** A deterministic random stream for `stream` (same seed and name → same numbers). */
  rng(stream: string): () => number {
    return seededRng(this.seed, stream);
  }

  /** Power on: memory is cleared, then `profile` boots with `cmdline`. */
  coldBoot(opts: { cmdline: string; profile: ReleaseProfile }): Kernel {
    this.kernel = null;
    this.halted = null;
    this.powerOn = { cmdline: opts.cmdline, profile: opts.profile };
    this.mem.clear();
    this.mem.onPoisonRead = null; // no stale memory after power-on: nothing to track
    this.buildOptions = { ...opts.profile.options };
    this.lastProfile = opts.profile;
    return this.start(() =>
      bootKernel(this, { cmdline: opts.cmdline, profile: opts.profile, handover: null }),
    );
  }

  /** Boot, then user space loads modules; a panic on the way halts or restarts the machine. */
  private start(boot: () => Kernel): Kernel {
    try {
      const k = boot();
      this.kernel = k;
      runModulesLoad(k); // user space: systemd-modules-load
      return k;
    } catch (e) {
      if (e instanceof KernelPanic) this.handlePanic(e);
      throw e;
    }
  }

  /**
   * Start the successor after a jump. Everything comes from memory: the zero page at
   * `bootParamsPhys` gives the command line, the image location, the initrd and the KHO
   * record; the image's `Linux version` banner names the release (an unknown or missing one
   * boots as the previous kernel's profile, with a warning).
   */
  bootSuccessor(bootParamsPhys: number): Kernel {
    this.kernel = null;
    this.halted = null;
    const bp = readBootParams(this.mem, bootParamsPhys);
    const notes = bp.problems.map((p) => `boot_params: ${p}`);
    const current = this.lastProfile;
    let profile: ReleaseProfile | null = null;
    if (bp.kernel.phys !== 0 && bp.kernel.phys < this.mem.limit) {
      let rel: string | null;
      try {
        const len = Math.min(BANNER_SCAN, this.mem.limit - bp.kernel.phys, Math.max(bp.kernel.size, 4096));
        rel = findBannerRelease(this.mem.read(bp.kernel.phys, len));
      } catch {
        rel = null;
      }
      const p = rel === null ? null : profileByRelease(rel);
      if (p !== null) profile = { ...p, options: { ...this.buildOptions } };
      else if (current !== null) {
        notes.push(
          `kernel image ${rel === null ? 'has no version banner' : `is release ${rel}`}, which the model does not know; it boots as ${current.release} (${current.name})`,
        );
      }
    }
    if (profile === null) {
      if (current === null)
        throw new Error('bootSuccessor: no kernel has run on this machine and the image names none');
      profile = current;
    }
    this.lastProfile = profile;
    const image =
      bp.kernel.phys !== 0 ? { base: bp.kernel.phys, size: Math.max(bp.kernel.size, 4096) } : undefined;
    return this.start(() =>
      bootKernel(this, {
        cmdline: bp.cmdline,
        profile,
        handover:
          bp.kho === null
            ? null
            : {
                fdtPhys: bp.kho.fdtPhys,
                fdtLen: bp.kho.fdtSize,
                scratchPhys: bp.kho.scratchPhys,
                scratchLen: bp.kho.scratchSize,
              },
        kernelImage: image,
        initrd: bp.initrd === null ? null : { base: bp.initrd.phys, size: bp.initrd.size },
        notes,
      }),
    );
  }

  /**
   * A kernel on this machine panicked (kernel/panic.c: panic(), called through the kernel log's
   * `onPanic`): the panic lines are logged, the kernel stops, and with `panic=N` (N ≠ 0) the
   * machine restarts cold (`emergency_restart()`: power-on boots the last cold boot's kernel and
   * command line). A restart that panics again halts: the model does not loop as a real
   * machine would. Idempotent; also takes a `KernelPanic` thrown without `panic()`.
   */
  handlePanic(p: KernelPanic): void {
    if (this.halted === p || this.lastPanic === p) return;
    panicTail(p);
    this.kernel = null;
    this.halted = p;
    if (p.timeout === 0 || this.powerOn === null) return;
    if (this.restarting) {
      p.dmesg.log('emerg', 'kho model: the restarted kernel panicked too; the machine stays halted');
      return;
    }
    this.restarting = true;
    try {
      this.coldBoot(this.powerOn);
      this.lastPanic = p;
    } catch (e) {
      if (!(e instanceof KernelPanic)) throw e;
    } finally {
      this.restarting = false;
    }
  }
}
