import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PhysicalMemory, POISON_WORD } from '../../src/hw/physical-memory.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { v1Finalize } from '../../src/kho/v1-finalize.ts';
import { readBootParams } from '../../src/kexec/boot-params.ts';
import { KexecError } from '../../src/kexec/errors.ts';
import { kexecCrash, kexecExecute, sanitizerReports } from '../../src/kexec/execute.ts';
import { kexecFileLoad } from '../../src/kexec/file-load.ts';
import { kexecLegacyLoad } from '../../src/kexec/legacy-load.ts';
import { readPreservedMap } from '../../src/kexec/preserved-map.ts';
import { unionRanges } from '../../src/util/ranges.ts';
import {
  FREED_CHECK_LIMIT,
  findings,
  freedPreserved,
  poisonComplement,
  preservedRanges,
} from '../../src/kexec/sanitizer.ts';
import { booted, GiB, imageOf, MiB } from './kexec-helpers.ts';

const CMD = 'console=ttyS0 kho=on';
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);

/** Allocate, fill and preserve an order-`order` folio; returns its pfn. */
function preservedFolio(k: ReturnType<typeof booted>['k'], order: number, word: number): number {
  const pfn = k.buddy.alloc(order, GFP_KERNEL)!;
  for (let i = 0; i < 2 ** order; i++) k.machine.mem.writeU32((pfn + i) * 4096, word + i);
  assert.equal(k.kho.preserveFolio(pfn, order), 0);
  return pfn;
}

describe('kexec -e', () => {
  it('EINVAL when nothing is loaded (a crash image does not count)', () => {
    const { m, k } = booted();
    assert.throws(
      () => kexecExecute(m),
      (e: unknown) =>
        e instanceof KexecError && e.code === 'EINVAL' && /Nothing has been loaded/.test(e.message),
    );
    kexecFileLoad(k, {
      image: imageOf('kho-v4'),
      cmdline: CMD,
      crash: true,
      crashRegion: { start: 512 * MiB, end: 768 * MiB },
    });
    assert.throws(() => kexecExecute(m), KexecError);
    assert.equal(m.kernel, k);
  });

  it('cold boot → preserve → load → execute: the successor finds the hand-over and restores', () => {
    const { m, k } = booted({ mem: 8 * GiB, nodes: 2 });
    const a = preservedFolio(k, 0, 0x1000);
    const b = preservedFolio(k, 3, 0x2000);
    const { image } = kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
    const r = kexecExecute(m);
    const s = r.successor;
    assert.equal(m.kernel, s);
    assert.notEqual(s, k);
    assert.ok(s.dmesg.has('KHO: found kexec handover data.'), s.dmesg.text());
    assert.ok(s.kho.isKhoBoot());
    assert.equal(s.generation, 1);
    assert.equal(s.kho.restoreFolio(a * 4096), a);
    assert.equal(s.kho.restoreFolio(b * 4096), b);
    assert.equal(m.mem.readU32((b + 7) * 4096), 0x2007);
    assert.deepEqual(r.report.findings, []);
    assert.equal(r.report.preservedBlocks >= 3, true); // the two folios, the FDT page, kexec-metadata
    // The boot params in memory say what the loader put there.
    const bp = readBootParams(m.mem, image.bootParamsPhys);
    assert.deepEqual(bp.problems, []);
    assert.equal(bp.kho?.scratchPhys, image.segments[0]!.dest);
    assert.equal(bp.cmdline, CMD);
    // Same scratch areas after the hand-over (kho_populate() adopts the incoming array), and a second kexec works.
    assert.deepEqual(s.kho.scratch, k.kho.scratch);
    kexecFileLoad(s, { image: imageOf('kho-v4'), cmdline: CMD });
    const r2 = kexecExecute(m);
    assert.equal(r2.successor.generation, 2);
    assert.ok(r2.successor.dmesg.has('KHO: exec from: 7.3.0-kho-v4 (count 2)'));
    assert.equal(sanitizerReports(m).length, 2);
  });

  it('the successor runs the loaded image release (kho-v4 → kho-v3 is refused by populate)', () => {
    const { m, k } = booted();
    kexecFileLoad(k, { image: imageOf('kho-v3'), cmdline: CMD });
    const s = kexecExecute(m).successor;
    assert.equal(s.profile.name, 'kho-v3');
    assert.ok(s.dmesg.has('disabling KHO revival'));
    assert.equal(s.kho.isKhoBoot(), false);
  });

  it('legacy image: the successor cold-boots and preserved memory is lost', () => {
    const { m, k } = booted();
    const a = preservedFolio(k, 0, 0x77);
    kexecLegacyLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
    const r = kexecExecute(m);
    assert.equal(r.successor.dmesg.has('KHO: found kexec handover data.'), false);
    assert.equal(r.successor.kho.isKhoBoot(), false);
    assert.equal(r.successor.kho.restoreFolio(a * 4096), null);
    assert.ok(r.report.findings.some((f) => f.kind === 'no-handover'));
  });

  it('kho-v1: a kexec without finalize hands over no KHO data; the successor cold-boots', () => {
    const { m, k } = booted({ profile: 'kho-v1' });
    const a = preservedFolio(k, 2, 0x5000);
    const loaded = kexecFileLoad(k, { image: imageOf('kho-v1'), cmdline: CMD });
    assert.equal(loaded.image.kho, null); // kho_fill_kimage(): not finalized, nothing passed
    const r = kexecExecute(m);
    // No kernel prints a finalize at the jump; the successor finds no hand-over at all.
    assert.ok(!k.dmesg.has('finaliz'));
    assert.ok(!r.successor.dmesg.has('KHO: found kexec handover data.'));
    assert.ok(!r.successor.dmesg.has('KHO revival'));
    assert.equal(r.successor.kho.isKhoBoot(), false);
    assert.equal(r.successor.kho.restoreFolio(a * 4096), null);
  });

  it('kho-v1: preservations made after finalize are reported as not handed over', () => {
    const { m, k } = booted({ profile: 'kho-v1' });
    preservedFolio(k, 0, 1);
    assert.equal(v1Finalize(k.kho.ctx), 0);
    const late = preservedFolio(k, 0, 2);
    kexecFileLoad(k, { image: imageOf('kho-v1'), cmdline: CMD });
    const r = kexecExecute(m);
    assert.ok(r.report.findings.some((f) => f.kind === 'tracker' && /after finalize/.test(f.message)));
    assert.equal(r.successor.kho.restoreFolio(late * 4096), null);
  });

  it('crash kernel boot: no KHO, memory kept as the dump', () => {
    const { m, k } = booted();
    const pfn = k.buddy.alloc(0, GFP_KERNEL)!;
    m.mem.writeU32(pfn * 4096, 0xc0ffee);
    kexecFileLoad(k, {
      image: imageOf('kho-v4'),
      cmdline: 'console=ttyS0',
      crash: true,
      crashRegion: { start: GiB, end: GiB + 256 * MiB },
    });
    const r = kexecCrash(m);
    assert.equal(r.successor.kho.isKhoBoot(), false);
    assert.equal(m.mem.readU32(pfn * 4096), 0xc0ffee);
    assert.match(r.successor.cmdline.raw, /^elfcorehdr=/);
  });
});

