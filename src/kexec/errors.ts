/**
 * The typed error of the kexec paths: the errno the syscall would return, plus the process exit
 * code the user-space tool would end with. `kexec_file_load` answers a file that is not a
 * bzImage with -ENOEXEC.
 */

import { ErrnoError, strerror as errnoText, type ErrnoName } from '../util/errno.ts';

/** An errno name kexec returns (any: `kexec -e` also returns what LUO's reboot path returns). */
export type KexecErrnoName = ErrnoName;

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
