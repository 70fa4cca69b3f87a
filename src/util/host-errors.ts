/**
 * Host-side failures (files the `kho` command reads or writes on the host) as Unix tools print
 * them: `PATH: No such file or directory`, glibc's strerror text, never a Node error code
 * (`ENOENT: no such file or directory, open 'x'`) or a Node-internal `ERR_…` message.
 */
import { strerror } from './errno.ts';

/** A host file operation failed; `message` is the whole line after the command's prefix. */
export class HostIoError extends Error {
  /** The path as the user gave it (`-` for stdin). */
  readonly path: string;
  /** The errno name when the OS reported one (`ENOENT`), else null. */
  readonly code: string | null;

  constructor(path: string, text: string, code: string | null = null) {
    super(`${path}: ${text}`);
    this.name = 'HostIoError';
    this.path = path;
    this.code = code;
  }
}

/** The `code` of a Node system error, when there is one. */
export function errorCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}

/**
 * The strerror text of a host error: glibc's wording for errno names, and a plain reason for the
 * few Node argument checks a path can trip (a NUL byte in a file name: `Invalid argument`, as
 * the system call would say if a C string could carry it).
 */
export function hostErrorText(err: unknown): string {
  const code = errorCode(err);
  if (code !== null && /^E[A-Z0-9]+$/.test(code)) {
    const text = strerror(code);
    if (!text.startsWith('Unknown error')) return text;
    // libuv's text for errnos the table lacks: "EXYZ: some reason, syscall 'path'".
    const m = err instanceof Error ? /^E[A-Z0-9]+: ([^,]+)/.exec(err.message) : null;
    if (m !== null) return m[1]!.charAt(0).toUpperCase() + m[1]!.slice(1);
    return text;
  }
  if (code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_INVALID_ARG_TYPE') return strerror('EINVAL');
  if (
    err instanceof RangeError &&
    /allocation failed|Invalid (array|typed array|string) length/i.test(err.message)
  )
    return strerror('ENOMEM');
  return strerror('EIO');
}

/** A {@link HostIoError} for `path` from whatever a Node fs call threw. */
export function hostIoError(path: string, err: unknown): HostIoError {
  if (err instanceof HostIoError) return err;
  return new HostIoError(path, hostErrorText(err), errorCode(err));
}

/** A failed file operation, carrying the errno name the message is built from. */
export class FsError extends Error {
  readonly code: string;

  constructor(code: string, detail?: string) {
    super(detail ?? strerror(code));
    this.name = 'FsError';
    this.code = code;
  }
}

/** The errno name of a Node `fs` error (ENOENT, EACCES, ...), or EIO. */
export function nodeErrCode(err: unknown): string {
  return errorCode(err) ?? 'EIO';
}
