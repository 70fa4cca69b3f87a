/**
 * Long simulated work that a user can watch and stop. Kernel-side loops that can run for
 * seconds (a `test_kho` preserving tens of gigabytes, a `kexec -e` sanitizing a terabyte, a
 * memory dump, a successor walking millions of preserved blocks) call {@link LongWork.step}
 * every few thousand items, the way kernel code calls `cond_resched()` and checks
 * `signal_pending()`: a raised {@link InterruptFlag} (Ctrl-C) makes `step` return true and the
 * loop unwinds, and after {@link PROGRESS_AFTER_S} seconds the front end's sink receives a
 * progress event every {@link PROGRESS_EVERY_S} seconds. The sink is the front end's business
 * (the shell prints a line on stderr when it is a terminal); the model only reports.
 */
import type { InterruptFlag } from './interrupt.ts';

/** Work shorter than this shows no progress at all. */
export const PROGRESS_AFTER_S = 2;
/** Interval between progress events. */
export const PROGRESS_EVERY_S = 0.25;

/** One progress report. */
export interface ProgressEvent {
  /** What runs, e.g. `test_kho: preserving folios`. */
  label: string;
  /** Amount done so far, in `unit`s. */
  done: number;
  /** Total amount, 0 when unknown. */
  total: number;
  unit: 'bytes' | 'items';
  /** Seconds since the work started. */
  elapsed: number;
  /** True on the last event of a piece of work that reported progress (clear the line). */
  final: boolean;
}

/** Where progress events go (set by a front end; null: nowhere). */
export type ProgressSink = (e: ProgressEvent) => void;

/** A machine's interrupt flag and progress sink, handed to its long work. */
export class WorkMeter {
  readonly interrupt: InterruptFlag;
  /** The front end's progress sink; null shows nothing. */
  sink: ProgressSink | null = null;
  /** Seconds of work before the first progress event, and between events (tests lower them). */
  afterS = PROGRESS_AFTER_S;
  everyS = PROGRESS_EVERY_S;

  constructor(interrupt: InterruptFlag) {
    this.interrupt = interrupt;
  }

  /** Begin a piece of long work of `total` units (0 when unknown). */
  start(label: string, total = 0, unit: ProgressEvent['unit'] = 'items'): LongWork {
    return new LongWork(this, label, total, unit);
  }
}

/** One piece of long work (see the module comment). */
export class LongWork {
  private readonly meter: WorkMeter;
  private readonly label: string;
  private readonly total: number;
  private readonly unit: ProgressEvent['unit'];
  private readonly t0 = performance.now();
  private next: number;
  private shown = false;

  constructor(meter: WorkMeter, label: string, total: number, unit: ProgressEvent['unit']) {
    this.meter = meter;
    this.label = label;
    this.total = total;
    this.unit = unit;
    this.next = this.t0 + meter.afterS * 1000;
  }

  /** True when an interrupt is pending (`signal_pending()`); no progress is reported. */
  pending(): boolean {
    return this.meter.interrupt.pending();
  }

  /**
   * `cond_resched()` + `signal_pending()`: reports progress when due and returns true when the
   * work must stop because an interrupt is pending. `done` is the amount done so far.
   */
  step(done: number): boolean {
    if (this.meter.interrupt.pending()) return true;
    const sink = this.meter.sink;
    if (sink !== null) {
      const t = performance.now();
      if (t >= this.next) {
        this.next = t + this.meter.everyS * 1000;
        this.shown = true;
        sink(this.event(done, t, false));
      }
    }
    return false;
  }

  /** The work ended (done or stopped): a final event when progress was shown. */
  end(done: number): void {
    const sink = this.meter.sink;
    if (this.shown && sink !== null) sink(this.event(done, performance.now(), true));
  }

  private event(done: number, t: number, final: boolean): ProgressEvent {
    return {
      label: this.label,
      done,
      total: this.total,
      unit: this.unit,
      elapsed: (t - this.t0) / 1000,
      final,
    };
  }
}

/** A one-line rendering of a progress event, e.g. `test_kho: preserving 12.0 GiB / 64.0 GiB (19%) 3.1 s`. */
export function formatProgress(e: ProgressEvent): string {
  const amount = (x: number): string => (e.unit === 'bytes' ? formatBytes(x) : String(x));
  const of = e.total > 0 ? ` / ${amount(e.total)} (${Math.floor((100 * e.done) / e.total)}%)` : '';
  const done = e.done > 0 || e.total > 0 ? ` ${amount(e.done)}${of}` : '';
  return `${e.label}:${done} ${e.elapsed.toFixed(1)} s`;
}

/** Bytes as `1.5 GiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]!}`;
}
