/**
 * `kexec_file_load` (kexec -l -s, kernel/kexec_file.c `kimage_file_prepare_segments()`):
 * probe the image, let KHO add its scratch-array segment first (`kho_fill_kimage`: 64 KiB
 * aligned, top-down), then run the bzImage loader. While KHO is enabled and the image is not a
 * crash image every buffer is placed by `kho_locate_mem_hole`, i.e. only inside the scratch
 * areas, in array order, with no fallback (-EADDRNOTAVAIL). Otherwise the normal search walks
 * System RAM top-down (crash images: the crash kernel region). Buffers stay with the loader;
 * destinations are written only at the jump (execute.ts).
 */
import type { Kernel } from '../kernel/kernel.ts';
import { KexecError } from './errors.ts';
import { bzImage64Load, e820FromRam } from './bzimage64-load.ts';
import { BUF_MAX_NONE, locateInRam, locateInScratch, type ResRange } from './hole.ts';
import { parseKernelImage, profileOfImage, type KernelImage } from './image.ts';
import { SegmentBuilder, checkSegments, type KexecImage, type Placer } from './segments.ts';
import { parseSize } from '../hw/topology.ts';

/** `kexec_file_load` inputs (what kexec-tools passes: fds and a command line). */
export interface FileLoadOptions {
  /** The kernel image bytes (a bzImage). */
  image: Uint8Array;
  /** File name for messages. */
  imageName?: string;
  initrd?: Uint8Array | null;
  /** The command line (kexec-tools `--command-line`, `--append`, `--reuse-cmdline` resolved). */
  cmdline: string;
  /** `-p`: load a crash (kdump) image. */
  crash?: boolean;
  /** Crash kernel region `[start, end)`; default from `crashkernel=SIZE@OFFSET`. */
  crashRegion?: { start: number; end: number } | null;
}

/** Result of a load (the image is also stored on the kernel). */
export interface LoadResult {
  image: KexecImage;
  /** Warnings for the user (unknown release, …). */
  warnings: string[];
}

/** The image loaded on `kernel` (kexec -e target), or null. */
export function loadedImage(kernel: Kernel): KexecImage | null {
  return kernel.kexecImage;
}

/** The crash image loaded on `kernel`, or null. */
export function loadedCrashImage(kernel: Kernel): KexecImage | null {
  return kernel.crashImage;
}

/** System RAM as inclusive resources (what `kexec_walk_resources` visits). */
export function systemRam(kernel: Kernel): ResRange[] {
  return kernel.machine.topology.ramRanges().map((r) => ({ start: r.start, end: r.end - 1 }));
}

/**
 * The crash kernel region: `crashkernel=SIZE@OFFSET` from the command line (the model does not
 * reserve it at boot; see docs/kexec.md), or null.
 */
export function crashRegionOf(kernel: Kernel): { start: number; end: number } | null {
  const p = kernel.cmdline.params.find((x) => x.name === 'crashkernel');
  const v = p?.value;
  if (v === undefined || v === null) return null;
  const m = /^([0-9a-fx]+[kmgtp]?)@([0-9a-fx]+[kmgtp]?)$/i.exec(v);
  if (m === null) return null;
  try {
    const size = parseSize(m[1]!);
    const start = parseSize(m[2]!);
    return size > 0 ? { start, end: start + size } : null;
  } catch {
    return null;
  }
}

function parseImage(opts: FileLoadOptions, kernel: Kernel): KernelImage {
  try {
    return parseKernelImage(opts.image, opts.imageName ?? 'kernel');
  } catch (e) {
    if (e instanceof KexecError && e.code === 'ENOEXEC') {
      const why = /\(kexec-bzImage64: (.*)\)$/.exec(e.message)?.[1];
      if (why !== undefined) kernel.dmesg.err(`kexec-bzImage64: ${why}`);
    }
    throw e;
  }
}

/**
 * `kexec_file_load`: build the image and store it on `kernel` (replacing a loaded one of the
 * same kind). Throws KexecError (ENOEXEC, EINVAL, EADDRNOTAVAIL, ENOMEM) and leaves the
 * previously loaded image in place on failure, as the kernel does.
 */
export function kexecFileLoad(kernel: Kernel, opts: FileLoadOptions): LoadResult {
  return loadKexecImage(kernel, opts, false);
}

