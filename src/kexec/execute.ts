/**
 * `kexec -e` (kernel/kexec_core.c `kernel_kexec()`): with an image loaded, the old
 * kernel shuts down, the relocation code copies every segment to its destination (zero-filling
 * up to `memsz`) and the successor starts with the boot-params address. KHO does nothing at
 * this point (kho-v1 kernels hand over only what the last finalize serialized; an image loaded
 * before finalize carries no KHO data at all). With the machine's sanitizer on, every page the successor may not
 * rely on is poisoned first (sanitizer.ts). Nothing but memory and that one address crosses.
 */
import type { Kernel } from '../kernel/kernel.ts';
import type { Machine } from '../kernel/machine.ts';
import { KhoV1Tracker } from '../kho/v1-tracker.ts';
import { ERRNO, errnoName, strerror, type ErrnoName } from '../util/errno.ts';
import { KexecError } from './errors.ts';
import { loadedCrashImage, loadedImage } from './file-load.ts';
import { readPreservedMap, type PreservedMap } from './preserved-map.ts';
import {
  findings,
  keepRanges,
  poisonComplement,
  preservedRanges,
  trackUnpreservedReads,
  type SanitizerFinding,
  type SanitizerReport,
} from './sanitizer.ts';
import type { KexecImage } from './segments.ts';

/** Options of a jump. */
export interface ExecuteOptions {
  /** Poison unpreserved memory (default: the machine's `sanitize` flag). */
  sanitize?: boolean;
}

/** What a jump did. */
export interface ExecuteResult {
  successor: Kernel;
  image: KexecImage;
  report: SanitizerReport;
  /** Wall seconds spent in each phase (for benchmarks and `time`). */
  timings: { prepare: number; copy: number; sanitize: number; boot: number };
  /** CPU seconds (user + system, all threads) of the same phases. */
  cpuTimings: { prepare: number; copy: number; sanitize: number; boot: number };
}

const reports = new WeakMap<Machine, SanitizerReport[]>();

/**
 * What an observer outside the machine (e.g. `kho serve`) learns about a jump once the
 * successor runs: the kernel that jumped, the memory map as read at the jump, the result.
 */
export interface JumpEvent {
  /** The kernel that jumped (gone from the machine; observers may still read its JS state). */
  from: Kernel;
  /** The preserved blocks and tracker pages read from memory before the jump (null: no KHO). */
  map: PreservedMap | null;
  result: ExecuteResult;
}

const listeners = new WeakMap<Machine, ((e: JumpEvent) => void)[]>();

/** Calls `fn` after every completed jump on `machine` (observers only: the model never does). */
export function addJumpListener(machine: Machine, fn: (e: JumpEvent) => void): void {
  const list = listeners.get(machine);
  if (list === undefined) listeners.set(machine, [fn]);
  else list.push(fn);
}

/** Sanitizer reports of every jump on `machine`, oldest first. */
export function sanitizerReports(machine: Machine): readonly SanitizerReport[] {
  return reports.get(machine) ?? [];
}

