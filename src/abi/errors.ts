/**
 * The error and result types of every ABI decoder. Decoders never throw on bad bytes: they return
 * `{ ok: false, error }` with an {@link AbiError} naming the structure, the field and the byte
 * offset, so the inspector can report hostile input and the model can turn it into an errno.
 */

/** What went wrong while decoding. */
export type AbiErrorCode =
  /** Fewer bytes than the structure needs. */
  | 'TRUNCATED'
  /** A length that must be exact is not (e.g. an FDT property that must be 8 bytes). */
  | 'BAD_LENGTH'
  /** A field holds a value the ABI does not allow. */
  | 'BAD_VALUE'
  /** A magic or type number does not match. */
  | 'BAD_MAGIC'
  /** A version field names a version this decoder does not know. */
  | 'BAD_VERSION'
  /** A 64-bit value does not fit in 53 bits, so it cannot be a physical address or size here. */
  | 'TOO_BIG'
  /** The memory reader could not supply the bytes at a physical address. */
  | 'UNREADABLE'
  /** A linked list points back to an element already visited. */
  | 'CYCLE'
  /** A linked list is longer than the ABI's limit. */
  | 'TOO_LONG';

/** A decoding failure with its place. */
export class AbiError extends Error {
  readonly code: AbiErrorCode;
  /** The structure being decoded, e.g. `kho_scratch`. */
  readonly structure: string;
  /** Byte offset within the input (or physical address for list walks); -1 when not tied to one. */
  readonly offset: number;

  constructor(code: AbiErrorCode, structure: string, offset: number, detail: string) {
    super(`${structure}: ${code} at ${offset < 0 ? '-' : `0x${offset.toString(16)}`}: ${detail}`);
    this.name = 'AbiError';
    this.code = code;
    this.structure = structure;
    this.offset = offset;
  }
}

/** The result of a decoder. */
export type AbiResult<T> = { ok: true; value: T } | { ok: false; error: AbiError };

/** Run a decoder body that may throw {@link AbiError}; turn that into a failed result. */
export function decodeWith<T>(body: () => T): AbiResult<T> {
  try {
    return { ok: true, value: body() };
  } catch (e) {
    if (e instanceof AbiError) return { ok: false, error: e };
    throw e;
  }
}

/** The value of a successful result; throws the {@link AbiError} of a failed one. */
export function unwrap<T>(r: AbiResult<T>): T {
  if (r.ok) return r.value;
  throw r.error;
}

/**
 * Reads `len` bytes of physical memory at `phys`, or returns null when they are not available
 * (outside the image, never written, …). Decoders of linked structures take one of these.
 */
export type PhysReader = (phys: number, len: number) => Uint8Array | null;
