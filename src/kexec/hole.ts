/**
 * The kexec hole finder (kernel/kexec_file.c `locate_mem_hole_callback` and its top-down and
 * bottom-up walkers) and KHO's scratch-restricted variant (`kho_locate_mem_hole()`,
 * kernel/liveupdate/kexec_handover.c).
 *
 * Ranges are inclusive `[start, end]` as Linux `struct resource`s are. A buffer fits a range when
 * the range is at least `memsz` long and meets `[bufMin, bufMax]`; inside it the walker starts at
 * the top (or bottom), aligns, and steps one page away from any spot that overlaps a destination
 * already taken by this image, until it leaves the range.
 */
import { PAGE_SIZE } from '../hw/physical-memory.ts';

/** `KEXEC_BUF_MEM_UNKNOWN`: the buffer's destination is not chosen yet. */
export const KEXEC_BUF_MEM_UNKNOWN = -1;
/** `ULONG_MAX` as the model's "no upper limit" (largest exact integer). */
export const BUF_MAX_NONE = Number.MAX_SAFE_INTEGER;

/** A `struct kexec_buf` as the hole finder sees it. */
export interface HoleRequest {
  /** Bytes to place (already page-rounded by `kexec_add_buffer`). */
  memsz: number;
  /** Alignment (power of two, at least PAGE_SIZE after `kexec_add_buffer`). */
  bufAlign: number;
  bufMin: number;
  bufMax: number;
  topDown: boolean;
}

/** An inclusive physical range `[start, end]` (a `struct resource`). */
export interface ResRange {
  start: number;
  end: number;
}

/** Something that knows which destinations are taken (`kimage_is_destination_range`). */
export type DestinationCheck = (start: number, end: number) => boolean;

/** Destinations as inclusive ranges; the usual {@link DestinationCheck}. */
export function destinationsOf(taken: readonly { dest: number; memsz: number }[]): DestinationCheck {
  return (start, end) => {
    for (const s of taken) {
      const sEnd = s.dest + s.memsz - 1;
      if (s.memsz > 0 && end >= s.dest && start <= sEnd) return true;
    }
    return false;
  };
}

/** Round down to a power-of-two alignment without 32-bit bit operations. */
function alignDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/**
 * `locate_mem_hole_callback` for one range: the chosen address, or -1 when the buffer does not
 * fit there (the caller moves on to the next range).
 */
export function locateInRange(range: ResRange, req: HoleRequest, taken: DestinationCheck): number {
  const { start, end } = range;
  const sz = end - start + 1;
  if (sz < req.memsz) return -1;
  if (end < req.bufMin || start > req.bufMax) return -1;
  return req.topDown ? topDown(start, end, req, taken) : bottomUp(start, end, req, taken);
}

function topDown(start: number, end: number, req: HoleRequest, taken: DestinationCheck): number {
  let s = Math.min(end, req.bufMax) - req.memsz + 1;
  for (;;) {
    s = alignDown(s, req.bufAlign);
    if (s < start || s < req.bufMin) return -1;
    const e = s + req.memsz - 1;
    if (taken(s, e)) {
      s -= PAGE_SIZE;
      continue;
    }
    return s;
  }
}

function bottomUp(start: number, end: number, req: HoleRequest, taken: DestinationCheck): number {
  let s = Math.max(start, req.bufMin);
  for (;;) {
    s = alignUp(s, req.bufAlign);
    const e = s + req.memsz - 1;
    if (e > end || e > req.bufMax) return -1;
    if (taken(s, e)) {
      s += PAGE_SIZE;
      continue;
    }
    return s;
  }
}

/**
 * `kho_locate_mem_hole` with its callback: try the scratch areas in array order, each as
 * `[addr, addr+size-1]`; the first area that fits wins. Returns the address, or -1 for
 * -EADDRNOTAVAIL (no fallback outside scratch).
 */
export function locateInScratch(
  scratch: readonly { addr: number; size: number }[],
  req: HoleRequest,
  taken: DestinationCheck,
): number {
  for (const a of scratch) {
    const at = locateInRange({ start: a.addr, end: a.addr + a.size - 1 }, req, taken);
    if (at >= 0) return at;
  }
  return -1;
}

/**
 * The normal search (`kexec_walk_resources` over "System RAM"): ranges in descending order for
 * top-down buffers (`walk_system_ram_res_rev`), ascending otherwise. Returns the address or -1.
 */
export function locateInRam(ram: readonly ResRange[], req: HoleRequest, taken: DestinationCheck): number {
  const order = [...ram].sort((a, b) => (req.topDown ? b.start - a.start : a.start - b.start));
  for (const r of order) {
    const at = locateInRange(r, req, taken);
    if (at >= 0) return at;
  }
  return -1;
}