function now(): number {
  return performance.now() / 1000;
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Copy the segments to their destinations (`kimage_load_segment` + relocation at the jump). */
function copySegments(machine: Machine, image: KexecImage): void {
  const mem = machine.mem;
  for (const s of image.segments) {
    mem.write(s.dest, s.buffer);
    if (s.memsz > s.bufsz) mem.fill(s.dest + s.bufsz, s.memsz - s.bufsz, 0);
  }
}

function logFindings(k: Kernel, list: readonly SanitizerFinding[], prefix: string): void {
  for (const f of list) {
    const line = `${prefix}${f.message}`;
    if (f.severity === 'error') k.dmesg.err(line);
    else if (f.severity === 'warning') k.dmesg.warn(line);
    else k.dmesg.info(line);
  }
}

/**
 * Execute the loaded image: EINVAL (`Nothing has been loaded!`) when there is none. Returns the
 * successor (also `machine.kernel`) with the sanitizer's report; throws the `KernelPanic` of a
 * successor that panicked while booting (the machine then halted or restarted).
 */
export function kexecExecute(machine: Machine, opts: ExecuteOptions = {}): ExecuteResult {
  const k = machine.kernel;
  if (k === null) throw new KexecError('EINVAL', 'no kernel is running');
  const image = loadedImage(k);
  if (image === null) throw new KexecError('EINVAL', 'Nothing has been loaded!');
  return jump(machine, k, image, opts.sanitize ?? machine.sanitize, false);
}

/**
 * Panic into the loaded crash image (`__crash_kexec`): the crash kernel's segments are copied and
 * it boots with no KHO data; memory is left as it is (it is the dump). EINVAL without one.
 */
export function kexecCrash(machine: Machine): ExecuteResult {
  const k = machine.kernel;
  if (k === null) throw new KexecError('EINVAL', 'no kernel is running');
  const image = loadedCrashImage(k);
  if (image === null) throw new KexecError('EINVAL', 'no crash kernel loaded');
  k.dmesg.err('Kernel panic - not syncing: sysrq triggered crash');
  return jump(machine, k, image, false, true);
}

function jump(
  machine: Machine,
  k: Kernel,
  image: KexecImage,
  sanitize: boolean,
  crash: boolean,
): ExecuteResult {
  const t0 = now();
  const c0 = cpuNow();
  // kernel_kexec(): liveupdate_reboot() before anything shuts down; its error aborts the kexec.
  if (!crash) {
    const err = k.luo.reboot();
    if (err !== 0) {
      const name = errnoName(err);
      throw new KexecError(name in ERRNO ? (name as ErrnoName) : 'EIO', strerror(err));
    }
  }

  // Read what the successor will find, from memory, before anything is overwritten. This part
  // only reads: Ctrl-C here aborts the jump and the running kernel goes on.
  const prep = machine.work.start('kexec -e: reading the preserved memory map');
  const map: PreservedMap | null =
    image.kho === null
      ? null
      : readPreservedMap(machine.mem, image.kho.fdtPhys, { stop: () => prep.step(0) });
  const preserved = preservedRanges(map);
  const scratch = image.kho === null ? [] : k.kho.scratch;
  const f = findings({ map, segments: image.segments, scratch, buddy: k.buddy }, preserved);
  prep.end(0);
  if (map?.interrupted === true || prep.pending()) {
    throw new KexecError('EINTR', 'interrupted before the jump; the running kernel goes on');
  }
  const list = f.list;
  const v1 = k.kho.ctx.tracker;
  if (map !== null && v1 instanceof KhoV1Tracker) {
    const live = v1.blocks().length;
    if (live !== map.count) {
      list.push({
        kind: 'tracker',
        severity: 'warning',
        phys: -1,
        message: `kho-v1: the finalized memory map holds ${map.count} block(s) but ${live} are preserved now: changes after finalize are not handed over`,
      });
    }
  }
  if (image.kind === 'legacy' && k.kho.isEnabled() && k.kho.fdtPhys !== 0) {
    list.push({
      kind: 'no-handover',
      severity: 'warning',
      phys: -1,
      message: 'legacy kexec_load image: no KHO data is handed over; preserved memory is lost',
    });
  }
  const report: SanitizerReport = {
    findings: list,
    preservedBlocks: map?.count ?? 0,
    preservedBytes: map?.bytes ?? 0,
    poisoned: false,
    poisonedPages: 0,
    keptPages: 0,
    freedChecked: f.freedChecked,
    unpreservedReads: 0,
  };
  logFindings(k, list, 'kexec: ');
  k.dmesg.info(crash ? 'Starting crashdump kernel...' : 'kexec_core: Starting new kernel');

  const t1 = now();
  const c1 = cpuNow();
  copySegments(machine, image);
  const t2 = now();
  const c2 = cpuNow();
  if (sanitize) {
    const fdtPfns = image.kho === null ? [] : [Math.floor(image.kho.fdtPhys / 4096)];
    const keep = keepRanges(preserved, map, fdtPfns, image.segments);
    // Past the point of no return (the segments are in place): progress only, no stopping.
    const w = machine.work.start('kexec -e: poisoning unpreserved memory');
    const r = poisonComplement(machine.mem, machine.topology.ramRanges(), keep, () => {
      w.step(0);
    });
    w.end(0);
    report.poisoned = true;
    report.poisonedPages = r.poisonedPages;
    report.keptPages = r.keptPages;
  }
  const t3 = now();
  const c3 = cpuNow();

  // The old kernel is gone: only memory and the boot-params address go on. With the sanitizer
  // on, reads of the poisoned (unpreserved) memory become findings from here on.
  k.kexecImage = null;
  machine.kernel = null;
  machine.mem.onPoisonRead = null;
  const tracking = sanitize ? trackUnpreservedReads(machine.mem, report, () => machine.kernel) : null;
  const successor = machine.bootSuccessor(image.bootParamsPhys);
  tracking?.flush(successor);
  const t4 = now();
  const c4 = cpuNow();
  if (list.length > 0) logFindings(successor, list, 'kexec sanitizer (previous kernel): ');
  let all = reports.get(machine);
  if (all === undefined) {
    all = [];
    reports.set(machine, all);
  }
  all.push(report);
  const result: ExecuteResult = {
    successor,
    image,
    report,
    timings: { prepare: t1 - t0, copy: t2 - t1, sanitize: t3 - t2, boot: t4 - t3 },
    cpuTimings: { prepare: c1 - c0, copy: c2 - c1, sanitize: c3 - c2, boot: c4 - c3 },
  };
  for (const fn of listeners.get(machine) ?? []) fn({ from: k, map, result });
  return result;
}
