/**
 * The kexec sanitizer: at the jump, every RAM page that the successor has no right to read is
 * poisoned (reads as 0xaa), so a consumer that relies on memory it did not preserve fails
 * loudly instead of working by luck. Kept: preserved blocks, the tracker pages the successor
 * walks, the KHO FDT page, and every segment destination (kernel, initrd, boot params, the
 * scratch-array copy). Poisoning is lazy (PhysicalMemory's interval list), so untouched memory
 * is never materialised; touched pages that are kept are saved and put back around it.
 *
 * It also reports findings a real kernel would not notice until much later:
 * - `segment-on-preserved`: a segment destination overlaps a preserved block (preserved memory
 *   inside scratch is fair game for the loader and gets overwritten at the jump);
 * - `preserved-in-scratch`: preserved blocks inside a scratch area (at risk as above);
 * - `preserved-freed`: a preserved block whose pages are back in the buddy allocator's free
 *   lists before the jump (its owner freed it without unpreserving);
 * - `tracker`: problems reading the memory map as the successor will.
 */
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import type { Buddy } from '../mm/buddy.ts';
import { POW2 } from '../abi/kho-radix.ts';
import type { PreservedMap } from './preserved-map.ts';
import {
  firstEndingAfter,
  overlapPages,
  pagesAsRanges,
  unionRanges,
  type PfnRanges,
} from '../util/ranges.ts';
import type { KexecSegment } from './segments.ts';

const PAGE = 4096;
/** Up to this many blocks the freed check asks the allocator per block; above, it walks the free lists. */
export const FREED_CHECK_LIMIT = 4096;

/** Kinds of findings. */
export type FindingKind =
  | 'segment-on-preserved'
  | 'preserved-in-scratch'
  | 'preserved-freed'
  | 'tracker'
  | 'no-handover'
  | 'unpreserved-read';

/** One finding of the sanitizer. */
export interface SanitizerFinding {
  kind: FindingKind;
  severity: 'error' | 'warning' | 'info';
  /** Physical address the finding is about (first one), -1 when none. */
  phys: number;
  message: string;
}

/** What the sanitizer did at one jump. */
export interface SanitizerReport {
  findings: SanitizerFinding[];
  /** Preserved blocks and bytes seen in the memory map. */
  preservedBlocks: number;
  preservedBytes: number;
  /** Whether memory was poisoned (sanitize on). */
  poisoned: boolean;
  /** RAM pages poisoned and pages kept (within RAM). */
  poisonedPages: number;
  keptPages: number;
  /** Blocks checked for having been freed (all, or a sample). */
  freedChecked: number;
  /**
   * Page reads in the successor that returned poison, i.e. memory the predecessor did not
   * preserve (page-access tracking; counted until the next jump or cold boot).
   */
  unpreservedReads: number;
}

/** Distinct pages reported one by one as `unpreserved-read` findings; further reads are counted. */
export const UNPRESERVED_READ_REPORT_LIMIT = 64;

/**
 * Page-access tracking after a sanitized jump: a read that returns poison reads a page the
 * predecessor did not preserve, whose content is stale (on real hardware it would silently be
 * whatever the old kernel left). Each distinct page (up to the limit) becomes an error finding
 * in `report` and a dmesg line in the running kernel; lines raised during the successor's early
 * boot, before its log exists, are kept until `flush` is called with it.
 */
export function trackUnpreservedReads(
  mem: PhysicalMemory,
  report: SanitizerReport,
  currentKernel: () => { dmesg: { err(text: string): void } } | null,
): { flush(kernel: { dmesg: { err(text: string): void } }): void } {
  const seen = new Set<number>();
  const pending: string[] = [];
  mem.onPoisonRead = (pfn) => {
    report.unpreservedReads++;
    if (seen.size >= UNPRESERVED_READ_REPORT_LIMIT || seen.has(pfn)) return;
    seen.add(pfn);
    const phys = pfn * PAGE;
    const message = `read of unpreserved memory at 0x${phys.toString(16)}: the page was not preserved by the previous kernel and holds stale (poisoned) data`;
    report.findings.push({ kind: 'unpreserved-read', severity: 'error', phys, message });
    const line = `kexec sanitizer: ${message}`;
    const k = currentKernel();
    if (k === null) pending.push(line);
    else k.dmesg.err(line);
  };
  return {
    flush(kernel) {
      for (const line of pending.splice(0)) kernel.dmesg.err(line);
    },
  };
}

