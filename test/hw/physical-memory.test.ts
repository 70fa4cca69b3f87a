import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KhoMemError } from '../../src/hw/errors.ts';
import {
  MAX_PHYS_LIMIT,
  PAGE_SIZE,
  PhysicalMemory,
  POISON_BYTE,
  POISON_WORD,
} from '../../src/hw/physical-memory.ts';

const TiB = 2 ** 40;
const isMemError = (code: string) => (e: unknown) => e instanceof KhoMemError && e.code === code;

test('untouched memory reads as zero and reading does not materialise it', () => {
  const m = new PhysicalMemory();
  assert.equal(m.readU8(0), 0);
  assert.equal(m.readU32(12345), 0);
  assert.equal(m.readU64(2 ** 45 + 3), 0);
  assert.deepEqual(m.read(0x7000, 3 * PAGE_SIZE + 5), new Uint8Array(3 * PAGE_SIZE + 5));
  assert.equal(m.peekPage(7), null);
  assert.equal(m.isTouched(7), false);
  assert.equal(m.touchedCount, 0);
  assert.equal(m.stats().slabs, 0);
});

test('words are little-endian, at any alignment and across page boundaries', () => {
  const m = new PhysicalMemory();
  m.writeU32(0x1000, 0x11223344);
  assert.deepEqual([...m.read(0x1000, 4)], [0x44, 0x33, 0x22, 0x11]);
  assert.equal(m.page(1)[0], 0x11223344);
  for (const a of [0x2001, 0x2002, 0x2003, 0x2ffd, 0x2ffe, 0x2fff]) {
    m.writeU32(a, 0xa1b2c3d4);
    assert.equal(m.readU32(a), 0xa1b2c3d4, `at 0x${a.toString(16)}`);
    assert.equal(m.readU8(a), 0xd4);
    assert.equal(m.readU8(a + 3), 0xa1);
  }
  // Neighbours of an unaligned write stay intact.
  m.fill(0x5000, 16, 0xee);
  m.writeU32(0x5003, 0);
  assert.deepEqual([...m.read(0x5000, 8)], [0xee, 0xee, 0xee, 0, 0, 0, 0, 0xee]);
  m.writeU64(0x6ffc, 0x1f_0000_0000_0001);
  assert.equal(m.readU64(0x6ffc), 0x1f_0000_0000_0001);
  assert.equal(m.readU32(0x7000), 0x1f_0000);
  assert.deepEqual(m.touchedPfns(), [1, 2, 3, 5, 6, 7]);
});

test('u64 values of 2^53 or more throw ERANGE on readU64 but read fine as BigInt', () => {
  const m = new PhysicalMemory();
  m.writeU64Halves(0x100, 0xffffffff, 0xffffffff);
  assert.throws(() => m.readU64(0x100), isMemError('ERANGE'));
  assert.equal(m.readU64Big(0x100), 0xffff_ffff_ffff_ffffn);
  m.writeU64(0x200, Number.MAX_SAFE_INTEGER);
  assert.equal(m.readU64(0x200), Number.MAX_SAFE_INTEGER);
  assert.throws(() => {
    m.writeU64(0x200, 2 ** 53);
  }, isMemError('EINVAL'));
  assert.throws(() => {
    m.writeU64(0x200, -1);
  }, isMemError('EINVAL'));
  assert.throws(() => {
    m.writeU64(0x200, 1.5);
  }, isMemError('EINVAL'));
});

test('value ranges: u8 takes -128..255, u32 takes int32 or uint32', () => {
  const m = new PhysicalMemory();
  m.writeU8(0, -1);
  assert.equal(m.readU8(0), 0xff);
  m.writeU32(4, -1);
  assert.equal(m.readU32(4), 0xffffffff);
  for (const v of [256, -129, 0.5, NaN])
    assert.throws(() => {
      m.writeU8(0, v);
    }, isMemError('EINVAL'));
  for (const v of [2 ** 32, -(2 ** 31) - 1, 1.25, NaN, Infinity]) {
    assert.throws(() => {
      m.writeU32(0, v);
    }, isMemError('EINVAL'));
  }
  assert.throws(() => {
    m.fill(0, 4, 300);
  }, isMemError('EINVAL'));
});

