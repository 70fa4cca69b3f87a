/**
 * `inspectHandover`: decode the KHO handover data a kernel left behind (every ABI version, and
 * the LUO sub-tree in both formats) from a root FDT and, optionally, a physical memory image, and
 * check it. The result is a plain report (see report-text.ts / report-json.ts); problems are
 * findings, never throws on bad data.
 */
import { decodeKexecMetadata } from '../abi/kexec-metadata.ts';
import {
  decodeLe64Prop,
  decodeStringListProp,
  KHO_FDT_MAX_SIZE,
  KHO_FDT_PROP_MEMORY_MAP,
} from '../abi/kho-fdt.ts';
import type { KhoScratch } from '../abi/kho-scratch.ts';
import { LUO_KHO_ENTRY_NAME } from '../abi/luo.ts';
import { khoAbiVersionOfList } from '../abi/versions.ts';
import type { KhoAbiVersion } from '../abi/versions.ts';
import { FDT_MAGIC } from '../fdt/constants.ts';
import { FdtError } from '../fdt/errors.ts';
import { be32 } from '../fdt/header.ts';
import { readTree } from '../fdt/reader.ts';
import type { FdtNode, FdtTree } from '../fdt/tree.ts';
import { Findings, hexAddr } from './findings.ts';
import type { Finding } from './findings.ts';
import { readFdtAt, scanForKhoFdt } from './fdt-scan.ts';
import { decodeRadix, decodeV1, DEFAULT_LIMITS } from './mem-map.ts';
import type { MemMapLimits, TrackerKind, TrackerPage } from './mem-map.ts';
import type { ImageRange, MemoryImage } from './memory-image.ts';
import type { OrderSummary, PreservedSet } from './preserved-set.ts';
import { RangeList } from './range-list.ts';
import { scratchRanges } from './scratch.ts';
import { decodeLuo } from './luo.ts';
import type { LuoReport } from './luo.ts';
import { decodeSubtrees } from './subtrees.ts';
import type { SubtreeReport } from './subtrees.ts';

/** What to inspect. */
export interface InspectInput {
  /** The root FDT blob (e.g. `/sys/kernel/debug/kho/out/fdt`) and where it came from. */
  fdt?: { blob: Uint8Array; source: string };
  /** Physical address of the root FDT in the image: read it there (no blob) or check its placement. */
  fdtPhys?: number;
  /** The memory image and a description of it. */
  image?: { image: MemoryImage; kind: 'elf' | 'raw' | 'memory'; source: string };
  /** Scratch areas (array order) and where they came from. */
  scratch?: { entries: KhoScratch[]; source: string };
  /** Findings already made while opening the inputs (ELF header problems). */
  findings?: Findings;
  /** Walk limits. */
  limits?: Partial<MemMapLimits>;
  /** Most blocks/folios kept in lists (`preserved` in JSON); counts are always complete. */
  maxList?: number;
  /** Most image bytes scanned for the FDT. */
  scanMaxBytes?: number;
}

/** The ABI facts. */
export interface AbiReport {
  /** The KHO compatible found (`kho-v1` … `kho-v4`), or null. */
  compatible: string | null;
  /** All root compatible strings. */
  compatibles: string[];
  version: number | null;
  memoryMap: 'chunks' | 'radix' | null;
}

/** The root FDT facts. */
export interface FdtReport {
  source: string;
  /** Physical address in the image, when known. */
  phys: number | null;
  totalsize: number;
  /** Header version. */
  version: number;
  valid: boolean;
  /** Other KHO FDTs found while scanning the image. */
  otherCandidates: number[];
}

/** The memory-map facts. */
export interface MemoryMapReport {
  format: 'chunks' | 'radix';
  /** `preserved-memory-map` value (radix root or first v1 chunk). */
  root: number;
  complete: boolean;
  blocks: number;
  bytes: number;
  byOrder: OrderSummary[];
}

