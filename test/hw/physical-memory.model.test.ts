/**
 * Model test: PhysicalMemory against a plain byte map with per-page states, over random
 * sequences of writes, fills, copies, discards and (un)poisoning in a small window of pages
 * placed at interesting spots (address 0, the index's 2^20-pfn split, 4 GiB, 64 TiB, the top).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PAGE_SIZE, PhysicalMemory, POISON_BYTE } from '../../src/hw/physical-memory.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);
const WINDOW_PAGES = 6;
const WINDOW = WINDOW_PAGES * PAGE_SIZE;
const LIMIT = 2 ** 52;
const BASES = [0, 2 ** 20 - 3, 2 ** 20 * 4096 - 2, 2 ** 34 - 3, LIMIT / PAGE_SIZE - WINDOW_PAGES];

/** The reference: explicit bytes of touched pages, and which untouched pages are poisoned. */
class Model {
  readonly bytes = new Map<number, number>();
  readonly touched = new Set<number>();
  readonly lazy = new Set<number>();

  read(addr: number): number {
    const pfn = Math.floor(addr / PAGE_SIZE);
    if (this.touched.has(pfn)) return this.bytes.get(addr) ?? 0;
    return this.lazy.has(pfn) ? POISON_BYTE : 0;
  }
  materialise(pfn: number): void {
    if (this.touched.has(pfn)) return;
    this.touched.add(pfn);
    const fillByte = this.lazy.has(pfn) ? POISON_BYTE : 0;
    for (let i = 0; i < PAGE_SIZE; i++) this.bytes.set(pfn * PAGE_SIZE + i, fillByte);
  }
  write(addr: number, b: number): void {
    this.materialise(Math.floor(addr / PAGE_SIZE));
    this.bytes.set(addr, b & 0xff);
  }
  /** Zero bytes into a page that reads as zero store nothing (the implementation's rule too). */
  writeZeroAware(addr: number, b: number): void {
    const pfn = Math.floor(addr / PAGE_SIZE);
    if ((b & 0xff) === 0 && !this.touched.has(pfn) && !this.lazy.has(pfn)) return;
    this.write(addr, b);
  }
  discard(pfn: number): void {
    this.touched.delete(pfn);
    this.lazy.delete(pfn);
    for (let i = 0; i < PAGE_SIZE; i++) this.bytes.delete(pfn * PAGE_SIZE + i);
  }
  fill(addr: number, len: number, b: number): void {
    for (let a = addr; a < addr + len; a++) {
      const pfn = Math.floor(a / PAGE_SIZE);
      const whole = pfn * PAGE_SIZE >= addr && (pfn + 1) * PAGE_SIZE <= addr + len;
      if (b === 0 && whole && !this.touched.has(pfn)) this.lazy.delete(pfn);
      else this.writeZeroAware(a, b);
    }
  }
  copy(dst: number, src: number, len: number): void {
    const snap: number[] = [];
    for (let i = 0; i < len; i++) snap.push(this.read(src + i));
    for (let i = 0; i < len; i++) this.writeZeroAware(dst + i, snap[i]!);
  }
  poison(addr: number, len: number): void {
    for (let pfn = Math.floor(addr / PAGE_SIZE); pfn * PAGE_SIZE < addr + len; pfn++) {
      const whole = pfn * PAGE_SIZE >= addr && (pfn + 1) * PAGE_SIZE <= addr + len;
      if (whole) {
        this.discard(pfn);
        this.lazy.add(pfn);
      } else {
        const a = Math.max(addr, pfn * PAGE_SIZE);
        const e = Math.min(addr + len, (pfn + 1) * PAGE_SIZE);
        for (let x = a; x < e; x++) this.write(x, POISON_BYTE);
      }
    }
  }
  unpoison(addr: number, len: number): void {
    for (let pfn = Math.ceil(addr / PAGE_SIZE); (pfn + 1) * PAGE_SIZE <= addr + len; pfn++) {
      this.lazy.delete(pfn);
    }
  }
  isPoisoned(pfn: number): boolean {
    return !this.touched.has(pfn) && this.lazy.has(pfn);
  }
}

