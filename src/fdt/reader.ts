/**
 * Validated read access to a flattened devicetree, in the manner of libfdt's read-only API:
 * nodes and properties are addressed by their offset inside the structure block (the same
 * numbers libfdt returns), lookups follow libfdt's rules (unit-address matching, aliases).
 */
import { resolvePath } from './path.ts';
import { FDT_NOP, FDT_PROP, FDT_RESERVE_ENTRY_SIZE } from './constants.ts';
import { FdtError } from './errors.ts';
import { be32, type FdtHeader } from './header.ts';
import { decodeText } from './text.ts';
import type { FdtNode, FdtProperty, FdtReserveEntry, FdtTree } from './tree.ts';
import { validateFdt, type FdtIndex } from './validate.ts';

/** A property found in a node: its name, value (a view into the blob) and structure offset. */
export interface FdtPropRef {
  name: string;
  value: Uint8Array;
  /** Structure-relative offset of the PROP token. */
  offset: number;
}

/** Check a whole blob (header, reservation map, structure, layout); throws FdtError. */
export function checkFdt(blob: Uint8Array): void {
  validateFdt(blob);
}

/** Read a blob into the plain tree form; validates fully, throws FdtError only. Values are copies. */
export function readTree(blob: Uint8Array): FdtTree {
  return new Fdt(blob).toTree();
}

/**
 * A validated blob. The constructor checks everything (see validate.ts), so later reads cannot
 * run off the blob. The blob is referenced, not copied: do not modify it while in use.
 */
export class Fdt {
  /** The blob as given. */
  readonly blob: Uint8Array;
  /** Header fields. */
  readonly header: FdtHeader;
  readonly #index: FdtIndex;
  readonly #base: number;
  readonly #names = new Map<number, string>();

  constructor(blob: Uint8Array) {
    if (!(blob instanceof Uint8Array)) throw new FdtError('FDT_ERR_BADVALUE', -1, 'blob is not a Uint8Array');
    this.#index = validateFdt(blob);
    this.blob = blob;
    this.header = this.#index.header;
    this.#base = this.header.offDtStruct;
  }

  /** Header `version`. */
  get version(): number {
    return this.header.version;
  }
  /** Header `last_comp_version`. */
  get lastCompVersion(): number {
    return this.header.lastCompVersion;
  }
  /** Header `boot_cpuid_phys`. */
  get bootCpuidPhys(): number {
    return this.header.bootCpuidPhys;
  }
  /** Header `totalsize`. */
  get totalsize(): number {
    return this.header.totalsize;
  }
  /** Number of nodes in the tree. */
  get nodeCount(): number {
    return this.#index.nodeCount;
  }

  /** Offset of the root node. */
  root(): number {
    return this.#index.nodeOffsets[0]!;
  }

