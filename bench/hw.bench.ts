/**
 * Sparse physical memory: first touch of pages scattered over a 1 TiB machine, random u32
 * access inside touched pages, page() lookups, and what a touched page costs in JS heap.
 * Inputs come from a seeded PRNG and are generated outside the timed regions.
 */
import { gc, mulberry32 as rng, round, secondsSince, type BenchEntry } from './harness.ts';
import { PAGE_SIZE, PhysicalMemory } from '../src/hw/physical-memory.ts';

const SEED = 0x6b686f; // "kho"
const SPACE = 2 ** 40; // 1 TiB
const PAGES = 200_000; // 781 MiB touched
const OPS = 4_000_000;

/** Distinct pfns spread over the 1 TiB space (2^28 pfns): 2^28 / PAGES strata, one pick each. */
function scatteredPfns(n: number): Float64Array {
  const next = rng(SEED);
  const stride = Math.floor(SPACE / PAGE_SIZE / n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = i * stride + (next() % stride);
  // Shuffle so touches do not walk the index in order.
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

/** Random addresses of u32s inside the given pages (word-aligned, and a share unaligned). */
function addressesIn(pfns: Float64Array, n: number, unaligned: boolean): Float64Array {
  const next = rng(SEED + 1);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const pfn = pfns[next() % pfns.length]!;
    const off = unaligned ? next() % (PAGE_SIZE - 3) : (next() & 1023) << 2;
    out[i] = pfn * PAGE_SIZE + off;
  }
  return out;
}

export const entries: BenchEntry[] = [
  {
    name: 'memory.touch',
    description:
      'first touch of 200k pages scattered over 1 TiB (ns/page; includes the OS faulting in fresh slab memory), first touch reusing discarded slots, random aligned and unaligned u32 write+read in touched pages, u32 reads within one page and within 2000 pages (ns/op), JS heap and array-buffer bytes per touched page',
    run: () => {
      const pfns = scatteredPfns(PAGES);
      const aligned = addressesIn(pfns, OPS, false);
      const unaligned = addressesIn(pfns, OPS, true);
      gc();
      const heap0 = process.memoryUsage();
      const mem = new PhysicalMemory({ limit: SPACE });
      let t = process.hrtime.bigint();
      for (let i = 0; i < PAGES; i++) mem.writeU32(pfns[i]! * PAGE_SIZE, i);
      const touchNs = (secondsSince(t) * 1e9) / PAGES;
      gc();
      const heap1 = process.memoryUsage();
      if (mem.touchedCount !== PAGES) throw new Error('touch count mismatch');

      t = process.hrtime.bigint();
      let sum = 0;
      for (let i = 0; i < OPS; i++) {
        const a = aligned[i]!;
        mem.writeU32(a, i);
        sum = (sum + mem.readU32(a)) | 0;
      }
      const alignedNs = (secondsSince(t) * 1e9) / OPS;

      t = process.hrtime.bigint();
      for (let i = 0; i < OPS; i++) {
        const a = unaligned[i]!;
        mem.writeU32(a, i);
        sum = (sum + mem.readU32(a)) | 0;
      }
      const unalignedNs = (secondsSince(t) * 1e9) / OPS;

      // Cache-hit path: many reads within one page.
      const hot = pfns[0]! * PAGE_SIZE;
      t = process.hrtime.bigint();
      for (let i = 0; i < OPS; i++) sum = (sum + mem.readU32(hot + ((i & 1023) << 2))) | 0;
      const samePageNs = (secondsSince(t) * 1e9) / OPS;

      // A working set of 2000 touched pages (8 MiB), as a kernel's hot structures would be.
      const ws = addressesIn(pfns.subarray(0, 2000), OPS, false);
      t = process.hrtime.bigint();
      for (let i = 0; i < OPS; i++) sum = (sum + mem.readU32(ws[i]!)) | 0;
      const workingSetNs = (secondsSince(t) * 1e9) / OPS;

      // page() views for random touched pfns (what hot paths writing page words use).
      t = process.hrtime.bigint();
      for (let i = 0; i < OPS; i++) {
        const v = mem.page(pfns[i % PAGES]!);
        sum = (sum + v[i & 1023]!) | 0;
      }
      const pageNs = (secondsSince(t) * 1e9) / OPS;

      // Discard every page, then touch other pages: slots are reused, so no fresh OS memory is
      // faulted in and what remains is the model's own cost (index update + zeroing 4 KiB).
      for (let i = 0; i < PAGES; i++) mem.discard(pfns[i]!);
      t = process.hrtime.bigint();
      for (let i = 0; i < PAGES; i++) mem.writeU32((pfns[i]! + 1) * PAGE_SIZE, i);
      const retouchNs = (secondsSince(t) * 1e9) / PAGES;
      if (mem.stats().slabs !== Math.ceil(PAGES / 256)) throw new Error('slots were not reused');

      return {
        pages: PAGES,
        touch_ns_per_page: round(touchNs, 1),
        retouch_reused_slot_ns_per_page: round(retouchNs, 1),
        u32_write_read_aligned_ns: round(alignedNs, 1),
        u32_write_read_unaligned_ns: round(unalignedNs, 1),
        u32_read_same_page_ns: round(samePageNs, 2),
        u32_read_2000_page_working_set_ns: round(workingSetNs, 1),
        page_view_random_ns: round(pageNs, 1),
        heap_bytes_per_page: round((heap1.heapUsed - heap0.heapUsed) / PAGES, 1),
        arraybuffer_bytes_per_page: round((heap1.arrayBuffers - heap0.arrayBuffers) / PAGES, 0),
        checksum: sum,
      };
    },
  },
  {
    name: 'memory.ranges',
    description:
      'read/write/copy of 64 KiB blocks in touched memory (MB/s), zero-fill and poison of a 4 TiB range (µs), reads of poisoned untouched pages (ns/u32)',
    run: () => {
      const mem = new PhysicalMemory();
      const block = new Uint8Array(65536).fill(0x5a);
      const N = 20_000;
      let t = process.hrtime.bigint();
      for (let i = 0; i < N; i++) mem.write((i & 255) * 65536 + 7, block);
      const writeMBs = (N * block.length) / 1e6 / secondsSince(t);
      t = process.hrtime.bigint();
      let sum = 0;
      for (let i = 0; i < N; i++) sum += mem.read((i & 255) * 65536 + 3, block.length)[5]!;
      const readMBs = (N * block.length) / 1e6 / secondsSince(t);
      t = process.hrtime.bigint();
      for (let i = 0; i < N; i++) mem.copy(((i + 1) & 255) * 65536 + 11, (i & 255) * 65536, block.length);
      const copyMBs = (N * block.length) / 1e6 / secondsSince(t);
      const touchedBefore = mem.touchedCount;
      t = process.hrtime.bigint();
      mem.fill(2 ** 41, 2 ** 42, 0);
      const zeroUs = secondsSince(t) * 1e6;
      t = process.hrtime.bigint();
      mem.poison(2 ** 41, 2 ** 42);
      const poisonUs = secondsSince(t) * 1e6;
      if (mem.touchedCount !== touchedBefore) throw new Error('range ops materialised pages');
      // Poisoned reads with a list of 1000 ranges.
      for (let i = 0; i < 1000; i++) mem.poison(2 ** 44 + i * 2 * PAGE_SIZE, PAGE_SIZE);
      const next = rng(SEED);
      const addrs = new Float64Array(1 << 20);
      for (let i = 0; i < addrs.length; i++) addrs[i] = 2 ** 44 + (next() % 2000) * PAGE_SIZE;
      t = process.hrtime.bigint();
      for (let i = 0; i < addrs.length; i++) sum = (sum + mem.readU32(addrs[i]!)) | 0;
      const poisonReadNs = (secondsSince(t) * 1e9) / addrs.length;
      return {
        write_mb_s: round(writeMBs, 0),
        read_mb_s: round(readMBs, 0),
        copy_mb_s: round(copyMBs, 0),
        zero_fill_4tib_us: round(zeroUs, 1),
        poison_4tib_us: round(poisonUs, 1),
        poisoned_u32_read_ns: round(poisonReadNs, 1),
        checksum: sum,
      };
    },
  },
];
