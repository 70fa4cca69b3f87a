/**
 * Physical memory images for offline inspection: what a real machine left behind (a raw dump of
 * RAM from a base address, e.g. QEMU's `pmemsave`, or an ELF core: QEMU's `dump-guest-memory`,
 * kdump's `/proc/vmcore`), read lazily with positional reads so multi-GiB images never sit in
 * memory, plus an adapter over the simulator's {@link PhysicalMemory}.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import type { RadixMemory } from '../kho/radix-walk.ts';

/** A physical address range `[start, end)` in bytes. */
export interface ImageRange {
  start: number;
  end: number;
}

/** Read access to a physical memory image. Addresses are physical, bytes little-endian. */
export interface MemoryImage {
  /** `len` bytes at `phys` (a fresh copy), or null when any of them is not in the image. */
  read(phys: number, len: number): Uint8Array | null;
  /** Whether the byte at `phys` is in the image. */
  has(phys: number): boolean;
  /** The physical ranges the image holds, ascending and disjoint. */
  readonly ranges: readonly ImageRange[];
  /**
   * Optional: fill `dst` with the bytes at `phys` (all must be in the image) without allocating;
   * false when they are not. Bulk scans reuse one buffer through it.
   */
  readInto?(phys: number, dst: Uint8Array): boolean;
  /** Releases the file (no-op for in-memory images). */
  close(): void;
}

/** Largest single read an image serves: bigger requests (hostile sizes) return null. */
export const MAX_IMAGE_READ = 64 * 1024 * 1024;
/** Physical addresses are below 2^52. */
export const PHYS_LIMIT = 0x10_0000_0000_0000;

/** One piece of a file-backed image: `[start, end)` physical, the first `fileLen` bytes from the file. */
export interface ImageSegment {
  start: number;
  end: number;
  fileOff: number;
  /** Bytes stored in the file (`p_filesz`); the rest up to `end` reads as zero. */
  fileLen: number;
}

function validRequest(phys: number, len: number): boolean {
  return (
    Number.isSafeInteger(phys) &&
    Number.isSafeInteger(len) &&
    phys >= 0 &&
    len >= 0 &&
    len <= MAX_IMAGE_READ &&
    phys + len <= PHYS_LIMIT
  );
}

