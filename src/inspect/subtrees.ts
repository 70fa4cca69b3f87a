/**
 * The sub-trees of a KHO root FDT (kernel/liveupdate/kexec_handover.c:
 * `kho_retrieve_subtree()`; lib/test_kho.c; mm/memblock.c): for each child node its blob's
 * address and size as the ABI version records them, whether the blob is preserved, and the
 * content of the known ones (kexec-metadata, memblock `reserve_mem`, test_kho with its folio
 * list). Other FDT blobs are shown as DTS, anything else as a hexdump excerpt.
 */
import { decodeKexecMetadata, KEXEC_METADATA_SIZE } from '../abi/kexec-metadata.ts';
import type { KexecMetadata } from '../abi/kexec-metadata.ts';
import {
  decodeLe64Prop,
  KHO_FDT_PROP_BLOB_SIZE,
  KHO_FDT_PROP_PRESERVED_DATA,
  KHO_FDT_PROP_SUB_FDT,
} from '../abi/kho-fdt.ts';
import { walkKhoVmalloc } from '../abi/kho-vmalloc.ts';
import type { KhoVmalloc } from '../abi/kho-vmalloc.ts';
import { decodeMemblockTree } from '../abi/memblock-reserve-mem.ts';
import type { ReserveMemRecord } from '../abi/memblock-reserve-mem.ts';
import { decodeFolioInfo, decodeTestKhoTree } from '../abi/test-kho.ts';
import type { KhoAbiVersion } from '../abi/versions.ts';
import { POW2 } from '../abi/kho-radix.ts';
import { writeDts } from '../fdt/dts.ts';
import { FdtError } from '../fdt/errors.ts';
import { be32 } from '../fdt/header.ts';
import { readTree } from '../fdt/reader.ts';
import type { FdtNode, FdtTree } from '../fdt/tree.ts';
import type { Findings } from './findings.ts';
import { hexAddr } from './findings.ts';
import { hexdumpC } from './hexdump.ts';
import type { MemoryImage } from './memory-image.ts';
import type { PreservedSet } from './preserved-set.ts';
import type { RangeList } from './range-list.ts';
import { StreamedText } from '../util/text-sink.ts';

/** What a sub-tree's blob turned out to be. */
export type SubtreeKind = 'kexec-metadata' | 'memblock' | 'kho_test' | 'fdt' | 'binary' | 'unavailable';

/** The decoded test_kho state (lib/test_kho.c). */
export interface TestKhoContent {
  magic: number;
  nrFolios: number;
  csum: number;
  foliosInfo: KhoVmalloc;
  /** Chunk pages of the `folios_info` vmalloc area. */
  vmallocChunks: number[];
  /** Folios from `folios_info` (up to the list cap). */
  folios: { phys: number; order: number }[];
}

/** One sub-tree. */
export interface SubtreeReport {
  name: string;
  /** Blob address (`preserved-data` or v1 `fdt`), null when missing or bad. */
  phys: number | null;
  /** Blob size in bytes, null when unknown. */
  size: number | null;
  /** Where the size came from. */
  sizeFrom: 'blob-size' | 'fdt-header' | 'unknown';
  kind: SubtreeKind;
  /** Whether the blob lies in preserved memory; null when that cannot be known. */
  preserved: boolean | null;
  kexecMetadata?: KexecMetadata;
  memblock?: { records: ReserveMemRecord[]; rejected: { name: string; reason: string }[] };
  testKho?: TestKhoContent;
  /**
   * DTS text of an FDT blob, made when the report is written: a small blob can print as
   * gigabytes (deep nesting), so the text is streamed, never held.
   */
  dts?: StreamedText;
  /** `hexdump -C` excerpt of a non-FDT blob. */
  hexdump?: string;
}

/** Context shared by the sub-tree decoders. */
export interface SubtreeContext {
  version: KhoAbiVersion;
  image: MemoryImage | null;
  /** Preserved blocks and their coalesced ranges, null when the memory map was not decoded. */
  preserved: { set: PreservedSet; ranges: RangeList } | null;
  /** Scratch areas as sorted disjoint ranges, null when unknown. */
  scratch: RangeList | null;
  findings: Findings;
  /** Most folios listed for test_kho. */
  maxList: number;
}

