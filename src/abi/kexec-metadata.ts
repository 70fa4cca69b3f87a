/**
 * `struct kho_kexec_metadata` (include/linux/kho/abi/kexec_metadata.h): the blob of
 * the `kexec-metadata` sub-tree every KHO kernel registers. Packed, 73 bytes, little-endian:
 *
 * | off | size | field |
 * |-----|------|-------|
 * | 0   | 4    | `version` (u32) = 1 |
 * | 4   | 65   | `previous_release`: NUL-terminated `uname -r` of the writer |
 * | 69  | 4    | `kexec_count` (u32): kexecs since the last cold boot |
 */
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult } from './errors.ts';
import { getU32, putU32, viewOf } from './bytes.ts';

/** Sub-tree name. */
export const KHO_KEXEC_METADATA_NAME = 'kexec-metadata';
/** `KHO_KEXEC_METADATA_VERSION`. */
export const KHO_KEXEC_METADATA_VERSION = 1;
/** `__NEW_UTS_LEN + 1`: bytes of the release field. */
export const KEXEC_METADATA_RELEASE_SIZE = 65;
/** `sizeof(struct kho_kexec_metadata)` and the `blob-size` of its sub-tree. */
export const KEXEC_METADATA_SIZE = 73;
/** Offset of `kexec_count`. */
export const KEXEC_METADATA_COUNT_OFFSET = 69;

/** The decoded metadata. */
export interface KexecMetadata {
  /** Layout version (1). */
  version: number;
  /** Release string of the kernel that wrote it. */
  previousRelease: string;
  /** Number of kexecs since the last cold boot, counting the one that wrote it. */
  kexecCount: number;
}

/** Encode the 73-byte blob; the release is cut to 64 bytes so its NUL fits (like `strscpy`). */
export function encodeKexecMetadata(m: KexecMetadata): Uint8Array {
  const b = new Uint8Array(KEXEC_METADATA_SIZE);
  const v = viewOf(b);
  putU32(v, 0, m.version, 'kho_kexec_metadata', 'version');
  const rel = new TextEncoder().encode(m.previousRelease).subarray(0, KEXEC_METADATA_RELEASE_SIZE - 1);
  b.set(rel, 4);
  putU32(v, KEXEC_METADATA_COUNT_OFFSET, m.kexecCount, 'kho_kexec_metadata', 'kexec_count');
  return b;
}

/**
 * Decode with the successor's checks, in its order: fewer than 4 bytes → TRUNCATED; version not 1
 * → BAD_VERSION; fewer than 73 bytes → TRUNCATED. The release is read up to its NUL (at most 64
 * bytes when the NUL is missing, as `strscpy` would copy).
 */
export function decodeKexecMetadata(b: Uint8Array): AbiResult<KexecMetadata> {
  return decodeWith(() => {
    const version = getU32(b, 0, 'kho_kexec_metadata', 'version');
    if (version !== KHO_KEXEC_METADATA_VERSION) {
      throw new AbiError('BAD_VERSION', 'kho_kexec_metadata', 0, `version ${version}, expected 1`);
    }
    const kexecCount = getU32(b, KEXEC_METADATA_COUNT_OFFSET, 'kho_kexec_metadata', 'kexec_count');
    const field = b.subarray(4, 4 + KEXEC_METADATA_RELEASE_SIZE);
    let end = field.indexOf(0);
    if (end < 0) end = KEXEC_METADATA_RELEASE_SIZE - 1;
    const previousRelease = new TextDecoder('utf-8', { fatal: false }).decode(field.subarray(0, end));
    return { version, previousRelease, kexecCount };
  });
}
