/**
 * The stamp the successor writes into `page->private` of the head page of every preserved block
 * (`union kho_page_info`, written by kho_memory_init()): low 32 bits the block order, high 32 bits the magic
 * `KHO_PAGE_MAGIC` ("KHOP"). Restore accepts a page only when the magic is there. The 64-bit value
 * does not fit in a JS number, so it travels as two 32-bit halves.
 */

/** `KHO_PAGE_MAGIC`: "KHOP". */
export const KHO_PAGE_MAGIC = 0x4b484f50;

/** `page->private` of a preserved block head, as its two halves. */
export interface KhoPageInfo {
  /** Low 32 bits: the order. */
  lo: number;
  /** High 32 bits: the magic. */
  hi: number;
}

/** The stamp for a block of `order`. */
export function khoPageInfo(order: number): KhoPageInfo {
  return { lo: order >>> 0, hi: KHO_PAGE_MAGIC };
}

/** The order recorded in a `page->private` value, or null when the magic is missing. */
export function khoPageOrder(lo: number, hi: number): number | null {
  return hi >>> 0 === KHO_PAGE_MAGIC ? lo >>> 0 : null;
}

/** The 8 little-endian bytes of the stamp (as `unsigned long` in memory). */
export function encodeKhoPageInfo(order: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, order >>> 0, true);
  v.setUint32(4, KHO_PAGE_MAGIC, true);
  return b;
}