/** Largest blob read for decoding. */
export const MAX_BLOB_READ = 16 * 1024 * 1024;
/** Bytes shown in a hexdump excerpt. */
export const HEXDUMP_EXCERPT = 256;
/** Bytes read for a blob of unknown size that is not an FDT. */
const UNKNOWN_SIZE_READ = 4096;
/** Most bytes read for all sub-trees together. */
const TOTAL_BLOB_BUDGET = 256 * 1024 * 1024;
/** Most test_kho folios decoded (test_kho.max_mem=2G gives 512Ki folios at most). */
const MAX_TEST_FOLIOS = 1 << 22;
const FDT_MAGIC = 0xd00dfeed;

function prop(node: FdtNode, name: string): Uint8Array | null {
  return node.props.find((p) => p.name === name)?.value ?? null;
}

function isFdt(b: Uint8Array): boolean {
  return b.length >= 8 && be32(b, 0) === FDT_MAGIC;
}

/** Read an LE64 property with the kernel's exact-length rule; findings for missing/bad ones. */
function le64Prop(
  node: FdtNode,
  name: string,
  ctx: SubtreeContext,
  at: string,
  missing: 'warning' | 'error' | null,
): number | null {
  const v = prop(node, name);
  if (v === null) {
    if (missing !== null)
      ctx.findings.add('prop-missing', `sub-tree '${node.name}' has no '${name}'`, at, missing);
    return null;
  }
  const r = decodeLe64Prop(v, name);
  if (r.ok) return r.value;
  if (r.error.code === 'BAD_LENGTH') {
    ctx.findings.add('prop-size', `'${name}' of '${node.name}' is ${v.length} bytes, must be 8`, at);
  } else {
    ctx.findings.add('ptr-out-of-range', `'${name}' of '${node.name}' does not fit in 53 bits`, at);
  }
  return null;
}

/** Decode every child of the root. */
export function decodeSubtrees(root: FdtNode, ctx: SubtreeContext): SubtreeReport[] {
  const budget = { left: TOTAL_BLOB_BUDGET };
  return root.children.map((n) => decodeOne(n, ctx, budget));
}

function decodeOne(node: FdtNode, ctx: SubtreeContext, budget: { left: number }): SubtreeReport {
  const { version, findings } = ctx;
  const path = `/${node.name}`;
  const dataProp = version.subtreeDataProp;
  const otherProp = dataProp === 'fdt' ? KHO_FDT_PROP_PRESERVED_DATA : KHO_FDT_PROP_SUB_FDT;
  const rep: SubtreeReport = {
    name: node.name,
    phys: null,
    size: null,
    sizeFrom: 'unknown',
    kind: 'unavailable',
    preserved: null,
  };
  if (prop(node, otherProp) !== null) {
    findings.add(
      'abi-mismatch',
      `sub-tree '${node.name}' has '${otherProp}', which ${version.compatible} does not use`,
      `${path}/${otherProp}`,
    );
  }
  const hasBlobSizeProp = prop(node, KHO_FDT_PROP_BLOB_SIZE) !== null;
  if (!version.hasBlobSize && hasBlobSizeProp) {
    findings.add(
      'abi-mismatch',
      `sub-tree '${node.name}' has 'blob-size', which ${version.compatible} does not use`,
      `${path}/blob-size`,
    );
  }
  if (prop(node, dataProp) === null) {
    findings.add(
      'subtree-no-data',
      `sub-tree '${node.name}' has no '${dataProp}': the kernel skips it`,
      path,
    );
    return rep;
  }
  rep.phys = le64Prop(node, dataProp, ctx, `${path}/${dataProp}`, null);
  if (version.hasBlobSize) {
    rep.size = le64Prop(node, KHO_FDT_PROP_BLOB_SIZE, ctx, `${path}/blob-size`, 'warning');
    if (rep.size !== null) rep.sizeFrom = 'blob-size';
  }
  if (rep.phys === null) return rep;
  const phys = rep.phys;
  const img = ctx.image;
  if (img === null) return rep;

  // Size from the FDT header when the version records none (v1 always an FDT, v2 "assume FDT").
  const head = img.read(phys, 40);
  if (head === null) {
    findings.add(
      'ptr-outside-image',
      `blob of '${node.name}' at ${hexAddr(phys)} is not in the memory image`,
      path,
    );
    return rep;
  }
  const headIsFdt = isFdt(head);
  if (rep.size === null && headIsFdt && !version.hasBlobSize) {
    rep.size = be32(head, 4);
    rep.sizeFrom = 'fdt-header';
  }
  if (version.subtreeDataProp === 'fdt' && !headIsFdt) {
    findings.add('subtree-invalid', `kho-v1 sub-tree '${node.name}' does not point at an FDT`, path);
  }
  checkPlacement(rep, ctx, path);

  let want = rep.size ?? UNKNOWN_SIZE_READ;
  if (want > MAX_BLOB_READ) {
    findings.add(
      'subtree-too-big',
      `blob of '${node.name}' is ${want} bytes; only the first ${MAX_BLOB_READ} are decoded`,
      path,
    );
    want = MAX_BLOB_READ;
  }
  if (want > budget.left) {
    findings.add('subtree-too-big', `sub-tree read budget exhausted: '${node.name}' not decoded`, path);
    return rep;
  }
  budget.left -= want;
  let bytes = img.read(phys, want);
  if (bytes === null && rep.size === null) bytes = img.read(phys, 40); // unknown size near the image end
  if (bytes === null) {
    findings.add(
      'ptr-outside-image',
      `blob of '${node.name}' [${hexAddr(phys)}, +${want}) is not wholly in the memory image`,
      path,
    );
    return rep;
  }

  if (node.name === 'kexec-metadata' && !headIsFdt) {
    decodeMetadata(rep, bytes, ctx, path);
    return rep;
  }
  if (headIsFdt) {
    decodeFdtBlob(rep, bytes, ctx, path);
    return rep;
  }
  rep.kind = 'binary';
  rep.hexdump = hexdumpC(bytes.subarray(0, HEXDUMP_EXCERPT), 0);
  return rep;
}

