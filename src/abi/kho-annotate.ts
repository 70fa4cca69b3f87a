/**
 * Notes that decode KHO's values inside a devicetree, for `kho fdt dump --kho`.
 *
 * KHO stores its scalars as raw CPU-endian (little-endian) integers, which dtc shows as
 * meaningless big-endian cells. Given a tree, this module recognises which KHO document it is
 * from the root `compatible` (the KHO root FDT kho-v1..v4, the memblock `reserve_mem`
 * sub-tree, the test_kho sub-tree, the FDT-era Live Update Orchestrator tree `luo-v1`) and
 * returns a short note per property it understands (include/linux/kho/abi/kexec_handover.h,
 * memblock.h, luo.h; lib/test_kho.c). It only reads; the DTS text itself is untouched.
 */
import { KEXEC_METADATA_SIZE, KHO_KEXEC_METADATA_NAME } from './kexec-metadata.ts';
import { KHO_VMALLOC_ALLOC, KHO_VMALLOC_HUGE_VMAP } from './kho-vmalloc.ts';
import { MEMBLOCK_KHO_NODE_COMPATIBLE } from './memblock-reserve-mem.ts';
import {
  LUO_FDT_COMPATIBLE,
  LUO_FDT_FLB_COMPATIBLE,
  LUO_FDT_FLB_HEADER,
  LUO_FDT_FLB_NODE_NAME,
  LUO_FDT_LIVEUPDATE_NUM,
  LUO_FDT_SESSION_COMPATIBLE,
  LUO_FDT_SESSION_HEADER,
  LUO_FDT_SESSION_NODE_NAME,
  LUO_V1_FILE_MAX,
  LUO_V1_SESSION_MAX,
  LUO_V1_SESSION_PGCNT,
} from './luo-v1.ts';
import { KHO_TEST_COMPAT, KHO_TEST_DATA_NODE, KHO_TEST_MAGIC } from './test-kho.ts';
import { KHO_ABI_VERSIONS, khoAbiVersion, type KhoAbiVersion } from './versions.ts';
import type { FdtProperty, FdtTree } from '../fdt/tree.ts';
import { toDts } from '../fdt/dts.ts';

/** What distinguishes a version, for the note on the root `compatible`. */
function abiFacts(v: KhoAbiVersion): string {
  const map = v.memoryMap === 'radix' ? 'radix-tree memory map' : 'chunk-list memory map';
  return `${map}, sub-trees by \`${v.subtreeDataProp}\`${v.hasBlobSize ? ' + `blob-size`' : ''}`;
}

const KNOWN = `${KHO_ABI_VERSIONS[0]!.compatible}..${KHO_ABI_VERSIONS[KHO_ABI_VERSIONS.length - 1]!.compatible}`;

/** Which KHO document a tree is, from its root compatible. */
export type KhoDocument =
  | { kind: 'root'; compatible: string; abi: KhoAbiVersion | null }
  | { kind: 'memblock'; compatible: string }
  | { kind: 'test'; compatible: string }
  | { kind: 'luo'; compatible: string }
  | { kind: 'none' };

/** Returns a note for a property at a node path (names from the root), or undefined. */
export type KhoNote = (path: readonly string[], prop: FdtProperty) => string | undefined;

/** The strings of a NUL-separated string list, or [] when the value is not one. */
function stringList(v: Uint8Array): string[] {
  if (v.length === 0 || v[v.length - 1] !== 0) return [];
  let s = '';
  for (let i = 0; i < v.length - 1; i++) s += String.fromCharCode(v[i]!);
  return s.split('\0');
}

function rootCompatibles(tree: FdtTree): string[] {
  const p = tree.root.props.find((x) => x.name === 'compatible');
  return p === undefined ? [] : stringList(p.value);
}

/** Classify a tree by its root compatible (first recognised entry wins). */
export function khoDocument(tree: FdtTree): KhoDocument {
  for (const c of rootCompatibles(tree)) {
    if (/^kho-v[0-9]+$/.test(c)) return { kind: 'root', compatible: c, abi: khoAbiVersion(c) };
    if (c === MEMBLOCK_KHO_NODE_COMPATIBLE) return { kind: 'memblock', compatible: c };
    if (c === KHO_TEST_COMPAT) return { kind: 'test', compatible: c };
    if (c === LUO_FDT_COMPATIBLE) return { kind: 'luo', compatible: c };
  }
  return { kind: 'none' };
}

