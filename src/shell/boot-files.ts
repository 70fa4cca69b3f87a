/**
 * `/boot/vmlinuz` and `/boot/initrd.img` of the running release: a synthetic bzImage from the
 * kexec helper's `mkImage` (so `kexec -l /boot/vmlinuz` loads the same release) and a tiny
 * uncompressed initramfs (`newc` cpio with `/init`). Built once per profile and cached.
 */
import { mkImage } from '../kexec/image.ts';
import type { ReleaseProfile } from '../kernel/profile.ts';

/** The files of one release. */
export interface BootFiles {
  vmlinuz: () => Uint8Array;
  initrd: () => Uint8Array;
}

const CACHE = new Map<string, { vmlinuz?: Uint8Array; initrd?: Uint8Array }>();

/** /boot of `profile` (contents built on first read). */
export function bootFilesFor(profile: ReleaseProfile): BootFiles {
  let c = CACHE.get(profile.release);
  if (c === undefined) {
    c = {};
    CACHE.set(profile.release, c);
  }
  const entry = c;
  return {
    vmlinuz: () => (entry.vmlinuz ??= mkImage({ profile })),
    initrd: () => (entry.initrd ??= makeInitramfs(profile.release)),
  };
}

/** One `newc` cpio member: 110-byte ASCII header, name, data, each padded to 4 bytes. */
function cpioMember(ino: number, mode: number, name: string, data: Uint8Array): Uint8Array {
  const hex = (v: number): string => v.toString(16).padStart(8, '0').toUpperCase();
  const nameBytes = new TextEncoder().encode(`${name}\0`);
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
  const head = new TextEncoder().encode(`070701${fields.map(hex).join('')}`);
  const pad = (n: number): number => (4 - (n % 4)) % 4;
  const headLen = head.length + nameBytes.length;
  const out = new Uint8Array(headLen + pad(headLen) + data.length + pad(data.length));
  out.set(head, 0);
  out.set(nameBytes, head.length);
  out.set(data, headLen + pad(headLen));
  return out;
}

/** A minimal initramfs: `/init` (a shell script naming the release) and the trailer. */
export function makeInitramfs(release: string): Uint8Array {
  const init = new TextEncoder().encode(
    `#!/bin/sh\n# initramfs of ${release} (kho simulated machine)\nexec /bin/sh\n`,
  );
  const parts = [cpioMember(1, 0o100755, 'init', init), cpioMember(0, 0, 'TRAILER!!!', new Uint8Array(0))];
  const total = parts.reduce((n, p) => n + p.length, 0);
  // cpio archives are padded to 512-byte blocks.
  const out = new Uint8Array(Math.ceil(total / 512) * 512);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
