/**
 * Page contents for the consumer modules: a fast deterministic filler and a 32-bit checksum
 * over physical pages (lib/test_kho.c: "any deterministic 32-bit checksum works, as long as both
 * kernels use the same one"). Both work on whole 4 KiB pages through `PhysicalMemory.page()`
 * (word views), so 8 MiB fills and verifies in milliseconds. The checksum is FNV-1a over
 * little-endian words: position dependent, so swapped pages are caught too.
 */
import type { PhysicalMemory } from '../../hw/physical-memory.ts';

const WORDS = 1024;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The checksum's starting value. */
export const CSUM_INIT = FNV_OFFSET;

/**
 * Fill `nr` pages from `pfn` with xorshift32 words seeded by `seed` (any 32-bit value; 0 is
 * remapped). The same seed always gives the same bytes.
 */
export function fillPages(mem: PhysicalMemory, pfn: number, nr: number, seed: number): void {
  let x = (seed ^ 0x6b686f21) >>> 0;
  if (x === 0) x = 0x9e3779b9;
  for (let p = 0; p < nr; p++) {
    const w = mem.page(pfn + p);
    for (let i = 0; i < WORDS; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      w[i] = x;
    }
  }
}

/** Fold `nr` pages from `pfn` into the running checksum `h` (start with {@link CSUM_INIT}). */
export function csumPages(mem: PhysicalMemory, pfn: number, nr: number, h: number = CSUM_INIT): number {
  for (let p = 0; p < nr; p++) {
    const w = mem.page(pfn + p);
    for (let i = 0; i < WORDS; i++) h = Math.imul(h ^ w[i]!, FNV_PRIME);
  }
  return h >>> 0;
}

/** The checksum of a byte string (lengths that are not a multiple of 4 are zero-padded). */
export function csumBytes(b: Uint8Array, h: number = CSUM_INIT): number {
  const n = Math.floor(b.length / 4);
  for (let i = 0; i < n; i++) {
    const j = i * 4;
    h = Math.imul(h ^ (b[j]! | (b[j + 1]! << 8) | (b[j + 2]! << 16) | (b[j + 3]! << 24)), FNV_PRIME);
  }
  if (n * 4 < b.length) {
    let w = 0;
    for (let j = n * 4; j < b.length; j++) w |= b[j]! << ((j - n * 4) * 8);
    h = Math.imul(h ^ w, FNV_PRIME);
  }
  return h >>> 0;
}

/** A 32-bit seed from a [0, 1) generator. */
export function seed32(rng: () => number): number {
  return Math.floor(rng() * 0x1_0000_0000) >>> 0;
}
