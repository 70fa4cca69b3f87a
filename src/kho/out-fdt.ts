/**
 * The outgoing KHO FDT (kernel/liveupdate/kexec_handover.c: kho_init()) in its preserved page, byte for byte
 * as libfdt leaves it: created with the sequential writer into the 4096-byte page (`fdt_create` …
 * `fdt_finish`, whose memmove leaves the strings' old copy at the page end), then edited in place under
 * `fdt_open_into(fdt, fdt, PAGE_SIZE)` and re-packed after every edit (`fdt_pack`).
 */
import { encodeLe64Prop, KHO_FDT_PROP_COMPATIBLE, KHO_FDT_PROP_MEMORY_MAP } from '../abi/kho-fdt.ts';
import { HDR_TOTALSIZE } from '../fdt/constants.ts';
import { FdtRw } from '../fdt/rw.ts';
import { FdtSw } from '../fdt/sw.ts';
import type { PhysicalMemory } from '../hw/physical-memory.ts';

/** The FDT page size (`PAGE_SIZE`): the whole FDT must fit. */
export const KHO_FDT_PAGE = 4096;

/**
 * The page image `kho_out_fdt_setup()` leaves: root with `compatible` and
 * `preserved-memory-map` (LE64 `memMap`), in a zeroed 4096-byte buffer.
 */
export function buildRootFdtPage(compatible: string, memMap: number): Uint8Array {
  const sw = FdtSw.create(KHO_FDT_PAGE);
  sw.finishReservemap();
  sw.beginNode('');
  sw.propertyString(KHO_FDT_PROP_COMPATIBLE, compatible);
  sw.property(KHO_FDT_PROP_MEMORY_MAP, encodeLe64Prop(memMap));
  sw.endNode();
  sw.finish();
  // The whole working page, as fdt_finish leaves it (its memmove keeps an old copy of the
  // strings at the page end).
  return sw.buffer;
}

/** Write the initial FDT into its page. */
export function createRootFdt(mem: PhysicalMemory, phys: number, compatible: string, memMap: number): void {
  mem.write(phys, buildRootFdtPage(compatible, memMap));
}

/**
 * Run `edit` on the FDT page at `phys` the way KHO does: open in place with room up to the
 * page (sets totalsize to 4096), edit, always `fdt_pack`, write the page back. Returns what
 * `edit` returns. The page must hold a valid, libfdt-ordered blob.
 */
export function editRootFdt<T>(mem: PhysicalMemory, phys: number, edit: (rw: FdtRw) => T): T {
  const rw = FdtRw.openInPlace(mem.read(phys, KHO_FDT_PAGE)); // fdt_open_into(fdt, fdt, PAGE_SIZE)
  try {
    return edit(rw);
  } finally {
    rw.pack();
    mem.write(phys, rw.buffer);
  }
}

/** The current `totalsize` of the FDT at `phys`. */
export function rootFdtSize(mem: PhysicalMemory, phys: number): number {
  const b = mem.read(phys + HDR_TOTALSIZE, 4);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** The current blob (totalsize bytes) at `phys`. */
export function readRootFdt(mem: PhysicalMemory, phys: number): Uint8Array {
  return mem.read(phys, Math.min(rootFdtSize(mem, phys), KHO_FDT_PAGE));
}
