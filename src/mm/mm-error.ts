/**
 * The typed error of the memory-management layer: a `KernelError` (src/util/errno.ts) limited to
 * the errnos mm calls fail with, so callers can catch either class.
 */
import { KernelError } from '../util/errno.ts';

/** One of the errno names the mm layer uses. */
export type MmErrnoName =
  'ENOMEM' | 'EFAULT' | 'EBUSY' | 'EEXIST' | 'EINVAL' | 'ENOSPC' | 'ERANGE' | 'EOPNOTSUPP';

/** A memory-management call failed the kernel way (the C function would return `-errno`). */
export class MmError extends KernelError {
  declare readonly code: MmErrnoName;

  constructor(code: MmErrnoName, detail: string) {
    super(code, detail);
    this.name = 'MmError';
  }
}

/** Largest physical address + 1 the model handles: x86-64 MAXPHYADDR, 2^52. */
export const PHYS_ADDR_MAX = 0x10_0000_0000_0000;

/** Printable form of a possibly hostile number. */
export function show(x: unknown): string {
  if (typeof x === 'number' && Number.isInteger(x) && x >= 0) return `0x${x.toString(16)}`;
  return String(x);
}

/** Throws EINVAL unless `x` is an integer in `[0, max]`. */
export function checkU(name: string, x: unknown, max: number = PHYS_ADDR_MAX): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) {
    throw new MmError('EINVAL', `${name} ${show(x)} is not an integer in [0, ${show(max)}]`);
  }
  return x;
}
