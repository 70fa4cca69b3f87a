/**
 * Model test: PhysicalMemory against a plain byte array (plus, per page, whether it is lazily
 * poisoned), over random sequences of writes, fills, seeded random fills (described pages),
 * copies, discards and (un)poisoning in a small window of pages placed at interesting spots
 * (address 0, the index's 2^20-pfn split, 4 GiB, 64 TiB, the top). Reads, checksums, page
 * copies and the content map are checked against the bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PAGE_SIZE, PhysicalMemory, POISON_BYTE } from '../../src/hw/physical-memory.ts';
import { csumPartial } from '../../src/util/csum.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 150);
const WINDOW_PAGES = 6;
const WINDOW = WINDOW_PAGES * PAGE_SIZE;
const LIMIT = 2 ** 52;
const BASES = [0, 2 ** 20 - 3, 2 ** 20 * 4096 - 2, 2 ** 34 - 3, LIMIT / PAGE_SIZE - WINDOW_PAGES];

/**
 * The reference: the window's bytes, and which pages are lazily poisoned (a whole-page poison
 * not written to since). Any write to a page ends its lazy poison.
 */
class Model {
  readonly bytes = new Uint8Array(WINDOW);
  readonly lazy = new Set<number>();
  readonly B: number;
  constructor(B: number) {
    this.B = B;
  }

  read(addr: number): number {
    return this.bytes[addr - this.B]!;
  }
  set(addr: number, b: number): void {
    this.bytes[addr - this.B] = b & 0xff;
    this.lazy.delete(Math.floor(addr / PAGE_SIZE));
  }
  setRange(addr: number, data: Uint8Array): void {
    data.forEach((b, i) => {
      this.set(addr + i, b);
    });
  }
  discard(pfn: number): void {
    this.lazy.delete(pfn);
    this.bytes.fill(0, pfn * PAGE_SIZE - this.B, (pfn + 1) * PAGE_SIZE - this.B);
  }
  copy(dst: number, src: number, len: number): void {
    if (dst === src) return;
    this.setRange(dst, this.bytes.slice(src - this.B, src - this.B + len));
  }
  poison(addr: number, len: number): void {
    for (let a = addr; a < addr + len; a++) this.set(a, POISON_BYTE);
    for (let pfn = Math.ceil(addr / PAGE_SIZE); (pfn + 1) * PAGE_SIZE <= addr + len; pfn++)
      this.lazy.add(pfn);
  }
  unpoison(addr: number, len: number): void {
    for (let pfn = Math.ceil(addr / PAGE_SIZE); (pfn + 1) * PAGE_SIZE <= addr + len; pfn++) {
      if (this.lazy.delete(pfn)) this.discard(pfn);
    }
  }
  isPoisoned(pfn: number): boolean {
    return this.lazy.has(pfn);
  }
}

/** The bytes `fillRandom(addr, len, seed)` gives, from a fresh memory (their own tests pin them). */
function randomBytes(addr: number, len: number, seed: number): Uint8Array {
  const ref = new PhysicalMemory();
  ref.fillRandom(addr, len, seed);
  return ref.read(addr, len);
}

type Op =
  | { k: 'u8'; a: number; v: number }
  | { k: 'u32'; a: number; v: number }
  | { k: 'u64'; a: number; lo: number; hi: number }
  | { k: 'bytes'; a: number; data: Uint8Array }
  | { k: 'fill'; a: number; len: number; v: number }
  | { k: 'random'; a: number; len: number; seed: number }
  | { k: 'csum'; a: number; len: number; sum: number }
  | { k: 'readPage'; p: number }
  | { k: 'poisonPages'; ranges: [number, number][] }
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
  fc
    .tuple(ranged('random'), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([r, seed]) => ({ k: 'random' as const, a: r.a, len: r.len, seed })),
  fc
    .tuple(ranged('csum'), fc.oneof(fc.constant(0), u32))
    .map(([r, sum]) => ({ k: 'csum' as const, a: r.a, len: r.len, sum })),
  fc.record({ k: fc.constant('readPage' as const), p: fc.integer({ min: 0, max: WINDOW_PAGES - 1 }) }),
  fc.uniqueArray(fc.integer({ min: 0, max: WINDOW_PAGES }), { minLength: 0, maxLength: 4 }).map((cuts) => {
    // Boundaries in the window, paired into sorted, disjoint pfn ranges (offsets).
    const b = [...cuts].sort((x, y) => x - y);
    const ranges: [number, number][] = [];
    for (let i = 0; i + 1 < b.length; i += 2) ranges.push([b[i]!, b[i + 1]!]);
    return { k: 'poisonPages' as const, ranges };
  }),
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

