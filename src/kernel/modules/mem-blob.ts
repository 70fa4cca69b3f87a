/**
 * Reading a consumer's FDT blob out of simulated memory, with the size checks a kernel consumer
 * makes before trusting it (header `totalsize` within the recorded size and one page-range
 * limit). Errors come back as -EINVAL, never as an exception.
 */
import { be32 } from '../../fdt/header.ts';
import { readTree } from '../../fdt/reader.ts';
import type { FdtTree } from '../../fdt/tree.ts';
import type { PhysicalMemory } from '../../hw/physical-memory.ts';
import { ERRNO } from '../../util/errno.ts';

/** The tree of the FDT at `phys` (at most `limit` bytes), or -EINVAL. */
export function readFdtAt(mem: PhysicalMemory, phys: number, limit: number): FdtTree | number {
  try {
    const total = be32(mem.read(phys, 8), 4);
    if (total < 40 || total > limit) return -ERRNO.EINVAL;
    return readTree(mem.read(phys, total));
  } catch {
    return -ERRNO.EINVAL;
  }
}

/** Parse a module's integer parameter (decimal, 0x hex, optional K/M/G suffix), or null. */
export function parseIntParam(text: string): number | null {
  const m = /^(0x[0-9a-f]+|[0-9]+)([kmg]?)$/i.exec(text.trim());
  if (m === null) return null;
  const base = Number(m[1]!.toLowerCase().startsWith('0x') ? parseInt(m[1]!, 16) : m[1]);
  const mul = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 }[m[2]!.toLowerCase()] ?? 1;
  const v = base * mul;
  return Number.isSafeInteger(v) ? v : null;
}
