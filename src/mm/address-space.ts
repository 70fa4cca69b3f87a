/**
 * Kernel virtual addresses as JS numbers.
 *
 * x86-64 kernel addresses (0xffff8880_00000000 and up) exceed 2^53, so the model subtracts a
 * fixed bias of 0xffe0_0000_0000_0000 (the top 11 bits, always ones in the kernel half above
 * that point): model VA = real VA - bias, every model VA is below 2^53 and exact, and the
 * real address is recovered exactly with BigInt when printing. The layout is the 4-level
 * paging, no-KASLR one of Documentation/arch/x86/x86_64/mm.rst.
 */

/** Real minus model address. */
export const KERNEL_VA_BIAS = 0xffe0_0000_0000_0000n;

/** `PAGE_OFFSET` (direct map of all physical memory), real 0xffff888000000000. */
export const PAGE_OFFSET = 0x1f_8880_0000_0000;
/** Size of the direct map window (64 TiB). */
export const DIRECT_MAP_SIZE = 0x4000_0000_0000;
/** `VMALLOC_START`, real 0xffffc90000000000. */
export const VMALLOC_START = 0x1f_c900_0000_0000;
/** `VMALLOC_END` + 1, real 0xffffe90000000000 (32 TiB of vmalloc space). */
export const VMALLOC_END = 0x1f_e900_0000_0000;

/** `__va(phys)`: the direct-map address of a physical address. */
export function phys2virt(phys: number): number {
  return PAGE_OFFSET + phys;
}

/** `__pa(va)` for a direct-map address; -1 when `va` is not in the direct map. */
export function virt2phys(va: number): number {
  return va >= PAGE_OFFSET && va < PAGE_OFFSET + DIRECT_MAP_SIZE ? va - PAGE_OFFSET : -1;
}

/** True when `va` lies in the vmalloc range (`is_vmalloc_addr`). */
export function isVmallocAddr(va: number): boolean {
  return va >= VMALLOC_START && va < VMALLOC_END;
}

/** The real 64-bit kernel address of a model VA (for printing). */
export function realVa(va: number): bigint {
  return BigInt(va) + KERNEL_VA_BIAS;
}

/** A real kernel address as the model VA, or -1 when it is below the biased window. */
export function modelVa(real: bigint): number {
  const v = real - KERNEL_VA_BIAS;
  return v >= 0n && v < 0x20_0000_0000_0000n ? Number(v) : -1;
}

/** `%px`-style lowercase hex of the real address of a model VA (16 digits). */
export function formatVa(va: number): string {
  return `0x${realVa(va).toString(16).padStart(16, '0')}`;
}
