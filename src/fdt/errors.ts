/**
 * libfdt's error codes, by name and number, and the typed error every FDT operation throws.
 * The numbers are libfdt's (`libfdt.h`), so a message reads the same as a C tool's.
 */
export const FDT_ERRORS = {
  FDT_ERR_NOTFOUND: 1,
  FDT_ERR_EXISTS: 2,
  FDT_ERR_NOSPACE: 3,
  FDT_ERR_BADOFFSET: 4,
  FDT_ERR_BADPATH: 5,
  FDT_ERR_BADPHANDLE: 6,
  FDT_ERR_BADSTATE: 7,
  FDT_ERR_TRUNCATED: 8,
  FDT_ERR_BADMAGIC: 9,
  FDT_ERR_BADVERSION: 10,
  FDT_ERR_BADSTRUCTURE: 11,
  FDT_ERR_BADLAYOUT: 12,
  FDT_ERR_INTERNAL: 13,
  FDT_ERR_BADNCELLS: 14,
  FDT_ERR_BADVALUE: 15,
  FDT_ERR_BADOVERLAY: 16,
  FDT_ERR_NOPHANDLES: 17,
  FDT_ERR_BADFLAGS: 18,
  FDT_ERR_ALIGNMENT: 19,
} as const;

/** One of libfdt's error names. */
export type FdtErrorName = keyof typeof FDT_ERRORS;

/** An FDT failure: libfdt's error name, its number, and the byte offset where it was found. */
export class FdtError extends Error {
  /** libfdt's error name, e.g. `FDT_ERR_BADMAGIC`. */
  readonly code: FdtErrorName;
  /** libfdt's positive error number (C functions return it negated). */
  readonly errno: number;
  /** Byte offset in the blob where the problem was detected (-1 when not tied to a place). */
  readonly offset: number;

  constructor(code: FdtErrorName, offset: number, detail: string) {
    super(`${code} at offset ${offset}: ${detail}`);
    this.name = 'FdtError';
    this.code = code;
    this.errno = FDT_ERRORS[code];
    this.offset = offset;
  }
}
