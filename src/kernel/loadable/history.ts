/**
 * Page history: what loadable modules did to each physical page, across kernels (allocated,
 * preserved, freed, restored, read while unpreserved), so that a finding can say who allocated,
 * preserved and freed the page it is about. This is the model's diagnostic record, kept by the
 * machine like the sanitizer's reports: no kernel reads it, so it does not break the rule that
 * nothing but memory crosses a kexec.
 *
 * Events are ranges (a folio of order 9 is one event); lookups scan, which is fine for the
 * thousands of events a module makes per generation. The record is capped so that a runaway
 * module cannot grow it without bound.
 */
import type { Kernel } from '../kernel.ts';
import type { Machine } from '../machine.ts';
import type { CallerFrame } from './caller.ts';

/** What happened to a page range. */
export type PageOp =
  | 'alloc'
  | 'free'
  | 'preserve'
  | 'unpreserve'
  | 'restore'
  | 'restore-failed'
  | 'read-unpreserved'
  | 'vmalloc'
  | 'vfree';

/** One recorded operation. */
export interface PageEvent {
  /** The kernel it happened in: its boot number on the machine ({@link kernelSeq}). */
  gen: number;
  op: PageOp;
  /** First pfn and number of pages. */
  pfn: number;
  nr: number;
  /** The module whose call it was. */
  module: string;
  /** The module's innermost frame, when known. */
  caller: CallerFrame | null;
}

/** Events kept per machine before recording stops (a note says so). */
export const PAGE_HISTORY_LIMIT = 500_000;

/** The history of one machine. */
export class PageHistory {
  readonly events: PageEvent[] = [];
  /** True once the limit was reached (later events are not recorded). */
  truncated = false;

  /** Record one event. */
  record(e: PageEvent): void {
    if (this.events.length >= PAGE_HISTORY_LIMIT) {
      this.truncated = true;
      return;
    }
    this.events.push(e);
  }

  /** Events that touch `pfn`, oldest first. */
  of(pfn: number): PageEvent[] {
    return this.events.filter((e) => pfn >= e.pfn && pfn < e.pfn + e.nr);
  }

  /** Events of one module in one generation. */
  ofModule(module: string, gen: number): PageEvent[] {
    return this.events.filter((e) => e.module === module && e.gen === gen);
  }

  /** True when some event of `module` touches a page in `[pfn, pfn + nr)`. */
  touches(module: string, pfn: number, nr = 1): boolean {
    return this.events.some((e) => e.module === module && e.pfn < pfn + nr && pfn < e.pfn + e.nr);
  }
}

const HISTORIES = new WeakMap<Machine, PageHistory>();

/** The page history of `machine` (created on first use). */
export function pageHistory(machine: Machine): PageHistory {
  let h = HISTORIES.get(machine);
  if (h === undefined) {
    h = new PageHistory();
    HISTORIES.set(machine, h);
  }
  return h;
}

const SEQ = new WeakMap<Kernel, number>();
const NEXT = new WeakMap<Machine, number>();

/**
 * The kernel's boot number on its machine: 0 for the first kernel, then one more for each
 * kernel after it (kexec or reboot). Unlike the kexec count it needs no kexec-metadata, which
 * kho-v1 and kho-v2 kernels do not hand over.
 */
export function kernelSeq(kernel: Kernel): number {
  let n = SEQ.get(kernel);
  if (n === undefined) {
    n = NEXT.get(kernel.machine) ?? 0;
    NEXT.set(kernel.machine, n + 1);
    SEQ.set(kernel, n);
  }
  return n;
}
