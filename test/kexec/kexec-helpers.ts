/** Shared fixtures for the kexec tests: small machines, cached images. */
import { Machine } from '../../src/kernel/machine.ts';
import { profileByName } from '../../src/kernel/profile.ts';
import type { ReleaseProfile } from '../../src/kernel/profile.ts';
import { mkImage } from '../../src/kexec/image.ts';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

const images = new Map<string, Uint8Array>();

/** A 1 MiB synthetic image of profile `name` (cached). */
export function imageOf(name: string): Uint8Array {
  let img = images.get(name);
  if (img === undefined) {
    img = mkImage({ profile: profileByName(name)!, size: MiB });
    images.set(name, img);
  }
  return img;
}

export function profile(name = 'kho-v4'): ReleaseProfile {
  return profileByName(name)!;
}

/** A cold-booted machine (KHO on unless the command line says otherwise). */
export function booted(
  opts: { mem?: number; nodes?: number; cmdline?: string; profile?: string; sanitize?: boolean } = {},
) {
  const m = Machine.create({
    mem: opts.mem ?? 4 * GiB,
    nodes: opts.nodes ?? 1,
    sanitize: opts.sanitize ?? false,
  });
  const k = m.coldBoot({ cmdline: opts.cmdline ?? 'console=ttyS0 kho=on', profile: profile(opts.profile) });
  return { m, k };
}
