/**
 * Linux errno values (spec §0.3) and the typed error that kernel-side calls throw when the
 * kernel would return a negative errno. Functions that return an errno in the kernel may
 * instead return `-ERRNO` numbers; both forms name the same constants.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EOPNOTSUPP: 95,
  EADDRNOTAVAIL: 99,
} as const;

/** One of the errno names the model uses. */
export type ErrnoName = keyof typeof ERRNO;

const BY_NUMBER = new Map<number, ErrnoName>(
  Object.entries(ERRNO).map(([name, n]) => [n, name as ErrnoName]),
);

/** The name of a (positive or negative) errno number, or `E<n>` for one the model does not know. */
export function errnoName(n: number): string {
  return BY_NUMBER.get(Math.abs(n)) ?? `E${Math.abs(n)}`;
}

/** A kernel call failed with an errno, as the C function would have returned `-errno`. */
export class KernelError extends Error {
  /** Errno name, e.g. `EINVAL`. */
  readonly code: ErrnoName;
  /** Positive errno number. */
  readonly errno: number;

  constructor(code: ErrnoName, detail?: string) {
    super(detail === undefined ? code : `${code}: ${detail}`);
    this.name = 'KernelError';
    this.code = code;
    this.errno = ERRNO[code];
  }
}