  /** Index of a node offset in the node table; throws FDT_ERR_BADOFFSET if it is not a node. */
  #nodeIndex(offset: number): number {
    const offs = this.#index.nodeOffsets;
    let lo = 0;
    let hi = this.#index.nodeCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = offs[mid]!;
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    throw new FdtError(
      'FDT_ERR_BADOFFSET',
      this.#base + (Number.isFinite(offset) ? offset : 0),
      `${offset} is not a node offset`,
    );
  }

  /** Absolute position just after a node's BEGIN_NODE token and name. */
  #afterName(offset: number): number {
    const start = this.#base + offset + 4;
    return (this.blob.indexOf(0, start) + 4) & ~3;
  }

  /** A node's name as stored (with unit address; empty for the root). */
  getName(node: number): string {
    this.#nodeIndex(node);
    const start = this.#base + node + 4;
    return decodeText(this.blob, start, this.blob.indexOf(0, start));
  }

  /** Offset of a node's parent, or -1 for the root. */
  parent(node: number): number {
    const p = this.#index.nodeParents[this.#nodeIndex(node)]!;
    return p < 0 ? -1 : this.#index.nodeOffsets[p]!;
  }

  /** Depth of a node (root = 0). */
  depth(node: number): number {
    let i = this.#nodeIndex(node);
    let d = 0;
    while ((i = this.#index.nodeParents[i]!) >= 0) d++;
    return d;
  }

  /** Full path of a node, e.g. `/a/b@1`. */
  getPath(node: number): string {
    const parts: string[] = [];
    for (let n = node; n !== -1; n = this.parent(n)) parts.push(this.getName(n));
    parts.pop(); // the root's empty name
    return '/' + parts.reverse().join('/');
  }

  /** Offsets of a node's direct children, in blob order. */
  children(node: number): number[] {
    const i = this.#nodeIndex(node);
    const { nodeOffsets, nodeEnds } = this.#index;
    const out: number[] = [];
    // Descendants follow their ancestor contiguously; hop from each child past its subtree.
    for (let j = i + 1, end = nodeEnds[i]!; j < end; j = nodeEnds[j]!) out.push(nodeOffsets[j]!);
    return out;
  }

  /**
   * The first child of `parent` whose name equals `name`, or, when `name` has no '@', whose name
   * is `name@<anything>` (libfdt's fdt_subnode_offset). Returns -1 when there is none.
   */
  subnode(parent: number, name: string): number {
    mustBeString(name, 'node name');
    const hasAt = name.includes('@');
    for (const c of this.children(parent)) {
      const n = this.getName(c);
      if (n === name) return c;
      if (!hasAt && n.length > name.length && n.charCodeAt(name.length) === 0x40 && n.startsWith(name))
        return c;
    }
    return -1;
  }

  /**
   * Offset of the node at `path` (libfdt's fdt_path_offset): repeated '/' are ignored, each
   * component matched with `subnode`; a path not starting with '/' begins with an alias from
   * `/aliases`. Returns -1 when a component is missing; throws FDT_ERR_BADPATH for an unknown alias.
   */
  pathOffset(path: string): number {
    mustBeString(path, 'path');
    return resolvePath(
      {
        root: () => this.root(),
        child: (offset, name) => this.subnode(offset, name),
        alias: (name) => {
          const aliases = this.subnode(this.root(), 'aliases');
          return aliases < 0 ? null : this.getString(aliases, name);
        },
      },
      path,
    );
  }

  #propName(nameoff: number): string {
    let s = this.#names.get(nameoff);
    if (s === undefined) {
      const start = this.header.offDtStrings + nameoff;
      s = decodeText(this.blob, start, this.blob.indexOf(0, start));
      this.#names.set(nameoff, s);
    }
    return s;
  }

  /** A node's properties in blob order (values are views into the blob). */
  properties(node: number): FdtPropRef[] {
    this.#nodeIndex(node);
    const b = this.blob;
    const out: FdtPropRef[] = [];
    let pos = this.#afterName(node);
    for (;;) {
      const tag = be32(b, pos);
      if (tag === FDT_NOP) {
        pos += 4;
        continue;
      }
      if (tag !== FDT_PROP) return out;
      const len = be32(b, pos + 4);
      out.push({
        name: this.#propName(be32(b, pos + 8)),
        value: b.subarray(pos + 12, pos + 12 + len),
        offset: pos - this.#base,
      });
      pos = (pos + 12 + len + 3) & ~3;
    }
  }

  /** Skip NOPs from absolute position `pos`; the structure offset of a PROP there, or -1. */
  #propAt(pos: number): number {
    const b = this.blob;
    let tag = be32(b, pos);
    while (tag === FDT_NOP) {
      pos += 4;
      tag = be32(b, pos);
    }
    return tag === FDT_PROP ? pos - this.#base : -1;
  }

  /** Absolute position of a property's token; FDT_ERR_BADOFFSET unless a PROP token starts there. */
  #prop(prop: number): number {
    const w = prop >>> 2;
    if (
      prop !== w << 2 ||
      prop >= this.#index.structEnd ||
      (this.#index.propBits[w >>> 3]! & (1 << (w & 7))) === 0
    ) {
      throw new FdtError('FDT_ERR_BADOFFSET', -1, `${prop} is not a property offset`);
    }
    return this.#base + prop;
  }

  /** Offset of a node's first property (libfdt's fdt_first_property_offset), or -1. */
  firstProperty(node: number): number {
    this.#nodeIndex(node);
    return this.#propAt(this.#afterName(node));
  }

  /** Offset of the property after `prop` in the same node, or -1. */
  nextProperty(prop: number): number {
    const pos = this.#prop(prop);
    return this.#propAt((pos + 12 + be32(this.blob, pos + 4) + 3) & ~3);
  }

  /** Name of the property at offset `prop` (decoded once per string offset). */
  propertyName(prop: number): string {
    return this.#propName(be32(this.blob, this.#prop(prop) + 8));
  }

  /** Value length of the property at offset `prop`. */
  propertyLength(prop: number): number {
    return be32(this.blob, this.#prop(prop) + 4);
  }

  /** Value of the property at offset `prop` (a view into the blob). */
  propertyValue(prop: number): Uint8Array {
    const pos = this.#prop(prop);
    return this.blob.subarray(pos + 12, pos + 12 + be32(this.blob, pos + 4));
  }

  /** The value of property `name` of `node` (a view into the blob), or null when absent. */
  getprop(node: number, name: string): Uint8Array | null {
    mustBeString(name, 'property name');
    for (const p of this.properties(node)) if (p.name === name) return p.value;
    return null;
  }

  #need(node: number, name: string, len: number): Uint8Array | null {
    const v = this.getprop(node, name);
    if (v !== null && v.length !== len) {
      throw new FdtError('FDT_ERR_BADVALUE', -1, `property ${name} has ${v.length} bytes, expected ${len}`);
    }
    return v;
  }

  /** A string property (must end in its only NUL), or null when absent; FDT_ERR_BADVALUE otherwise. */
  getString(node: number, name: string): string | null {
    const v = this.getprop(node, name);
    if (v === null) return null;
    if (v.length === 0 || v[v.length - 1] !== 0 || v.indexOf(0) !== v.length - 1) {
      throw new FdtError('FDT_ERR_BADVALUE', -1, `property ${name} is not a single NUL-terminated string`);
    }
    return decodeText(v, 0, v.length - 1);
  }

  /** A string-list property (each string NUL-terminated), or null when absent. */
  getStringList(node: number, name: string): string[] | null {
    const v = this.getprop(node, name);
    if (v === null) return null;
    if (v.length > 0 && v[v.length - 1] !== 0) {
      throw new FdtError('FDT_ERR_BADVALUE', -1, `property ${name} is not NUL-terminated`);
    }
    const out: string[] = [];
    let s = 0;
    while (s < v.length) {
      const e = v.indexOf(0, s);
      out.push(decodeText(v, s, e));
      s = e + 1;
    }
    return out;
  }

  /** A 4-byte big-endian cell, or null when absent; FDT_ERR_BADVALUE if not 4 bytes. */
  getU32(node: number, name: string): number | null {
    const v = this.#need(node, name, 4);
    return v === null ? null : be32(v, 0);
  }

  /** An 8-byte big-endian value as a number, or null; FDT_ERR_BADVALUE if not 8 bytes or >= 2^53. */
  getU64(node: number, name: string): number | null {
    const v = this.#need(node, name, 8);
    return v === null ? null : joinChecked(be32(v, 0), be32(v, 4), name);
  }

  /** An 8-byte little-endian value (KHO's raw scalars) as a number, or null; as getU64 otherwise. */
  getU64LE(node: number, name: string): number | null {
    const v = this.#need(node, name, 8);
    if (v === null) return null;
    const lo = (v[0]! | (v[1]! << 8) | (v[2]! << 16) | (v[3]! << 24)) >>> 0;
    const hi = (v[4]! | (v[5]! << 8) | (v[6]! << 16) | (v[7]! << 24)) >>> 0;
    return joinChecked(hi, lo, name);
  }

  /** Number of memory reservation entries. */
  numMemRsv(): number {
    return this.#index.memrsvCount;
  }

  /** The memory reservation entries, in order. */
  memreserve(): FdtReserveEntry[] {
    const out: FdtReserveEntry[] = [];
    const b = this.blob;
    for (let i = 0; i < this.#index.memrsvCount; i++) {
      const p = this.header.offMemRsvmap + i * FDT_RESERVE_ENTRY_SIZE;
      out.push({
        address: (BigInt(be32(b, p)) << 32n) | BigInt(be32(b, p + 4)),
        size: (BigInt(be32(b, p + 8)) << 32n) | BigInt(be32(b, p + 12)),
      });
    }
    return out;
  }

  /** The whole tree in plain form (values copied). Iterative, so deep nesting is fine. */
  toTree(): FdtTree {
    const { nodeOffsets, nodeParents, nodeCount } = this.#index;
    const b = this.blob;
    const base = this.#base;
    const nodes: FdtNode[] = new Array<FdtNode>(nodeCount);
    for (let i = 0; i < nodeCount; i++) {
      const start = base + nodeOffsets[i]! + 4;
      const nul = b.indexOf(0, start);
      const props: FdtProperty[] = [];
      let pos = (nul + 4) & ~3;
      for (;;) {
        const tag = be32(b, pos);
        if (tag === FDT_NOP) {
          pos += 4;
          continue;
        }
        if (tag !== FDT_PROP) break;
        const len = be32(b, pos + 4);
        props.push({ name: this.#propName(be32(b, pos + 8)), value: b.slice(pos + 12, pos + 12 + len) });
        pos = (pos + 12 + len + 3) & ~3;
      }
      const node: FdtNode = { name: decodeText(b, start, nul), props, children: [] };
      nodes[i] = node;
      const p = nodeParents[i]!;
      if (p >= 0) nodes[p]!.children.push(node);
    }
    return {
      version: this.header.version,
      lastCompVersion: this.header.lastCompVersion,
      bootCpuidPhys: this.header.bootCpuidPhys,
      memreserve: this.memreserve(),
      root: nodes[0]!,
    };
  }
}

function mustBeString(s: unknown, what: string): void {
  if (typeof s !== 'string') throw new FdtError('FDT_ERR_BADVALUE', -1, `${what} is not a string`);
}

function joinChecked(hi: number, lo: number, name: string): number {
  if (hi >= 0x20_0000) throw new FdtError('FDT_ERR_BADVALUE', -1, `property ${name} does not fit in 53 bits`);
  return hi * 0x1_0000_0000 + lo;
}
