/**
 * The kho-v1 outgoing tracker (v6.16 kernel/kexec_handover.c): preserved blocks are bits in per-order bitmaps
 * of 32768 blocks each, held in kernel memory (xarrays in Linux) and written to the chunk-list ABI
 * only at finalize. Nothing of it crosses a kexec unless finalize serialized it.
 */
import { KHO_V1_BITMAP_BITS } from '../abi/kho-v1-mem-map.ts';

/** What a preserve/unpreserve needs of any tracker (radix or v1). */
export interface PreservedMemTracker {
  /** Record block `(pfn, order)`: 0 or -errno. */
  add(pfn: number, order: number): number;
  /** Forget it: 0 or -errno (the kernel returns void). */
  del(pfn: number, order: number): number;
  /** Is the block recorded? (model helper) */
  has(pfn: number, order: number): boolean;
}

/** Per-order bitmaps, as `struct kho_mem_track` keeps them. */
export class KhoV1Tracker implements PreservedMemTracker {
  /** order → bitmap index → 32768-bit bitmap. */
  readonly orders = new Map<number, Map<number, Uint32Array>>();

  private loc(pfn: number, order: number): { j: number; bit: number } {
    const index = Math.floor(pfn / 2 ** order);
    const j = Math.floor(index / KHO_V1_BITMAP_BITS);
    return { j, bit: index - j * KHO_V1_BITMAP_BITS };
  }

  add(pfn: number, order: number): number {
    if (!Number.isSafeInteger(pfn) || pfn < 0 || !Number.isInteger(order) || order < 0 || order > 40)
      return -22;
    const { j, bit } = this.loc(pfn, order);
    let maps = this.orders.get(order);
    if (maps === undefined) {
      maps = new Map();
      this.orders.set(order, maps);
    }
    let bits = maps.get(j);
    if (bits === undefined) {
      bits = new Uint32Array(KHO_V1_BITMAP_BITS / 32);
      maps.set(j, bits);
    }
    bits[bit >>> 5]! |= 1 << (bit & 31);
    return 0;
  }

  del(pfn: number, order: number): number {
    if (!Number.isSafeInteger(pfn) || pfn < 0 || !Number.isInteger(order) || order < 0 || order > 40)
      return -22;
    const { j, bit } = this.loc(pfn, order);
    const bits = this.orders.get(order)?.get(j);
    // The kernel silently returns when the bitmap does not exist.
    if (bits !== undefined) bits[bit >>> 5]! &= ~(1 << (bit & 31));
    return 0;
  }

  has(pfn: number, order: number): boolean {
    const { j, bit } = this.loc(pfn, order);
    const bits = this.orders.get(order)?.get(j);
    return bits !== undefined && (bits[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  /** Every recorded block, orders ascending then pfn ascending. */
  blocks(): { pfn: number; order: number }[] {
    const out: { pfn: number; order: number }[] = [];
    for (const order of [...this.orders.keys()].sort((a, b) => a - b)) {
      const maps = this.orders.get(order)!;
      for (const j of [...maps.keys()].sort((a, b) => a - b)) {
        const bits = maps.get(j)!;
        for (let w = 0; w < bits.length; w++) {
          let x = bits[w]!;
          while (x !== 0) {
            const t = x & -x;
            x ^= t;
            const index = j * KHO_V1_BITMAP_BITS + w * 32 + (31 - Math.clz32(t));
            out.push({ pfn: index * 2 ** order, order });
          }
        }
      }
    }
    return out;
  }
}