/** One line naming the document, e.g. `KHO ABI kho-v4 (radix-tree memory map, ...)`. */
export function describeKhoDocument(doc: KhoDocument): string | undefined {
  switch (doc.kind) {
    case 'root':
      return doc.abi !== null
        ? `KHO ABI ${doc.compatible} (${abiFacts(doc.abi)})`
        : `unknown KHO ABI version ${doc.compatible} (known: ${KNOWN})`;
    case 'memblock':
      return 'KHO sub-tree: memblock reserve_mem hand-over (memblock-v1)';
    case 'test':
      return 'KHO sub-tree: test_kho (kho-test-v1)';
    case 'luo':
      return 'KHO sub-tree LUO: Live Update Orchestrator, FDT-era ABI luo-v1 (v6.19 … v7.1)';
    case 'none':
      return undefined;
  }
}

function le(v: Uint8Array, off: number, n: number): bigint {
  let x = 0n;
  for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(v[off + i]!);
  return x;
}

const hex = (x: bigint): string => `0x${x.toString(16)}`;

/** `LE64 0x1234000`, with a warning instead when the length is wrong. */
function le64(v: Uint8Array, meaning: string): string {
  if (v.length !== 8) return `expected 8 bytes (LE64 ${meaning}), got ${v.length}`;
  return `LE64 ${hex(le(v, 0, 8))}: ${meaning}`;
}

function le64Size(v: Uint8Array, meaning: string): string {
  if (v.length !== 8) return `expected 8 bytes (LE64 ${meaning}), got ${v.length}`;
  const x = le(v, 0, 8);
  return `LE64 ${hex(x)} = ${x} bytes: ${meaning}`;
}

function le32(v: Uint8Array, meaning: string): string {
  if (v.length !== 4) return `expected 4 bytes (LE32 ${meaning}), got ${v.length}`;
  const x = le(v, 0, 4);
  return `LE32 ${hex(x)} = ${x}: ${meaning}`;
}

/** struct kho_vmalloc: first u64, total_pages u32, flags u16, order u16. */
function khoVmalloc(v: Uint8Array): string {
  if (v.length !== 16) return `expected 16 bytes (struct kho_vmalloc), got ${v.length}`;
  const flags = Number(le(v, 12, 2));
  const names: string[] = [];
  if (flags & KHO_VMALLOC_ALLOC) names.push('ALLOC');
  if (flags & KHO_VMALLOC_HUGE_VMAP) names.push('HUGE_VMAP');
  const unknown = flags & ~(KHO_VMALLOC_ALLOC | KHO_VMALLOC_HUGE_VMAP);
  if (unknown !== 0) names.push(`unknown ${hex(BigInt(unknown))}`);
  const flagText = names.length === 0 ? '' : ` (${names.join('|')})`;
  return (
    `struct kho_vmalloc: first ${hex(le(v, 0, 8))}, total_pages ${le(v, 8, 4)}, ` +
    `flags ${hex(BigInt(flags))}${flagText}, order ${le(v, 14, 2)}`
  );
}

function rootNotes(abi: KhoAbiVersion | null, header: string): KhoNote {
  return (path, prop) => {
    const v = prop.value;
    if (path.length === 0) {
      if (prop.name === 'compatible') return header;
      if (prop.name === 'preserved-memory-map') {
        if (abi === null) return le64(v, 'memory map');
        return abi.memoryMap === 'chunks'
          ? le64(v, 'phys of the first khoser_mem_chunk (0 = none)')
          : le64(v, 'phys of the radix-tree root page');
      }
      return undefined;
    }
    if (path.length !== 1) return undefined;
    // a sub-tree node: what this version stores there (unknown versions: every known name)
    const dataProp = abi?.subtreeDataProp;
    if (prop.name === 'fdt' && (dataProp ?? 'fdt') === 'fdt') return le64(v, 'phys of the sub-FDT');
    if (prop.name === 'preserved-data' && (dataProp ?? 'preserved-data') === 'preserved-data') {
      return le64(v, 'phys of the sub-tree blob');
    }
    if (prop.name === 'blob-size' && (abi?.hasBlobSize ?? true)) {
      const meta = path[0] === KHO_KEXEC_METADATA_NAME ? ` (kexec-metadata: ${KEXEC_METADATA_SIZE})` : '';
      return le64Size(v, `blob size${meta}`);
    }
    return undefined;
  };
}

