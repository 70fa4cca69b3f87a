/**
 * The plain, in-memory form of a devicetree: what the reader produces, what the DTS printer,
 * JSON form and builder consume. It carries no offsets; the blob is the byte-exact form.
 */

/** A property: its name and raw value bytes (FDT values are opaque bytes). */
export interface FdtProperty {
  name: string;
  value: Uint8Array;
}

/** A node: its name as stored (with unit address, empty for the root), properties and children in blob order. */
export interface FdtNode {
  name: string;
  props: FdtProperty[];
  children: FdtNode[];
}

/** A memory reservation entry; BigInt because firmware blobs may use the full 64 bits. */
export interface FdtReserveEntry {
  address: bigint;
  size: bigint;
}

/** A whole devicetree with its header facts. */
export interface FdtTree {
  /** Header `version` (16 or 17 when read; 17 when written). */
  version: number;
  /** Header `last_comp_version`. */
  lastCompVersion: number;
  /** Header `boot_cpuid_phys` (0 unless set). */
  bootCpuidPhys: number;
  memreserve: FdtReserveEntry[];
  root: FdtNode;
}

/** A version-17 tree with `root` (and optional memory reservations), as writers produce it. */
export function fdtTree(root: FdtNode, memreserve: FdtReserveEntry[] = []): FdtTree {
  return { version: 17, lastCompVersion: 16, bootCpuidPhys: 0, memreserve, root };
}