describe('sanitizer', () => {
  it('poisons exactly the complement of preserved, tracker, FDT and segment pages; memory does not grow', () => {
    const { m, k } = booted({ sanitize: true });
    const kept = preservedFolio(k, 1, 0xabc0);
    const lost = k.buddy.alloc(0, GFP_KERNEL)!;
    m.mem.writeU32(lost * 4096, 0x1234);
    const never = k.buddy.alloc(0, GFP_KERNEL)!; // allocated, never written: untouched
    const fdt = k.kho.fdtPhys / 4096;
    const root = k.kho.rootPhys / 4096;
    const { image } = kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
    const touchedBefore = m.mem.touchedCount;
    const segPages = image.segments.reduce((n, s) => n + Math.ceil(s.bufsz / 4096), 0);
    const r = kexecExecute(m);
    assert.equal(r.report.poisoned, true);
    // Note: the successor boots (and writes) after the sanitizer; check pages it does not use.
    for (const pfn of [kept, kept + 1, fdt, root]) assert.equal(m.mem.isPoisoned(pfn), false, `pfn ${pfn}`);
    assert.equal(m.mem.readU32(kept * 4096), 0xabc0);
    assert.equal(m.mem.readU32((kept + 1) * 4096), 0xabc1);
    assert.equal(m.mem.readU32(lost * 4096), POISON_WORD);
    assert.equal(m.mem.readU32(never * 4096), POISON_WORD);
    for (const s of image.segments) assert.equal(m.mem.isPoisoned(s.dest / 4096), false);
    const total = m.topology.ramRanges().reduce((n, x) => n + (x.end - x.start) / 4096, 0);
    assert.equal(r.report.poisonedPages + r.report.keptPages, total);
    assert.ok(r.report.keptPages >= image.segments.reduce((n, s) => n + s.memsz / 4096, 0));
    // The jump itself never materialises memory beyond the segments it writes.
    assert.ok(
      m.mem.touchedCount <= touchedBefore + segPages + 2000,
      `${m.mem.touchedCount} vs ${touchedBefore}`,
    );
  });

  it('without the sanitizer unpreserved memory keeps its stale content', () => {
    const { m, k } = booted({ sanitize: false });
    const lost = k.buddy.alloc(0, GFP_KERNEL)!;
    m.mem.writeU32(lost * 4096, 0x1234);
    kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
    const r = kexecExecute(m);
    assert.equal(r.report.poisoned, false);
    assert.equal(m.mem.readU32(lost * 4096), 0x1234);
  });

  it('finds preserved memory freed before the jump', () => {
    const { m, k } = booted();
    const pfn = preservedFolio(k, 2, 0);
    k.buddy.freePages(pfn, 2); // freed without kho_unpreserve_folio
    kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
    const r = kexecExecute(m);
    const f = r.report.findings.find((x) => x.kind === 'preserved-freed');
    assert.ok(f !== undefined, JSON.stringify(r.report.findings));
    assert.equal(f.phys, pfn * 4096);
    assert.ok(r.successor.dmesg.has('were freed to the page allocator before kexec'));
  });

  it('finds preserved memory inside scratch and segments landing on it', () => {
    const { m, k } = booted();
    const low = k.kho.scratch[0]!;
    const top = (low.addr + low.size) / 4096;
    // Preserve the top 2 MiB of the lowmem scratch area, where the scratch-array segment goes.
    assert.equal(k.kho.preservePages(top - 512, 512), 0);
    kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
    const r = kexecExecute(m);
    const kinds = new Set(r.report.findings.map((f) => f.kind));
    assert.ok(kinds.has('preserved-in-scratch'));
    assert.ok(kinds.has('segment-on-preserved'));
    assert.ok(k.dmesg.has('kho-scratch segment'));
  });
});

