/**
 * The devicetree hand-over of KHO (arm64 and other DT platforms: drivers/of/kexec.c: kho_add_chosen(),
 * drivers/of/fdt.c: early_init_dt_check_kho()): two `/chosen`
 * properties, each one address/size pair in big-endian cells sized by the root
 * `#address-cells`/`#size-cells`:
 *
 * - `linux,kho-fdt = <fdt_phys PAGE_SIZE>`
 * - `linux,kho-scratch = <array_phys array_bytes>`
 *
 * Early boot ignores a property whose length is not exactly `(address_cells + size_cells) × 4`.
 */
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult } from './errors.ts';
import { checkRange, viewOf } from './bytes.ts';

/** `/chosen` property with the KHO root FDT address and size. */
export const CHOSEN_KHO_FDT = 'linux,kho-fdt';
/** `/chosen` property with the scratch array address and size. */
export const CHOSEN_KHO_SCRATCH = 'linux,kho-scratch';

/** An address/size pair. */
export interface RegPair {
  addr: number;
  size: number;
}

function checkCells(cells: number, what: string): void {
  if (cells !== 1 && cells !== 2) {
    throw new AbiError('BAD_VALUE', 'dt-chosen', -1, `${what} = ${cells}; only 1 or 2 cells are supported`);
  }
}

function putCells(v: DataView, off: number, x: number, cells: number, field: string): void {
  checkRange(x, cells === 1 ? 0xffff_ffff : Number.MAX_SAFE_INTEGER, 'dt-chosen', field);
  if (cells === 2) {
    v.setUint32(off, Math.floor(x / 0x1_0000_0000), false);
    v.setUint32(off + 4, x >>> 0, false);
  } else {
    v.setUint32(off, x, false);
  }
}

/** Encode `<addr size>` with the given cell counts (1 or 2 each). */
export function encodeRegPair(p: RegPair, addressCells = 2, sizeCells = 2): Uint8Array {
  checkCells(addressCells, '#address-cells');
  checkCells(sizeCells, '#size-cells');
  const b = new Uint8Array((addressCells + sizeCells) * 4);
  const v = viewOf(b);
  putCells(v, 0, p.addr, addressCells, 'addr');
  putCells(v, addressCells * 4, p.size, sizeCells, 'size');
  return b;
}

function getCells(v: DataView, off: number, cells: number, field: string): number {
  if (cells === 1) return v.getUint32(off, false);
  const hi = v.getUint32(off, false);
  const lo = v.getUint32(off + 4, false);
  if (hi >= 0x20_0000) throw new AbiError('TOO_BIG', 'dt-chosen', off, `${field} does not fit in 53 bits`);
  return hi * 0x1_0000_0000 + lo;
}

/** Decode `<addr size>`; the length must be exactly `(addressCells + sizeCells) × 4`. */
export function decodeRegPair(value: Uint8Array, addressCells = 2, sizeCells = 2): AbiResult<RegPair> {
  return decodeWith(() => {
    checkCells(addressCells, '#address-cells');
    checkCells(sizeCells, '#size-cells');
    const want = (addressCells + sizeCells) * 4;
    if (value.length !== want) {
      throw new AbiError('BAD_LENGTH', 'dt-chosen', 0, `must be ${want} bytes, is ${value.length}`);
    }
    const v = viewOf(value);
    return {
      addr: getCells(v, 0, addressCells, 'addr'),
      size: getCells(v, addressCells * 4, sizeCells, 'size'),
    };
  });
}