/** Everything `kho inspect` found. */
export interface InspectReport {
  abi: AbiReport;
  fdt: FdtReport | null;
  image: { kind: string; source: string; ranges: ImageRange[]; bytes: number } | null;
  scratch: { source: string; entries: KhoScratch[] } | null;
  memoryMap: MemoryMapReport | null;
  /** The preserved blocks (null when the memory map was not decoded). */
  preserved: PreservedSet | null;
  /** Coalesced preserved ranges. */
  ranges: RangeList;
  tracker: { pages: TrackerPage[]; counts: Record<TrackerKind, number> };
  subtrees: SubtreeReport[];
  /** The Live Update Orchestrator's sub-tree `LUO`, decoded (null without it or without an image). */
  luo: LuoReport | null;
  findings: Finding[];
  /** List cap used for blocks and folios. */
  maxList: number;
}

/** Default cap of listed blocks. */
export const DEFAULT_MAX_LIST = 1_000_000;

function prop(node: FdtNode, name: string): Uint8Array | null {
  return node.props.find((p) => p.name === name)?.value ?? null;
}

/** kexec_count of an FDT's kexec-metadata in the image (ranks scanned candidates), or -1. */
function metadataCount(img: MemoryImage, blob: Uint8Array): number {
  try {
    const tree = readTree(blob);
    const node = tree.root.children.find((c) => c.name === 'kexec-metadata');
    const data = node === undefined ? null : prop(node, 'preserved-data');
    const phys = data === null ? null : decodeLe64Prop(data);
    if (phys === null || !phys.ok) return -1;
    const b = img.read(phys.value, 73);
    const m = b === null ? null : decodeKexecMetadata(b);
    return m?.ok === true ? m.value.kexecCount : -1;
  } catch {
    return -1;
  }
}

/** Bytes of the structure block start compared to match a truncated blob (root props). */
const PREFIX_MATCH = 96;

/**
 * debugfs `out/fdt` keeps the length the FDT had at creation (a kernel quirk, docs/quirks.md), so after later
 * sub-trees the file holds a truncated FDT. With an image at hand, use the KHO FDT in memory
 * whose structure starts with the same bytes (root compatible and memory-map pointer).
 */
function recoverTruncated(
  img: MemoryImage,
  given: { blob: Uint8Array; source: string },
  input: InspectInput,
  findings: Findings,
): { blob: Uint8Array; source: string; phys: number; others: number[] } | null {
  const err = fdtError(given.blob);
  if (err === null || err.code !== 'FDT_ERR_TRUNCATED' || given.blob.length < 40 + 16) return null;
  const end = Math.min(given.blob.length, 40 + PREFIX_MATCH);
  const scanOpts = input.scanMaxBytes === undefined ? {} : { maxBytes: input.scanMaxBytes };
  const hit = scanForKhoFdt(img, scanOpts).found.find(
    (c) => c.blob.length >= end && c.blob.subarray(40, end).every((x, i) => x === given.blob[40 + i]),
  );
  if (hit === undefined) return null;
  findings.add(
    'fdt-invalid',
    `${given.source} is a truncated FDT (${err.message}), as debugfs out/fdt is once sub-trees were added after boot; using the matching FDT in the image at ${hexAddr(hit.phys)}`,
    given.source,
    'warning',
  );
  return { blob: hit.blob, source: 'image', phys: hit.phys, others: [] };
}

/** The header's `totalsize` when it is larger than the blob (a cut-off FDT), else null. */
function truncatedBy(blob: Uint8Array): number | null {
  if (blob.length < 8 || be32(blob, 0) !== FDT_MAGIC) return null;
  const total = be32(blob, 4);
  return total > blob.length ? total : null;
}

function fdtError(blob: Uint8Array): FdtError | null {
  try {
    readTree(blob);
    return null;
  } catch (err) {
    if (err instanceof FdtError) return err;
    throw err;
  }
}