describe('sanitizer internals', () => {
  it('unionRanges merges overlapping and adjacent ranges from several sorted streams', () => {
    const r = unionRanges([
      { start: [0, 10, 40], count: 3, span: 4 },
      { start: [2, 14, 100], end: [3, 20, 101], count: 3 },
      { start: [20], count: 1, span: 1 },
    ]);
    assert.deepEqual([...r.start], [0, 10, 40, 100]);
    assert.deepEqual([...r.end], [4, 21, 44, 101]);
  });

  it('unionRanges equals the union of the pages, whatever the sizes and overlaps of the streams', () => {
    // A stream: sorted starts with either ends (overlapping allowed) or a span; the result must
    // cover exactly the union and be sorted, disjoint and non-adjacent.
    const stream = fc.oneof(
      fc.array(fc.tuple(fc.nat(300), fc.nat(6)), { maxLength: 60 }).map((xs) => {
        const v = [...xs].sort((a, b) => a[0] - b[0]);
        return {
          start: Float64Array.from(v.map((x) => x[0])),
          end: Float64Array.from(v.map((x) => x[0] + x[1])),
          count: v.length,
        };
      }),
      fc
        .tuple(fc.array(fc.nat(300), { maxLength: 200 }), fc.integer({ min: 1, max: 8 }))
        .map(([xs, span]) => {
          const v = [...xs].sort((a, b) => a - b);
          return { start: v, count: v.length, span };
        }),
    );
    fc.assert(
      fc.property(fc.array(stream, { minLength: 1, maxLength: 4 }), (streams) => {
        const want = new Uint8Array(320);
        for (const st of streams) {
          for (let i = 0; i < st.count; i++) {
            const a = st.start[i]!;
            const b = 'end' in st ? st.end[i]! : a + st.span;
            want.fill(1, a, b);
          }
        }
        const r = unionRanges(streams);
        const got = new Uint8Array(320);
        for (let i = 0; i < r.count; i++) {
          if (i > 0) assert.ok(r.start[i]! > r.end[i - 1]!, 'disjoint and non-adjacent');
          if (r.end[i]! > r.start[i]!) got.fill(1, r.start[i], r.end[i]);
        }
        assert.deepEqual(got, want);
      }),
      { numRuns: 300 },
    );
  });

  it('freed preserved memory is found exactly with many blocks (free-list intersection)', () => {
    const { m, k } = booted();
    const base = k.buddy.alloc(10, GFP_KERNEL)!;
    const base2 = k.buddy.alloc(10, GFP_KERNEL)!;
    const base3 = k.buddy.alloc(10, GFP_KERNEL)!;
    k.buddy.splitPage(base3, 10);
    for (let i = 0; i < 1024; i += 1) {
      assert.equal(k.kho.preserveFolio(base + i, 0), 0);
      assert.equal(k.kho.preserveFolio(base2 + i, 0), 0);
      assert.equal(k.kho.preserveFolio(base3 + i, 0), 0);
    }
    for (let i = 0; i < 2000; i++) k.kho.preserveFolio(k.buddy.alloc(0, GFP_KERNEL)!, 0);
    k.buddy.freePages(base3 + 5, 0); // one freed page among > 4096 preserved blocks
    const map = readPreservedMap(m.mem, k.kho.fdtPhys);
    assert.ok(map.count > FREED_CHECK_LIMIT);
    const r = freedPreserved(k.buddy, map, preservedRanges(map));
    assert.equal(r.pages, 1);
    assert.equal(r.first, base3 + 5);
  });
});

