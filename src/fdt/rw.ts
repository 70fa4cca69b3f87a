/**
 * Read-write mode: in-place edits of a blob inside a larger buffer, byte-compatible with
 * libfdt's fdt_rw (fdt_open_into, fdt_setprop, fdt_add_subnode, fdt_del_node, fdt_pack, …).
 *
 * Every edit is a splice of the buffer exactly where libfdt splices: the data after the splice
 * point moves, and the bytes left behind are NOT cleared. So value padding and the free tail of
 * the buffer may hold stale bytes, just as in a libfdt buffer; modelling the buffer byte for byte
 * is what makes the output identical. libfdt's placement rules that follow from this:
 * a new property goes FIRST in its node (right after the name), a new subnode goes right after
 * the parent's properties (before existing children), a new property name is appended to the
 * strings block unless its bytes + NUL already occur there (possibly as the tail of another name).
 * Strings are never removed.
 */
import { resolvePath } from './path.ts';
import { allocBuffer, checkU64, findString, nameBytes, setBe32, setBe64 } from './bytes.ts';
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_LAST_COMPATIBLE_VERSION,
  FDT_LAST_SUPPORTED_VERSION,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_V17_HEADER_SIZE,
  HDR_BOOT_CPUID_PHYS,
  HDR_LAST_COMP_VERSION,
  HDR_MAGIC,
  HDR_OFF_DT_STRINGS,
  HDR_OFF_DT_STRUCT,
  HDR_OFF_MEM_RSVMAP,
  HDR_SIZE_DT_STRINGS,
  HDR_SIZE_DT_STRUCT,
  HDR_TOTALSIZE,
  HDR_VERSION,
  tagAlign,
} from './constants.ts';
import { FdtError } from './errors.ts';
import { be32 } from './header.ts';
import { Fdt } from './reader.ts';
import { decodeText } from './text.ts';
import { validateFdt } from './validate.ts';

const MAX_BUFSIZE = 0x7fffffff;

function checkBufsize(bufsize: number): void {
  if (!Number.isSafeInteger(bufsize) || bufsize < 0 || bufsize > MAX_BUFSIZE) {
    throw new FdtError('FDT_ERR_NOSPACE', -1, `buffer size ${bufsize} is not usable`);
  }
}

function toBytes(value: Uint8Array, name: string): Uint8Array {
  if (!(value instanceof Uint8Array))
    throw new FdtError('FDT_ERR_BADVALUE', -1, `value of ${name} is not bytes`);
  return value;
}

/**
 * fdt_open_into: move a (validated) blob into `buf` (a new zeroed buffer, or the blob's own
 * buffer when `inPlace`). Blobs whose blocks are in libfdt order keep their layout (totalsize
 * becomes the buffer size, version 17); others are repacked (map at 40, structure, strings).
 * In place, libfdt builds the repacked copy right after the old blob and moves it down, so
 * that copy stays behind in the free space; we do the same.
 */
