/**
 * The KHO handover ABI versions (`KHO_FDT_COMPATIBLE`, include/linux/kho/abi/kexec_handover.h): what the root
 * FDT `compatible` string says about the rest of the handover. Producer and consumer must use the same
 * version; there is no negotiation (kernel/liveupdate/kexec_handover.c: kho_populate()).
 */

/** A root FDT compatible string of KHO. */
export type KhoCompatible = 'kho-v1' | 'kho-v2' | 'kho-v3' | 'kho-v4';

/** The facts a decoder or a simulated kernel needs about one ABI version. */
export interface KhoAbiVersion {
  /** Root `compatible` string, e.g. `kho-v4`. */
  readonly compatible: KhoCompatible;
  /** Version number (1..4). */
  readonly version: number;
  /**
   * Format of the block behind `preserved-memory-map`: v1 a `khoser_mem_chunk` list with per-order
   * bitmaps (v6.16 kernel/kexec_handover.c), v2+ the 6-level radix tree (docs/radix.md).
   */
  readonly memoryMap: 'chunks' | 'radix';
  /** Sub-node property that holds the blob's physical address: `fdt` (v1) or `preserved-data`. */
  readonly subtreeDataProp: 'fdt' | 'preserved-data';
  /** Whether sub-nodes carry `blob-size` (LE64) (v3+). In v1 the size is the sub-FDT's totalsize. */
  readonly hasBlobSize: boolean;
  /** Whether the outgoing side has the debugfs `finalize` step (v1 only). */
  readonly hasFinalize: boolean;
  /**
   * Whether every kernel registers the `kexec-metadata` sub-tree. Arrived together with
   * `blob-size` (its `blob-size` is 73) **(unverified which release)**.
   */
  readonly hasKexecMetadata: boolean;
}

/** All versions, oldest first. */
export const KHO_ABI_VERSIONS: readonly KhoAbiVersion[] = [
  {
    compatible: 'kho-v1',
    version: 1,
    memoryMap: 'chunks',
    subtreeDataProp: 'fdt',
    hasBlobSize: false,
    hasFinalize: true,
    hasKexecMetadata: false,
  },
  {
    compatible: 'kho-v2',
    version: 2,
    memoryMap: 'radix',
    subtreeDataProp: 'preserved-data',
    hasBlobSize: false,
    hasFinalize: false,
    hasKexecMetadata: false,
  },
  {
    compatible: 'kho-v3',
    version: 3,
    memoryMap: 'radix',
    subtreeDataProp: 'preserved-data',
    hasBlobSize: true,
    hasFinalize: false,
    hasKexecMetadata: true,
  },
  {
    compatible: 'kho-v4',
    version: 4,
    memoryMap: 'radix',
    subtreeDataProp: 'preserved-data',
    hasBlobSize: true,
    hasFinalize: false,
    hasKexecMetadata: true,
  },
];

/** The baseline version a simulated kernel uses unless its release profile says otherwise. */
export const KHO_ABI_DEFAULT: KhoAbiVersion = KHO_ABI_VERSIONS[3]!;

/** The version for a compatible string, or null when it is not a KHO version. */
export function khoAbiVersion(compatible: string): KhoAbiVersion | null {
  return KHO_ABI_VERSIONS.find((v) => v.compatible === compatible) ?? null;
}

/**
 * The version named by a root `compatible` property value (a NUL-separated string list, as
 * libfdt's `fdt_stringlist_contains` reads it): the first KHO version in the list, or null.
 */
export function khoAbiVersionOfList(compatibles: readonly string[]): KhoAbiVersion | null {
  for (const c of compatibles) {
    const v = khoAbiVersion(c);
    if (v !== null) return v;
  }
  return null;
}