type Op =
  | { k: 'u8'; a: number; v: number }
  | { k: 'u32'; a: number; v: number }
  | { k: 'u64'; a: number; lo: number; hi: number }
  | { k: 'bytes'; a: number; data: Uint8Array }
  | { k: 'fill'; a: number; len: number; v: number }
  | { k: 'copy'; d: number; s: number; len: number }
  | { k: 'discard'; p: number }
  | { k: 'poison'; a: number; len: number }
  | { k: 'unpoison'; a: number; len: number }
  | { k: 'pageWord'; p: number; i: number; v: number }
  | { k: 'check'; a: number };

/** Offsets in the window, biased towards page boundaries. */
const off = (room: number): fc.Arbitrary<number> =>
  fc.oneof(
    fc.integer({ min: 0, max: WINDOW - 1 - room }),
    fc
      .tuple(fc.integer({ min: 1, max: WINDOW_PAGES - 1 }), fc.integer({ min: -9, max: 9 }))
      .map(([p, d]) => Math.min(WINDOW - 1 - room, Math.max(0, p * PAGE_SIZE + d))),
  );
const span = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 0, max: 3 * PAGE_SIZE }),
  fc.constantFrom(PAGE_SIZE, 2 * PAGE_SIZE),
);
const ranged = <K extends string>(k: K) =>
  fc.tuple(off(0), span).map(([a, len]) => ({ k, a, len: Math.min(len, WINDOW - a) }));
const byteVal = fc.oneof(fc.constant(0), fc.constant(POISON_BYTE), fc.integer({ min: 0, max: 255 }));
const u32 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('u8' as const), a: off(0), v: byteVal }),
  fc.record({ k: fc.constant('u32' as const), a: off(3), v: u32 }),
  fc.record({ k: fc.constant('u64' as const), a: off(7), lo: u32, hi: u32 }),
  fc
    .tuple(off(0), fc.uint8Array({ maxLength: 2 * PAGE_SIZE + 10 }))
    .map(([a, data]) => ({ k: 'bytes' as const, a, data: data.subarray(0, WINDOW - a) })),
  fc.tuple(ranged('fill'), byteVal).map(([r, v]) => ({ k: 'fill' as const, a: r.a, len: r.len, v })),
  fc.tuple(off(0), off(0), span).map(([d, s, len]) => ({
    k: 'copy' as const,
    d,
    s,
    len: Math.min(len, WINDOW - d, WINDOW - s),
  })),
  fc.record({ k: fc.constant('discard' as const), p: fc.integer({ min: 0, max: WINDOW_PAGES - 1 }) }),
  ranged('poison'),
  ranged('unpoison'),
  fc.record({
    k: fc.constant('pageWord' as const),
    p: fc.integer({ min: 0, max: WINDOW_PAGES - 1 }),
    i: fc.integer({ min: 0, max: 1023 }),
    v: u32,
  }),
  fc.record({ k: fc.constant('check' as const), a: off(7) }),
);

