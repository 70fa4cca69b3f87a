/**
 * Finding KHO root FDTs in a memory image: the FDT lives in its own page, so only page-aligned
 * offsets are tried (in the simulator's memory, only touched pages). A file image is read in
 * 64 KiB blocks into one reused buffer (one pass, bounded by `maxBytes`). A candidate counts when
 * it validates and its root is compatible with `kho-v*`.
 */
import { decodeStringListProp } from '../abi/kho-fdt.ts';
import { FdtError } from '../fdt/errors.ts';
import { be32 } from '../fdt/header.ts';
import { Fdt } from '../fdt/reader.ts';
import { PhysMemImage } from './memory-image.ts';
import type { MemoryImage } from './memory-image.ts';

/** A KHO root FDT found in an image. */
export interface FdtCandidate {
  phys: number;
  blob: Uint8Array;
  /** The root `compatible` strings. */
  compatible: string[];
}

/** Options of {@link scanForKhoFdt}. */
export interface FdtScanOptions {
  /** Most image bytes scanned (default 64 GiB). */
  maxBytes?: number;
  /** Most candidates returned (default 16). */
  maxCandidates?: number;
  /** Most pages with the FDT magic that are validated (default 4096): hostile images. */
  maxAttempts?: number;
}

/** What a scan did. */
export interface FdtScanResult {
  found: FdtCandidate[];
  /** Image bytes scanned. */
  scanned: number;
  /** Pages with the FDT magic that were validated. */
  attempts: number;
  /** True when `maxAttempts` stopped the scan. */
  gaveUp: boolean;
}

/** Largest root FDT accepted from an image (the kernel's fits in one page; leave room). */
export const MAX_SCANNED_FDT = 1 << 20;
const FDT_MAGIC = 0xd00dfeed;
const BLOCK = 1 << 16; // measured: 64 KiB preads beat 1 MiB ones several-fold here
const PAGE = 4096;

/** Read and validate an FDT at `phys` in the image; null when there is none. */
export function readFdtAt(
  img: MemoryImage,
  phys: number,
): { blob: Uint8Array; error: FdtError | null } | null {
  const head = img.read(phys, 40);
  if (head === null || be32(head, 0) !== FDT_MAGIC) return null;
  const total = be32(head, 4);
  if (total < 40 || total > MAX_SCANNED_FDT) {
    return { blob: head, error: new FdtError('FDT_ERR_TRUNCATED', 4, `totalsize ${total} is out of range`) };
  }
  const blob = img.read(phys, total);
  if (blob === null)
    return { blob: head, error: new FdtError('FDT_ERR_TRUNCATED', 4, 'FDT runs off the image') };
  try {
    new Fdt(blob);
    return { blob, error: null };
  } catch (err) {
    if (err instanceof FdtError) return { blob, error: err };
    throw err;
  }
}

/** Scan page-aligned addresses of the image for KHO root FDTs, ascending. */
export function scanForKhoFdt(img: MemoryImage, opts: FdtScanOptions = {}): FdtScanResult {
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024 * 1024;
  const st: ScanState = {
    found: [],
    scanned: 0,
    attempts: 0,
    gaveUp: false,
    maxCandidates: opts.maxCandidates ?? 16,
    maxAttempts: opts.maxAttempts ?? 4096,
  };
  if (img instanceof PhysMemImage) return scanTouched(img, maxBytes, st);
  let scanned = 0;
  const buf = new Uint8Array(BLOCK);
  for (const r of img.ranges) {
    let at = Math.ceil(r.start / PAGE) * PAGE;
    while (at < r.end && scanned < maxBytes) {
      const len = Math.min(BLOCK, r.end - at, maxBytes - scanned);
      const block =
        img.readInto === undefined
          ? img.read(at, len)
          : img.readInto(at, buf.subarray(0, len))
            ? buf.subarray(0, len)
            : null;
      scanned += len;
      if (block !== null) {
        for (let off = 0; off + 8 <= block.length; off += PAGE) {
          if (block[off] !== 0xd0 || be32(block, off) !== FDT_MAGIC) continue;
          if (!attempt(img, at + off, st)) return { ...result(st), scanned };
        }
      }
      at += len;
    }
  }
  return { ...result(st), scanned };
}

interface ScanState {
  found: FdtCandidate[];
  scanned: number;
  attempts: number;
  gaveUp: boolean;
  maxCandidates: number;
  maxAttempts: number;
}

function result(st: ScanState): FdtScanResult {
  return { found: st.found, scanned: st.scanned, attempts: st.attempts, gaveUp: st.gaveUp };
}

/** Validate one magic page; false when the scan must stop (enough found, or too many tries). */
function attempt(img: MemoryImage, phys: number, st: ScanState): boolean {
  if (st.attempts >= st.maxAttempts) {
    st.gaveUp = true;
    return false;
  }
  st.attempts++;
  const c = candidate(img, phys);
  if (c !== null) st.found.push(c);
  return st.found.length < st.maxCandidates;
}

/** The simulator's memory: only touched pages can hold an FDT (untouched ones read as zero). */
function scanTouched(img: PhysMemImage, maxBytes: number, st: ScanState): FdtScanResult {
  for (const pfn of img.mem.touchedPfns()) {
    if (st.scanned >= maxBytes) break;
    const phys = pfn * PAGE;
    if (!img.has(phys)) continue;
    st.scanned += PAGE;
    const w = img.mem.peekPage(pfn);
    // FDT magic 0xd00dfeed stored big-endian reads as 0xedfe0dd0 in a little-endian word.
    if (w === null || w[0] !== 0xedfe0dd0) continue;
    if (!attempt(img, phys, st)) break;
  }
  return result(st);
}

function candidate(img: MemoryImage, phys: number): FdtCandidate | null {
  const r = readFdtAt(img, phys);
  if (r === null || r.error !== null) return null;
  const fdt = new Fdt(r.blob);
  const value = fdt.getprop(fdt.root(), 'compatible');
  const compatible = value === null ? [] : decodeStringListProp(value);
  if (!compatible.some((c) => c.startsWith('kho-v'))) return null;
  return { phys, blob: r.blob, compatible };
}
