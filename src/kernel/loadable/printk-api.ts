/**
 * printk for loadable modules (include/linux/printk.h): `printk(k, level, text)` logs as is;
 * `prInfo` and friends put the module's name in front, as `pr_fmt(fmt) KBUILD_MODNAME ": " fmt`
 * does in most drivers. `signalPending` lets a long loop stop on Ctrl-C, as kernel loops poll
 * `signal_pending(current)` and return -EINTR.
 */
import type { LogLevel } from '../dmesg.ts';
import { within, type ModuleKernel } from './handle.ts';

/** printk levels: `emerg` … `debug` (KERN_EMERG … KERN_DEBUG). */
export type { LogLevel };

const LEVELS: ReadonlySet<string> = new Set([
  'emerg',
  'alert',
  'crit',
  'err',
  'warn',
  'notice',
  'info',
  'debug',
]);

/** `printk(KERN_<LEVEL> "text")`: one record per line of `text`. An unknown level logs at `warn`. */
export function printk(k: ModuleKernel, level: LogLevel, text: string): void {
  within(k, printk, (s) => {
    s.kernel.dmesg.log(LEVELS.has(level) ? level : 'warn', text);
  });
}

/** `pr_err()`: `<module>: text` at KERN_ERR. */
export function prErr(k: ModuleKernel, text: string): void {
  within(k, prErr, (s) => {
    s.kernel.dmesg.log('err', `${k.name}: ${text}`);
  });
}

/** `pr_warn()`: `<module>: text` at KERN_WARNING. */
export function prWarn(k: ModuleKernel, text: string): void {
  within(k, prWarn, (s) => {
    s.kernel.dmesg.log('warn', `${k.name}: ${text}`);
  });
}

/** `pr_info()`: `<module>: text` at KERN_INFO. */
export function prInfo(k: ModuleKernel, text: string): void {
  within(k, prInfo, (s) => {
    s.kernel.dmesg.log('info', `${k.name}: ${text}`);
  });
}

/** `pr_debug()`: `<module>: text` at KERN_DEBUG. */
export function prDebug(k: ModuleKernel, text: string): void {
  within(k, prDebug, (s) => {
    s.kernel.dmesg.log('debug', `${k.name}: ${text}`);
  });
}

/** `signal_pending(current)`: Ctrl-C was pressed; a long loop should stop and return -EINTR. */
export function signalPending(k: ModuleKernel): boolean {
  return within(k, signalPending, (s) => s.kernel.machine.interrupt.pending());
}
