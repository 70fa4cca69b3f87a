/**
 * Module test helpers: a small KHO machine with the shipped catalog, and a real kexec (file load
 * of a synthetic image into scratch, jump with the sanitizer) that starts the successor's modules.
 */
import { kexecExecute } from '../../src/kexec/execute.ts';
import { kexecFileLoad } from '../../src/kexec/file-load.ts';
import { mkImage } from '../../src/kexec/image.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { Machine } from '../../src/kernel/machine.ts';
import { configureModules, moduleStarts, type ModuleStart } from '../../src/kernel/module.ts';
import { defaultModuleCatalog } from '../../src/kernel/modules/catalog.ts';
import { profileByName } from '../../src/kernel/profile.ts';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const CMDLINE = 'console=ttyS0 kho=on kho_scratch=128M,128M,64M test_kho.max_mem=1048576';

const profile = profileByName('kho-v4')!;
const image = mkImage({ profile, size: MiB });

/** Boot options. */
export interface BootOptions {
  cmdline?: string;
  builtin?: string[];
  modulesLoad?: { name: string; args?: string[] }[];
  mem?: number;
  seed?: number;
}

/** Cold-boot a 2 GiB machine (sanitizer on) and start its modules. */
export function bootMachine(o: BootOptions = {}): { k: Kernel; started: ModuleStart[] } {
  const m = Machine.create({ mem: o.mem ?? 2 * GiB, nodes: 1, seed: o.seed ?? 7, sanitize: true });
  configureModules(m, {
    catalog: defaultModuleCatalog(),
    builtin: o.builtin ?? [],
    modulesLoad: o.modulesLoad ?? [],
  });
  const k = m.coldBoot({ cmdline: o.cmdline ?? CMDLINE, profile });
  return { k, started: [...moduleStarts(k)] };
}

/** kexec -l -s + kexec -e, then the successor's modules; `tamper` runs just before the jump. */
export function kexec(k: Kernel, tamper?: (k: Kernel) => void): { k: Kernel; started: ModuleStart[] } {
  kexecFileLoad(k, { image, cmdline: k.cmdline.raw });
  tamper?.(k);
  const next = kexecExecute(k.machine).successor;
  return { k: next, started: [...moduleStarts(next)] };
}