test('bad addresses throw KhoMemError EFAULT, never a RangeError', () => {
  const m = new PhysicalMemory();
  const bad = [-1, 0.5, NaN, Infinity, -Infinity, MAX_PHYS_LIMIT, MAX_PHYS_LIMIT + 4096, 2 ** 60];
  for (const a of bad) {
    assert.throws(() => m.readU8(a), isMemError('EFAULT'), `readU8(${a})`);
    assert.throws(
      () => {
        m.writeU8(a, 1);
      },
      isMemError('EFAULT'),
      `writeU8(${a})`,
    );
    assert.throws(() => m.readU32(a), isMemError('EFAULT'));
    assert.throws(() => {
      m.writeU32(a, 1);
    }, isMemError('EFAULT'));
    assert.throws(() => m.readU64(a), isMemError('EFAULT'));
    assert.throws(() => {
      m.writeU64(a, 1);
    }, isMemError('EFAULT'));
    assert.throws(() => m.read(a, 1), isMemError('EFAULT'));
    assert.throws(() => {
      m.write(a, new Uint8Array(1));
    }, isMemError('EFAULT'));
    assert.throws(() => {
      m.fill(a, 1, 0);
    }, isMemError('EFAULT'));
    assert.throws(() => {
      m.copy(a, 0, 1);
    }, isMemError('EFAULT'));
    assert.throws(() => {
      m.copy(0, a, 1);
    }, isMemError('EFAULT'));
    assert.throws(() => {
      m.poison(a, 1);
    }, isMemError('EFAULT'));
  }
  // Accesses that start inside but run past the end.
  const top = MAX_PHYS_LIMIT;
  assert.throws(() => m.readU32(top - 3), isMemError('EFAULT'));
  assert.throws(() => m.readU64(top - 7), isMemError('EFAULT'));
  assert.throws(() => m.read(top - 10, 11), isMemError('EFAULT'));
  assert.throws(() => m.read(0, -1), isMemError('EINVAL'));
  assert.throws(() => m.read(0, 1.5), isMemError('EINVAL'));
  for (const p of [-1, 0.5, NaN, MAX_PHYS_LIMIT / PAGE_SIZE]) {
    assert.throws(() => m.page(p), isMemError('EFAULT'));
    assert.throws(() => m.peekPage(p), isMemError('EFAULT'));
    assert.throws(() => m.isTouched(p), isMemError('EFAULT'));
    assert.throws(() => {
      m.discard(p);
    }, isMemError('EFAULT'));
    assert.throws(() => m.isPoisoned(p), isMemError('EFAULT'));
  }
  assert.throws(() => {
    m.write(0, [1, 2] as unknown as Uint8Array);
  }, isMemError('EINVAL'));
  const e = (() => {
    try {
      m.readU8(-1);
    } catch (err) {
      return err;
    }
    return null;
  })();
  assert.ok(e instanceof KhoMemError);
  assert.equal(e.errno, 14);
  assert.match(e.message, /EFAULT/);
});

test('the last bytes below 2^52 and addresses above 4 GiB and 64 TiB work', () => {
  const m = new PhysicalMemory();
  const top = MAX_PHYS_LIMIT;
  m.writeU64(top - 8, 0x1234_5678_9abc);
  assert.equal(m.readU64(top - 8), 0x1234_5678_9abc);
  m.writeU8(top - 1, 0x77);
  assert.equal(m.readU8(top - 1), 0x77);
  for (const a of [2 ** 32 - 2, 2 ** 32 + 5, 64 * TiB - 2, 64 * TiB + 4094, 2 ** 51 + 1]) {
    m.writeU32(a, 0xcafef00d);
    assert.equal(m.readU32(a), 0xcafef00d, `at 0x${a.toString(16)}`);
  }
  // 2^32 and 2^32 + PAGE_SIZE differ only above bit 31: they must be different pages.
  m.writeU32(2 ** 44, 1);
  m.writeU32(2 ** 44 + 2 ** 32, 2);
  assert.equal(m.readU32(2 ** 44), 1);
  assert.equal(m.readU32(2 ** 44 + 2 ** 32), 2);
  assert.equal(m.readU32(2 ** 44 + PAGE_SIZE), 0);
});

