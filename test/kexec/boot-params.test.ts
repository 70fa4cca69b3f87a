import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PhysicalMemory } from '../../src/hw/physical-memory.ts';
import {
  BOOT_PARAMS_SIZE,
  BP,
  buildBootParams,
  CMDLINE_OFFSET,
  COMMAND_LINE_SIZE,
  readBootParams,
  writeBootParams,
  type BootParamsInput,
} from '../../src/kexec/boot-params.ts';
import { SETUP_KEXEC_KHO } from '../../src/abi/x86-setup-data.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);
const GiB = 1024 ** 3;

const INPUT: BootParamsInput = {
  cmdline: 'console=ttyS0 kho=on root=/dev/vda',
  kernel: { phys: 0x1_2340_0000, size: 0x240_0000 },
  initrd: { phys: 0x1_8000_0000, size: 0x1_2345 },
  kho: { fdtPhys: 0x7654_3000, fdtSize: 4096, scratchPhys: 0xbff0_0000, scratchSize: 64 },
  e820: [
    { addr: 0, size: 0x9fc00, type: 1 },
    { addr: 0x10_0000, size: 0xbff0_0000, type: 1 },
  ],
};

describe('boot_params zero page', () => {
  it('puts fields at the offsets of bootparam.h / zero-page.rst', () => {
    const at = 0x9000_0000;
    const b = buildBootParams(at, INPUT);
    const v = new DataView(b.buffer);
    assert.equal(v.getUint16(0x1fe, true), 0xaa55);
    assert.equal(String.fromCharCode(...b.subarray(0x202, 0x206)), 'HdrS');
    assert.equal(v.getUint8(0x210), 0xd0); // type_of_loader = 0x0D << 4
    // cmd_line_ptr (0x228) and ext_cmd_line_ptr (0x0c8)
    assert.equal(v.getUint32(0x228, true), at + BOOT_PARAMS_SIZE);
    assert.equal(v.getUint32(0x0c8, true), 0);
    // ramdisk_image 0x218 / ramdisk_size 0x21c and their high halves 0x0c0 / 0x0c4
    assert.equal(v.getUint32(0x218, true), 0x8000_0000);
    assert.equal(v.getUint32(0x0c0, true), 1);
    assert.equal(v.getUint32(0x21c, true), 0x1_2345);
    assert.equal(v.getUint32(0x0c4, true), 0);
    // e820_entries 0x1e8, table at 0x2d0 with 20-byte entries
    assert.equal(v.getUint8(0x1e8), 2);
    assert.equal(v.getUint32(0x2d0 + 20 + 8, true), 0xbff0_0000);
    assert.equal(v.getUint32(0x2d0 + 20 + 16, true), 1);
    // setup_data (0x250) points at the KHO record after the command line
    const sd = v.getUint32(0x250, true) + v.getUint32(0x254, true) * 2 ** 32;
    assert.ok(sd > at + CMDLINE_OFFSET && sd < at + b.length);
    const off = sd - at;
    assert.equal(v.getUint32(off + 8, true), SETUP_KEXEC_KHO);
    assert.equal(v.getUint32(off + 12, true), 32);
    assert.equal(v.getUint32(off + 16, true), 0x7654_3000);
    assert.equal(v.getUint32(off + 32, true), 0xbff0_0000);
    assert.equal(v.getUint32(off + 40, true), 64);
    assert.equal(BP.setupData, 0x250);
    assert.equal(BP.cmdLinePtr, 0x228);
    assert.equal(BP.kernelVersion, 0x20e);
  });

  it('round-trips through memory', () => {
    const mem = new PhysicalMemory({ limit: 16 * GiB });
    writeBootParams(mem, 0x9000_0000, INPUT);
    const r = readBootParams(mem, 0x9000_0000);
    assert.deepEqual(r.problems, []);
    assert.equal(r.cmdline, INPUT.cmdline);
    assert.deepEqual(r.kernel, INPUT.kernel);
    assert.deepEqual(r.initrd, INPUT.initrd);
    assert.deepEqual(r.kho, INPUT.kho);
    assert.deepEqual(r.e820, INPUT.e820);
    assert.equal(r.protocol, 0x020f);
  });

  it('without KHO there is no setup_data and kho is null', () => {
    const mem = new PhysicalMemory({ limit: 16 * GiB });
    writeBootParams(mem, 0x10_0000, { ...INPUT, kho: null, initrd: null });
    const r = readBootParams(mem, 0x10_0000);
    assert.equal(r.kho, null);
    assert.equal(r.initrd, null);
    assert.equal(mem.readU64(0x10_0000 + BP.setupData), 0);
  });

  it('high command line address uses ext_cmd_line_ptr', () => {
    const mem = new PhysicalMemory({ limit: 64 * GiB });
    const at = 40 * GiB;
    writeBootParams(mem, at, INPUT);
    assert.equal(mem.readU32(at + 0x0c8), 10);
    assert.equal(readBootParams(mem, at).cmdline, INPUT.cmdline);
  });

  it('rejects a command line longer than COMMAND_LINE_SIZE - 1', () => {
    assert.throws(() => buildBootParams(0, { ...INPUT, cmdline: 'x'.repeat(COMMAND_LINE_SIZE) }), /too long/);
  });

  it('reports garbage instead of throwing', () => {
    const mem = new PhysicalMemory({ limit: 4 * GiB });
    const empty = readBootParams(mem, 0x5000);
    assert.ok(empty.problems.some((p) => p.includes('boot_flag')));
    assert.ok(empty.problems.some((p) => p.includes('HdrS')));
    assert.equal(empty.kho, null);
    const outside = readBootParams(mem, 4 * GiB - 16);
    assert.match(outside.problems[0]!, /unreadable/);
    // A setup_data chain that loops, a command line without NUL, a pointer past memory.
    writeBootParams(mem, 0x8000, INPUT);
    mem.writeU64(0x8000 + BP.setupData, 0x8000 + BOOT_PARAMS_SIZE - 64);
    mem.writeU64(0x8000 + BOOT_PARAMS_SIZE - 64, 0x8000 + BOOT_PARAMS_SIZE - 64);
    mem.fill(0x8000 + CMDLINE_OFFSET, COMMAND_LINE_SIZE, 0x41);
    mem.writeU32(0x8000 + BP.ramdiskImage, 0xffff_f000);
    mem.writeU32(0x8000 + BP.extRamdiskImage, 7);
    const bad = readBootParams(mem, 0x8000);
    assert.ok(
      bad.problems.some((p) => /loops/.test(p)),
      bad.problems.join('; '),
    );
    assert.ok(bad.problems.some((p) => /NUL/.test(p)));
    assert.ok(bad.problems.some((p) => /initrd/.test(p)));
    assert.equal(bad.cmdline.length, COMMAND_LINE_SIZE - 1);
    assert.equal(bad.kho, null);
  });

  it('never throws on random zero pages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4096, maxLength: 4096 }), fc.nat(0xfff), (page, at) => {
        const mem = new PhysicalMemory({ limit: 1 * GiB });
        const phys = 0x100_0000 + at;
        mem.write(phys, page);
        const r = readBootParams(mem, phys);
        assert.equal(typeof r.cmdline, 'string');
        assert.ok(Array.isArray(r.problems));
      }),
      { numRuns: RUNS },
    );
  });
});