/** Locate the root FDT: a given blob, an address in the image, or a scan of the image. */
function locateFdt(
  input: InspectInput,
  findings: Findings,
): { blob: Uint8Array; source: string; phys: number | null; others: number[] } | null {
  const img = input.image?.image ?? null;
  if (input.fdt !== undefined) {
    const given = { blob: input.fdt.blob, source: input.fdt.source, phys: input.fdtPhys ?? null, others: [] };
    if (img === null || input.fdtPhys !== undefined) return given;
    return recoverTruncated(img, given, input, findings) ?? given;
  }
  if (img === null) {
    findings.add('fdt-missing', 'no root FDT and no memory image to search', '-');
    return null;
  }
  if (input.fdtPhys !== undefined) {
    const r = readFdtAt(img, input.fdtPhys);
    if (r === null) {
      findings.add('fdt-missing', `no FDT at ${hexAddr(input.fdtPhys)} in the image`, hexAddr(input.fdtPhys));
      return null;
    }
    return { blob: r.blob, source: 'image', phys: input.fdtPhys, others: [] };
  }
  const scanOpts = input.scanMaxBytes === undefined ? {} : { maxBytes: input.scanMaxBytes };
  const { found, scanned, attempts, gaveUp } = scanForKhoFdt(img, scanOpts);
  if (gaveUp) {
    findings.add(
      'fdt-missing',
      `scan stopped after ${attempts} pages with the FDT magic (hostile image?); give --fdt or --fdt-addr`,
      '-',
      found.length === 0 ? 'error' : 'warning',
    );
  }
  if (found.length === 0) {
    if (!gaveUp) findings.add('fdt-missing', `no KHO root FDT found in ${scanned} bytes of the image`, '-');
    return null;
  }
  // Several KHO FDTs (a KHO-booted kernel keeps its predecessor's): the newest has the
  // highest kexec count; ties go to the lowest address.
  let best = found[0]!;
  let bestCount = metadataCount(img, best.blob);
  for (const c of found.slice(1)) {
    const n = metadataCount(img, c.blob);
    if (n > bestCount) {
      best = c;
      bestCount = n;
    }
  }
  const others = found.filter((c) => c !== best).map((c) => c.phys);
  findings.add(
    'fdt-found',
    `KHO root FDT found in the image at ${hexAddr(best.phys)} (${best.compatible.join(', ')})` +
      (others.length > 0 ? `; others at ${others.map(hexAddr).join(', ')} (choose with --fdt-addr)` : ''),
    hexAddr(best.phys),
  );
  return { blob: best.blob, source: 'image', phys: best.phys, others };
}