/** Is the blob preserved, and is it clear of scratch? */
function checkPlacement(rep: SubtreeReport, ctx: SubtreeContext, path: string): void {
  const phys = rep.phys!;
  const len = rep.size ?? 1;
  if (ctx.preserved !== null) {
    rep.preserved = ctx.preserved.ranges.covers(phys, len);
    if (!rep.preserved) {
      ctx.findings.add(
        'subtree-not-preserved',
        `blob of '${rep.name}' [${hexAddr(phys)}, ${hexAddr(phys + len)}) is not wholly in preserved memory: the successor may find it overwritten`,
        path,
      );
    }
  }
  if (ctx.scratch !== null) {
    const hit = ctx.scratch.firstIntersection(phys, phys + len);
    if (hit !== null) {
      ctx.findings.add(
        'subtree-in-scratch',
        `blob of '${rep.name}' at ${hexAddr(phys)} lies in scratch [${hexAddr(hit.start)}, ${hexAddr(hit.end)})`,
        path,
      );
    }
  }
}

function decodeMetadata(rep: SubtreeReport, bytes: Uint8Array, ctx: SubtreeContext, path: string): void {
  rep.kind = 'kexec-metadata';
  if (rep.size !== null && rep.size !== KEXEC_METADATA_SIZE) {
    ctx.findings.add(
      'subtree-size',
      `kexec-metadata blob-size is ${rep.size}, expected ${KEXEC_METADATA_SIZE}`,
      `${path}/blob-size`,
    );
  }
  const m = decodeKexecMetadata(bytes);
  if (m.ok) rep.kexecMetadata = m.value;
  else ctx.findings.add('subtree-invalid', `kexec-metadata: ${m.error.message}`, path);
}

function decodeFdtBlob(rep: SubtreeReport, bytes: Uint8Array, ctx: SubtreeContext, path: string): void {
  rep.kind = 'fdt';
  const total = be32(bytes, 4);
  if (rep.sizeFrom === 'blob-size' && rep.size !== null && rep.size !== total) {
    ctx.findings.add(
      'subtree-size',
      `blob-size ${rep.size} differs from the FDT's totalsize ${total}`,
      `${path}/blob-size`,
      rep.size < total ? 'error' : 'info',
    );
  }
  const blob = bytes.subarray(0, Math.min(bytes.length, total));
  let tree: FdtTree;
  try {
    tree = readTree(blob);
  } catch (err) {
    if (!(err instanceof FdtError)) throw err;
    ctx.findings.add('subtree-invalid', `FDT of '${rep.name}': ${err.message}`, path);
    return;
  }
  // Only the blob is kept (within the read budget); its tree is rebuilt when printed.
  rep.dts = new StreamedText((sink) => {
    writeDts(readTree(blob), sink);
  });
  if (rep.name === 'memblock') decodeMemblock(rep, tree, ctx, path);
  else if (rep.name === 'kho_test') decodeTestKho(rep, tree, ctx, path);
}

