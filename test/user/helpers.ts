/**
 * User-space test helpers: a small KHO machine (LUO on) and a process to make system calls from.
 */
import { kexecExecute } from '../../src/kexec/execute.ts';
import { kexecFileLoad } from '../../src/kexec/file-load.ts';
import { mkImage } from '../../src/kexec/image.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { Machine } from '../../src/kernel/machine.ts';
import { profileByName } from '../../src/kernel/profile.ts';
import type { Process } from '../../src/user/process.ts';
import { userspace } from '../../src/user/userspace.ts';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const CMDLINE = 'console=ttyS0 kho=on kho_scratch=64M,64M,32M liveupdate=on';

/** Cold-boot a 1 GiB machine of `profile` (sanitizer on). */
export function boot(
  o: { cmdline?: string; profile?: string; mem?: number; sanitize?: boolean } = {},
): Kernel {
  const profile = profileByName(o.profile ?? 'kho-v4')!;
  const m = Machine.create({ mem: o.mem ?? GiB, nodes: 1, seed: 3, sanitize: o.sanitize ?? true });
  return m.coldBoot({ cmdline: o.cmdline ?? CMDLINE, profile });
}

/** A fresh process (child of init) on `k`. */
export function proc(k: Kernel, comm = 'test'): Process {
  const p = userspace(k).spawn(userspace(k).init, [comm]);
  if (typeof p === 'number') throw new Error(`spawn failed: ${p}`);
  return p;
}

/** `kexec -l -s --reuse-cmdline` (or `--append=cmdline`) of the same release, then the jump. */
export function kexec(k: Kernel, tamper?: (k: Kernel) => void, cmdline?: string): Kernel {
  const image = mkImage({ profile: k.profile, size: MiB });
  kexecFileLoad(k, { image, cmdline: cmdline ?? k.cmdline.raw });
  tamper?.(k);
  return kexecExecute(k.machine).successor;
}

/** UTF-8 bytes. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** UTF-8 text. */
export function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}
