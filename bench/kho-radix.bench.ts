/**
 * The KHO radix-tree tracker in simulated memory: 2^24 order-0 inserts at random and at
 * consecutive pages of a 1 TiB machine, and a full walk of the random tree. Inputs come from a
 * seeded PRNG and are generated outside the timed region.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchEntry, BenchResult } from './harness.ts';
import { round, secondsSince } from './harness.ts';
import { PhysicalMemory } from '../src/hw/physical-memory.ts';
import { KhoRadixTree, type RadixPageAllocator } from '../src/kho/radix-tree.ts';

const COUNT = 16_777_216;
const MACHINE = 2 ** 40; // 1 TiB
const SEED = 0x6b686f; // "kho"
/** Node pages come from a bump allocator above the tracked range. */
const NODE_BASE_PFN = 2 ** 28;

/** Walks timed by `tracker.walk` (JS and C alike); the median is reported. */
const WALKS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/**
 * The C reference (bench/radix-walk.c) built with `gcc -O2` in a temporary directory and run
 * for {@link WALKS} walks: median wall and CPU seconds, blocks walked; null without gcc.
 */
function cWalk(): { wall: number; cpu: number; emptyWall: number; blocks: number } | null {
  if (spawnSync('gcc', ['--version']).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'kho-radix-walk-'));
  try {
    const exe = join(dir, 'radix-walk');
    execFileSync('gcc', ['-O2', '-o', exe, fileURLToPath(new URL('radix-walk.c', import.meta.url))]);
    const lines = execFileSync(exe, [String(WALKS)], { encoding: 'utf8' })
      .trim()
      .split('\n');
    const blocks = Number(/^blocks=(\d+)$/.exec(lines.pop() ?? '')?.[1]);
    const runs = lines.filter((l) => !l.startsWith('empty ')).map((l) => l.split(' ').map(Number));
    const empty = lines.filter((l) => l.startsWith('empty ')).map((l) => Number(l.split(' ')[1]));
    if (!(blocks > 0) || runs.length !== WALKS || empty.length !== WALKS)
      throw new Error(`radix-walk printed ${lines.join('|')}`);
    return {
      wall: median(runs.map((r) => r[0]!)),
      cpu: median(runs.map((r) => r[1]!)),
      emptyWall: median(empty),
      blocks,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The bench's counting callback alone, called once per block over the walk's addresses
 * (precomputed): what a per-block JavaScript callback costs before any walking. Median seconds.
 */
function callbackOnly(phys: Float64Array): number {
  const wall: number[] = [];
  for (let w = 0; w < WALKS; w++) {
    let count = 0;
    let sum = 0;
    const t0 = process.hrtime.bigint();
    const r = callEach(phys, (p, order) => {
      count++;
      sum += order;
      return p < 0 ? 1 : 0;
    });
    wall.push(secondsSince(t0));
    if (r !== 0 || count !== phys.length || sum !== 0) throw new Error('callback loop');
  }
  return median(wall);
}

function callEach(phys: Float64Array, cb: (phys: number, order: number) => number): number {
  for (let i = 0; i < phys.length; i++) {
    const r = cb(phys[i]!, 0);
    if (r !== 0) return r;
  }
  return 0;
}

/** 1-minute load average when an entry finishes: context for its figures on a shared machine. */
function load1(): number {
  return round(loadavg()[0]!, 2);
}

/** CPU seconds (user + system) since `c0`: less disturbed than wall time on a shared machine. */
function cpuSince(c0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

function bumpAllocator(start: number): RadixPageAllocator {
  let next = start;
  return {
    allocZeroedPage: () => next++,
    freePage: () => undefined,
  };
}

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function randomPfns(): Float64Array {
  const next = rng(SEED);
  const pages = MACHINE / 4096; // 2^28 pages
  const out = new Float64Array(COUNT);
  for (let i = 0; i < COUNT; i++) out[i] = next() % pages;
  return out;
}

function newTree(): { mem: PhysicalMemory; tree: KhoRadixTree } {
  const mem = new PhysicalMemory({ limit: MACHINE * 2 });
  const tree = KhoRadixTree.create(mem, bumpAllocator(NODE_BASE_PFN));
  if (tree === null) throw new Error('root allocation failed');
  return { mem, tree };
}

function insertAll(tree: KhoRadixTree, pfns: Float64Array): number {
  let bad = 0;
  for (let i = 0; i < pfns.length; i++) bad |= tree.add(pfns[i]!, 0);
  return bad;
}

function treeFigures(tree: KhoRadixTree): BenchResult {
  const s = tree.stats();
  const metadata = tree.metadataBytes();
  if (metadata !== s.nodePages * 4096) throw new Error('metadata bytes ≠ node pages × 4096');
  return { blocks: s.blocks, node_pages: s.nodePages, leaf_pages: s.leafPages, metadata_bytes: metadata };
}

function insertEntry(name: string, pfns: () => Float64Array, what: string): BenchEntry {
  return {
    name,
    description: `${COUNT} order-0 kho_radix_add_page at ${what} pages of a 1 TiB machine (seed 0x${SEED.toString(16)}); seconds, ns/add`,
    run: () => {
      const input = pfns();
      const { tree } = newTree();
      globalThis.gc?.();
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const bad = insertAll(tree, input);
      const s = secondsSince(t0);
      const cpu = cpuSince(c0);
      if (bad !== 0) throw new Error(`add failed: ${bad}`);
      return {
        seconds: round(s),
        cpu_seconds: round(cpu),
        ns_per_add: round((s * 1e9) / COUNT, 1),
        ...treeFigures(tree),
        load_avg_1m: load1(),
      };
    },
  };
}

export const entries: BenchEntry[] = [
  insertEntry('tracker.insert_random', randomPfns, 'uniformly random'),
  insertEntry(
    'tracker.insert_seq',
    () => {
      const out = new Float64Array(COUNT);
      for (let i = 0; i < COUNT; i++) out[i] = 0x10_0000 + i; // from 4 GiB up
      return out;
    },
    'consecutive',
  ),
  {
    name: 'tracker.walk',
    description: `full kho_radix_walk_tree of the random ${COUNT}-insert tree, counting callback, ${WALKS} walks (median); the same walk in C (bench/radix-walk.c, gcc -O2) and the ratio, the C walk with an empty callback and the JS callback alone over the same addresses; seconds, ns/block`,
    run: () => {
      const { tree } = newTree();
      if (insertAll(tree, randomPfns()) !== 0) throw new Error('add failed');
      globalThis.gc?.();
      const wall: number[] = [];
      const cpu: number[] = [];
      let count = 0;
      for (let w = 0; w < WALKS; w++) {
        count = 0;
        let sum = 0;
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        const r = tree.walk((phys, order) => {
          count++;
          sum += order;
          return phys < 0 ? 1 : 0;
        });
        wall.push(secondsSince(t0));
        cpu.push(cpuSince(c0));
        if (r !== 0 || sum !== 0) throw new Error(`walk returned ${r}`);
      }
      const figures = treeFigures(tree);
      if (figures['blocks'] !== count)
        throw new Error(`walk saw ${count} blocks, stats ${String(figures['blocks'])}`);
      const addrs = new Float64Array(count);
      let k = 0;
      tree.walk((phys) => {
        addrs[k++] = phys;
        return 0;
      });
      const cbOnly = callbackOnly(addrs);
      const c = cWalk();
      const s = median(wall);
      const cs = median(cpu);
      return {
        seconds: round(s),
        first_walk_seconds: round(wall[0]!),
        cpu_seconds: round(cs),
        ns_per_block: round((s * 1e9) / count, 2),
        walked: count,
        ...figures,
        ...(c === null
          ? { c_reference: 'gcc not found' }
          : {
              c_seconds: round(c.wall),
              c_cpu_seconds: round(c.cpu),
              c_ns_per_block: round((c.wall * 1e9) / c.blocks, 2),
              ratio_to_c: round(s / c.wall, 2),
              cpu_ratio_to_c: round(cs / c.cpu, 2),
              // Why 1.2x is out of reach (docs/bench.md): the C walk costs the same with an
              // empty callback, while the JS counting callback alone takes most of 1.2x.
              c_empty_callback_seconds: round(c.emptyWall),
              js_callback_only_seconds: round(cbOnly),
              js_callback_only_ratio_to_c: round(cbOnly / c.wall, 2),
            }),
        load_avg_1m: load1(),
      };
    },
  },
];