function openIntoBuffer(blob: Uint8Array, buf: Uint8Array, inPlace: boolean): Uint8Array {
  const bufsize = buf.length;
  const idx = validateFdt(blob);
  const h = idx.header;
  const memSize = (idx.memrsvCount + 1) * FDT_RESERVE_ENTRY_SIZE;
  const structSize = h.version >= 17 ? h.sizeDtStruct : idx.structEnd;
  const misordered =
    h.offMemRsvmap < FDT_V17_HEADER_SIZE ||
    h.offDtStruct < h.offMemRsvmap + memSize ||
    h.offDtStrings < h.offDtStruct + structSize ||
    h.totalsize < h.offDtStrings + h.sizeDtStrings;
  if (!misordered) {
    if (h.totalsize > bufsize) {
      throw new FdtError('FDT_ERR_NOSPACE', -1, `blob of ${h.totalsize} bytes does not fit in ${bufsize}`);
    }
    if (!inPlace) buf.set(blob.subarray(0, h.totalsize));
    setBe32(buf, HDR_VERSION, FDT_LAST_SUPPORTED_VERSION);
    setBe32(buf, HDR_SIZE_DT_STRUCT, structSize);
    setBe32(buf, HDR_TOTALSIZE, bufsize);
    return buf;
  }
  const newsize = FDT_V17_HEADER_SIZE + memSize + structSize + h.sizeDtStrings;
  const tmp = inPlace ? h.totalsize : 0;
  if (tmp + newsize > bufsize) {
    throw new FdtError('FDT_ERR_NOSPACE', -1, `repacked blob of ${newsize} bytes does not fit in ${bufsize}`);
  }
  const memOff = FDT_V17_HEADER_SIZE;
  const structOff = memOff + memSize;
  const strOff = structOff + structSize;
  // fdt_packblocks_ into tmp (the old blocks all lie below tmp when in place).
  buf.set(blob.subarray(h.offMemRsvmap, h.offMemRsvmap + memSize), tmp + memOff);
  buf.set(blob.subarray(h.offDtStruct, h.offDtStruct + structSize), tmp + structOff);
  buf.set(blob.subarray(h.offDtStrings, h.offDtStrings + h.sizeDtStrings), tmp + strOff);
  setBe32(buf, tmp + HDR_OFF_MEM_RSVMAP, memOff);
  setBe32(buf, tmp + HDR_OFF_DT_STRUCT, structOff);
  setBe32(buf, tmp + HDR_SIZE_DT_STRUCT, structSize);
  setBe32(buf, tmp + HDR_OFF_DT_STRINGS, strOff);
  setBe32(buf, tmp + HDR_SIZE_DT_STRINGS, h.sizeDtStrings);
  if (tmp !== 0) buf.copyWithin(0, tmp, tmp + newsize);
  // libfdt copies boot_cpuid_phys from the source header; in place that header has just been
  // overwritten by the moved copy, whose field holds whatever was in the free space.
  const cpu = inPlace ? be32(buf, HDR_BOOT_CPUID_PHYS) : h.bootCpuidPhys;
  setBe32(buf, HDR_MAGIC, FDT_MAGIC);
  setBe32(buf, HDR_TOTALSIZE, bufsize);
  setBe32(buf, HDR_VERSION, FDT_LAST_SUPPORTED_VERSION);
  setBe32(buf, HDR_LAST_COMP_VERSION, FDT_LAST_COMPATIBLE_VERSION);
  setBe32(buf, HDR_BOOT_CPUID_PHYS, cpu);
  return buf;
}

/** fdt_open_into a fresh zeroed buffer of `bufsize` bytes. */
function openInto(blob: Uint8Array, bufsize: number): Uint8Array {
  checkBufsize(bufsize);
  return openIntoBuffer(blob, allocBuffer(bufsize), false);
}

/** A blob open for in-place editing. Node offsets are structure-relative, as in libfdt. */
export class FdtRw {
  #buf: Uint8Array;
  /** Answered name lookups in the strings block: name (binary string) -> offset. */
  #found = new Map<string, number>();

  private constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  /** fdt_open_into a fresh zeroed buffer of `bufsize` bytes (python libfdt's `Fdt.resize`). */
  static openInto(blob: Uint8Array, bufsize: number): FdtRw {
    if (!(blob instanceof Uint8Array)) throw new FdtError('FDT_ERR_BADVALUE', -1, 'blob is not a Uint8Array');
    return new FdtRw(openInto(blob, bufsize));
  }

  /**
   * fdt_open_into(buf, buf, buf.length): open the blob at the start of `buf` in place, giving it
   * the whole buffer as room (what the kernel does on its FDT page before editing).
   */
  static openInPlace(buf: Uint8Array): FdtRw {
    if (!(buf instanceof Uint8Array))
      throw new FdtError('FDT_ERR_BADVALUE', -1, 'buffer is not a Uint8Array');
    checkBufsize(buf.length);
    return new FdtRw(openIntoBuffer(buf, buf, true));
  }

  /**
   * Edit `buf` in place (a valid blob at its start; free room up to its totalsize). Checks as
   * libfdt's rw probe: version >= 17 (FDT_ERR_BADVERSION), blocks in order (FDT_ERR_BADLAYOUT).
   */
  static inPlace(buf: Uint8Array): FdtRw {
    if (!(buf instanceof Uint8Array))
      throw new FdtError('FDT_ERR_BADVALUE', -1, 'buffer is not a Uint8Array');
    const h = validateFdt(buf).header;
    if (h.version < 17)
      throw new FdtError('FDT_ERR_BADVERSION', HDR_VERSION, `version ${h.version} cannot be edited`);
    if (
      h.offMemRsvmap < FDT_V17_HEADER_SIZE ||
      h.offDtStruct < h.offMemRsvmap + FDT_RESERVE_ENTRY_SIZE ||
      h.offDtStrings < h.offDtStruct + h.sizeDtStruct ||
      h.totalsize < h.offDtStrings + h.sizeDtStrings
    ) {
      throw new FdtError('FDT_ERR_BADLAYOUT', -1, 'blocks are not in libfdt order; use openInto');
    }
    return new FdtRw(buf);
  }

