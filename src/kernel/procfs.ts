/**
 * The /proc files a KHO user looks at: `cmdline`, `iomem` (firmware layout plus the kernel
 * image parts, from the topology) and `meminfo` (from the page allocator, with CmaTotal/CmaFree
 * that show scratch as CMA).
 */
import type { Topology } from '../hw/topology.ts';
import type { Buddy } from '../mm/buddy.ts';
import type { KernelCmdline } from './cmdline.ts';
import { PseudoDir, textFile } from './pseudo-fs.ts';
import { mkImageBanner } from '../kexec/image.ts';
import type { ReleaseProfile } from './profile.ts';

/** One `/proc/meminfo` line: label padded to 16 columns, value right-aligned in 8, ` kB`. */
function kb(label: string, v: number): string {
  return `${`${label}:`.padEnd(16)}${String(v).padStart(8)} kB\n`;
}

/** The text of /proc/meminfo (the lines the model can compute). */
export function meminfoText(buddy: Buddy): string {
  const m = buddy.meminfo();
  return (
    kb('MemTotal', m.MemTotal) +
    kb('MemFree', m.MemFree) +
    kb('MemAvailable', m.MemFree) +
    kb('CmaTotal', m.CmaTotal) +
    kb('CmaFree', m.CmaFree)
  );
}

/** The kernel image split into the resources x86 registers (code, rodata, data, bss). */
export function kernelResources(image: {
  base: number;
  size: number;
}): { start: number; end: number; name: string }[] {
  const q = Math.floor(image.size / 4 / 4096) * 4096;
  const b = image.base;
  return [
    { start: b, end: b + 2 * q, name: 'Kernel code' },
    { start: b + 2 * q, end: b + 3 * q, name: 'Kernel rodata' },
    { start: b + 3 * q, end: b + 3 * q + q / 2, name: 'Kernel data' },
    { start: b + 3 * q + q / 2, end: b + image.size, name: 'Kernel bss' },
  ];
}

/** Build /proc for a kernel. */
export function createProcfs(
  cmdline: KernelCmdline,
  topology: Topology,
  buddy: Buddy,
  image: { base: number; size: number },
  profile?: ReleaseProfile,
): PseudoDir {
  const proc = new PseudoDir(0o555);
  // fs/proc/version.c: the linux_banner of the running build.
  if (profile !== undefined)
    proc.add(
      'version',
      textFile(() => `${mkImageBanner(profile)}\n`),
    );
  proc.add(
    'cmdline',
    textFile(() => cmdline.procCmdline()),
  );
  proc.add(
    'iomem',
    textFile(() => topology.iomem(kernelResources(image)), 0o400),
  );
  proc.add(
    'meminfo',
    textFile(() => meminfoText(buddy)),
  );
  return proc;
}