describe('findings', () => {
  it('a segment on a page of the memory map itself is an error', () => {
    const map = {
      compatible: 'kho-v4',
      memMapPhys: 0x10_0000,
      count: 1,
      orders: [{ order: 0, pfns: new Float64Array([0x500]) }],
      bytes: 4096,
      trackerPfns: [0x100, 0x101],
      problems: [],
      interrupted: false,
    };
    const seg = {
      role: 'kernel' as const,
      buffer: new Uint8Array(0),
      bufsz: 0,
      dest: 0x10_1000,
      memsz: 0x1000,
    };
    const f = findings({ map, segments: [seg], scratch: [], buddy: null }, preservedRanges(map));
    assert.equal(f.list.length, 1);
    assert.match(f.list[0]!.message, /preserved-memory map/);
    assert.equal(f.list[0]!.phys, 0x10_1000);
    const clear = findings(
      { map, segments: [{ ...seg, dest: 0x20_0000 }], scratch: [], buddy: null },
      preservedRanges(map),
    );
    assert.equal(clear.list.length, 0);
  });
});

describe('poisonComplement', () => {
  it('property: exactly the RAM pages outside keep read as poison; kept content and holes untouched', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 0, maxLength: 24 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 12 })), {
          maxLength: 10,
        }),
        (touched, keepRaw) => {
          const mem = new PhysicalMemory({ limit: 256 * 4096 });
          const ram = [
            { start: 4 * 4096, end: 100 * 4096 },
            { start: 128 * 4096, end: 250 * 4096 },
          ];
          for (const p of touched) mem.writeU32(p * 4096 + 8, 0x1000 + p);
          const sorted = [...keepRaw].sort((a, b) => a[0] - b[0]);
          const keep = unionRanges([
            {
              start: sorted.map((x) => x[0]),
              end: sorted.map((x) => Math.min(256, x[0] + x[1])),
              count: sorted.length,
            },
          ]);
          const isKept = (p: number) => {
            for (let i = 0; i < keep.count; i++) if (p >= keep.start[i]! && p < keep.end[i]!) return true;
            return false;
          };
          const inRam = (p: number) => ram.some((r) => p * 4096 >= r.start && p * 4096 < r.end);
          const before = mem.touchedCount;
          const r = poisonComplement(mem, ram, keep);
          let poisoned = 0;
          for (let p = 0; p < 256; p++) {
            const wasTouched = touched.includes(p);
            if (inRam(p) && !isKept(p)) {
              poisoned++;
              assert.equal(mem.isPoisoned(p), true, `pfn ${p}`);
              assert.equal(mem.readU32(p * 4096 + 8), POISON_WORD);
            } else {
              assert.equal(mem.isPoisoned(p), false, `pfn ${p}`);
              assert.equal(mem.isTouched(p), wasTouched, `pfn ${p}`);
              assert.equal(mem.readU32(p * 4096 + 8), wasTouched ? 0x1000 + p : 0);
            }
          }
          assert.equal(r.poisonedPages, poisoned);
          assert.ok(mem.touchedCount <= before);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