const le = (v: number, n: number): Uint8Array => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
  return out;
};

function apply(mem: PhysicalMemory, model: Model, base: number, op: Op): void {
  const B = base * PAGE_SIZE;
  switch (op.k) {
    case 'u8':
      mem.writeU8(B + op.a, op.v);
      model.set(B + op.a, op.v);
      break;
    case 'u32':
      mem.writeU32(B + op.a, op.v);
      model.setRange(B + op.a, le(op.v, 4));
      break;
    case 'u64':
      mem.writeU64Halves(B + op.a, op.lo, op.hi);
      model.setRange(B + op.a, le(op.lo, 4));
      model.setRange(B + op.a + 4, le(op.hi, 4));
      break;
    case 'bytes':
      mem.write(B + op.a, op.data);
      model.setRange(B + op.a, op.data);
      break;
    case 'fill':
      mem.fill(B + op.a, op.len, op.v);
      model.setRange(B + op.a, new Uint8Array(op.len).fill(op.v));
      break;
    case 'random':
      mem.fillRandom(B + op.a, op.len, op.seed);
      model.setRange(B + op.a, randomBytes(B + op.a, op.len, op.seed));
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
      model.setRange(B + op.p * PAGE_SIZE + op.i * 4, le(op.v, 4));
      model.lazy.delete(base + op.p);
      break;
    }
    case 'poisonPages': {
      mem.poisonPages(
        op.ranges.map(([a]) => base + a),
        op.ranges.map(([, b]) => base + b),
        op.ranges.length,
      );
      for (const [a, b] of op.ranges) model.poison(B + a * PAGE_SIZE, (b - a) * PAGE_SIZE);
      break;
    }
    case 'csum': {
      const want = csumPartial(model.bytes.subarray(op.a, op.a + op.len), op.sum);
      assert.equal(mem.csumPartial(B + op.a, op.len, op.sum), want, `csum_partial ${op.a}+${op.len}`);
      break;
    }
    case 'readPage': {
      const pfn = base + op.p;
      const want = model.bytes.subarray(op.p * PAGE_SIZE, (op.p + 1) * PAGE_SIZE);
      const out = new Uint32Array(1024);
      const held = mem.readPage(pfn, out);
      assert.deepEqual(new Uint8Array(out.buffer), held ? want : new Uint8Array(PAGE_SIZE));
      if (!held) assert.ok(want.every((x) => x === 0));
      const peek = mem.peekPage(pfn);
      if (peek !== null) assert.deepEqual(new Uint8Array(peek.buffer, peek.byteOffset, PAGE_SIZE), want);
      else assert.ok(model.isPoisoned(pfn) || want.every((x) => x === 0));
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
    const want = model.bytes[i]!;
    if (got[i] !== want)
      assert.fail(`byte at window offset 0x${i.toString(16)}: got ${got[i]}, want ${want}`);
  }
  const zero = (p: number): boolean =>
    model.bytes.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE).every((x) => x === 0);
  for (let p = 0; p < WINDOW_PAGES; p++) {
    assert.equal(mem.isPoisoned(base + p), model.isPoisoned(base + p), `isPoisoned page ${p}`);
    const z = mem.zeroPagesFrom(base + p, WINDOW_PAGES - p);
    for (let q = p; q < p + z; q++) assert.ok(zero(q), `zeroPagesFrom counted page ${q}`);
  }
  // The content map covers the window in order, and each run's kind fits the bytes.
  const runs = mem.contentRuns(base, base + WINDOW_PAGES);
  let at = base;
  for (const r of runs) {
    assert.equal(r.start, at);
    at = r.end;
    for (let pfn = r.start; pfn < r.end; pfn++) {
      const p = pfn - base;
      if (r.kind === 'zero') assert.ok(zero(p), `zero run page ${p}`);
      if (r.kind === 'poison') assert.ok(model.isPoisoned(pfn), `poison run page ${p}`);
      if (r.kind === 'data') assert.ok(mem.isTouched(pfn));
    }
  }
  assert.equal(at, base + WINDOW_PAGES);
  assert.equal(mem.csumPartial(base * PAGE_SIZE, WINDOW), csumPartial(model.bytes));
}

test('PhysicalMemory matches the byte model over random operation sequences', () => {
  fc.assert(
    fc.property(fc.constantFrom(...BASES), fc.array(opArb, { maxLength: 25 }), (base, ops) => {
      const mem = new PhysicalMemory();
      const model = new Model(base * PAGE_SIZE);
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