/** Inputs of the findings pass. */
export interface FindingsInput {
  map: PreservedMap | null;
  segments: readonly KexecSegment[];
  scratch: readonly { addr: number; size: number }[];
  buddy: Buddy | null;
}

function hexp(pfn: number): string {
  return `0x${(pfn * PAGE).toString(16)}`;
}

/** The preserved blocks as merged ranges. */
export function preservedRanges(map: PreservedMap | null): PfnRanges {
  if (map === null) return { start: new Float64Array(0), end: new Float64Array(0), count: 0 };
  return unionRanges(map.orders.map((o) => ({ start: o.pfns, count: o.pfns.length, span: POW2[o.order]! })));
}

/** Findings about the hand-over, before anything is written. */
export function findings(
  input: FindingsInput,
  preserved: PfnRanges,
): { list: SanitizerFinding[]; freedChecked: number } {
  const out: SanitizerFinding[] = [];
  const { map } = input;
  const tracker = unionRanges([pagesAsRanges(map?.trackerPfns ?? [])]);
  if (map !== null) {
    for (const p of map.problems) out.push({ kind: 'tracker', severity: 'warning', phys: -1, message: p });
  }
  for (const s of input.segments) {
    const o = overlapPages(preserved, s.dest / PAGE, (s.dest + s.memsz) / PAGE);
    if (o.pages > 0) {
      out.push({
        kind: 'segment-on-preserved',
        severity: 'error',
        phys: o.first * PAGE,
        message: `${s.role} segment [0x${s.dest.toString(16)}-0x${(s.dest + s.memsz - 1).toString(16)}] overwrites ${o.pages} preserved page(s) from ${hexp(o.first)}`,
      });
    }
    // The memory map's own pages are not preserved, but the successor walks them.
    const t = overlapPages(tracker, s.dest / PAGE, (s.dest + s.memsz) / PAGE);
    if (t.pages > 0) {
      out.push({
        kind: 'segment-on-preserved',
        severity: 'error',
        phys: t.first * PAGE,
        message: `${s.role} segment overwrites ${t.pages} page(s) of the preserved-memory map from ${hexp(t.first)}: the successor cannot walk it`,
      });
    }
  }
  for (const a of input.scratch) {
    if (a.size === 0) continue;
    const o = overlapPages(preserved, Math.floor(a.addr / PAGE), Math.ceil((a.addr + a.size) / PAGE));
    if (o.pages > 0) {
      out.push({
        kind: 'preserved-in-scratch',
        severity: 'warning',
        phys: o.first * PAGE,
        message: `${o.pages} preserved page(s) inside scratch [0x${a.addr.toString(16)}-0x${(a.addr + a.size - 1).toString(16)}] from ${hexp(o.first)}: kexec may place segments on them`,
      });
    }
  }
  let freedChecked = 0;
  if (map !== null && input.buddy !== null && map.count > 0) {
    const r = freedPreserved(input.buddy, map, preserved);
    freedChecked = r.checked;
    if (r.pages > 0) {
      out.push({
        kind: 'preserved-freed',
        severity: 'error',
        phys: r.first * PAGE,
        message: `${r.pages} preserved page(s) were freed to the page allocator before kexec, first at ${hexp(r.first)}: the successor will see whatever reuses them`,
      });
    }
  }
  return { list: out, freedChecked };
}

/**
 * Preserved pages that sit in the buddy allocator's free lists. Few blocks: ask `isFree` for the
 * first and last page of each. Many blocks: intersect the allocator's sorted free blocks with
 * the merged preserved ranges (exact, linear in both).
 */
