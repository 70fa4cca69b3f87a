/**
 * The typed error of the memory-management layer. It mirrors `KernelError` (src/kernel/errno.ts)
 * field for field (`code`, `errno`), but lives here because `mm/` sits below `kernel/` and must
 * not import from it. Callers can treat both alike: `err.code` is the errno name.
 */

/** Errno numbers (Linux values, spec §0.3) that mm calls fail with. */
export const MM_ERRNO = {
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EOPNOTSUPP: 95,
} as const;

/** One of the errno names the mm layer uses. */
export type MmErrnoName = keyof typeof MM_ERRNO;

/** A memory-management call failed the kernel way (the C function would return `-errno`). */
export class MmError extends Error {
  /** Errno name, e.g. `EINVAL`. */
  readonly code: MmErrnoName;
  /** Positive errno number. */
  readonly errno: number;

  constructor(code: MmErrnoName, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'MmError';
    this.code = code;
    this.errno = MM_ERRNO[code];
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
