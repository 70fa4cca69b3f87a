import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BUF_MAX_NONE,
  destinationsOf,
  locateInRam,
  locateInRange,
  locateInScratch,
  type HoleRequest,
} from '../../src/kexec/hole.ts';
import { SegmentBuilder } from '../../src/kexec/segments.ts';
import { KexecError } from '../../src/kexec/errors.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 200);
const MiB = 1024 * 1024;
const K64 = 64 * 1024;
const none = (): boolean => false;
const req = (memsz: number, o: Partial<HoleRequest> = {}): HoleRequest => ({
  memsz,
  bufAlign: 4096,
  bufMin: 0,
  bufMax: BUF_MAX_NONE,
  topDown: true,
  ...o,
});

// A cold-boot scratch array: lowmem, global, node 0, node 1.
const SCRATCH = [
  { addr: 0x7e00_0000, size: 32 * MiB },
  { addr: 0x4_0000_0000, size: 64 * MiB },
  { addr: 0x2_0000_0000, size: 16 * MiB },
  { addr: 0x6_0000_0000, size: 16 * MiB },
];

describe('hole finder (kexec_file.c)', () => {
  it('top-down: highest aligned spot of the range', () => {
    assert.equal(locateInRange({ start: 0x10_0000, end: 0x1ff_ffff }, req(0x3000), none), 0x1ff_d000);
    assert.equal(
      locateInRange({ start: 0x10_0000, end: 0x1ff_ffff }, req(0x3000, { bufAlign: 2 * MiB }), none),
      0x1e0_0000,
    );
  });

  it('bottom-up: lowest aligned spot at or above buf_min', () => {
    const r = req(0x1000, { topDown: false, bufMin: 0x12_3456, bufAlign: K64 });
    assert.equal(locateInRange({ start: 0x10_0000, end: 0x1ff_ffff }, r, none), 0x13_0000);
  });

  it('skips ranges smaller than memsz or outside [buf_min, buf_max]', () => {
    assert.equal(locateInRange({ start: 0, end: 0xfff }, req(0x2000), none), -1);
    assert.equal(locateInRange({ start: 0, end: 0xf_ffff }, req(0x1000, { bufMin: 0x10_0000 }), none), -1);
    assert.equal(
      locateInRange({ start: 0x10_0000, end: 0x1f_ffff }, req(0x1000, { bufMax: 0xf_ffff }), none),
      -1,
    );
    // buf_max inside the range caps the top
    assert.equal(
      locateInRange({ start: 0, end: 0xff_ffff }, req(0x1000, { bufMax: 0x7f_ffff }), none),
      0x7f_f000,
    );
  });

  it('steps down one page on collision, then realigns', () => {
    const taken = destinationsOf([{ dest: 0x1ff_e000, memsz: 0x2000 }]);
    assert.equal(locateInRange({ start: 0x10_0000, end: 0x1ff_ffff }, req(0x1000), taken), 0x1ff_d000);
    // 64 KiB alignment: the first spot 0x1ff0000 is free of that collision...
    assert.equal(
      locateInRange({ start: 0x10_0000, end: 0x1ff_ffff }, req(0x1000, { bufAlign: K64 }), taken),
      0x1ff_0000,
    );
    // ...and when it is taken, one page down realigns to the 64 KiB boundary below.
    const taken64 = destinationsOf([{ dest: 0x1ff_0000, memsz: 0x1000 }]);
    assert.equal(
      locateInRange({ start: 0x10_0000, end: 0x1ff_ffff }, req(0x1000, { bufAlign: K64 }), taken64),
      0x1fe_0000,
    );
  });

  it('scratch areas are tried in array order: lowmem first even though global is higher', () => {
    assert.equal(locateInScratch(SCRATCH, req(0x1000, { bufAlign: K64 }), none), 0x7fff_0000);
  });

  it('falls through to the next area when one is full or too small', () => {
    const taken = destinationsOf([{ dest: SCRATCH[0]!.addr, memsz: SCRATCH[0]!.size }]);
    assert.equal(locateInScratch(SCRATCH, req(0x1000), taken), 0x4_0000_0000 + 64 * MiB - 0x1000);
    // 40 MiB fits neither lowmem (32) nor... global (64) does.
    assert.equal(
      locateInScratch(SCRATCH, req(40 * MiB, { bufAlign: 2 * MiB }), none),
      0x4_0000_0000 + 24 * MiB,
    );
  });

  it('EADDRNOTAVAIL when nothing fits, no fallback outside scratch', () => {
    assert.equal(locateInScratch(SCRATCH, req(128 * MiB), none), -1);
    assert.equal(locateInScratch([], req(0x1000), none), -1);
    // zero-sized areas (the global-underflow quirk) are skipped
    assert.equal(locateInScratch([{ addr: 0x1000_0000, size: 0 }], req(0x1000), none), -1);
    const b = new SegmentBuilder((r, t) => locateInScratch(SCRATCH.slice(0, 1), r, t));
    b.add({
      role: 'kernel',
      buffer: new Uint8Array(10),
      memsz: 30 * MiB,
      bufAlign: 2 * MiB,
      bufMin: 0x10_0000,
      bufMax: BUF_MAX_NONE,
      topDown: true,
    });
    assert.throws(
      () =>
        b.add({
          role: 'initrd',
          buffer: new Uint8Array(10),
          memsz: 4 * MiB,
          bufAlign: 4096,
          bufMin: 0,
          bufMax: BUF_MAX_NONE,
          topDown: true,
        }),
      (e: unknown) => e instanceof KexecError && e.code === 'EADDRNOTAVAIL' && e.errno === 99,
    );
  });

  it('System RAM search: top-down walks ranges from the highest', () => {
    const ram = [
      { start: 0x1000, end: 0x9_efff },
      { start: 0x10_0000, end: 0xbfff_ffff },
      { start: 0x1_0000_0000, end: 0x1_3fff_ffff },
    ];
    assert.equal(locateInRam(ram, req(0x1000), none), 0x1_3fff_f000);
    assert.equal(locateInRam(ram, req(0x1000, { topDown: false }), none), 0x1000);
  });

  it('kexec_add_buffer rounds memsz to a page and alignment up to a page', () => {
    const b = new SegmentBuilder((r, t) => locateInRange({ start: 0, end: 0xff_ffff }, r, t));
    const d = b.add({
      role: 'kho-scratch',
      buffer: new Uint8Array(48),
      memsz: 48,
      bufAlign: 16,
      bufMin: 0,
      bufMax: BUF_MAX_NONE,
      topDown: true,
    });
    assert.equal(d, 0xff_f000);
    assert.equal(b.segments[0]!.memsz, 4096);
    assert.equal(b.segments[0]!.bufsz, 48);
  });

  it('property: placed segments never overlap, are aligned and inside an area', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            pages: fc.integer({ min: 1, max: 600 }),
            alignShift: fc.integer({ min: 12, max: 21 }),
            topDown: fc.boolean(),
          }),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        (bufs) => {
          const areas = [
            { addr: 0x100_0000, size: 4 * MiB },
            { addr: 0x800_0000, size: 2 * MiB },
          ];
          const b = new SegmentBuilder((r, t) => locateInScratch(areas, r, t));
          for (const x of bufs) {
            try {
              b.add({
                role: 'initrd',
                buffer: new Uint8Array(0),
                memsz: x.pages * 4096,
                bufAlign: 2 ** x.alignShift,
                bufMin: 0,
                bufMax: BUF_MAX_NONE,
                topDown: x.topDown,
              });
            } catch (e) {
              assert.ok(e instanceof KexecError && e.code === 'EADDRNOTAVAIL');
            }
          }
          const segs = [...b.segments].sort((p, q) => p.dest - q.dest);
          for (let i = 0; i < segs.length; i++) {
            const s = segs[i]!;
            assert.ok(areas.some((a) => s.dest >= a.addr && s.dest + s.memsz <= a.addr + a.size));
            if (i > 0) assert.ok(segs[i - 1]!.dest + segs[i - 1]!.memsz <= s.dest);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