function decodeMemblock(rep: SubtreeReport, tree: FdtTree, ctx: SubtreeContext, path: string): void {
  const r = decodeMemblockTree(tree);
  if (!r.ok) {
    ctx.findings.add('subtree-invalid', `memblock: ${r.error.message}`, path);
    return;
  }
  rep.kind = 'memblock';
  rep.memblock = r.value;
  for (const x of r.value.rejected) {
    ctx.findings.add('subtree-invalid', `memblock: '${x.name}' ${x.reason}`, `${path}/${x.name}`, 'warning');
  }
  if (ctx.preserved === null) return;
  for (const rec of r.value.records) {
    if (rec.size > 0 && !ctx.preserved.ranges.covers(rec.start, rec.size)) {
      ctx.findings.add(
        'reserve-mem-not-preserved',
        `reserve_mem '${rec.name}' [${hexAddr(rec.start)}, +${hexAddr(rec.size)}) is not wholly preserved`,
        `${path}/${rec.name}`,
      );
    }
  }
}

function decodeTestKho(rep: SubtreeReport, tree: FdtTree, ctx: SubtreeContext, path: string): void {
  const r = decodeTestKhoTree(tree);
  if (!r.ok) {
    ctx.findings.add('subtree-invalid', `kho_test: ${r.error.message}`, path);
    return;
  }
  rep.kind = 'kho_test';
  const s = r.value;
  const content: TestKhoContent = {
    magic: 0x4b484f21,
    nrFolios: s.nrFolios,
    csum: s.csum,
    foliosInfo: s.foliosInfo,
    vmallocChunks: [],
    folios: [],
  };
  rep.testKho = content;
  const img = ctx.image;
  if (img === null) return;
  const desc = s.foliosInfo;
  const w = walkKhoVmalloc(desc, (p, len) => img.read(p, len), {
    maxChunks: Math.min(1 << 16, Math.ceil(desc.totalPages / KHO_VMALLOC_PER_CHUNK) + 1),
  });
  const at = `${path}/data/folios_info`;
  if (!w.ok) {
    const code =
      w.error.code === 'UNREADABLE'
        ? 'ptr-outside-image'
        : w.error.code === 'CYCLE'
          ? 'cycle'
          : 'subtree-invalid';
    ctx.findings.add(code, `kho_test folios_info: ${w.error.message}`, at);
    return;
  }
  content.vmallocChunks = w.value.chunks;
  const pieceBytes = desc.order <= 31 ? POW2[12 + desc.order]! : 0;
  const ranges = ctx.preserved?.ranges ?? null;
  if (ranges !== null) {
    for (const c of w.value.chunks) {
      if (!ranges.covers(c, 4096)) {
        ctx.findings.add(
          'vmalloc-not-preserved',
          `folios_info chunk page ${hexAddr(c)} is not preserved`,
          at,
        );
      }
    }
    for (const p of w.value.pieces) {
      if (!ctx.preserved!.set.hasBlock(p, desc.order)) {
        ctx.findings.add(
          'vmalloc-not-preserved',
          `folios_info page ${hexAddr(p)} (order ${desc.order}) is not a preserved block`,
          at,
        );
      }
    }
  }
  // The array holds nr_folios u64 entries `phys | order`, spread over the pieces.
  const nr = Math.min(s.nrFolios, MAX_TEST_FOLIOS);
  if (nr * 8 > w.value.pieces.length * pieceBytes) {
    ctx.findings.add(
      'subtree-invalid',
      `kho_test: nr_folios ${s.nrFolios} does not fit the ${desc.totalPages}-page folios_info array`,
      at,
    );
    return;
  }
  const set = ctx.preserved?.set ?? null;
  let left = nr;
  for (const piece of w.value.pieces) {
    if (left === 0) break;
    const n = Math.min(left, pieceBytes / 8);
    const b = img.read(piece, n * 8);
    if (b === null) {
      ctx.findings.add('ptr-outside-image', `folios_info page ${hexAddr(piece)} is not in the image`, at);
      return;
    }
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < n; i++) {
      const lo = v.getUint32(i * 8, true);
      const hi = v.getUint32(i * 8 + 4, true);
      if (hi >= 0x20_0000) {
        ctx.findings.add(
          'test-kho-folio',
          `folios_info entry does not fit in 53 bits`,
          hexAddr(piece + i * 8),
        );
        continue;
      }
      const f = decodeFolioInfo(hi * 0x1_0000_0000 + lo);
      if (content.folios.length < ctx.maxList) content.folios.push(f);
      if (set !== null && !set.hasBlock(f.phys, f.order)) {
        ctx.findings.add(
          'test-kho-folio',
          `test_kho folio ${hexAddr(f.phys)} order ${f.order} is not a preserved block of that order`,
          hexAddr(f.phys),
        );
      }
    }
    left -= n;
  }
}

/** Entries per vmalloc chunk page. */
const KHO_VMALLOC_PER_CHUNK = 511;
