/**
 * Walking a KHO radix tree (kernel/liveupdate/kexec_handover.c: kho_radix_walk_tree()) from nothing but
 * `(memory, rootPhys)`, as the successor kernel does in `kho_memory_init()`: every node is read from
 * simulated physical memory, so a tree written by a predecessor (or a hostile blob) can be walked without any
 * JS state of the kernel that built it.
 *
 * Memory is untrusted here. Node pointers that are unaligned, beyond the memory limit or
 * beyond 2^53, pages reached twice (cycles, shared subtrees), poisoned pages, keys with no valid
 * order and blocks beyond the 52-bit physical address space are reported through `onProblem`
 * and skipped; the walk goes on with the rest and finally returns -EFAULT. Each page is
 * processed at most once and `maxNodes` caps the pages visited, so the work is bounded by the
 * memory actually present.
 */
import { KHO_BITMAP_BITS, POW2 } from '../abi/kho-radix.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import { ERRNO } from '../util/errno.ts';

/** Errno numbers returned (negated) by the tracker: the shared table (src/util/errno.ts). */
export const RADIX_ERRNO = ERRNO;

/** What the tracker needs of physical memory (a {@link PhysicalMemory} or a stand-in). */
export type RadixMemory = Pick<PhysicalMemory, 'page' | 'peekPage' | 'isPoisoned' | 'maxPfn'>;

/** Walk callback: `(phys, order)`; a non-zero result stops the walk and is returned. */
export type RadixWalkCallback = (phys: number, order: number) => number;

/** Kinds of problems a walk over untrusted memory reports. */
export type RadixProblemKind =
  | 'unaligned' // a node pointer that is not page-aligned
  | 'out-of-range' // a node pointer beyond the memory limit
  | 'revisit' // a page reached a second time (cycle or shared node)
  | 'poisoned' // a node page that reads as poison (not preserved, overwritten)
  | 'bad-key' // a tree position whose key has no valid order (root entry ≥ 4, leaf bit 0 of key 0)
  | 'block-range' // blocks that end beyond 2^52
  | 'budget'; // more node pages than `maxNodes`: the walk stops

/** One problem found while walking. */
export interface RadixProblem {
  kind: RadixProblemKind;
  /** Level of the node holding the bad entry (5 = root … 1), 0 for a leaf, 6 for the root pointer. */
  level: number;
  /** Physical address of that node (-1 for the root pointer). */
  node: number;
  /** Entry index (levels 1..5) or first bit (leaf), -1 when not about one entry. */
  index: number;
  /** Human-readable, kernel-log-like description. */
  message: string;
}

/** Options of a walk over memory. */
export interface RadixWalkOptions {
  /** Node pointers must be below this (default: the memory's size). */
  limit?: number;
  /** Most node pages visited, root included (default 2^22, 16 GiB of nodes). */
  maxNodes?: number;
  /** Told about each problem; the walk skips the bad part and goes on. */
  onProblem?: (p: RadixProblem) => void;
  /** Told about each node page entered (root, intermediate and leaf), with its level (5..0). */
  onNode?: (phys: number, level: number) => void;
  /**
   * Asked before each leaf (`signal_pending()` for long walks); true stops the walk, which then
   * returns -EINTR.
   */
  stop?: () => boolean;
}

/** Receives each leaf: its physical address, its key prefix (`key >> 15`) and its words. */
export type RadixLeafVisitor = (leafPhys: number, prefix: number, words: Uint32Array) => number;

/** Blocks must end at or below this: the 52-bit physical address space. */
const PHYS_END = 0x10_0000_0000_0000;
const DEFAULT_MAX_NODES = 1 << 22;
const TWO32 = 0x1_0000_0000;

function hexHalves(hi: number, lo: number): string {
  return hi === 0 ? `0x${lo.toString(16)}` : `0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`;
}

/** Traversal state shared by the recursive node visit. */
interface VisitState {
  mem: RadixMemory;
  limitPfn: number;
  maxNodes: number;
  nodes: number;
  seen: Set<number>;
  problems: number;
  onProblem: ((p: RadixProblem) => void) | undefined;
  onNode: ((phys: number, level: number) => void) | undefined;
  leaf: RadixLeafVisitor;
  stopped: boolean;
  stop: (() => boolean) | undefined;
  interrupted: boolean;
}

