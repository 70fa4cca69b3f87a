/**
 * The FDTs view: the root KHO FDT and every sub-tree blob as annotated DTS (`kho fdt dump
 * --kho`), for this kernel's outgoing hand-over and, after a kexec, the one it received
 * (`/sys/kernel/debug/kho/in`). Non-FDT blobs show a `hexdump -C` excerpt.
 */
import { khoDts } from '../abi/kho-annotate.ts';
import { readTree } from '../fdt/reader.ts';
import { hexdumpC } from '../inspect/hexdump.ts';
import { inspectHandover, type InspectReport } from '../inspect/inspect.ts';
import type { MemoryImage } from '../inspect/memory-image.ts';
import type { FdtJson } from './api-types.ts';
import { quietly, type Snapshot } from './snapshot.ts';

/** Most bytes of one blob turned into text. */
const MAX_BLOB = 1 << 20;
/** Most bytes of a non-FDT blob shown as hex. */
const HEX_BYTES = 4096;

function dtsOrNull(blob: Uint8Array | null): string | null {
  if (blob === null) return null;
  try {
    return khoDts(readTree(blob));
  } catch {
    return null;
  }
}

function blobsOf(
  side: 'out' | 'in',
  report: InspectReport,
  image: MemoryImage | null,
  rootPhys: number | null,
) {
  const out: FdtJson['blobs'] = [];
  const rootBlob = rootPhys === null || image === null ? null : readRoot(image, rootPhys);
  out.push({
    side,
    name: '/',
    phys: rootPhys,
    size: report.fdt?.totalsize ?? null,
    kind: 'root',
    text:
      dtsOrNull(rootBlob) ?? report.findings.map((f) => `${f.severity} ${f.code}: ${f.message}`).join('\n'),
  });
  for (const s of report.subtrees) {
    const blob =
      s.phys !== null && s.size !== null && image !== null && s.size <= MAX_BLOB
        ? image.read(s.phys, s.size)
        : null;
    let text = dtsOrNull(blob) ?? s.dts?.toString();
    if (text === undefined) {
      const m = s.kexecMetadata;
      const head =
        m === undefined
          ? ''
          : `/* kexec-metadata: version ${m.version}, previous release ${m.previousRelease}, kexec count ${m.kexecCount} */\n`;
      text = head + (blob === null ? (s.hexdump ?? '') : hexdumpC(blob.subarray(0, HEX_BYTES), s.phys ?? 0));
    }
    out.push({ side, name: s.name, phys: s.phys, size: s.size, kind: s.kind, text });
  }
  return out;
}

function readRoot(image: MemoryImage, phys: number): Uint8Array | null {
  const hdr = image.read(phys, 8);
  if (hdr === null) return null;
  const size = ((hdr[4]! << 24) | (hdr[5]! << 16) | (hdr[6]! << 8) | hdr[7]!) >>> 0;
  return image.read(phys, Math.min(size, 4096));
}

/** Every FDT blob of the snapshot, outgoing first. */
export function fdtView(snap: Snapshot, version: number): FdtJson {
  const mem = snap.mem;
  return mem === null
    ? { version, blobs: blobsOfSnapshot(snap) }
    : quietly(mem, () => ({ version, blobs: blobsOfSnapshot(snap) }));
}

function blobsOfSnapshot(snap: Snapshot): FdtJson['blobs'] {
  const blobs: FdtJson['blobs'] = [];
  if (snap.report !== null && snap.report.fdt !== null) {
    blobs.push(...blobsOf('out', snap.report, snap.image, snap.fdtPhys ?? snap.report.fdt.phys));
  }
  const inc = snap.kernel?.kho.ctx.incoming ?? null;
  const image = snap.image;
  if (inc !== null && image !== null) {
    // The predecessor's blobs stay preserved; only the root and sub-trees are needed here, so
    // the memory-map walk is cut short (its tracker pages may be reused by now).
    const report = inspectHandover({
      image: { image, kind: 'memory', source: 'machine' },
      fdtPhys: inc.fdtPhys,
      limits: { maxBlocks: 1 },
    });
    blobs.push(...blobsOf('in', report, image, inc.fdtPhys));
  }
  return blobs;
}
