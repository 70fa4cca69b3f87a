import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KHO_SCRATCH_SIZE } from '../../src/abi/kho-scratch.ts';
import { findKhoSetupData } from '../../src/abi/x86-setup-data.ts';
import { BP } from '../../src/kexec/boot-params.ts';
import { KexecError } from '../../src/kexec/errors.ts';
import { kexecFileLoad, kexecUnload, loadedCrashImage, loadedImage } from '../../src/kexec/file-load.ts';
import { kexecLegacyLoad } from '../../src/kexec/legacy-load.ts';
import { mkImage } from '../../src/kexec/image.ts';
import type { KexecImage } from '../../src/kexec/segments.ts';
import { booted, GiB, imageOf, MiB, profile } from './kexec-helpers.ts';

const CMD = 'console=ttyS0 kho=on';

function within(img: KexecImage, areas: readonly { addr: number; size: number }[]): boolean {
  return img.segments.every((s) =>
    areas.some((a) => s.dest >= a.addr && s.dest + s.memsz <= a.addr + a.size),
  );
}

function kexecErr(code: string, re?: RegExp) {
  return (e: unknown) =>
    e instanceof KexecError && e.code === code && (re === undefined || re.test(e.message));
}

describe('kexec_file_load with KHO', () => {
  it('scratch array first (64 KiB aligned, top of lowmem), then purgatory, boot params, kernel, initrd; all in scratch', () => {
    const { k } = booted({ mem: 8 * GiB, nodes: 2 });
    const scratch = k.kho.scratch;
    const initrd = new Uint8Array(3 * MiB + 5).fill(7);
    const { image } = kexecFileLoad(k, {
      image: imageOf('kho-v4'),
      imageName: 'k.img',
      initrd,
      cmdline: CMD,
    });
    assert.deepEqual(
      image.segments.map((s) => s.role),
      ['kho-scratch', 'purgatory', 'boot-params', 'kernel', 'initrd'],
    );
    const sc = image.segments[0]!;
    assert.equal(sc.bufsz, scratch.length * KHO_SCRATCH_SIZE);
    assert.equal(sc.memsz, 4096);
    assert.equal(sc.dest % (64 * 1024), 0);
    const low = scratch[0]!;
    assert.equal(sc.dest, Math.floor((low.addr + low.size - sc.bufsz) / 65536) * 65536);
    assert.ok(within(image, scratch));
    assert.equal(image.segments[3]!.dest % (2 * MiB), 0);
    assert.ok(image.kho !== null);
    assert.equal(image.kho.fdtPhys, k.kho.fdtPhys);
    assert.equal(image.kho.scratchSegment, 0);
    assert.equal(loadedImage(k), image);
    assert.equal(image.kind, 'file');
    assert.equal(image.release, '7.3.0-kho-v4');
  });

  it('keeps buffers in the loader: destinations are untouched until the jump', () => {
    const { m, k } = booted();
    const before = m.mem.touchedCount;
    const { image } = kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
    assert.equal(m.mem.touchedCount, before);
    for (const s of image.segments) assert.equal(m.mem.isTouched(s.dest / 4096), false);
  });

  it('the boot-params buffer links a SETUP_KEXEC_KHO record to the scratch segment', () => {
    const { k } = booted();
    const { image } = kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
    const bp = image.segments.find((s) => s.role === 'boot-params')!;
    assert.equal(bp.dest, image.bootParamsPhys);
    const read = (phys: number, len: number) => bp.buffer.slice(phys - bp.dest, phys - bp.dest + len);
    const head = new DataView(bp.buffer.buffer).getUint32(BP.setupData, true);
    const found = findKhoSetupData(head, read);
    assert.ok(found.ok && found.value !== null);
    const d = found.value.data;
    assert.equal(d.fdtAddr, k.kho.fdtPhys);
    assert.equal(d.fdtSize, 4096);
    assert.equal(d.scratchAddr, image.segments[0]!.dest);
    assert.equal(d.scratchSize, image.segments[0]!.bufsz);
  });

  it('EADDRNOTAVAIL when a segment fits no scratch area; the old image stays loaded', () => {
    const { k } = booted();
    const first = kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD }).image;
    const huge = mkImage({ profile: profile(), size: MiB });
    new DataView(huge.buffer).setUint32(0x260, 1024 * MiB, true); // init_size 1 GiB: larger than any area
    assert.throws(() => kexecFileLoad(k, { image: huge, cmdline: CMD }), kexecErr('EADDRNOTAVAIL', /kernel/));
    assert.equal(loadedImage(k), first);
    // The same image without KHO fits System RAM.
    const off = booted({ cmdline: 'console=ttyS0' });
    assert.equal(kexecFileLoad(off.k, { image: huge, cmdline: 'x' }).image.kind, 'file');
  });

  it('without KHO: no scratch segment, placement at the top of System RAM, no setup_data', () => {
    const { m, k } = booted({ cmdline: 'console=ttyS0' });
    const { image } = kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: 'console=ttyS0' });
    assert.equal(image.kho, null);
    assert.equal(image.segments[0]!.role, 'purgatory');
    const top = Math.max(...m.topology.ramRanges().map((r) => r.end));
    assert.equal(image.segments[0]!.dest + image.segments[0]!.memsz, top);
    const bp = image.segments.find((s) => s.role === 'boot-params')!;
    assert.equal(new DataView(bp.buffer.buffer).getUint32(BP.setupData, true), 0);
  });

  it('rejects non-images like kexec-tools, logging the kernel probe message', () => {
    const { k } = booted();
    const junk = new TextEncoder().encode('this is not a kernel\n'.repeat(100));
    assert.throws(
      () => kexecFileLoad(k, { image: junk, imageName: '/boot/notes.txt', cmdline: CMD }),
      kexecErr('ENOEXEC', /^Cannot determine the file type of \/boot\/notes\.txt/),
    );
    assert.ok(k.dmesg.has('kexec-bzImage64: Not a bzImage'));
    assert.equal(loadedImage(k), null);
  });

  it('rejects a command line the image cannot take (cmdline_size, elfcorehdr room)', () => {
    const { k } = booted();
    assert.throws(
      () => kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: 'a'.repeat(2047) }),
      kexecErr('EINVAL', /too long/),
    );
    assert.throws(
      () => kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: 'a'.repeat(2017) }),
      kexecErr('EINVAL', /elfcorehdr/),
    );
    assert.equal(
      kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: 'a'.repeat(2016) }).image.cmdline.length,
      2016,
    );
  });

  it('warns about an unknown real kernel release', () => {
    const { k } = booted();
    const img = mkImage({ profile: profile(), size: MiB });
    img.set(new TextEncoder().encode('6.8.0-45-generic (buildd@x) #45-Ubuntu'), 0x1000);
    const r = kexecFileLoad(k, { image: img, imageName: 'vmlinuz', cmdline: CMD });
    assert.match(r.warnings[0]!, /6\.8\.0-45-generic/);
  });

  it('unload drops the image (kexec -u)', () => {
    const { k } = booted();
    assert.equal(kexecUnload(k), false);
    kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
    assert.equal(kexecUnload(k), true);
    assert.equal(loadedImage(k), null);
  });
});