/** Read through a call: recursion may have set the flag (TypeScript cannot see that). */
function isStopped(st: VisitState): boolean {
  return st.stopped;
}

function problem(st: VisitState, p: RadixProblem): void {
  st.problems++;
  if (st.onProblem !== undefined) st.onProblem(p);
}

/**
 * Reads a node page after the checks; returns its words, `null` for a never-written page
 * (reads as zeros: an empty node), or `undefined` when it must be skipped.
 */
function enter(
  st: VisitState,
  pfn: number,
  level: number,
  from: number,
  index: number,
): Uint32Array | null | undefined {
  if (st.seen.has(pfn)) {
    problem(st, {
      kind: 'revisit',
      level: level + 1,
      node: from,
      index,
      message: `page 0x${(pfn * 4096).toString(16)} reached again (cycle or shared node), skipped`,
    });
    return undefined;
  }
  if (st.nodes >= st.maxNodes) {
    problem(st, {
      kind: 'budget',
      level: level + 1,
      node: from,
      index,
      message: `more than ${st.maxNodes} node pages: walk stopped`,
    });
    st.stopped = true;
    return undefined;
  }
  st.seen.add(pfn);
  st.nodes++;
  if (st.onNode !== undefined) st.onNode(pfn * 4096, level);
  const words = st.mem.peekPage(pfn);
  if (words === null && st.mem.isPoisoned(pfn)) {
    problem(st, {
      kind: 'poisoned',
      level,
      node: pfn * 4096,
      index: -1,
      message: `level-${level} node at 0x${(pfn * 4096).toString(16)} reads as poison, skipped`,
    });
    return undefined;
  }
  return words;
}

/** Checks one non-zero entry; returns the child pfn or -1 (problem reported). */
function childPfn(
  st: VisitState,
  hi: number,
  lo: number,
  level: number,
  node: number,
  index: number,
): number {
  if ((lo & 0xfff) !== 0) {
    problem(st, {
      kind: 'unaligned',
      level,
      node,
      index,
      message: `level-${level} node 0x${node.toString(16)} entry ${index}: ${hexHalves(hi, lo)} is not page-aligned`,
    });
    return -1;
  }
  // hi < 2^20 keeps the pfn below 2^40 (exact, and below any memory limit check overflow).
  const pfn = hi < 0x10_0000 ? hi * 0x10_0000 + (lo >>> 12) : -1;
  if (pfn < 0 || pfn >= st.limitPfn) {
    problem(st, {
      kind: 'out-of-range',
      level,
      node,
      index,
      message: `level-${level} node 0x${node.toString(16)} entry ${index}: ${hexHalves(hi, lo)} is beyond the memory limit`,
    });
    return -1;
  }
  return pfn;
}

function visitNode(
  st: VisitState,
  words: Uint32Array,
  level: number,
  nodePhys: number,
  prefix: number,
): number {
  const top = level === 5 ? 4 : 512; // root entries ≥ 4 give keys ≥ 2^53
  for (let i = 0; i < 512; i++) {
    const lo = words[2 * i]!;
    const hi = words[2 * i + 1]!;
    if ((lo | hi) === 0) continue;
    if (i >= top) {
      problem(st, {
        kind: 'bad-key',
        level,
        node: nodePhys,
        index: i,
        message: `root entry ${i} is set but its keys are ≥ 2^53 (no valid order), skipped`,
      });
      continue;
    }
    const pfn = childPfn(st, hi, lo, level, nodePhys, i);
    if (pfn < 0) continue;
    const child = enter(st, pfn, level - 1, nodePhys, i);
    if (st.stopped) return 0;
    if (child === undefined || child === null) continue;
    const p = prefix * 512 + i;
    if (level === 1 && st.stop !== undefined && st.stop()) {
      st.interrupted = true;
      st.stopped = true;
      return 0;
    }
    const r = level === 1 ? st.leaf(pfn * 4096, p, child) : visitNode(st, child, level - 1, pfn * 4096, p);
    if (r !== 0) return r;
    if (isStopped(st)) return 0;
  }
  return 0;
}