function memblockNotes(header: string): KhoNote {
  return (path, prop) => {
    if (path.length === 0) return prop.name === 'compatible' ? header : undefined;
    if (path.length !== 1) return undefined;
    if (prop.name === 'start') return le64(prop.value, 'reservation start (phys)');
    if (prop.name === 'size') return le64Size(prop.value, 'reservation size');
    return undefined;
  };
}

function testNotes(header: string): KhoNote {
  return (path, prop) => {
    const v = prop.value;
    if (path.length === 0) {
      if (prop.name === 'compatible') return header;
      if (prop.name === 'magic') {
        if (v.length !== 4) return le32(v, 'magic');
        const ok = Number(le(v, 0, 4)) === KHO_TEST_MAGIC;
        return `LE32 ${hex(le(v, 0, 4))}: magic ${ok ? '"KHO!" (ok)' : `(expected ${hex(BigInt(KHO_TEST_MAGIC))})`}`;
      }
      return undefined;
    }
    if (path.length !== 1 || path[0] !== KHO_TEST_DATA_NODE) return undefined;
    if (prop.name === 'nr_folios') return le32(v, 'number of folios');
    if (prop.name === 'csum') return le32(v, 'checksum');
    if (prop.name === 'folios_info') return khoVmalloc(v);
    return undefined;
  };
}

/** A sub-node compatible: what it is, and whether the successor's check accepts it. */
function compatNote(v: Uint8Array, what: string, expected: string): string {
  return stringList(v).includes(expected) ? what : `${what}: the successor expects "${expected}"`;
}

function luoNotes(header: string): KhoNote {
  return (path, prop) => {
    const v = prop.value;
    if (path.length === 0) {
      if (prop.name === 'compatible') return header;
      if (prop.name === LUO_FDT_LIVEUPDATE_NUM) {
        if (v.length !== 8) return `expected 8 bytes (LE64 live update count), got ${v.length}`;
        const x = le(v, 0, 8);
        return `LE64 ${hex(x)} = ${x}: live updates so far (the writer's incoming number + 1)`;
      }
      return undefined;
    }
    if (path.length !== 1) return undefined;
    if (path[0] === LUO_FDT_SESSION_NODE_NAME) {
      if (prop.name === 'compatible') return compatNote(v, 'session ABI', LUO_FDT_SESSION_COMPATIBLE);
      if (prop.name === LUO_FDT_SESSION_HEADER) {
        return le64(
          v,
          `phys of the ${LUO_V1_SESSION_PGCNT}-page session area: u64 count + 80-byte luo_session_ser (at most ${LUO_V1_SESSION_MAX}), each with a ${LUO_V1_FILE_MAX}-entry file array`,
        );
      }
    }
    if (path[0] === LUO_FDT_FLB_NODE_NAME) {
      if (prop.name === 'compatible')
        return `FLB ABI (the released tree has ${LUO_FDT_FLB_COMPATIBLE}; v7.0+)`;
      if (prop.name === LUO_FDT_FLB_HEADER) {
        return le64(v, 'phys of the FLB page: u64 pgcnt, u64 count + 64-byte luo_flb_ser');
      }
    }
    return undefined;
  };
}

/**
 * The KHO notes for a tree: `document` says what it is, `note` decodes properties
 * (plain text, no comment delimiters). For a tree that is no KHO document, `note` returns
 * nothing.
 */
export function khoNotes(tree: FdtTree): {
  document: KhoDocument;
  summary: string | undefined;
  note: KhoNote;
} {
  const document = khoDocument(tree);
  const summary = describeKhoDocument(document);
  switch (document.kind) {
    case 'root':
      return { document, summary, note: rootNotes(document.abi, summary!) };
    case 'memblock':
      return { document, summary, note: memblockNotes(summary!) };
    case 'test':
      return { document, summary, note: testNotes(summary!) };
    case 'luo':
      return { document, summary, note: luoNotes(summary!) };
    case 'none':
      return { document, summary, note: () => undefined };
  }
}

/** A note as a C comment, safe against a `*` `/` sequence in the text. */
export function asComment(text: string): string {
  return `/* ${text.replaceAll('*/', '* /')} */`;
}

/** A tree as DTS with the KHO notes as comments (`kho fdt dump --kho`). */
export function khoDts(tree: FdtTree): string {
  const { note } = khoNotes(tree);
  return toDts(tree, (path, prop) => {
    const text = note(path, prop);
    return text === undefined ? undefined : asComment(text);
  });
}
