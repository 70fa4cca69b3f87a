/**
 * Test helpers: booting small machines and a hand-made kexec "jump" that writes what the
 * loader would (scratch-array copy, zero page with the KHO setup_data, an image carrying its
 * `Linux version` banner) and starts the successor from the zero page's address only.
 */
import { writeBootParams } from '../../src/kexec/boot-params.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { Machine } from '../../src/kernel/machine.ts';
import { profileByName, type KernelOptions } from '../../src/kernel/profile.ts';
import type { KhoCompatible } from '../../src/abi/versions.ts';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Cold-boot a machine. */
export function boot(
  opts: {
    mem?: number;
    nodes?: number;
    cmdline?: string;
    profile?: KhoCompatible;
    options?: Partial<KernelOptions>;
  } = {},
): Kernel {
  const m = Machine.create({ mem: opts.mem ?? GiB, nodes: opts.nodes ?? 1 });
  const profile = profileByName(opts.profile ?? 'kho-v4', { khoDebug: true, ...opts.options })!;
  return m.coldBoot({ cmdline: opts.cmdline ?? 'console=ttyS0 kho=on', profile });
}

/** Where the hand-made loader put things. */
export interface JumpLayout {
  bootParams: number;
  scratchCopy: number;
  kernel: number;
}

/** Options of {@link jump}. */
export interface JumpOptions {
  cmdline?: string;
  /** Release written into the image banner (default: the running kernel's). */
  release?: string;
  /** Skip the KHO record (a legacy kexec_load). */
  noKho?: boolean;
  /** Edit memory after the loader wrote everything, before the successor starts. */
  tamper?: (k: Kernel, at: JumpLayout & { fdt: number; scratchLen: number }) => void;
  /** Override the record's values. */
  record?: Partial<{ fdtPhys: number; fdtSize: number; scratchPhys: number; scratchSize: number }>;
}

/**
 * kexec by hand: the scratch array copy at the top of the lowmem area (64 KiB aligned), the
 * zero page at the area's bottom, a 4 MiB image 2 MiB above it. Returns the successor.
 */
export function jump(k: Kernel, o: JumpOptions = {}): Kernel {
  const m = k.machine;
  const info = k.kho.fillKimage();
  const areas = k.kho.scratch;
  const low = areas[0]!;
  const scratchLen = info?.scratch.length ?? 0;
  const scratchCopy = Math.floor((low.addr + low.size - scratchLen) / 65536) * 65536;
  if (info !== null) m.mem.write(scratchCopy, info.scratch);
  const bootParams = low.addr;
  const kernel = low.addr + 2 * MiB;
  const banner = `Linux version ${o.release ?? k.release} (kho@sim) #1 SMP\0`;
  m.mem.write(kernel, new TextEncoder().encode(banner));
  const rec = {
    fdtPhys: info?.fdtPhys ?? 0,
    fdtSize: 4096,
    scratchPhys: scratchCopy,
    scratchSize: scratchLen,
    ...o.record,
  };
  writeBootParams(m.mem, bootParams, {
    cmdline: o.cmdline ?? k.cmdline.raw,
    kernel: { phys: kernel, size: 4 * MiB },
    initrd: null,
    kho: o.noKho === true || info === null ? null : rec,
  });
  o.tamper?.(k, { bootParams, scratchCopy, kernel, fdt: rec.fdtPhys, scratchLen });
  m.kernel = null;
  return m.bootSuccessor(bootParams);
}