/**
 * Visits every leaf of the tree rooted at `rootPhys` in ascending key order, reading only
 * memory. Returns 0, the first non-zero visitor result, -EINVAL for a zero root, -EINTR when `opts.stop` stopped it, or -EFAULT
 * when problems were found (after visiting everything that was sound).
 */
export function visitRadixLeaves(
  mem: RadixMemory,
  rootPhys: number,
  leaf: RadixLeafVisitor,
  opts: RadixWalkOptions = {},
): number {
  const limit = Math.min(opts.limit ?? mem.maxPfn * 4096, mem.maxPfn * 4096);
  const st: VisitState = {
    mem,
    limitPfn: Math.floor(limit / 4096),
    maxNodes: opts.maxNodes ?? DEFAULT_MAX_NODES,
    nodes: 0,
    seen: new Set(),
    problems: 0,
    onProblem: opts.onProblem,
    onNode: opts.onNode,
    leaf,
    stopped: false,
    stop: opts.stop,
    interrupted: false,
  };
  if (rootPhys === 0) return -RADIX_ERRNO.EINVAL;
  if (typeof rootPhys !== 'number' || !Number.isSafeInteger(rootPhys) || rootPhys < 0) {
    problem(st, {
      kind: 'out-of-range',
      level: 6,
      node: -1,
      index: -1,
      message: `root ${String(rootPhys)} is not a physical address`,
    });
    return -RADIX_ERRNO.EFAULT;
  }
  const lo = rootPhys >>> 0;
  const pfn = childPfn(st, (rootPhys - lo) / TWO32, lo, 6, -1, -1);
  if (pfn < 0) return -RADIX_ERRNO.EFAULT;
  const root = enter(st, pfn, 5, -1, -1);
  if (root === undefined) return -RADIX_ERRNO.EFAULT;
  const r = root === null ? 0 : visitNode(st, root, 5, rootPhys, 0);
  if (r !== 0) return r;
  if (st.interrupted) return -RADIX_ERRNO.EINTR;
  return st.problems === 0 ? 0 : -RADIX_ERRNO.EFAULT;
}

/** Index (1-based) of the highest set bit of a prefix below 2^38. */
function flsPrefix(p: number): number {
  return p >= TWO32 ? 64 - Math.clz32(Math.floor(p / TWO32)) : 32 - Math.clz32(p);
}

/**
 * The leaf of keys 0..32767 (prefix 0) holds orders 38..52, one order bit per key: decoded bit
 * by bit (rare: only blocks of 1 PiB and more live there).
 */
function walkLowLeaf(
  words: Uint32Array,
  leafPhys: number,
  cb: RadixWalkCallback,
  report: (p: RadixProblem) => void,
): number {
  let beyond = 0;
  let first = -1;
  for (let w = 0; w < 1024; w++) {
    let x = words[w]!;
    while (x !== 0) {
      const t = x & -x;
      x ^= t;
      const bit = (w << 5) | (31 - Math.clz32(t));
      if (bit === 0) {
        report({
          kind: 'bad-key',
          level: 0,
          node: leafPhys,
          index: 0,
          message: 'key 0 is set (no valid order)',
        });
        continue;
      }
      const fls = 32 - Math.clz32(bit);
      const order = 53 - fls;
      const blk = POW2[12 + order]!;
      const phys = (bit - POW2[52 - order]!) * blk;
      if (phys + blk > PHYS_END) {
        beyond++;
        if (first < 0) first = bit;
        continue;
      }
      const r = cb(phys, order);
      if (r !== 0) return r;
    }
  }
  if (beyond !== 0) {
    report({
      kind: 'block-range',
      level: 0,
      node: leafPhys,
      index: first,
      message: `${beyond} block(s) of order > 40 end beyond 2^52, skipped`,
    });
  }
  return 0;
}