  /** fdt_open_into again, into a new zeroed buffer of `bufsize` bytes. */
  resize(bufsize: number): void {
    this.#buf = openInto(this.#buf, bufsize);
  }

  /** The whole working buffer (live; bytes past totalsize are free space). */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /** A copy of the blob (its first totalsize bytes). */
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.totalsize);
  }

  /** A validated read-only view of a copy of the current blob. */
  toFdt(): Fdt {
    return new Fdt(this.bytes());
  }

  #h(field: number): number {
    return be32(this.#buf, field);
  }
  #set(field: number, v: number): void {
    setBe32(this.#buf, field, v);
  }
  get totalsize(): number {
    return this.#h(HDR_TOTALSIZE);
  }
  get #offStruct(): number {
    return this.#h(HDR_OFF_DT_STRUCT);
  }
  get #sizeStruct(): number {
    return this.#h(HDR_SIZE_DT_STRUCT);
  }
  get #offStrings(): number {
    return this.#h(HDR_OFF_DT_STRINGS);
  }
  get #sizeStrings(): number {
    return this.#h(HDR_SIZE_DT_STRINGS);
  }
  #dataSize(): number {
    return this.#offStrings + this.#sizeStrings;
  }

  /** libfdt's rw probe side effect: a newer version is stamped 17 on the first edit. */
  #probe(): void {
    if (this.#h(HDR_VERSION) > FDT_LAST_SUPPORTED_VERSION) this.#set(HDR_VERSION, FDT_LAST_SUPPORTED_VERSION);
  }

  // ---- splicing (fdt_splice_ and friends) ----

  #splice(p: number, oldlen: number, newlen: number): void {
    const dsize = this.#dataSize();
    if (p + oldlen > dsize) throw new FdtError('FDT_ERR_BADOFFSET', p, 'splice beyond the data');
    if (dsize - oldlen + newlen > this.totalsize) {
      throw new FdtError(
        'FDT_ERR_NOSPACE',
        p,
        `needs ${dsize - oldlen + newlen} bytes, buffer holds ${this.totalsize}`,
      );
    }
    this.#buf.copyWithin(p + newlen, p + oldlen, dsize);
  }

  #spliceStruct(p: number, oldlen: number, newlen: number): void {
    this.#splice(p, oldlen, newlen);
    this.#set(HDR_SIZE_DT_STRUCT, this.#sizeStruct + newlen - oldlen);
    this.#set(HDR_OFF_DT_STRINGS, this.#offStrings + newlen - oldlen);
  }

  #spliceMemRsv(p: number, oldn: number, newn: number): void {
    const delta = (newn - oldn) * FDT_RESERVE_ENTRY_SIZE;
    this.#splice(p, oldn * FDT_RESERVE_ENTRY_SIZE, newn * FDT_RESERVE_ENTRY_SIZE);
    this.#set(HDR_OFF_DT_STRUCT, this.#offStruct + delta);
    this.#set(HDR_OFF_DT_STRINGS, this.#offStrings + delta);
  }

  /** fdt_find_add_string_: offset of `s` in the strings block, appending it when absent. */
  #findAddString(s: Uint8Array): { off: number; allocated: boolean } {
    let key = '';
    for (let i = 0; i < s.length; i++) key += String.fromCharCode(s[i]!);
    const cached = this.#found.get(key);
    if (cached !== undefined) return { off: cached, allocated: false };
    const base = this.#offStrings;
    const size = this.#sizeStrings;
    const p = findString(this.#buf, base, size, s);
    if (p >= 0) {
      this.#found.set(key, p - base);
      return { off: p - base, allocated: false };
    }
    this.#splice(base + size, 0, s.length + 1);
    this.#set(HDR_SIZE_DT_STRINGS, size + s.length + 1);
    this.#buf.set(s, base + size);
    this.#buf[base + size + s.length] = 0;
    // Appended last: earlier occurrences of other names stay first, so only this one is new.
    this.#found.set(key, size);
    return { off: size, allocated: true };
  }

  // ---- walking the structure (trusted: valid on open and kept valid by every edit) ----

  /** Structure-relative offset of the token after the one at `off`. */
  #next(off: number): number {
    const b = this.#buf;
    const abs = this.#offStruct + off;
    const tag = be32(b, abs);
    if (tag === FDT_BEGIN_NODE) return ((b.indexOf(0, abs + 4) + 4) & ~3) - this.#offStruct;
    if (tag === FDT_PROP) return tagAlign(off + 12 + be32(b, abs + 4));
    return off + 4;
  }

  #tag(off: number): number {
    return be32(this.#buf, this.#offStruct + off);
  }

  /** Throw FDT_ERR_BADOFFSET unless `node` is the offset of a BEGIN_NODE token in the tree. */
  #checkNode(node: number): void {
    if (Number.isInteger(node) && node >= 0 && (node & 3) === 0) {
      for (let off = 0; ; off = this.#next(off)) {
        if (off === node) {
          if (this.#tag(off) === FDT_BEGIN_NODE) return;
          break;
        }
        if (off > node || this.#tag(off) === FDT_END) break;
      }
    }
    throw new FdtError('FDT_ERR_BADOFFSET', -1, `${node} is not a node offset`);
  }

  /** Offset just past a node's END_NODE (fdt_node_end_offset_). */
  #nodeEnd(node: number): number {
    let depth = 0;
    let off = node;
    for (;;) {
      const tag = this.#tag(off);
      off = this.#next(off);
      if (tag === FDT_BEGIN_NODE) depth++;
      else if (tag === FDT_END_NODE && --depth === 0) return off;
    }
  }

  /** Absolute position of the PROP token `name` in `node`, or -1. */
  #findProp(node: number, name: Uint8Array): number {
    const b = this.#buf;
    const strBase = this.#offStrings;
    for (let off = this.#next(node); ; off = this.#next(off)) {
      const tag = this.#tag(off);
      if (tag === FDT_NOP) continue;
      if (tag !== FDT_PROP) return -1;
      const abs = this.#offStruct + off;
      const s = strBase + be32(b, abs + 8);
      let eq = b[s + name.length] === 0;
      for (let i = 0; eq && i < name.length; i++) eq = b[s + i] === name[i];
      if (eq) return abs;
    }
  }

  /** libfdt's subnode rule: exact name, or `name@…` when `name` has no '@'. First match wins. */
  #subnode(parent: number, name: Uint8Array): number {
    const b = this.#buf;
    const hasAt = name.includes(0x40);
    let depth = 0;
    for (let off = parent; ;) {
      const tag = this.#tag(off);
      if (tag === FDT_BEGIN_NODE) {
        depth++;
        if (depth === 2) {
          const p = this.#offStruct + off + 4;
          let eq = true;
          for (let i = 0; eq && i < name.length; i++) eq = b[p + i] === name[i];
          const after = b[p + name.length];
          if (eq && (after === 0 || (!hasAt && after === 0x40))) return off;
        }
      } else if (tag === FDT_END_NODE) {
        if (--depth === 0) return -1;
      }
      off = this.#next(off);
    }
  }

  // ---- lookups ----

  /** Offset of the root node. */
  root(): number {
    let off = 0;
    while (this.#tag(off) === FDT_NOP) off += 4;
    return off;
  }

  /** libfdt's fdt_subnode_offset; -1 when absent. */
  subnode(parent: number, name: string): number {
    this.#checkNode(parent);
    return this.#subnode(parent, nameBytes(name, 'node name'));
  }

  /** libfdt's fdt_path_offset (aliases included); -1 when a component is missing. */
  pathOffset(path: string): number {
    if (typeof path !== 'string') throw new FdtError('FDT_ERR_BADPATH', -1, 'path is not a string');
    return resolvePath(
      {
        root: () => this.root(),
        child: (offset, name) => this.#subnode(offset, nameBytes(name, 'node name')),
        alias: (name) => {
          const aliases = this.#subnode(this.root(), nameBytes('aliases', 'node name'));
          const v = aliases < 0 ? null : this.getprop(aliases, name);
          return v !== null && v.length > 0 && v[v.length - 1] === 0 ? decodeText(v, 0, v.length - 1) : null;
        },
      },
      path,
    );
  }

  /** Like pathOffset, but FDT_ERR_NOTFOUND when absent. */
  #path(path: string): number {
    const off = this.pathOffset(path);
    if (off < 0) throw new FdtError('FDT_ERR_NOTFOUND', -1, `no node at ${path}`);
    return off;
  }

  /** A copy of property `name` of `node`, or null. */
  getprop(node: number, name: string): Uint8Array | null {
    this.#checkNode(node);
    const p = this.#findProp(node, nameBytes(name, 'property name'));
    return p < 0 ? null : this.#buf.slice(p + 12, p + 12 + be32(this.#buf, p + 4));
  }

  /** Node offset for a path or an offset (helpers accept either). */
  node(at: number | string): number {
    return typeof at === 'string' ? this.#path(at) : at;
  }

  // ---- edits ----

  /** fdt_setprop: replace the value (resizing in place) or add the property first in the node. */
  setprop(node: number | string, name: string, value: Uint8Array): void {
    const off = this.node(node);
    const v = toBytes(value, name);
    this.#probe();
    this.#checkNode(off);
    const nb = nameBytes(name, 'property name');
    const p = this.#findProp(off, nb);
    let data: number;
    if (p >= 0) {
      const oldlen = be32(this.#buf, p + 4);
      this.#spliceStruct(p + 12, tagAlign(oldlen), tagAlign(v.length));
      setBe32(this.#buf, p + 4, v.length);
      data = p + 12;
    } else {
      data = this.#addProperty(off, nb, v.length) + 12;
    }
    this.#buf.set(v, data);
  }

  /** fdt_add_property_: name string first, then a PROP right after the node's name. */
  #addProperty(node: number, nb: Uint8Array, len: number): number {
    const { off: nameoff, allocated } = this.#findAddString(nb);
    const p = this.#offStruct + this.#next(node);
    try {
      this.#spliceStruct(p, 0, 12 + tagAlign(len));
    } catch (e) {
      if (allocated) {
        this.#set(HDR_SIZE_DT_STRINGS, this.#sizeStrings - nb.length - 1);
        this.#found.clear();
      }
      throw e;
    }
    setBe32(this.#buf, p, FDT_PROP);
    setBe32(this.#buf, p + 4, len);
    setBe32(this.#buf, p + 8, nameoff);
    return p;
  }

  /** fdt_appendprop: append bytes to a property's value (creating it when absent). */
  appendprop(node: number | string, name: string, value: Uint8Array): void {
    const off = this.node(node);
    const v = toBytes(value, name);
    this.#probe();
    this.#checkNode(off);
    const nb = nameBytes(name, 'property name');
    const p = this.#findProp(off, nb);
    if (p >= 0) {
      const oldlen = be32(this.#buf, p + 4);
      this.#spliceStruct(p + 12, tagAlign(oldlen), tagAlign(oldlen + v.length));
      setBe32(this.#buf, p + 4, oldlen + v.length);
      this.#buf.set(v, p + 12 + oldlen);
    } else {
      this.#buf.set(v, this.#addProperty(off, nb, v.length) + 12);
    }
  }

  /** fdt_delprop: remove a property (FDT_ERR_NOTFOUND when absent). Its name stays in the strings. */
  delprop(node: number | string, name: string): void {
    const off = this.node(node);
    this.#probe();
    this.#checkNode(off);
    const p = this.#findProp(off, nameBytes(name, 'property name'));
    if (p < 0) throw new FdtError('FDT_ERR_NOTFOUND', -1, `no property ${name}`);
    this.#spliceStruct(p, 12 + tagAlign(be32(this.#buf, p + 4)), 0);
  }

  /**
   * fdt_add_subnode: a new empty node right after the parent's properties (so it becomes the
   * FIRST child). FDT_ERR_EXISTS when `subnode(parent, name)` already finds one. Returns its offset.
   */
  addSubnode(parent: number | string, name: string): number {
    const off = this.node(parent);
    this.#probe();
    this.#checkNode(off);
    const nb = nameBytes(name, 'node name');
    if (this.#subnode(off, nb) >= 0) throw new FdtError('FDT_ERR_EXISTS', -1, `node ${name} exists`);
    let at = this.#next(off);
    for (let t = this.#tag(at); t === FDT_PROP || t === FDT_NOP; t = this.#tag(at)) at = this.#next(at);
    const nameLen = tagAlign(nb.length + 1);
    const p = this.#offStruct + at;
    this.#spliceStruct(p, 0, 4 + nameLen + 4);
    setBe32(this.#buf, p, FDT_BEGIN_NODE);
    this.#buf.fill(0, p + 4, p + 4 + nameLen);
    this.#buf.set(nb, p + 4);
    setBe32(this.#buf, p + 4 + nameLen, FDT_END_NODE);
    return at;
  }

  /** fdt_del_node: remove a node and its subtree (not the root). */
  delNode(node: number | string): void {
    const off = this.node(node);
    this.#probe();
    this.#checkNode(off);
    if (off === this.root()) throw new FdtError('FDT_ERR_BADOFFSET', -1, 'the root node cannot be deleted');
    this.#spliceStruct(this.#offStruct + off, this.#nodeEnd(off) - off, 0);
  }

  /** fdt_set_name: rename a node in place (no check against siblings, as in libfdt). */
  setName(node: number | string, name: string): void {
    const off = this.node(node);
    this.#probe();
    this.#checkNode(off);
    if (off === this.root())
      throw new FdtError('FDT_ERR_BADOFFSET', -1, 'the root node name must stay empty');
    const nb = nameBytes(name, 'node name');
    const p = this.#offStruct + off + 4;
    const oldlen = this.#buf.indexOf(0, p) - p;
    this.#spliceStruct(p, tagAlign(oldlen + 1), tagAlign(nb.length + 1));
    this.#buf.set(nb, p);
    this.#buf[p + nb.length] = 0;
  }

  /** fdt_nop_property: overwrite a property with NOP tokens. */
  nopProperty(node: number | string, name: string): void {
    const off = this.node(node);
    this.#checkNode(off);
    const p = this.#findProp(off, nameBytes(name, 'property name'));
    if (p < 0) throw new FdtError('FDT_ERR_NOTFOUND', -1, `no property ${name}`);
    this.#nop(p, 12 + be32(this.#buf, p + 4));
  }

  /** fdt_nop_node: overwrite a node and its subtree with NOP tokens (not the root). */
  nopNode(node: number | string): void {
    const off = this.node(node);
    this.#checkNode(off);
    if (off === this.root()) throw new FdtError('FDT_ERR_BADOFFSET', -1, 'the root node cannot be removed');
    this.#nop(this.#offStruct + off, this.#nodeEnd(off) - off);
  }

  #nop(p: number, len: number): void {
    for (let q = p; q < p + len; q += 4) setBe32(this.#buf, q, FDT_NOP);
  }

  /** Number of reservation entries. */
  numMemRsv(): number {
    const b = this.#buf;
    let n = 0;
    for (let p = this.#h(HDR_OFF_MEM_RSVMAP); be32(b, p + 8) !== 0 || be32(b, p + 12) !== 0; p += 16) n++;
    return n;
  }

  /** fdt_add_mem_rsv: append a reservation entry before the terminator. */
  addMemRsv(address: number | bigint, size: number | bigint): void {
    checkU64(address, 'address');
    checkU64(size, 'size');
    this.#probe();
    const p = this.#h(HDR_OFF_MEM_RSVMAP) + this.numMemRsv() * FDT_RESERVE_ENTRY_SIZE;
    this.#spliceMemRsv(p, 0, 1);
    setBe64(this.#buf, p, address);
    setBe64(this.#buf, p + 8, size);
  }

  /** fdt_del_mem_rsv: remove entry `n` (FDT_ERR_NOTFOUND when out of range). */
  delMemRsv(n: number): void {
    this.#probe();
    if (!Number.isInteger(n) || n < 0 || n >= this.numMemRsv()) {
      throw new FdtError('FDT_ERR_NOTFOUND', -1, `no reservation entry ${n}`);
    }
    this.#spliceMemRsv(this.#h(HDR_OFF_MEM_RSVMAP) + n * FDT_RESERVE_ENTRY_SIZE, 1, 0);
  }

  /** fdt_pack: move the blocks together after the header (map at 40); totalsize = used bytes. */
  pack(): void {
    this.#probe();
    const b = this.#buf;
    const memSize = (this.numMemRsv() + 1) * FDT_RESERVE_ENTRY_SIZE;
    const structSize = this.#sizeStruct;
    const strSize = this.#sizeStrings;
    const memOff = FDT_V17_HEADER_SIZE;
    const structOff = memOff + memSize;
    const strOff = structOff + structSize;
    const oldMem = this.#h(HDR_OFF_MEM_RSVMAP);
    const oldStruct = this.#offStruct;
    const oldStr = this.#offStrings;
    b.copyWithin(memOff, oldMem, oldMem + memSize);
    this.#set(HDR_OFF_MEM_RSVMAP, memOff);
    b.copyWithin(structOff, oldStruct, oldStruct + structSize);
    this.#set(HDR_OFF_DT_STRUCT, structOff);
    this.#set(HDR_SIZE_DT_STRUCT, structSize);
    b.copyWithin(strOff, oldStr, oldStr + strSize);
    this.#set(HDR_OFF_DT_STRINGS, strOff);
    this.#set(HDR_SIZE_DT_STRINGS, strSize);
    this.#set(HDR_TOTALSIZE, strOff + strSize);
  }
}
