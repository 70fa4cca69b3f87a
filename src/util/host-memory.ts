/**
 * The host's memory, as opposed to the simulated machine's: a simulated workload whose model
 * state would not fit in what the host can still give this process is refused before it
 * starts, with one line that says how much it would need (rather than running the host out of
 * memory half-way). `KHO_HOST_MEMORY` (bytes, K/M/G suffixes allowed) caps what counts as
 * available, to try this on a large host.
 */
import { freemem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { formatBytes } from './long-work.ts';

/** A workload refused because the host lacks the memory to simulate it. */
export class HostMemoryError extends Error {
  /** Bytes the workload would need, and bytes available when it was refused. */
  readonly needed: number;
  readonly available: number;

  constructor(what: string, needed: number, available: number) {
    super(
      `${what} would need about ${formatBytes(needed)} of host memory to simulate; ${formatBytes(available)} available`,
    );
    this.name = 'HostMemoryError';
    this.needed = needed;
    this.available = available;
  }
}

function envCap(): number {
  const v = process.env['KHO_HOST_MEMORY'];
  if (v === undefined || v === '') return Infinity;
  const m = /^(\d+)([kmgt]?)$/i.exec(v.trim());
  if (m === null) return Infinity;
  const mul = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase()] ?? 1;
  return Number(m[1]) * mul;
}

/**
 * Bytes this process can still allocate: the host's available memory, the cgroup limit, and for
 * JS objects (`heap`) what is left under the V8 heap limit.
 */
export function hostMemoryAvailable(heap = false): number {
  const rss = process.memoryUsage.rss();
  let avail = Math.min(freemem(), envCap() - rss);
  const limit = process.constrainedMemory();
  if (limit > 0 && limit < 2 ** 60) avail = Math.min(avail, limit - rss);
  if (heap) {
    const h = getHeapStatistics();
    avail = Math.min(avail, h.heap_size_limit - h.used_heap_size);
  }
  return Math.max(0, avail);
}

/** Throws {@link HostMemoryError} when `needed` bytes are more than the host can give. */
export function checkHostMemory(what: string, needed: number, heap = false): void {
  const avail = hostMemoryAvailable(heap);
  if (needed > avail) throw new HostMemoryError(what, needed, avail);
}
