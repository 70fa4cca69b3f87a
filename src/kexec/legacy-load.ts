/**
 * The legacy loader (`kexec -l` without `-s`): kexec-tools parses the bzImage in user space,
 * places the segments itself over System RAM (top-down, purgatory below 640 KiB, initrd below
 * 2 GiB) and hands them to the `kexec_load` syscall. KHO is wired only into the in-kernel file
 * loader (kernel/kexec_file.c), so this image carries no `SETUP_KEXEC_KHO` record and no scratch array:
 * the successor cold-boots and every preserved page is lost (and may be overwritten by the
 * segments, which kexec-tools places without knowing about scratch).
 */
import type { Kernel } from '../kernel/kernel.ts';
import { loadKexecImage, type FileLoadOptions, type LoadResult } from './file-load.ts';

/**
 * `kexec_load` with segments built the kexec-tools way. Crash images (`-p`) go into the crash
 * region. Throws KexecError like {@link kexecFileLoad}. Warns when KHO has preserved memory
 * that this image will not hand over.
 */
export function kexecLegacyLoad(kernel: Kernel, opts: FileLoadOptions): LoadResult {
  return loadKexecImage(kernel, opts, true);
}