function apply(mem: PhysicalMemory, model: Model, base: number, op: Op): void {
  const B = base * PAGE_SIZE;
  switch (op.k) {
    case 'u8':
      mem.writeU8(B + op.a, op.v);
      model.write(B + op.a, op.v);
      break;
    case 'u32':
      mem.writeU32(B + op.a, op.v);
      for (let i = 0; i < 4; i++) model.write(B + op.a + i, Math.floor(op.v / 2 ** (8 * i)) & 0xff);
      break;
    case 'u64':
      mem.writeU64Halves(B + op.a, op.lo, op.hi);
      for (let i = 0; i < 4; i++) model.write(B + op.a + i, Math.floor(op.lo / 2 ** (8 * i)) & 0xff);
      for (let i = 0; i < 4; i++) model.write(B + op.a + 4 + i, Math.floor(op.hi / 2 ** (8 * i)) & 0xff);
      break;
    case 'bytes':
      mem.write(B + op.a, op.data);
      op.data.forEach((b, i) => {
        model.write(B + op.a + i, b);
      });
      break;
    case 'fill':
      mem.fill(B + op.a, op.len, op.v);
      model.fill(B + op.a, op.len, op.v);
      break;
    case 'copy':
      mem.copy(B + op.d, B + op.s, op.len);
      model.copy(B + op.d, B + op.s, op.len);
      break;
    case 'discard':
      mem.discard(base + op.p);
      model.discard(base + op.p);
      break;
    case 'poison':
      mem.poison(B + op.a, op.len);
      model.poison(B + op.a, op.len);
      break;
    case 'unpoison':
      mem.unpoison(B + op.a, op.len);
      model.unpoison(B + op.a, op.len);
      break;
    case 'pageWord': {
      mem.page(base + op.p)[op.i] = op.v;
      const a = B + op.p * PAGE_SIZE + op.i * 4;
      model.materialise(base + op.p);
      for (let i = 0; i < 4; i++) model.write(a + i, Math.floor(op.v / 2 ** (8 * i)) & 0xff);
      break;
    }
    case 'check': {
      const a = B + op.a;
      const expect = (n: number): number => {
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + model.read(a + i);
        return v;
      };
      assert.equal(mem.readU8(a), expect(1), `readU8 ${a}`);
      assert.equal(mem.readU32(a), expect(4), `readU32 ${a}`);
      let big = 0n;
      for (let i = 7; i >= 0; i--) big = (big << 8n) | BigInt(model.read(a + i));
      assert.equal(mem.readU64Big(a), big, `readU64Big ${a}`);
      break;
    }
  }
}

function compare(mem: PhysicalMemory, model: Model, base: number): void {
  const got = mem.read(base * PAGE_SIZE, WINDOW);
  for (let i = 0; i < WINDOW; i++) {
    const want = model.read(base * PAGE_SIZE + i);
    if (got[i] !== want)
      assert.fail(`byte at window offset 0x${i.toString(16)}: got ${got[i]}, want ${want}`);
  }
  for (let p = 0; p < WINDOW_PAGES; p++) {
    assert.equal(mem.isPoisoned(base + p), model.isPoisoned(base + p), `isPoisoned page ${p}`);
    if (!mem.isTouched(base + p)) assert.equal(mem.peekPage(base + p), null);
  }
}

test('PhysicalMemory matches the byte model over random operation sequences', () => {
  fc.assert(
    fc.property(fc.constantFrom(...BASES), fc.array(opArb, { maxLength: 25 }), (base, ops) => {
      const mem = new PhysicalMemory();
      const model = new Model();
      for (const op of ops) apply(mem, model, base, op);
      compare(mem, model, base);
      // Nothing outside the window was ever materialised.
      for (const pfn of mem.touchedPfns()) assert.ok(pfn >= base && pfn < base + WINDOW_PAGES);
    }),
    { numRuns: RUNS },
  );
});

test('stale lookup caches never leak between pages (colliding pfns, discard, slot reuse)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 2 }), u32), {
        maxLength: 60,
      }),
      (steps) => {
        const mem = new PhysicalMemory();
        const want = new Map<number, number>();
        // Pfns in several index groups, most sharing one lookup-cache line (same low 12 bits).
        const PFNS = [0, 4096, 8192, 2 ** 20, 2 ** 32, 1, 4097, 2 ** 36];
        const pfnOf = (i: number): number => PFNS[i]!;
        for (const [i, action, v] of steps) {
          const pfn = pfnOf(i);
          if (action === 0) {
            mem.writeU32(pfn * PAGE_SIZE + 8, v);
            want.set(pfn, v);
          } else if (action === 1) {
            mem.discard(pfn);
            want.delete(pfn);
          } else {
            assert.equal(mem.readU32(pfn * PAGE_SIZE + 8), want.get(pfn) ?? 0);
          }
        }
        assert.equal(mem.touchedCount, want.size);
        assert.deepEqual(
          mem.touchedPfns(),
          [...want.keys()].sort((a, b) => a - b),
        );
      },
    ),
    { numRuns: RUNS * 2 },
  );
});
