/**
 * `kho check` findings about one module, from what the model recorded: the sanitizer's report of
 * each jump, the page history (who allocated, preserved, freed, restored and read each page) and
 * the module's runs (init result, sub-tree calls, leaked JavaScript state).
 */
import { KhoRadixTree } from '../kho/radix-tree.ts';
import { KhoV1Tracker, type PreservedMemTracker } from '../kho/v1-tracker.ts';
import type { Buddy } from '../mm/buddy.ts';
import { formatFrame, type CallerFrame } from '../kernel/loadable/caller.ts';
import type { PageEvent, PageHistory } from '../kernel/loadable/history.ts';
import type { ModuleRun } from '../kernel/loadable/handle.ts';
import { errnoName } from '../util/errno.ts';

const PAGE = 4096;

/** Kinds of findings about a module. */
export type CheckFindingKind =
  | 'init-failed'
  | 'init-threw'
  | 'unpreserved-read'
  | 'preserved-freed'
  | 'restored-twice'
  | 'restore-failed'
  | 'subtree-missing'
  | 'js-state'
  | 'not-restored'
  | 'userspace-failed'
  | 'sanitizer';

/** One finding. */
export interface CheckFinding {
  kind: CheckFindingKind;
  severity: 'error' | 'warning';
  /** Generation (kernel) it was seen in. */
  gen: number;
  /** Physical address it is about, or -1. */
  phys: number;
  /** The module's function involved (`read_message (my.ts:33)`), or null. */
  function: string | null;
  message: string;
  /** The page's history, one line per event, oldest first (empty when unknown). */
  history: string[];
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function fnOf(c: CallerFrame | null): string | null {
  return c === null ? null : formatFrame(c);
}

const VERB: Record<PageEvent['op'], string> = {
  alloc: 'allocated by',
  free: 'freed by',
  preserve: 'preserved by',
  unpreserve: 'unpreserved by',
  restore: 'restored by',
  'restore-failed': 'restore failed (not preserved) in',
  'read-unpreserved': 'read while unpreserved by',
  vmalloc: 'mapped by vmalloc in',
  vfree: 'unmapped by vfree in',
};

/** The history of the page at `pfn` as report lines. */
export function historyLines(h: PageHistory, pfn: number, limit = 12): string[] {
  const ev = h.of(pfn);
  const lines = ev.map((e) => {
    const who = e.caller === null ? e.module : `${formatFrame(e.caller)} [${e.module}]`;
    const part = e.nr === 1 ? '' : `, as part of ${hex(e.pfn * PAGE)} +${e.nr} pages`;
    return `gen ${e.gen}: ${VERB[e.op]} ${who}${part}`;
  });
  if (lines.length <= limit) return lines;
  return [...lines.slice(0, limit / 2), `… ${lines.length - limit} more …`, ...lines.slice(-limit / 2)];
}

/** Merged, sorted pfn ranges `[start, end)`. */
export interface Ranges {
  start: number[];
  end: number[];
}

/** The ranges of some events, merged. */
export function rangesOf(events: readonly { pfn: number; nr: number }[]): Ranges {
  const sorted = [...events].sort((a, b) => a.pfn - b.pfn);
  const r: Ranges = { start: [], end: [] };
  for (const e of sorted) {
    const n = r.end.length;
    if (n > 0 && e.pfn <= r.end[n - 1]!) r.end[n - 1] = Math.max(r.end[n - 1]!, e.pfn + e.nr);
    else {
      r.start.push(e.pfn);
      r.end.push(e.pfn + e.nr);
    }
  }
  return r;
}

/** True when `[pfn, pfn + nr)` overlaps the ranges. */
export function overlaps(r: Ranges, pfn: number, nr: number): boolean {
  let lo = 0;
  let hi = r.end.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r.end[mid]! <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo < r.end.length && r.start[lo]! < pfn + nr;
}

/** The blocks a kernel's tracker holds right now (the v1 bitmaps or the radix tree in memory). */
export function trackedBlocks(tracker: PreservedMemTracker | null): { pfn: number; order: number }[] {
  if (tracker instanceof KhoV1Tracker) return tracker.blocks();
  if (tracker instanceof KhoRadixTree) {
    const c = tracker.collect();
    return Array.from(c.phys, (p, i) => ({ pfn: p / PAGE, order: c.order[i]! }));
  }
  return [];
}

/** Tracked blocks that the module preserved in this generation. */
export function moduleBlocks(
  blocks: readonly { pfn: number; order: number }[],
  mine: Ranges,
): { pfn: number; order: number }[] {
  if (mine.start.length === 0) return [];
  return blocks.filter((b) => overlaps(mine, b.pfn, 2 ** b.order)).sort((a, b) => a.pfn - b.pfn);
}

/** Blocks the module preserved and then freed before the jump (its pages are in the free lists). */
export function freedBlocks(
  buddy: Buddy,
  blocks: readonly { pfn: number; order: number }[],
): { pfn: number; order: number; at: number }[] {
  const out: { pfn: number; order: number; at: number }[] = [];
  for (const b of blocks) {
    const n = 2 ** b.order;
    const step = n > 4096 ? Math.floor(n / 4096) : 1;
    for (let p = b.pfn; p < b.pfn + n; p += step) {
      if (buddy.pfnValid(p) && buddy.isFree(p)) {
        out.push({ ...b, at: p });
        break;
      }
    }
  }
  return out;
}

/**
 * Blocks the module freed (by its page history) after preserving them, without unpreserving
 * them first: caught even when something else has allocated the page again since (LUO's
 * late_initcall does, right after device_initcall modules).
 */
export function freedAfterPreserve(
  events: readonly PageEvent[],
  blocks: readonly { pfn: number; order: number }[],
): { pfn: number; order: number; at: number }[] {
  const out: { pfn: number; order: number; at: number }[] = [];
  for (const b of blocks) {
    const end = b.pfn + 2 ** b.order;
    let preserved = false;
    for (const e of events) {
      if (e.pfn >= end || e.pfn + e.nr <= b.pfn) continue;
      if (e.op === 'preserve' || e.op === 'restore') preserved = e.op === 'preserve';
      else if (e.op === 'unpreserve') preserved = false;
      else if (e.op === 'free' && preserved) {
        out.push({ ...b, at: Math.max(b.pfn, e.pfn) });
        break;
      }
    }
  }
  return out;
}

/** Findings from a module's run in one kernel: init, sub-trees, state. */
export function runFindings(
  run: ModuleRun,
  prev: ModuleRun | null,
  incoming: ReadonlySet<string>,
): CheckFinding[] {
  const out: CheckFinding[] = [];
  const gen = run.gen;
  if (run.threw !== null) {
    out.push({
      kind: 'init-threw',
      severity: 'error',
      gen,
      phys: -1,
      function: fnOf(run.threw.frames[0] ?? null),
      message: `init threw ${run.threw.message}`,
      history: run.threw.frames.map((f) => `at ${formatFrame(f)}`),
    });
  } else if (run.initResult !== null && run.initResult !== 0) {
    out.push({
      kind: 'init-failed',
      severity: 'error',
      gen,
      phys: -1,
      function: null,
      message: `init returned ${run.initResult} (-${errnoName(run.initResult)})`,
      history: [],
    });
  }
  for (const m of run.stateLeaks) {
    out.push({ kind: 'js-state', severity: 'error', gen, phys: -1, function: null, message: m, history: [] });
  }
  if (prev === null) return out;
  const handed = prev.added.filter((a) => a.err === 0 && !prev.removed.includes(a.name));
  for (const a of handed) {
    if (incoming.has(a.name)) continue;
    out.push({
      kind: 'subtree-missing',
      severity: 'error',
      gen,
      phys: -1,
      function: fnOf(a.caller),
      message: `sub-tree '${a.name}' added by ${fnOf(a.caller) ?? run.module} in generation ${prev.gen} is not in the hand-over`,
      history: [],
    });
  }
  for (const r of run.retrieved) {
    if (r.err === 0 || handed.length === 0 || handed.some((a) => a.name === r.name)) continue;
    out.push({
      kind: 'subtree-missing',
      severity: 'error',
      gen,
      phys: -1,
      function: fnOf(r.caller),
      message: `${fnOf(r.caller) ?? run.module} looked for sub-tree '${r.name}' (${errnoName(r.err)}); generation ${prev.gen} handed over ${handed.map((a) => `'${a.name}'`).join(', ')}`,
      history: [],
    });
  }
  return out;
}

/** Findings from the page history of the module in generation `gen` (reads, restores). */
export function historyFindings(h: PageHistory, module: string, gen: number): CheckFinding[] {
  const out: CheckFinding[] = [];
  const seen = new Set<number>();
  const all = h.events;
  for (let i = 0; i < all.length; i++) {
    const e = all[i]!;
    if (e.gen !== gen || e.module !== module) continue;
    if (e.op === 'read-unpreserved') {
      if (seen.has(e.pfn)) continue;
      seen.add(e.pfn);
      const by = fnOf(e.caller) ?? module;
      out.push({
        kind: 'unpreserved-read',
        severity: 'error',
        gen,
        phys: e.pfn * PAGE,
        function: fnOf(e.caller),
        message: `${by} read ${hex(e.pfn * PAGE)}, a page the previous kernel did not preserve (its content is stale)`,
        history: historyLines(h, e.pfn),
      });
    } else if (e.op === 'restore-failed') {
      const earlier = all
        .slice(0, i)
        .find((x) => x.gen === gen && x.op === 'restore' && x.pfn <= e.pfn && e.pfn < x.pfn + x.nr);
      const by = fnOf(e.caller) ?? module;
      out.push({
        kind: earlier === undefined ? 'restore-failed' : 'restored-twice',
        severity: 'error',
        gen,
        phys: e.pfn * PAGE,
        function: fnOf(e.caller),
        message:
          earlier === undefined
            ? `${by} tried to restore ${hex(e.pfn * PAGE)}, which the previous kernel did not preserve`
            : `${by} restored ${hex(e.pfn * PAGE)} a second time (first by ${fnOf(earlier.caller) ?? earlier.module})`,
        history: historyLines(h, e.pfn),
      });
    }
  }
  return out;
}