describe('legacy kexec_load and crash images', () => {
  it('legacy: no KHO record, no scratch segment, placement over System RAM, a warning', () => {
    const { k } = booted();
    const r = kexecLegacyLoad(k, { image: imageOf('kho-v4'), cmdline: CMD, initrd: new Uint8Array(8192) });
    assert.equal(r.image.kind, 'legacy');
    assert.equal(r.image.kho, null);
    assert.ok(r.image.segments.every((s) => s.role !== 'kho-scratch'));
    const bp = r.image.segments.find((s) => s.role === 'boot-params')!;
    assert.equal(new DataView(bp.buffer.buffer).getUint32(BP.setupData, true), 0);
    const purg = r.image.segments.find((s) => s.role === 'purgatory')!;
    assert.ok(purg.dest + purg.memsz <= 640 * 1024);
    const initrd = r.image.segments.find((s) => s.role === 'initrd')!;
    assert.ok(initrd.dest + initrd.memsz <= 0x8000_0000);
    assert.match(r.warnings.join('\n'), /no KHO data/);
  });

  it('crash image (-p): needs a crash region, carries no KHO, lands inside the region', () => {
    const { k } = booted();
    assert.throws(
      () => kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD, crash: true }),
      kexecErr('EINVAL', /crashkernel/),
    );
    const region = { start: 0x2000_0000, end: 0x2000_0000 + 256 * MiB };
    const r = kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD, crash: true, crashRegion: region });
    assert.equal(r.image.kind, 'crash');
    assert.equal(r.image.kho, null);
    assert.ok(r.image.segments.every((s) => s.dest >= region.start && s.dest + s.memsz <= region.end));
    assert.match(r.image.cmdline, /^elfcorehdr=0x[0-9a-f]+ console=ttyS0/);
    assert.equal(loadedCrashImage(k), r.image);
    assert.equal(loadedImage(k), null);
    assert.equal(kexecUnload(k, { crash: true }), true);
  });

  it('crash region from crashkernel=SIZE@OFFSET', () => {
    const { k } = booted({ cmdline: 'console=ttyS0 kho=on crashkernel=256M@512M' });
    const r = kexecLegacyLoad(k, { image: imageOf('kho-v4'), cmdline: 'x', crash: true });
    assert.ok(r.image.segments.every((s) => s.dest >= 512 * MiB && s.dest + s.memsz <= 768 * MiB));
  });
});