/** Index of the last segment starting at or below `phys`, or -1. */
function findSegment(segs: readonly ImageSegment[], phys: number): number {
  let lo = 0;
  let hi = segs.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (segs[mid]!.start <= phys) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

/**
 * An image backed by a file: sorted, disjoint segments mapping physical ranges to file offsets.
 * Reads are positional (`pread`), so only the bytes asked for are ever loaded.
 */
export class FileImage implements MemoryImage {
  readonly ranges: readonly ImageRange[];
  private readonly segs: readonly ImageSegment[];
  private fd: number;

  /** Takes ownership of `fd`; `segments` must be sorted and disjoint, inside the file. */
  constructor(fd: number, segments: readonly ImageSegment[]) {
    this.fd = fd;
    this.segs = segments;
    // Adjacent segments are one range for the caller.
    const ranges: ImageRange[] = [];
    for (const s of segments) {
      const last = ranges[ranges.length - 1];
      if (last !== undefined && last.end === s.start) last.end = s.end;
      else ranges.push({ start: s.start, end: s.end });
    }
    this.ranges = ranges;
  }

  has(phys: number): boolean {
    if (!Number.isSafeInteger(phys)) return false;
    const i = findSegment(this.segs, phys);
    return i >= 0 && phys < this.segs[i]!.end;
  }

  read(phys: number, len: number): Uint8Array | null {
    if (!validRequest(phys, len) || this.fd < 0) return null;
    const out = new Uint8Array(len);
    return this.readInto(phys, out) ? out : null;
  }

  readInto(phys: number, out: Uint8Array): boolean {
    const len = out.length;
    if (!validRequest(phys, len) || this.fd < 0) return false;
    let i = findSegment(this.segs, phys);
    let at = phys;
    let done = 0;
    while (done < len) {
      const s = this.segs[i];
      if (s === undefined || at < s.start || at >= s.end) return false;
      const n = Math.min(len - done, s.end - at);
      const inFile = Math.max(0, Math.min(n, s.start + s.fileLen - at));
      if (inFile > 0) this.pread(out, done, inFile, s.fileOff + (at - s.start));
      if (inFile < n) out.fill(0, done + inFile, done + n);
      done += n;
      at += n;
      i++;
    }
    return true;
  }

  private pread(dst: Uint8Array, off: number, len: number, pos: number): void {
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, dst, off + got, len - got, pos + got);
      if (n <= 0) {
        dst.fill(0, off + got, off + len); // file shrank under us: the rest reads as zero
        return;
      }
      got += n;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** An error opening or decoding an image file; the message is one line for the user. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

/** Size of an open file (bytes). */
export function fileSize(fd: number): number {
  return fstatSync(fd).size;
}

/**
 * Open a raw dump: file offset 0 is physical address `base` (e.g. QEMU `pmemsave ADDR SIZE FILE`
 * with ADDR = base). Throws {@link ImageError} for a bad base.
 */
export function openRawImage(path: string, base: number): FileImage {
  if (!Number.isSafeInteger(base) || base < 0 || base >= PHYS_LIMIT) {
    throw new ImageError(`base ${String(base)} is not a physical address below 2^52`);
  }
  const fd = openSync(path, 'r');
  try {
    const size = Math.min(fileSize(fd), PHYS_LIMIT - base);
    const segs = size === 0 ? [] : [{ start: base, end: base + size, fileOff: 0, fileLen: size }];
    return new FileImage(fd, segs);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * The simulator's memory as an image (tests, benches, the shell). `ranges` says which memory is
 * "in the dump" (default: the whole address space); untouched pages read as zero, as in the model.
 */
export class PhysMemImage implements MemoryImage {
  readonly ranges: readonly ImageRange[];
  readonly mem: PhysicalMemory;

  constructor(mem: PhysicalMemory, ranges?: readonly ImageRange[]) {
    this.mem = mem;
    this.ranges =
      ranges === undefined
        ? [{ start: 0, end: mem.limit }]
        : [...ranges]
            .filter((r) => r.end > r.start)
            .map((r) => ({ start: r.start, end: Math.min(r.end, mem.limit) }))
            .sort((a, b) => a.start - b.start);
  }

  has(phys: number): boolean {
    for (const r of this.ranges) if (phys >= r.start && phys < r.end) return true;
    return false;
  }

  read(phys: number, len: number): Uint8Array | null {
    if (!validRequest(phys, len)) return null;
    if (len === 0)
      return this.has(phys) || this.ranges.some((r) => r.end === phys) ? new Uint8Array(0) : null;
    let at = phys;
    const end = phys + len;
    while (at < end) {
      const r = this.ranges.find((x) => at >= x.start && at < x.end);
      if (r === undefined) return null;
      at = r.end;
    }
    return this.mem.read(phys, len);
  }

  close(): void {
    // nothing to release
  }
}

/**
 * The image as the radix walker's memory: pages outside the image read as empty (the inspector
 * reports them through its own `has` checks), never as poison.
 */
export function radixMemoryOf(img: MemoryImage): RadixMemory {
  const last = img.ranges[img.ranges.length - 1];
  const maxPfn = last === undefined ? 1 : Math.ceil(last.end / 4096);
  const direct = img instanceof PhysMemImage ? img.mem : null;
  const peekPage = (pfn: number): Uint32Array | null => {
    if (direct !== null) return img.has(pfn * 4096) ? direct.peekPage(pfn) : null;
    const b = img.read(pfn * 4096, 4096);
    if (b === null) return null;
    return new Uint32Array(b.buffer, b.byteOffset, 1024);
  };
  return {
    maxPfn,
    peekPage,
    page: (pfn: number) => peekPage(pfn) ?? new Uint32Array(1024),
    isPoisoned: () => false,
  };
}
