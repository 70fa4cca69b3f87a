/**
 * The typed error of the simulated hardware layer. A bad physical address is what a real
 * machine answers with a machine check or a fault; the model answers with this error, carrying
 * the kernel errno that the nearest kernel path would return (EFAULT for a bad address), so
 * callers can turn it into a kernel-style failure without parsing messages.
 */
import { KernelError } from '../util/errno.ts';

/** One of the errno names the hardware layer uses. */
export type HwErrnoName = 'EFAULT' | 'EINVAL' | 'ERANGE';

/** A failed access to simulated physical memory or a bad machine description. */
export class KhoMemError extends KernelError {
  declare readonly code: HwErrnoName;
  /** The physical address involved, or -1 when the failure is not about an address. */
  readonly addr: number;

  constructor(code: HwErrnoName, addr: number, detail: string) {
    super(code, detail);
    this.name = 'KhoMemError';
    this.addr = addr;
  }
}

/** Printable form of a possibly hostile address (`NaN`, `-1`, `0x…`). */
export function showAddr(addr: unknown): string {
  if (typeof addr === 'number' && Number.isInteger(addr) && addr >= 0) return `0x${addr.toString(16)}`;
  return String(addr);
}