test('a smaller limit is enforced and must be a page multiple', () => {
  const m = new PhysicalMemory({ limit: 1 << 20 });
  m.writeU32((1 << 20) - 4, 5);
  assert.throws(() => m.readU8(1 << 20), isMemError('EFAULT'));
  for (const limit of [0, 4095, 1.5, -4096, MAX_PHYS_LIMIT * 2]) {
    assert.throws(() => new PhysicalMemory({ limit }), isMemError('EINVAL'));
  }
});

test('touching N scattered pages costs N pages; slots of discarded pages are reused', () => {
  const m = new PhysicalMemory();
  const pfns: number[] = [];
  let x = 12345;
  for (let i = 0; i < 600; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    pfns.push(x * 64 + i); // spread over ~2^37 pfns = 512 TiB
  }
  for (const p of pfns) m.writeU8(p * PAGE_SIZE + 17, 1);
  for (const p of pfns) m.writeU8(p * PAGE_SIZE + 18, 2); // second touch costs nothing
  assert.equal(m.touchedCount, 600);
  assert.equal(m.stats().slabs, 3); // 256 pages per 1 MiB slab
  assert.deepEqual(
    m.touchedPfns(),
    [...pfns].sort((a, b) => a - b),
  );
  for (const p of pfns.slice(0, 300)) m.discard(p);
  assert.equal(m.touchedCount, 300);
  assert.equal(m.readU8(pfns[0]! * PAGE_SIZE + 17), 0);
  for (let i = 0; i < 300; i++) m.writeU8((2 ** 38 + i) * PAGE_SIZE, 9);
  assert.equal(m.stats().slabs, 3, 'freed slots are reused before new slabs');
  // A reused slot comes back zeroed.
  for (let i = 0; i < 300; i++) assert.equal(m.readU32((2 ** 38 + i) * PAGE_SIZE + 16), 0);
});

test('zero fills and copies of untouched memory stay sparse', () => {
  const m = new PhysicalMemory();
  m.fill(0, 4 * TiB, 0);
  m.fill(123, 5 * PAGE_SIZE, 0);
  m.copy(64 * TiB + 7, 3, 10 * PAGE_SIZE);
  m.read(0, 8 * PAGE_SIZE);
  assert.equal(m.touchedCount, 0);
  m.writeU32(2 * TiB, 0xffffffff);
  m.fill(TiB, 2 * TiB, 0); // zeroes the one touched page and keeps it
  assert.equal(m.readU32(2 * TiB), 0);
  assert.equal(m.touchedCount, 1);
});

test('page() views are live: writes through them are visible and vice versa', () => {
  const m = new PhysicalMemory();
  const v = m.page(2 ** 33);
  assert.equal(v.length, 1024);
  v[3] = 0xdeadbeef;
  assert.equal(m.readU32(2 ** 33 * PAGE_SIZE + 12), 0xdeadbeef);
  m.writeU32(2 ** 33 * PAGE_SIZE + 16, 7);
  assert.equal(v[4], 7);
  assert.equal(m.page(2 ** 33), v, 'same view for the same page');
  assert.equal(m.peekPage(2 ** 33), v);
});

