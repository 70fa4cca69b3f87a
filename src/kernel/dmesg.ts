/**
 * The kernel log ring and the kernel's model clock. Timestamps come from the clock, which boot
 * phases and commands advance deterministically, so every run prints the same log (the
 * kernel's `[%5lu.%06lu] ` prefix); messages carry a log level for filtering. The log is also
 * the console a panic is printed on: `panicTimeout` and `onPanic` belong to kernel/panic.c
 * (src/kernel/panic.ts).
 */
import type { KernelPanic } from './panic.ts';

/** printk levels, as in include/linux/kern_levels.h. */
export const LOGLEVEL = {
  emerg: 0,
  alert: 1,
  crit: 2,
  err: 3,
  warn: 4,
  notice: 5,
  info: 6,
  debug: 7,
} as const;

/** A printk level name. */
export type LogLevel = keyof typeof LOGLEVEL;

/** One log record. */
export interface LogRecord {
  /** Simulated time in microseconds since boot. */
  usec: number;
  level: LogLevel;
  text: string;
}

/** A kernel's log: append-only records with a deterministic clock. */
export class Dmesg {
  readonly records: LogRecord[] = [];
  private clockUsec = 0;
  /** `panic_timeout` (`panic=N` once the command line is parsed; CONFIG_PANIC_TIMEOUT is 0). */
  panicTimeout = 0;
  /** What the machine does once a panic is logged (halt or restart); null: nothing. */
  onPanic: ((p: KernelPanic) => void) | null = null;

  /** Advance the model clock (boot steps and commands cost time so the log reads like a real one). */
  tick(usec: number): void {
    this.clockUsec += usec;
  }

  /** Model time since boot, in microseconds. */
  get nowUsec(): number {
    return this.clockUsec;
  }

  /** Log one line (a multi-line text becomes several records, as printk does). */
  log(level: LogLevel, text: string): void {
    for (const line of text.split('\n')) {
      this.records.push({ usec: this.clockUsec, level, text: line });
      this.clockUsec += 7;
    }
  }

  info(text: string): void {
    this.log('info', text);
  }

  warn(text: string): void {
    this.log('warn', text);
  }

  err(text: string): void {
    this.log('err', text);
  }

  /** A WARN_ON-style splat: the kernel prints a warning banner; one line is enough for the model. */
  warnOn(where: string, text: string): void {
    this.log('warn', `WARNING: ${where}: ${text}`);
  }

  /** The `dmesg` text: every record with its timestamp. */
  text(): string {
    return this.records.map((r) => `${formatStamp(r.usec)} ${r.text}\n`).join('');
  }

  /** True when some record contains `needle`. */
  has(needle: string): boolean {
    return this.records.some((r) => r.text.includes(needle));
  }
}

/** The kernel's `[    1.234567]` timestamp for a time in microseconds. */
export function formatStamp(usec: number): string {
  const sec = Math.floor(usec / 1e6);
  const frac = String(usec - sec * 1e6).padStart(6, '0');
  return `[${String(sec).padStart(5, ' ')}.${frac}]`;
}
