/**
 * `panic()` (kernel/panic.c): the console gets `Kernel panic - not syncing: <reason>`, the x86
 * `Kernel Offset:` notifier line (arch/x86/kernel/setup.c: dump_kernel_offset(), no KASLR in
 * the model), then, depending on `panic_timeout` (`panic=N`, CONFIG_PANIC_TIMEOUT 0):
 * N > 0 waits N seconds of model time after `Rebooting in N seconds..` and restarts;
 * N < 0 restarts at once; N = 0 prints `---[ end Kernel panic - not syncing: <reason> ]---` and
 * halts. The machine that runs the kernel registers itself on the kernel's log
 * (`Dmesg.onPanic`) and does the halting or the cold restart (`emergency_restart()`).
 *
 * Code anywhere in a kernel calls {@link panic} with that kernel's log; it never returns. The
 * thrown {@link KernelPanic} unwinds the panicking kernel's stack: code must not catch it (a
 * catch-all must rethrow it).
 */
import type { Dmesg } from './dmesg.ts';

/** A kernel panicked; `handled` once the machine halted or restarted. */
export class KernelPanic extends Error {
  /** The panic text (without the `Kernel panic - not syncing: ` prefix). */
  readonly reason: string;
  /** The log of the kernel that panicked, up to and including the panic lines. */
  readonly dmesg: Dmesg;
  /** True once {@link panicTail} ran (the machine halted or restarted). */
  handled = false;
  /** `panic_timeout` at the panic (0: halted; otherwise the machine restarted). */
  timeout = 0;

  constructor(reason: string, dmesg: Dmesg) {
    super(`Kernel panic - not syncing: ${reason}`);
    this.name = 'KernelPanic';
    this.reason = reason;
    this.dmesg = dmesg;
  }
}

/**
 * Log the panic line and the notifier line (once per panic), then the tail that depends on
 * `panic_timeout`, and mark the panic handled. Idempotent; used by {@link panic} and by the
 * machine for a `KernelPanic` thrown without it.
 */
export function panicTail(p: KernelPanic): void {
  if (p.handled) return;
  p.handled = true;
  const d = p.dmesg;
  if (!d.records.some((r) => r.level === 'emerg' && r.text === p.message)) {
    d.log('emerg', p.message);
    d.log('emerg', 'Kernel Offset: disabled');
  }
  p.timeout = d.panicTimeout;
  if (p.timeout > 0) {
    d.log('emerg', `Rebooting in ${p.timeout} seconds..`);
    d.tick(p.timeout * 1_000_000);
  } else if (p.timeout === 0) {
    d.log('emerg', `---[ end Kernel panic - not syncing: ${p.reason} ]---`);
  }
}

/**
 * `panic(fmt, ...)`: log, let the machine halt or restart, and unwind. A trailing newline of
 * `reason` is dropped as the kernel does.
 */
export function panic(dmesg: Dmesg, reason: string): never {
  const r = reason.endsWith('\n') ? reason.slice(0, -1) : reason;
  const p = new KernelPanic(r, dmesg);
  dmesg.log('emerg', p.message);
  dmesg.log('emerg', 'Kernel Offset: disabled');
  panicTail(p);
  dmesg.onPanic?.(p);
  throw p;
}