test('copy behaves like memmove for overlapping ranges in both directions', () => {
  const m = new PhysicalMemory();
  const src = new Uint8Array(3 * PAGE_SIZE);
  for (let i = 0; i < src.length; i++) src[i] = (i * 7 + 3) & 0xff;
  for (const shift of [1, 5, PAGE_SIZE - 1, PAGE_SIZE + 3]) {
    for (const dir of [1, -1]) {
      const base = 0x10000 + PAGE_SIZE - 100;
      m.write(base, src);
      m.copy(base + dir * shift, base, src.length);
      assert.deepEqual(m.read(base + dir * shift, src.length), src, `shift ${dir * shift}`);
    }
  }
});

test('poison is lazy: untouched pages read 0xaa without storage, touched ones drop their content', () => {
  const m = new PhysicalMemory();
  m.writeU32(5 * PAGE_SIZE, 42);
  m.poison(0, 16 * TiB); // the whole range costs one list entry
  assert.equal(m.touchedCount, 0);
  assert.equal(m.readU32(5 * PAGE_SIZE), POISON_WORD);
  assert.equal(m.readU8(16 * TiB - 1), POISON_BYTE);
  assert.equal(m.readU8(16 * TiB), 0);
  assert.throws(() => m.readU64(3 * TiB), isMemError('ERANGE'));
  assert.equal(m.isPoisoned(2 ** 30), true);
  assert.equal(m.stats().poisonedRanges, 1);
  // Writing materialises the page filled with the pattern first.
  m.writeU8(TiB + 1, 0);
  assert.deepEqual([...m.read(TiB, 3)], [POISON_BYTE, 0, POISON_BYTE]);
  assert.equal(m.isPoisoned(TiB / PAGE_SIZE), false);
  assert.equal(m.touchedCount, 1);
  // Unpoison clears lazy pages (rounded inward) but not content already written.
  m.unpoison(TiB - 10, PAGE_SIZE * 3 + 20);
  assert.equal(m.readU8(TiB - 1), POISON_BYTE, 'partial page before stays poisoned');
  assert.equal(m.readU8(TiB + PAGE_SIZE), 0);
  assert.equal(m.readU8(TiB + 2), POISON_BYTE, 'touched page keeps its pattern bytes');
  // discard forgets both content and poison.
  m.discard(TiB / PAGE_SIZE);
  m.discard(7);
  assert.equal(m.readU8(TiB + 2), 0);
  assert.equal(m.readU8(7 * PAGE_SIZE), 0);
  assert.equal(m.readU8(8 * PAGE_SIZE), POISON_BYTE);
  assert.deepEqual(m.poisonedRanges().slice(0, 2), [
    { start: 0, end: 7 * PAGE_SIZE },
    { start: 8 * PAGE_SIZE, end: TiB },
  ]);
});

test('poison of partial pages writes the pattern into just those bytes', () => {
  const m = new PhysicalMemory();
  m.poison(10, 20);
  assert.equal(m.isTouched(0), true);
  assert.equal(m.readU8(9), 0);
  assert.equal(m.readU8(10), POISON_BYTE);
  assert.equal(m.readU8(29), POISON_BYTE);
  assert.equal(m.readU8(30), 0);
  assert.equal(m.isPoisoned(0), false);
});

test('forEachTouched visits touched pages ascending with their words', () => {
  const m = new PhysicalMemory();
  for (const p of [2 ** 35, 3, 2 ** 20, 2 ** 20 - 1]) m.page(p)[0] = p & 0xffff;
  const seen: number[] = [];
  m.forEachTouched((pfn, words) => {
    seen.push(pfn);
    assert.equal(words[0], pfn & 0xffff);
  });
  assert.deepEqual(seen, [3, 2 ** 20 - 1, 2 ** 20, 2 ** 35]);
});

