/**
 * The legacy loader (`kexec -l` without `-s`): kexec-tools parses the bzImage in user space,
 * places the segments itself over System RAM (top-down, purgatory below 640 KiB, initrd below
 * 2 GiB) and hands them to the `kexec_load` syscall. KHO is wired only into the in-kernel file
 * loader (spec §7.1), so this image carries no `SETUP_KEXEC_KHO` record and no scratch array:
 * the successor cold-boots and every preserved page is lost (and may be overwritten by the
 * segments, which kexec-tools places without knowing about scratch).
 */
import type { Kernel } from '../kernel/kernel.ts';
import { KexecError } from './errors.ts';
import { bzImage64Load, e820FromRam } from './bzimage64-load.ts';
import { locateInRam } from './hole.ts';
import { parseKernelImage, profileOfImage } from './image.ts';
import { SegmentBuilder, checkSegments, type KexecImage } from './segments.ts';
import { crashRegionOf, systemRam, type FileLoadOptions, type LoadResult } from './file-load.ts';

/**
 * `kexec_load` with segments built the kexec-tools way. Crash images (`-p`) go into the crash
 * region. Throws KexecError like {@link kexecFileLoad}. Warns when KHO has preserved memory
 * that this image will not hand over.
 */
export function kexecLegacyLoad(kernel: Kernel, opts: FileLoadOptions): LoadResult {
  const name = opts.imageName ?? 'kernel';
  // kexec-tools probes in user space; a failed probe never reaches the kernel (no dmesg line).
  const image = parseKernelImage(opts.image, name);
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
  const ram = crash ? [{ start: crashRegion!.start, end: crashRegion!.end - 1 }] : systemRam(kernel);
  const segs = new SegmentBuilder((req, taken) => locateInRam(ram, req, taken));
  const loaded = bzImage64Load(segs, {
    image,
    initrd: opts.initrd ?? null,
    cmdline: opts.cmdline,
    e820: e820FromRam(crash ? [crashRegion!] : kernel.machine.topology.ramRanges()),
    kho: null,
    crash,
    legacy: true,
  });
  const bad = checkSegments(segs.segments, kernel.machine.mem.limit, crashRegion);
  if (bad !== null) throw new KexecError('EINVAL', `segment check failed: ${bad}`);

  if (!crash && kernel.kho.isEnabled() && kernel.kho.fdtPhys !== 0) {
    warnings.push(
      'kexec_load (legacy, without -s) carries no KHO data: the next kernel cold-boots and preserved memory is lost; use kexec -s',
    );
  }
  const result: KexecImage = {
    kind: crash ? 'crash' : 'legacy',
    segments: segs.segments,
    entry: loaded.entry,
    kernelEntry: loaded.kernelEntry,
    bootParamsPhys: loaded.bootParamsPhys,
    kho: null,
    cmdline: loaded.cmdline,
    release: image.release,
    imageName: image.name,
  };
  if (crash) kernel.crashImage = result;
  else kernel.kexecImage = result;
  return { image: result, warnings };
}
