/**
 * The typed error of the kexec paths: the errno the syscall would return, plus the process exit
 * code the user-space tool would end with. `kexec_file_load` answers a file that is not a
 * bzImage with -ENOEXEC, which `src/kernel/errno.ts` does not list, hence the local table.
 */

/** Errno numbers (Linux values) the kexec paths return. */
export const KEXEC_ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  ENOEXEC: 8,
  ENOMEM: 12,
  EBUSY: 16,
  EINVAL: 22,
  EADDRNOTAVAIL: 99,
} as const;

/** One of the errno names kexec uses. */
export type KexecErrnoName = keyof typeof KEXEC_ERRNO;

/** A failed kexec operation (load, unload, execute, image parsing). */
export class KexecError extends Error {
  /** Errno name, e.g. `ENOEXEC`. */
  readonly code: KexecErrnoName;
  /** Positive errno number. */
  readonly errno: number;
  /** Exit status of the user-space tool (kexec-tools exits non-zero on any failure). */
  readonly exitCode: number;

  constructor(code: KexecErrnoName, message: string, exitCode = 1) {
    super(message);
    this.name = 'KexecError';
    this.code = code;
    this.errno = KEXEC_ERRNO[code];
    this.exitCode = exitCode;
  }
}

/** `strerror()` text of the errnos above, for kexec-tools-like messages. */
export function strerror(code: KexecErrnoName): string {
  switch (code) {
    case 'EPERM':
      return 'Operation not permitted';
    case 'ENOENT':
      return 'No such file or directory';
    case 'E2BIG':
      return 'Argument list too long';
    case 'ENOEXEC':
      return 'Exec format error';
    case 'ENOMEM':
      return 'Cannot allocate memory';
    case 'EBUSY':
      return 'Device or resource busy';
    case 'EINVAL':
      return 'Invalid argument';
    case 'EADDRNOTAVAIL':
      return 'Cannot assign requested address';
  }
}