test('u16 access is little-endian, crosses pages and checks its range', () => {
  const m = new PhysicalMemory();
  m.writeU16(0xfff, 0xbeef);
  assert.equal(m.readU8(0xfff), 0xef);
  assert.equal(m.readU8(0x1000), 0xbe);
  assert.equal(m.readU16(0xfff), 0xbeef);
  m.writeU16(0x10, -2);
  assert.equal(m.readU16(0x10), 0xfffe);
  assert.throws(() => {
    m.writeU16(0x10, 0x10000);
  }, isMemError('EINVAL'));
  assert.throws(() => m.readU16(MAX_PHYS_LIMIT - 1), isMemError('EFAULT'));
});

test('sparse copies carry zero and poison runs, even when the destination edits the poison list', () => {
  const m = new PhysicalMemory();
  const P = PAGE_SIZE;
  // Destination [0, 8 pages) poisoned; source [100, 120) pages has poison runs and one touched page.
  m.poison(0, 8 * P);
  m.poison(102 * P, 2 * P);
  m.poison(106 * P, 3 * P);
  m.writeU32(110 * P + 4, 0x12345678);
  m.copy(0, 100 * P, 20 * P);
  const want = (pfn: number): number => (pfn === 2 || pfn === 3 || (pfn >= 6 && pfn <= 8) ? POISON_BYTE : 0);
  for (let pfn = 0; pfn < 20; pfn++) {
    assert.equal(m.readU8(pfn * P), want(pfn), `page ${pfn}`);
    assert.equal(m.readU8(pfn * P + P - 1), want(pfn), `page ${pfn} end`);
  }
  assert.equal(m.readU32(10 * P + 4), 0x12345678);
  // A 4 TiB copy of mostly untouched memory is fast and stays sparse.
  const before = m.touchedCount;
  m.copy(2 ** 42, 0, 2 ** 42);
  assert.equal(m.readU32(2 ** 42 + 10 * P + 4), 0x12345678);
  assert.equal(m.readU8(2 ** 42 + 2 * P), POISON_BYTE);
  assert.equal(m.touchedCount, before + 2, 'the 2 touched source pages; zero and poison runs stay sparse');
  // Copied poison is ordinary 0xaa data: reads of it are not reads of stale memory.
  assert.equal(m.isPoisoned(2 ** 30 + 2), false);
  assert.equal(m.isTouched(2 ** 30 + 2), false);
});

test('a sparse copy whose zero fill removes a whole poison range still copies every later poison run', () => {
  const m = new PhysicalMemory();
  const P = PAGE_SIZE;
  m.poison(0, P);
  m.poison(102 * P, P);
  m.poison(104 * P, P);
  m.copy(0, 100 * P, 6 * P);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((p) => m.readU8(p * P + 9)),
    [0, 0, POISON_BYTE, 0, POISON_BYTE, 0],
  );
});

test('dropEpoch counts pages dropped by discard and poison', () => {
  const m = new PhysicalMemory();
  m.page(1);
  m.page(2);
  m.page(3);
  assert.equal(m.dropEpoch, 0);
  m.discard(1);
  m.discard(9); // untouched: nothing dropped
  assert.equal(m.dropEpoch, 1);
  m.poison(0, 4 * PAGE_SIZE);
  assert.equal(m.dropEpoch, 3);
});

