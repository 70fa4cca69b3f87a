/**
 * Linux errno values and glibc's `strerror` texts (include/uapi/asm-generic/errno-base.h, errno.h), shared by every layer, and the
 * base error class each layer's typed error extends. Kernel functions return `-errno`; the
 * model's calls either return those numbers or throw an `ErrnoError` carrying the name.
 */

/** errno name → [number, strerror text], Linux x86-64 values. */
const TABLE = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  ESRCH: [3, 'No such process'],
  EINTR: [4, 'Interrupted system call'],
  EIO: [5, 'Input/output error'],
  ENXIO: [6, 'No such device or address'],
  E2BIG: [7, 'Argument list too long'],
  ENOEXEC: [8, 'Exec format error'],
  EBADF: [9, 'Bad file descriptor'],
  ECHILD: [10, 'No child processes'],
  EAGAIN: [11, 'Resource temporarily unavailable'],
  ENOMEM: [12, 'Cannot allocate memory'],
  EACCES: [13, 'Permission denied'],
  EFAULT: [14, 'Bad address'],
  EBUSY: [16, 'Device or resource busy'],
  EEXIST: [17, 'File exists'],
  ENODEV: [19, 'No such device'],
  ENOTDIR: [20, 'Not a directory'],
  EISDIR: [21, 'Is a directory'],
  EINVAL: [22, 'Invalid argument'],
  ENFILE: [23, 'Too many open files in system'],
  EMFILE: [24, 'Too many open files'],
  ENOTTY: [25, 'Inappropriate ioctl for device'],
  ETXTBSY: [26, 'Text file busy'],
  EFBIG: [27, 'File too large'],
  ENOSPC: [28, 'No space left on device'],
  ESPIPE: [29, 'Illegal seek'],
  EROFS: [30, 'Read-only file system'],
  EPIPE: [32, 'Broken pipe'],
  ERANGE: [34, 'Numerical result out of range'],
  ENAMETOOLONG: [36, 'File name too long'],
  ENOTEMPTY: [39, 'Directory not empty'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  ENODATA: [61, 'No data available'],
  EOVERFLOW: [75, 'Value too large for defined data type'],
  EOPNOTSUPP: [95, 'Operation not supported'],
  EADDRNOTAVAIL: [99, 'Cannot assign requested address'],
  EDQUOT: [122, 'Disk quota exceeded'],
} as const;

/** An errno name the model knows. */
export type ErrnoName = keyof typeof TABLE;

/** errno numbers by name, e.g. `ERRNO.EINVAL === 22`. */
export const ERRNO = Object.fromEntries(Object.entries(TABLE).map(([k, v]) => [k, v[0]])) as {
  readonly [K in ErrnoName]: (typeof TABLE)[K][0];
};

const NAME_BY_NUMBER = new Map<number, ErrnoName>(
  (Object.keys(TABLE) as ErrnoName[]).map((name) => [TABLE[name][0], name]),
);

/** The name of a (positive or negative) errno number, or `E<n>` for one the model does not know. */
export function errnoName(n: number): string {
  return NAME_BY_NUMBER.get(Math.abs(n)) ?? `E${Math.abs(n)}`;
}

/** glibc's `strerror()` text for an errno name or a (positive or negative) number. */
export function strerror(code: string | number): string {
  const name = typeof code === 'number' ? NAME_BY_NUMBER.get(Math.abs(code)) : code;
  const entry = name === undefined ? undefined : (TABLE as Record<string, readonly [number, string]>)[name];
  if (entry !== undefined) return entry[1];
  return `Unknown error ${typeof code === 'number' ? Math.abs(code) : code}`;
}

/** An operation failed with an errno: its name and number, and a message for people. */
export class ErrnoError extends Error {
  /** Errno name, e.g. `EINVAL`. */
  readonly code: ErrnoName;
  /** Positive errno number (the C function returns it negated). */
  readonly errno: number;

  constructor(code: ErrnoName, message: string) {
    super(message);
    this.name = 'ErrnoError';
    this.code = code;
    this.errno = TABLE[code][0];
  }
}

/** A kernel call failed with an errno, as the C function would have returned `-errno`. */
export class KernelError extends ErrnoError {
  constructor(code: ErrnoName, detail?: string) {
    super(code, detail === undefined ? code : `${code}: ${detail}`);
    this.name = 'KernelError';
  }
}

/**
 * An error as the kernel's `%pe` prints an `ERR_PTR` (CONFIG_SYMBOLIC_ERRNAME=y): `-EINVAL`,
 * or the bare number for an errno without a name.
 */
export function errPtrText(n: number): string {
  const name = NAME_BY_NUMBER.get(Math.abs(n));
  return name === undefined ? String(-Math.abs(n)) : `-${name}`;
}