/** Inspect handover data. Never throws on bad data: problems are findings. */
export function inspectHandover(input: InspectInput): InspectReport {
  const findings = input.findings ?? new Findings();
  const limits: MemMapLimits = { ...DEFAULT_LIMITS, ...input.limits };
  const maxList = input.maxList ?? DEFAULT_MAX_LIST;
  const img = input.image?.image ?? null;
  const report: InspectReport = {
    abi: { compatible: null, compatibles: [], version: null, memoryMap: null },
    fdt: null,
    image:
      input.image === undefined
        ? null
        : {
            kind: input.image.kind,
            source: input.image.source,
            ranges: [...input.image.image.ranges],
            bytes: input.image.image.ranges.reduce((s, r) => s + (r.end - r.start), 0),
          },
    scratch:
      input.scratch === undefined ? null : { source: input.scratch.source, entries: input.scratch.entries },
    memoryMap: null,
    preserved: null,
    ranges: new RangeList(),
    tracker: { pages: [], counts: { 'radix-node': 0, 'radix-leaf': 0, 'v1-chunk': 0, 'v1-bitmap': 0 } },
    subtrees: [],
    luo: null,
    findings: [],
    maxList,
  };
  const done = (): InspectReport => {
    report.findings = findings.finish();
    return report;
  };
  if (img === null)
    findings.add('no-image', 'no memory image: the memory map and blobs are not decoded', '-');
  const scratch = input.scratch === undefined ? null : scratchRanges(input.scratch.entries, findings);
  if (scratch === null)
    findings.add('scratch-missing', 'no scratch array given: scratch placement not checked', '-');

  const located = locateFdt(input, findings);
  if (located === null) return done();
  let tree: FdtTree;
  try {
    tree = readTree(located.blob);
  } catch (err) {
    if (!(err instanceof FdtError)) throw err;
    const truncated = truncatedBy(located.blob);
    if (truncated !== null) {
      // debugfs out/fdt keeps the length the FDT had when kho_init() created the file.
      findings.add(
        'fdt-truncated',
        `out/fdt is truncated: header says ${truncated} bytes, file has ${located.blob.length}; the kernel sizes this file at kho_init`,
        located.source,
      );
    } else findings.add('fdt-invalid', `root FDT is invalid: ${err.message}`, located.source);
    report.fdt = {
      source: located.source,
      phys: located.phys,
      totalsize: located.blob.length,
      version: 0,
      valid: false,
      otherCandidates: located.others,
    };
    return done();
  }
  report.fdt = {
    source: located.source,
    phys: located.phys,
    totalsize: located.blob.length,
    version: tree.version,
    valid: true,
    otherCandidates: located.others,
  };
  if (located.blob.length > KHO_FDT_MAX_SIZE) {
    findings.add(
      'fdt-too-big',
      `root FDT is ${located.blob.length} bytes; the kernel's fits in one page`,
      '/',
    );
  }

  const compat = prop(tree.root, 'compatible');
  report.abi.compatibles = compat === null ? [] : decodeStringListProp(compat);
  const version = khoAbiVersionOfList(report.abi.compatibles);
  if (version === null) {
    findings.add(
      'abi-unknown',
      `root compatible ${JSON.stringify(report.abi.compatibles)} is not a known KHO version (kho-v1 … kho-v4)`,
      '/compatible',
    );
    report.subtrees = tree.root.children.map((c) => ({
      name: c.name,
      phys: null,
      size: null,
      sizeFrom: 'unknown',
      kind: 'unavailable',
      preserved: null,
    }));
    return done();
  }
  report.abi = {
    compatible: version.compatible,
    compatibles: report.abi.compatibles,
    version: version.version,
    memoryMap: version.memoryMap,
  };

  const root = memoryMapRoot(tree, version, findings);
  let preserved: { set: PreservedSet; ranges: RangeList } | null = null;
  if (root !== null && img !== null) {
    const mm =
      version.memoryMap === 'chunks'
        ? decodeV1(img, root, findings, limits)
        : decodeRadix(img, root, findings, limits);
    const ranges = mm.set.finish();
    preserved = { set: mm.set, ranges };
    report.preserved = mm.set;
    report.ranges = ranges;
    report.tracker = { pages: mm.tracker, counts: mm.trackerCounts };
    report.memoryMap = {
      format: version.memoryMap,
      root,
      complete: mm.complete,
      blocks: mm.set.count,
      bytes: mm.set.bytes(),
      byOrder: mm.set.byOrder(),
    };
    checkPreserved(mm.set, ranges, mm.tracker, scratch, findings);
  }
  if (located.phys !== null)
    checkFdtPlacement(located.phys, located.blob.length, preserved, scratch, findings);
  report.subtrees = decodeSubtrees(tree.root, {
    version,
    image: img,
    preserved,
    scratch,
    findings,
    maxList,
  });
  const luo = report.subtrees.find((s) => s.name === LUO_KHO_ENTRY_NAME);
  if (luo !== undefined && luo.phys !== null && img !== null) {
    report.luo = decodeLuo({ image: img, preserved, findings, maxList }, luo.phys, luo.size);
  }
  return done();
}

