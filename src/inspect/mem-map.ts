/**
 * Decoding the memory map behind `preserved-memory-map` from a memory image: the kho-v1 chunk
 * list with per-order bitmaps (through the ABI walker) or the kho-v2+ radix tree
 * (docs/radix.md, through the model's standalone walker). Every problem becomes a finding; the work is
 * bounded by the pages in the image, a node budget and a block budget.
 */
import { AbiError } from '../abi/errors.ts';
import {
  decodeKhoV1Chunk,
  KHO_V1_BITMAP_BITS,
  KHO_V1_CHUNK_SIZE,
  walkKhoV1MemMap,
} from '../abi/kho-v1-mem-map.ts';
import { POW2 } from '../abi/kho-radix.ts';
import { walkRadixTree } from '../kho/radix-walk.ts';
import type { RadixProblem } from '../kho/radix-walk.ts';
import type { FindingCode, Findings } from './findings.ts';
import { hexAddr } from './findings.ts';
import { radixMemoryOf } from './memory-image.ts';
import type { MemoryImage } from './memory-image.ts';
import { MAX_BLOCK_ORDER, PreservedSet } from './preserved-set.ts';

/** What kind of tracker page: radix node (level 5..1), radix leaf (level 0), v1 chunk or bitmap. */
export type TrackerKind = 'radix-node' | 'radix-leaf' | 'v1-chunk' | 'v1-bitmap';

/** One page of the tracker itself (not preserved; the successor frees it after the walk). */
export interface TrackerPage {
  phys: number;
  kind: TrackerKind;
  /** Radix level (5 = root … 0 = leaf); for v1 the chunk's order. */
  level: number;
}

/** Limits of a decode. */
export interface MemMapLimits {
  /** Most tracker pages visited (radix nodes, v1 chunks + bitmaps). */
  maxNodes: number;
  /** Most blocks collected; the walk stops beyond (finding `too-many-blocks`). */
  maxBlocks: number;
  /** Most tracker pages kept in the list (all are counted). */
  maxTrackerList: number;
}

export const DEFAULT_LIMITS: MemMapLimits = {
  maxNodes: 1 << 22,
  maxBlocks: 1 << 25,
  maxTrackerList: 1 << 20,
};

/** The decoded memory map. */
export interface MemMapResult {
  set: PreservedSet;
  tracker: TrackerPage[];
  /** Tracker pages per kind (all of them, even past the list cap). */
  trackerCounts: Record<TrackerKind, number>;
  /** False when the walk stopped early (budget, fatal list error). */
  complete: boolean;
}

function newResult(): MemMapResult {
  return {
    set: new PreservedSet(),
    tracker: [],
    trackerCounts: { 'radix-node': 0, 'radix-leaf': 0, 'v1-chunk': 0, 'v1-bitmap': 0 },
    complete: true,
  };
}

function addTracker(r: MemMapResult, lim: MemMapLimits, page: TrackerPage): void {
  r.trackerCounts[page.kind]++;
  if (r.tracker.length < lim.maxTrackerList) r.tracker.push(page);
}

const RADIX_CODES: Record<RadixProblem['kind'], FindingCode> = {
  unaligned: 'ptr-unaligned',
  'out-of-range': 'ptr-out-of-range',
  revisit: 'cycle',
  poisoned: 'ptr-outside-image',
  'bad-key': 'bad-key',
  'block-range': 'bad-key',
  budget: 'walk-budget',
};

/** Walk a radix tree (kho-v2 … v4) rooted at `root` in the image. */
export function decodeRadix(
  img: MemoryImage,
  root: number,
  findings: Findings,
  lim: MemMapLimits = DEFAULT_LIMITS,
): MemMapResult {
  const r = newResult();
  if (!img.has(root)) {
    findings.add(
      'ptr-outside-image',
      `radix root ${hexAddr(root)} is not in the memory image`,
      hexAddr(root),
    );
    r.complete = false;
    return r;
  }
  const STOP = 1;
  const rc = walkRadixTree(
    radixMemoryOf(img),
    root,
    (phys, order) => {
      if (r.set.count >= lim.maxBlocks) {
        findings.add(
          'too-many-blocks',
          `more than ${lim.maxBlocks} preserved blocks: walk stopped (raise --max-blocks)`,
          hexAddr(phys),
        );
        r.complete = false;
        return STOP;
      }
      r.set.add(phys, order);
      return 0;
    },
    {
      maxNodes: lim.maxNodes,
      onNode: (phys, level) => {
        addTracker(r, lim, { phys, kind: level === 0 ? 'radix-leaf' : 'radix-node', level });
        if (!img.has(phys)) {
          findings.add(
            'ptr-outside-image',
            `level-${level} radix node ${hexAddr(phys)} is not in the memory image (read as empty)`,
            hexAddr(phys),
          );
          r.complete = false;
        }
      },
      onProblem: (p) => {
        if (p.kind === 'budget') r.complete = false;
        const at = p.node >= 0 ? `${hexAddr(p.node)}[${p.index}]` : hexAddr(root);
        findings.add(RADIX_CODES[p.kind], p.message, at);
      },
    },
  );
  if (rc === STOP) r.complete = false;
  return r;
}