/**
 * Both loaders: probe the image, find the crash region for `-p`, place the segments (the file
 * loader with KHO: scratch array first, everything in scratch; otherwise System RAM or the
 * crash region), run the bzImage loader, check the segments and store the image.
 */
export function loadKexecImage(kernel: Kernel, opts: FileLoadOptions, legacy: boolean): LoadResult {
  // The legacy loader's probe runs in kexec-tools (user space): a failed probe logs nothing.
  const image = legacy ? parseKernelImage(opts.image, opts.imageName ?? 'kernel') : parseImage(opts, kernel);
  const crash = opts.crash === true;
  const warnings: string[] = [];
  const ip = profileOfImage(image, kernel.profile);
  if (ip.warning !== null) warnings.push(ip.warning);

  let crashRegion: { start: number; end: number } | null = null;
  if (crash) {
    crashRegion = opts.crashRegion ?? crashRegionOf(kernel);
    if (crashRegion === null) {
      throw new KexecError(
        'EINVAL',
        'Memory for crashkernel is not reserved\nPlease reserve memory by passing "crashkernel=Y@X" parameter to kernel\nThen try to loading kdump kernel',
      );
    }
  }

  // kho_fill_kimage: only the file loader; null when KHO is off, not initialised, or for a crash image.
  const info = legacy ? null : kernel.kho.fillKimage({ crash });
  const scratchAreas = !legacy && kernel.kho.isEnabled() && !crash ? kernel.kho.scratch : null;
  const ram = crash ? [{ start: crashRegion!.start, end: crashRegion!.end - 1 }] : systemRam(kernel);
  const place: Placer =
    scratchAreas !== null
      ? (req, taken) => locateInScratch(scratchAreas, req, taken)
      : (req, taken) => locateInRam(ram, req, taken);
  const segs = new SegmentBuilder(place);

  let kho: { fdtPhys: number; scratchPhys: number; scratchSize: number } | null = null;
  let scratchSegment = -1;
  if (info !== null) {
    scratchSegment = segs.segments.length;
    const at = segs.add({
      role: 'kho-scratch',
      buffer: info.scratch,
      memsz: info.scratch.length,
      bufAlign: 64 * 1024,
      bufMin: 0,
      bufMax: BUF_MAX_NONE,
      topDown: true,
    });
    kho = { fdtPhys: info.fdtPhys, scratchPhys: at, scratchSize: info.scratch.length };
  }

  const e820 = e820FromRam(crash ? [crashRegion!] : kernel.machine.topology.ramRanges());
  const loaded = bzImage64Load(segs, {
    image,
    initrd: opts.initrd ?? null,
    cmdline: opts.cmdline,
    e820,
    kho,
    crash,
    legacy,
  });
  const bad = checkSegments(segs.segments, kernel.machine.mem.limit, crashRegion);
  if (bad !== null) throw new KexecError('EINVAL', `segment check failed: ${bad}`);

  if (legacy && !crash && kernel.kho.isEnabled() && kernel.kho.fdtPhys !== 0) {
    warnings.push(
      'kexec_load (legacy, without -s) carries no KHO data: the next kernel cold-boots and preserved memory is lost; use kexec -s',
    );
  }
  const result: KexecImage = {
    kind: crash ? 'crash' : legacy ? 'legacy' : 'file',
    segments: segs.segments,
    entry: loaded.entry,
    kernelEntry: loaded.kernelEntry,
    bootParamsPhys: loaded.bootParamsPhys,
    kho: kho === null ? null : { fdtPhys: kho.fdtPhys, scratchSegment },
    cmdline: loaded.cmdline,
    release: image.release,
    imageName: image.name,
  };
  if (crash) kernel.crashImage = result;
  else kernel.kexecImage = result;
  return { image: result, warnings };
}

/** `kexec -u` (or `-p -u`): drop the loaded image; false when there was none. */
export function kexecUnload(kernel: Kernel, opts: { crash?: boolean } = {}): boolean {
  if (opts.crash === true) {
    const had = kernel.crashImage !== null;
    kernel.crashImage = null;
    return had;
  }
  const had = kernel.kexecImage !== null;
  kernel.kexecImage = null;
  return had;
}