export function freedPreserved(
  buddy: Buddy,
  map: PreservedMap,
  preserved: PfnRanges,
): { pages: number; first: number; checked: number } {
  let pages = 0;
  let first = -1;
  if (map.count <= FREED_CHECK_LIMIT) {
    for (const o of map.orders) {
      const span = POW2[o.order]!;
      for (let i = 0; i < o.pfns.length; i++) {
        const head = o.pfns[i]!;
        const last = head + span - 1;
        if (!buddy.pfnValid(head)) continue;
        const freeHead = buddy.isFree(head);
        const freeLast = last !== head && buddy.pfnValid(last) && buddy.isFree(last);
        if (freeHead || freeLast) {
          pages += span;
          if (first < 0 || (freeHead ? head : last) < first) first = freeHead ? head : last;
        }
      }
    }
    return { pages, first, checked: map.count };
  }
  for (const b of buddy.listFreeBlocks()) {
    const o = overlapPages(preserved, b.pfn, b.pfn + 2 ** b.order);
    if (o.pages > 0) {
      pages += o.pages;
      if (first < 0 || o.first < first) first = o.first;
    }
  }
  return { pages, first, checked: map.count };
}

/**
 * Poison every RAM page outside `keep` (pfn ranges). Returns the RAM pages poisoned and kept.
 * The gaps are poisoned in one pass (`poisonPages`), which drops the touched pages inside them;
 * kept pages are not copied or moved, so memory never grows. `tick` is called now and then
 * (progress).
 */
export function poisonComplement(
  mem: PhysicalMemory,
  ram: readonly { start: number; end: number }[],
  keep: PfnRanges,
  tick: () => void = () => undefined,
): { poisonedPages: number; keptPages: number } {
  const ramPfn = [...ram]
    .sort((a, b) => a.start - b.start)
    .map((r) => ({ s: Math.ceil(r.start / PAGE), e: Math.floor(r.end / PAGE) }));
  let poisoned = 0;
  let keptPages = 0;
  // Gaps: at most one before each kept range and one at the end of each RAM range.
  let starts = new Float64Array(keep.count + ramPfn.length + 1);
  let ends = new Float64Array(keep.count + ramPfn.length + 1);
  let n = 0;
  const gap = (a: number, b: number): void => {
    if (n === starts.length) {
      const s2 = new Float64Array(n * 2);
      const e2 = new Float64Array(n * 2);
      s2.set(starts);
      e2.set(ends);
      starts = s2;
      ends = e2;
      tick();
    }
    starts[n] = a;
    ends[n] = b;
    n++;
    poisoned += b - a;
  };
  for (const r of ramPfn) {
    let cur = r.s;
    for (let k = firstEndingAfter(keep, cur); k < keep.count && keep.start[k]! < r.e; k++) {
      const ks = Math.max(keep.start[k]!, cur);
      if (ks > cur) gap(cur, ks);
      const ke = Math.min(keep.end[k]!, r.e);
      keptPages += ke - ks;
      cur = ke;
    }
    if (cur < r.e) gap(cur, r.e);
  }
  mem.poisonPages(starts, ends, n);
  tick();
  return { poisonedPages: poisoned, keptPages };
}

/** Keep-set of a jump: preserved ranges ∪ tracker pages ∪ extra pages ∪ segment destinations. */
export function keepRanges(
  preserved: PfnRanges,
  map: PreservedMap | null,
  extraPfns: readonly number[],
  segments: readonly KexecSegment[],
): PfnRanges {
  const segs = [...segments].sort((a, b) => a.dest - b.dest);
  const segR = {
    start: segs.map((s) => s.dest / PAGE),
    end: segs.map((s) => (s.dest + s.memsz) / PAGE),
    count: segs.length,
  };
  const extras = [...new Set([...(map?.trackerPfns ?? []), ...extraPfns])].sort((a, b) => a - b);
  return unionRanges([preserved, pagesAsRanges(extras), segR]);
}
