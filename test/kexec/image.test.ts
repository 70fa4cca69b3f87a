import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mkImage,
  mkImageVersionString,
  parseKernelImage,
  probeBzImage64,
  profileOfImage,
  XLF_CAN_BE_LOADED_ABOVE_4G,
  XLF_KERNEL_64,
} from '../../src/kexec/image.ts';
import { KexecError } from '../../src/kexec/errors.ts';
import { profileByName } from '../../src/kernel/profile.ts';

const v4 = profileByName('kho-v4')!;
const v1 = profileByName('kho-v1')!;
const SMALL = 256 * 1024;

/** A bzImage-shaped header as real distribution kernels have it (Ubuntu-like field values). */
function realShaped(version: string | null): Uint8Array {
  const b = new Uint8Array(0x4400 + 8192);
  const v = new DataView(b.buffer);
  b[0] = 0x4d; // "MZ": EFI stub images start with it
  b[1] = 0x5a;
  v.setUint8(0x1f1, 0x21); // setup_sects 33
  v.setUint16(0x1fe, 0xaa55, true);
  v.setUint16(0x200, 0x6aeb, true); // jmp short, header end at 0x26c
  b.set([0x48, 0x64, 0x72, 0x53], 0x202); // "HdrS"
  v.setUint16(0x206, 0x020f, true);
  v.setUint8(0x211, 0x01);
  v.setUint32(0x230, 0x20_0000, true);
  v.setUint16(0x236, 0x7f, true);
  v.setUint32(0x238, 0x7ff, true);
  v.setUint32(0x260, 0x3d6_5000, true);
  if (version !== null) {
    v.setUint16(0x20e, 0x3900, true);
    for (let i = 0; i < version.length; i++) b[0x3b00 + i] = version.charCodeAt(i);
  }
  return b;
}

function enoexec(fn: () => unknown, re: RegExp): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof KexecError && e.code === 'ENOEXEC' && e.errno === 8 && re.test(e.message),
  );
}

describe('bzImage parsing', () => {
  it('reads a real-shaped header: setup size, protocol, alignment, init_size, version string', () => {
    const img = parseKernelImage(
      realShaped('6.8.0-45-generic (buildd@lcy02-amd64-075) #45-Ubuntu SMP'),
      'vmlinuz',
    );
    assert.equal(img.setupSects, 0x21);
    assert.equal(img.kern16Size, 34 * 512);
    assert.equal(img.protocol, 0x020f);
    assert.equal(img.kernelAlignment, 0x20_0000);
    assert.equal(img.initSize, 0x3d6_5000);
    assert.equal(img.cmdlineSize, 0x7ff);
    assert.equal(img.release, '6.8.0-45-generic');
    assert.equal(img.payload.length, 0x4400 + 8192 - 34 * 512);
    assert.equal(img.setupHeader.length, 0x26c - 0x1f1);
  });

  it('setup_sects 0 means 4', () => {
    const b = realShaped(null);
    b[0x1f1] = 0;
    assert.equal(parseKernelImage(b).kern16Size, 5 * 512);
  });

  it('an unknown real release boots as the current profile, with a warning', () => {
    const img = parseKernelImage(realShaped('6.8.0-45-generic (x) #1'), 'vmlinuz');
    const p = profileOfImage(img, v4);
    assert.equal(p.profile, v4);
    assert.match(p.warning!, /6\.8\.0-45-generic.*does not know.*7\.3\.0-kho-v4/);
    const none = profileOfImage(parseKernelImage(realShaped(null), 'x'), v1);
    assert.equal(none.profile, v1);
    assert.match(none.warning!, /no version string/);
  });

  it('rejects what bzImage64_probe rejects, with kexec-tools wording', () => {
    enoexec(
      () => parseKernelImage(new Uint8Array(100), 'tiny'),
      /Cannot determine the file type of tiny.*too short/,
    );
    enoexec(
      () => parseKernelImage(new TextEncoder().encode('#!/bin/sh\n'.repeat(200)), 'script'),
      /Not a bzImage/,
    );
    const noFlag = realShaped(null);
    noFlag[0x1fe] = 0;
    enoexec(() => parseKernelImage(noFlag), /No x86 boot sector/);
    const old = realShaped(null);
    new DataView(old.buffer).setUint16(0x206, 0x020b, true);
    enoexec(() => parseKernelImage(old), /2\.12/);
    const zimage = realShaped(null);
    zimage[0x211] = 0;
    enoexec(() => parseKernelImage(zimage), /zImage/);
    const b32 = realShaped(null);
    new DataView(b32.buffer).setUint16(0x236, XLF_CAN_BE_LOADED_ABOVE_4G, true);
    enoexec(() => parseKernelImage(b32), /XLF_KERNEL_64/);
    const low = realShaped(null);
    new DataView(low.buffer).setUint16(0x236, XLF_KERNEL_64, true);
    enoexec(() => parseKernelImage(low), /ABOVE_4G/);
    const trunc = realShaped(null).slice(0, 4096);
    enoexec(() => parseKernelImage(trunc, 't'), /truncated/);
    assert.equal(probeBzImage64(realShaped(null)), null);
  });
});

describe('kho mkimage images', () => {
  it('round trip: the profile comes back from the version string', () => {
    for (const name of ['kho-v1', 'kho-v2', 'kho-v3', 'kho-v4']) {
      const p = profileByName(name)!;
      const img = parseKernelImage(mkImage({ profile: p, size: SMALL }), `${name}.img`);
      assert.equal(img.versionString, mkImageVersionString(p));
      assert.equal(img.release, p.release);
      const got = profileOfImage(img, v4);
      assert.equal(got.warning, null);
      assert.equal(got.profile.name, name);
      assert.equal(img.bytes.length, SMALL);
      assert.ok(img.initSize >= 32 * 1024 * 1024 && img.initSize % (2 * 1024 * 1024) === 0);
    }
  });

  it('is deterministic per seed and differs between seeds', () => {
    const a = mkImage({ profile: v4, size: SMALL, seed: 7 });
    const b = mkImage({ profile: v4, size: SMALL, seed: 7 });
    const c = mkImage({ profile: v4, size: SMALL, seed: 8 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.deepEqual(a.subarray(0, 0x3e00), c.subarray(0, 0x3e00)); // same setup code
  });

  it('refuses sizes that cannot hold a payload', () => {
    assert.throws(() => mkImage({ profile: v4, size: 1000 }), KexecError);
    assert.throws(() => mkImage({ profile: v4, size: Number.NaN }), KexecError);
  });

  it('kho mkimage writes a file that file(1) reads as a bzImage', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kho-mkimage-'));
    const out = join(dir, 'k.img');
    const r = spawnSync(
      process.execPath,
      ['src/cli/main.ts', 'mkimage', '--profile', 'kho-v2', '--size', '1M', '-o', out],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /7\.1\.0-kho-v2/);
    const img = parseKernelImage(new Uint8Array(readFileSync(out)), out);
    assert.equal(img.release, '7.1.0-kho-v2');
    const f = spawnSync('file', ['-b', out], { encoding: 'utf8' });
    if (f.status === 0) assert.match(f.stdout, /bzImage, version 7\.1\.0-kho-v2 \(kho@sim\)/);
    const bad = spawnSync(
      process.execPath,
      ['src/cli/main.ts', 'mkimage', '--profile', 'kho-v7', '-o', out],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown profile/);
  });
});