test('described memory: a 64 GiB random fill costs no storage; reads, copies and checksums come from the description', () => {
  const GiB = 2 ** 30;
  const m = new PhysicalMemory({ limit: 2 ** 40 });
  m.fillRandom(GiB, 64 * GiB, 0x6b686f);
  assert.equal(m.touchedCount, 0);
  assert.equal(m.stats().describedRanges, 1);
  // The same seed at the same address gives the same bytes; another seed other bytes.
  const other = new PhysicalMemory({ limit: 2 ** 40 });
  other.fillRandom(GiB, 64 * GiB, 0x6b686f);
  const at = GiB + 12345 * PAGE_SIZE + 100;
  assert.deepEqual(m.read(at, 3 * PAGE_SIZE), other.read(at, 3 * PAGE_SIZE));
  other.fillRandom(GiB, 64 * GiB, 0x6b6870);
  assert.notDeepEqual(m.read(at, 64), other.read(at, 64));
  // Word reads agree with range reads at any alignment.
  const bytes = m.read(at, 16);
  for (let i = 0; i < 12; i++) {
    assert.equal(m.readU32(at + i), new DataView(bytes.buffer).getUint32(i, true), `u32 at +${i}`);
  }
  // Chained checksums over 4-byte-multiple pieces equal the checksum of the whole.
  const whole = m.csumPartial(GiB, 64 * GiB);
  let chained = 0;
  for (let i = 0; i < 64; i++) chained = m.csumPartial(GiB + i * GiB, GiB, chained);
  assert.equal(chained, whole);
  // A page-aligned copy is the same description moved: nothing materialised, same checksum.
  m.copy(128 * GiB, GiB, 64 * GiB);
  assert.equal(m.touchedCount, 0);
  assert.equal(m.csumPartial(128 * GiB, 64 * GiB), whole);
  assert.deepEqual(m.read(at - GiB + 128 * GiB, 64), m.read(at, 64));
  // Writing into described memory materialises only that page, with the generated content.
  const before = m.read(at - 100, PAGE_SIZE);
  m.writeU8(at, 0x5a);
  assert.equal(m.touchedCount, 1);
  const after = m.read(at - 100, PAGE_SIZE);
  assert.equal(after[100], 0x5a);
  after[100] = before[100]!;
  assert.deepEqual(after, before);
  // Describing and zeroing a terabyte is bookkeeping only.
  m.fill(0, 2 ** 40, 0x11);
  assert.equal(m.readU32(2 ** 39), 0x11111111);
  m.fill(0, 2 ** 40, 0);
  assert.equal(m.stats().describedRanges, 0);
  assert.equal(m.readU8(at), 0, 'the touched page was zeroed in place');
});

test('peekPage, readPage, zeroPagesFrom and contentRuns see described pages without materialising them', () => {
  const m = new PhysicalMemory({ limit: 2 ** 32 });
  m.fillRandom(4 * PAGE_SIZE, 2 * PAGE_SIZE, 1);
  m.fill(8 * PAGE_SIZE, PAGE_SIZE, 0x77);
  m.poison(10 * PAGE_SIZE, PAGE_SIZE);
  m.writeU32(12 * PAGE_SIZE, 1);
  const peek = m.peekPage(4)!;
  assert.deepEqual(new Uint8Array(peek.buffer, peek.byteOffset, PAGE_SIZE), m.read(4 * PAGE_SIZE, PAGE_SIZE));
  assert.equal(m.peekPage(10), null, 'poison reads as null (as before)');
  assert.equal(m.peekPage(3), null);
  const out = new Uint32Array(1024);
  assert.equal(m.readPage(8, out), true);
  assert.equal(out[5], 0x77777777);
  assert.equal(m.readPage(10, out), true);
  assert.equal(out[0], POISON_WORD);
  assert.equal(m.readPage(11, out.fill(7)), false);
  assert.equal(out[0], 7, 'a zero page leaves the buffer alone');
  assert.equal(m.zeroPagesFrom(0, 100), 4);
  assert.equal(m.zeroPagesFrom(6, 100), 2);
  assert.deepEqual(m.contentRuns(0, 14), [
    { start: 0, end: 4, kind: 'zero' },
    { start: 4, end: 6, kind: 'random' },
    { start: 6, end: 8, kind: 'zero' },
    { start: 8, end: 9, kind: 'pattern' },
    { start: 9, end: 10, kind: 'zero' },
    { start: 10, end: 11, kind: 'poison' },
    { start: 11, end: 12, kind: 'zero' },
    { start: 12, end: 13, kind: 'data' },
    { start: 13, end: 14, kind: 'zero' },
  ]);
  assert.equal(m.touchedCount, 1);
  m.clear();
  assert.deepEqual(m.contentRuns(0, 14), [{ start: 0, end: 14, kind: 'zero' }]);
  assert.equal(m.touchedCount, 0);
});