/**
 * The hot loop of a walk: one callback per set bit of a leaf whose keys all have `order`.
 * Top-level (not a per-walk closure) so V8 keeps one feedback vector and can inline `cb`.
 *
 * Shaped for V8 (each point measured with Node 24): words are scanned in 64-bit pairs (the ABI's
 * own word size), taking the lowest bit of the low half while it has bits, else of the high
 * half, without a branch, so the unpredictable "word exhausted" loop exit happens once per
 * 64 bits instead of once per 32; `| 0` keeps the words int32 (a Uint32Array value above
 * 2^31 would otherwise turn the loop's variables into doubles); the parameters are converted
 * once (`* 1`, `| 0`) because TurboFan re-checks a parameter's type at every use inside a loop.
 */
function walkLeafBits(
  words: Uint32Array,
  base: number,
  blk: number,
  order: number,
  cb: RadixWalkCallback,
): number {
  const b0 = base * 1;
  const bk = blk * 1;
  const ord = order | 0;
  for (let w = 0; w < 1024; w += 2) {
    let lo = words[w]! | 0;
    let hi = words[w + 1]! | 0;
    if ((lo | hi) === 0) continue;
    const wbase = b0 + w * 32 * bk;
    do {
      const mlo = (lo | -lo) >> 31; // -1 while the low half has bits, else 0
      const nlo = ~mlo;
      const z = lo | (hi & nlo); // the half whose lowest bit is next
      const t = z & -z;
      lo &= lo - 1; // stays 0 once empty
      hi ^= t & nlo;
      const r = cb(wbase + (31 - Math.clz32(t) + (32 & nlo)) * bk, ord);
      if (r !== 0) return r;
    } while ((lo | hi) !== 0);
  }
  return 0;
}

/**
 * Walks the tree rooted at `rootPhys` (as `kho_radix_walk_tree()`) reading only `mem`: `cb(phys, order)` for
 * each set bit, in strictly ascending key order (highest orders first, then ascending address).
 * Returns 0, the first non-zero `cb` result, -EINVAL for a zero root, -EINTR when `opts.stop`
 * stopped it, or -EFAULT when problems were found (reported through `opts.onProblem`,
 * everything sound still walked).
 */
export function walkRadixTree(
  mem: RadixMemory,
  rootPhys: number,
  cb: RadixWalkCallback,
  opts: RadixWalkOptions = {},
): number {
  let problems = 0;
  const onProblem = opts.onProblem;
  const report = (p: RadixProblem): void => {
    problems++;
    if (onProblem !== undefined) onProblem(p);
  };
  const leaf: RadixLeafVisitor = (leafPhys, prefix, words) => {
    if (prefix === 0) return walkLowLeaf(words, leafPhys, cb, report);
    // Every key of this leaf has the same order bit, inside the prefix.
    const order = 38 - flsPrefix(prefix);
    const blk = POW2[12 + order]!;
    const firstIndex = prefix * KHO_BITMAP_BITS - POW2[52 - order]!;
    const base = firstIndex * blk;
    if ((firstIndex + KHO_BITMAP_BITS) * blk > PHYS_END) return leafBeyond(words, leafPhys, base, blk, order);
    return walkLeafBits(words, base, blk, order, cb);
  };
  // Slow path for a leaf that straddles 2^52 (only from hostile memory).
  const leafBeyond = (
    words: Uint32Array,
    leafPhys: number,
    base: number,
    blk: number,
    order: number,
  ): number => {
    let beyond = 0;
    let first = -1;
    for (let w = 0; w < 1024; w++) {
      let x = words[w]!;
      while (x !== 0) {
        const t = x & -x;
        x ^= t;
        const bit = (w << 5) | (31 - Math.clz32(t));
        const phys = base + bit * blk;
        if (phys + blk > PHYS_END) {
          beyond++;
          if (first < 0) first = bit;
          continue;
        }
        const r = cb(phys, order);
        if (r !== 0) return r;
      }
    }
    if (beyond !== 0) {
      report({
        kind: 'block-range',
        level: 0,
        node: leafPhys,
        index: first,
        message: `${beyond} order-${order} block(s) end beyond 2^52, skipped`,
      });
    }
    return 0;
  };
  const r = visitRadixLeaves(mem, rootPhys, leaf, { ...opts, onProblem: report });
  if (r !== 0) return r;
  return problems === 0 ? 0 : -RADIX_ERRNO.EFAULT;
}