/**
 * A reader that refuses to read a page twice (a shared bitmap or chunk: corrupt or hostile) and
 * stops after `maxNodes` pages, so a walk costs at most one read per page of the image.
 */
function onceReader(
  img: MemoryImage,
  maxNodes: number,
): { read: (phys: number, len: number) => Uint8Array | null; state: { repeat: number; budget: boolean } } {
  const seen = new Set<number>();
  const state = { repeat: -1, budget: false };
  const read = (phys: number, len: number): Uint8Array | null => {
    if (seen.has(phys)) {
      state.repeat = phys;
      return null;
    }
    if (seen.size >= maxNodes) {
      state.budget = true;
      return null;
    }
    seen.add(phys);
    return img.read(phys, len);
  };
  return { read, state };
}

/** Walk a kho-v1 chunk list starting at `head` (0 = nothing preserved). */
export function decodeV1(
  img: MemoryImage,
  head: number,
  findings: Findings,
  lim: MemMapLimits = DEFAULT_LIMITS,
): MemMapResult {
  const r = newResult();
  if (head === 0) return r;
  listV1Tracker(img, head, r, findings, lim);
  const { read, state } = onceReader(img, lim.maxNodes);
  const stop = { blocks: false };
  const res = walkKhoV1MemMap(head, read, {
    maxChunks: Math.min(65536, lim.maxNodes),
    onBlock: (phys, order) => {
      if (r.set.count >= lim.maxBlocks) {
        stop.blocks = true;
        throw new AbiError('TOO_LONG', 'khoser_mem_chunk', phys, 'block budget');
      }
      const size = POW2[12 + order]!;
      if (Math.floor(phys / size) * size !== phys) {
        findings.add(
          'misaligned-block',
          `order-${order} block ${hexAddr(phys)} is not aligned to its size ${hexAddr(size)}`,
          hexAddr(phys),
        );
      }
      r.set.add(phys, order);
    },
  });
  if (res.ok) return r;
  r.complete = false;
  const e = res.error;
  const at = e.offset >= 0 ? hexAddr(e.offset) : '-';
  if (stop.blocks) {
    findings.add('too-many-blocks', `more than ${lim.maxBlocks} preserved blocks: walk stopped`, at);
  } else if (state.budget) {
    findings.add('walk-budget', `more than ${lim.maxNodes} chunk and bitmap pages: walk stopped`, at);
  } else if (state.repeat >= 0) {
    findings.add(
      'cycle',
      `page ${hexAddr(state.repeat)} is used twice by the chunk list (shared bitmap or loop): walk stopped`,
      hexAddr(state.repeat),
    );
  } else if (e.code === 'UNREADABLE') {
    findings.add('ptr-outside-image', `${e.structure} at ${at} is not in the memory image`, at);
  } else if (e.code === 'CYCLE') {
    findings.add('cycle', e.message, at);
  } else if (e.code === 'TOO_LONG') {
    findings.add('walk-budget', e.message, at);
  } else if (e.code === 'TOO_BIG') {
    findings.add('bad-key', e.message, at);
  } else {
    findings.add('v1-chunk', e.message, at);
  }
  return r;
}

/** List the chunk and bitmap pages of a v1 map (bounded; problems are left to the walk). */
function listV1Tracker(
  img: MemoryImage,
  head: number,
  r: MemMapResult,
  findings: Findings,
  lim: MemMapLimits,
): void {
  const seen = new Set<number>();
  let at = head;
  while (at !== 0 && !seen.has(at) && seen.size < Math.min(65536, lim.maxNodes)) {
    seen.add(at);
    const bytes = img.read(at, KHO_V1_CHUNK_SIZE);
    if (bytes === null) return;
    const c = decodeKhoV1Chunk(bytes);
    if (!c.ok) return;
    const { order, bitmaps, next } = c.value;
    addTracker(r, lim, { phys: at, kind: 'v1-chunk', level: order });
    if (at % 4096 !== 0)
      findings.add('ptr-unaligned', `chunk ${hexAddr(at)} is not page-aligned`, hexAddr(at));
    const cover = order <= MAX_BLOCK_ORDER ? KHO_V1_BITMAP_BITS * POW2[12 + order]! : 0;
    for (const e of bitmaps) {
      addTracker(r, lim, { phys: e.bitmap, kind: 'v1-bitmap', level: order });
      if (cover !== 0 && Math.floor(e.physStart / cover) * cover !== e.physStart) {
        findings.add(
          'v1-bitmap-start',
          `order-${order} bitmap ${hexAddr(e.bitmap)}: phys_start ${hexAddr(e.physStart)} is not a multiple of ${hexAddr(cover)}`,
          hexAddr(at),
        );
      }
    }
    at = next;
  }
}
