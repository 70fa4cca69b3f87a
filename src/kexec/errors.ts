/**
 * The typed error of the kexec paths: the errno the syscall would return, plus the process exit
 * code the user-space tool would end with. `kexec_file_load` answers a file that is not a
 * bzImage with -ENOEXEC.
 */

import { ErrnoError, strerror as errnoText } from '../util/errno.ts';

/** One of the errno names kexec uses. */
export type KexecErrnoName =
  'EPERM' | 'ENOENT' | 'E2BIG' | 'ENOEXEC' | 'ENOMEM' | 'EBUSY' | 'EINVAL' | 'EADDRNOTAVAIL';

/** A failed kexec operation (load, unload, execute, image parsing). */
export class KexecError extends ErrnoError {
  declare readonly code: KexecErrnoName;
  /** Exit status of the user-space tool (kexec-tools exits non-zero on any failure). */
  readonly exitCode: number;

  constructor(code: KexecErrnoName, message: string, exitCode = 1) {
    super(code, message);
    this.name = 'KexecError';
    this.exitCode = exitCode;
  }
}

/** `strerror()` text of a kexec errno, for kexec-tools-like messages. */
export function strerror(code: KexecErrnoName): string {
  return errnoText(code);
}
