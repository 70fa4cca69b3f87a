/**
 * The kernel's Internet checksum arithmetic as x86-64 computes it
 * (arch/x86/lib/csum-partial_64.c: `csum_partial()`, `csum_finalize_sum()`;
 * include/net/checksum.h: `csum_add()`).
 *
 * `csum_partial(buf, len, sum)` adds the buffer's little-endian 64-bit words (the tail
 * zero-padded) to `sum` with end-around carry and folds the 64-bit total to 32 bits, again with
 * end-around carry. Because 2^32 ≡ 1 modulo 2^32 − 1, the result is the sum of the buffer's
 * little-endian 32-bit words plus `sum`, modulo 2^32 − 1, with one rule for the representative:
 * 0 only when `sum` is 0 and every byte is 0, otherwise a value in [1, 2^32 − 1]. The unfolded
 * 32-bit value differs between architectures (lib/checksum.c folds to 16 bits first); the
 * simulated machines are x86-64, so this is the x86-64 value.
 */

/** 2^32 − 1: ones'-complement sums of 32-bit words are residues modulo this. */
export const CSUM_MOD = 0xffff_ffff;
const TWO32 = 0x1_0000_0000;

/** `csum_add(a, b)`: 32-bit addition with end-around carry. */
export function csumAdd(a: number, b: number): number {
  const s = a + b;
  return s >= TWO32 ? s - CSUM_MOD : s;
}

/**
 * The value `csum_partial(buf, len, 0)` returns for data whose 32-bit word sum is `residue`
 * (modulo 2^32 − 1, in [0, 2^32 − 2]) and which holds a non-zero byte (`nonzero`) or not.
 */
export function csumOfResidue(residue: number, nonzero: boolean): number {
  if (!nonzero) return 0;
  return residue === 0 ? CSUM_MOD : residue;
}

/** `x mod (2^32 − 1)` for a non-negative integer below 2^53. */
export function modM(x: number): number {
  return x % CSUM_MOD;
}

/**
 * Multiply a residue modulo 2^32 − 1 by 256^k (k in 0..3): a left rotation of its 32 bits by
 * 8k. This moves a word sum between byte alignments (the bytes at address a weigh 256^(a mod 4)).
 */
export function residueShl8(residue: number, k: number): number {
  const s = (k & 3) * 8;
  if (s === 0) return residue;
  return ((residue << s) | (residue >>> (32 - s))) >>> 0;
}

/** The residue of the 32-bit little-endian words of `b` (tail zero-padded), and whether any byte is non-zero. */
export function wordResidue(b: Uint8Array): { residue: number; nonzero: boolean } {
  let acc = 0;
  let any = 0;
  const n = b.length >>> 2;
  const aligned = (b.byteOffset & 3) === 0;
  const words = aligned ? new Uint32Array(b.buffer, b.byteOffset, n) : null;
  for (let i = 0; i < n; i++) {
    const w =
      words !== null
        ? words[i]!
        : (b[4 * i]! | (b[4 * i + 1]! << 8) | (b[4 * i + 2]! << 16) | (b[4 * i + 3]! << 24)) >>> 0;
    acc += w;
    any |= w;
    // Stay exact: reduce before the double sum could pass 2^53.
    if ((i & 0xfffff) === 0xfffff) acc = modM(acc);
  }
  let tail = 0;
  for (let j = n * 4; j < b.length; j++) tail += b[j]! * 2 ** (8 * (j - n * 4));
  acc += tail;
  return { residue: modM(acc), nonzero: any !== 0 || tail !== 0 };
}

/** `csum_partial(buf, len, sum)` (x86-64) over a byte array. */
export function csumPartial(b: Uint8Array, sum = 0): number {
  const { residue, nonzero } = wordResidue(b);
  return csumAdd(sum >>> 0, csumOfResidue(residue, nonzero));
}

/** `csum_fold()`: the 16-bit ones'-complement checksum of a 32-bit partial sum. */
export function csumFold(sum: number): number {
  let s = (sum >>> 16) + (sum & 0xffff);
  s = (s >>> 16) + (s & 0xffff);
  return ~s & 0xffff;
}