/** Read `preserved-memory-map` with the kernel's rules (present, 8 bytes, non-zero for v2+). */
function memoryMapRoot(tree: FdtTree, version: KhoAbiVersion, findings: Findings): number | null {
  const at = `/${KHO_FDT_PROP_MEMORY_MAP}`;
  const v = prop(tree.root, KHO_FDT_PROP_MEMORY_MAP);
  if (v === null) {
    findings.add(
      'prop-missing',
      `root has no '${KHO_FDT_PROP_MEMORY_MAP}': the successor disables KHO revival`,
      at,
    );
    return null;
  }
  const r = decodeLe64Prop(v, KHO_FDT_PROP_MEMORY_MAP);
  if (!r.ok) {
    if (r.error.code === 'BAD_LENGTH') {
      findings.add('prop-size', `'${KHO_FDT_PROP_MEMORY_MAP}' is ${v.length} bytes, must be 8`, at);
    } else {
      findings.add('ptr-out-of-range', `'${KHO_FDT_PROP_MEMORY_MAP}' does not fit in 53 bits`, at);
    }
    return null;
  }
  if (r.value === 0) {
    if (version.memoryMap === 'chunks') {
      findings.add('memmap-empty', 'preserved-memory-map is 0: nothing preserved (or not finalized)', at);
      return 0;
    }
    findings.add(
      'memmap-empty',
      'preserved-memory-map is 0: the successor rejects the hand-over',
      at,
      'error',
    );
    return null;
  }
  return r.value;
}

/** Overlaps, preserved memory in scratch, tracker pages in scratch or in preserved memory. */
function checkPreserved(
  set: PreservedSet,
  ranges: RangeList,
  tracker: readonly TrackerPage[],
  scratch: RangeList | null,
  findings: Findings,
): void {
  for (const o of set.overlaps) {
    findings.add(
      'overlap',
      `order-${o.order} block ${hexAddr(o.phys)} overlaps preserved memory [${hexAddr(o.with.start)}, ${hexAddr(o.with.end)})`,
      hexAddr(o.phys),
    );
  }
  if (set.overlapCount > set.overlaps.length) {
    findings.add('overlap', `${set.overlapCount - set.overlaps.length} more overlapping block(s)`, '-');
  }
  if (scratch !== null) {
    for (let i = 0; i < ranges.length; i++) {
      const start = ranges.start(i);
      const end = ranges.end(i);
      const hit = scratch.firstIntersection(start, end);
      if (hit !== null) {
        findings.add(
          'preserved-in-scratch',
          `preserved [${hexAddr(start)}, ${hexAddr(end)}) intersects scratch [${hexAddr(hit.start)}, ${hexAddr(hit.end)}): the successor reuses scratch`,
          hexAddr(Math.max(start, hit.start)),
        );
      }
    }
  }
  for (const t of tracker) {
    if (scratch !== null && scratch.firstIntersection(t.phys, t.phys + 4096) !== null) {
      findings.add(
        'tracker-in-scratch',
        `${t.kind} page ${hexAddr(t.phys)} lies in scratch: the kexec'd image may overwrite it before the walk`,
        hexAddr(t.phys),
      );
    }
    if (ranges.covers(t.phys, 1)) {
      findings.add(
        'tracker-preserved',
        `${t.kind} page ${hexAddr(t.phys)} lies in preserved memory`,
        hexAddr(t.phys),
      );
    }
  }
}

function checkFdtPlacement(
  phys: number,
  size: number,
  preserved: { ranges: RangeList } | null,
  scratch: RangeList | null,
  findings: Findings,
): void {
  if (scratch !== null && scratch.firstIntersection(phys, phys + size) !== null) {
    findings.add('fdt-in-scratch', `root FDT at ${hexAddr(phys)} lies in scratch`, hexAddr(phys));
  }
  if (preserved !== null && !preserved.ranges.covers(phys, size)) {
    findings.add(
      'fdt-not-preserved',
      `root FDT page ${hexAddr(phys)} is not in preserved memory`,
      hexAddr(phys),
    );
  }
}
