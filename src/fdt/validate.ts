/**
 * Full validation of a blob: the header (header.ts), the memory reservation list, the token
 * stream of the structure block and the block layout. One linear pass, no allocation driven by
 * header values: everything allocated grows with tokens actually present in the buffer.
 * The pass also records every node's offset and parent, so reads by offset are checked in O(log n).
 */
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_NOP,
  FDT_PROP,
  FDT_RESERVE_ENTRY_SIZE,
} from './constants.ts';
import { FdtError } from './errors.ts';
import { be32, readHeader, type FdtHeader } from './header.ts';

/** What validation learned: the header, where the blocks really end, and the node index. */
export interface FdtIndex {
  header: FdtHeader;
  /** Number of reservation entries before the terminator. */
  memrsvCount: number;
  /** Structure-relative offset just past the END token. */
  structEnd: number;
  /** Structure-relative offsets of every BEGIN_NODE, in blob order (ascending). */
  nodeOffsets: Int32Array;
  /** Index (into nodeOffsets) of each node's parent; -1 for the root. */
  nodeParents: Int32Array;
  /** Index just past each node's last descendant (descendants are contiguous in blob order). */
  nodeEnds: Int32Array;
  /** One bit per structure word: set where a real PROP token starts (checks property offsets in O(1)). */
  propBits: Uint8Array;
  nodeCount: number;
}

function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** Walk the reservation list; it must end (an entry with size 0) before `limit`. Returns the count. */
function checkMemrsv(blob: Uint8Array, start: number, limit: number): number {
  let n = 0;
  for (let pos = start; ; pos += FDT_RESERVE_ENTRY_SIZE) {
    if (pos + FDT_RESERVE_ENTRY_SIZE > limit) {
      throw new FdtError(
        'FDT_ERR_TRUNCATED',
        pos,
        'memory reservation list has no terminating entry inside its block',
      );
    }
    // libfdt (fdt_num_mem_rsv) and dtc end the list at the first entry whose size is 0.
    if (be32(blob, pos + 8) === 0 && be32(blob, pos + 12) === 0) return n;
    n++;
  }
}

/** End of the reservation block: the nearest block start after it, or totalsize. */
function memrsvLimit(h: FdtHeader): number {
  let limit = h.totalsize;
  if (h.offDtStruct > h.offMemRsvmap && h.offDtStruct < limit) limit = h.offDtStruct;
  if (h.sizeDtStrings > 0 && h.offDtStrings > h.offMemRsvmap && h.offDtStrings < limit)
    limit = h.offDtStrings;
  return limit;
}

function overlaps(a0: number, a1: number, b0: number, b1: number): boolean {
  return a0 < a1 && b0 < b1 && a0 < b1 && b0 < a1;
}

/**
 * Validate `blob` completely and index its nodes. Throws FdtError with libfdt's error name and
 * the absolute byte offset of the problem.
 */
export function validateFdt(blob: Uint8Array): FdtIndex {
  const h = readHeader(blob);
  if (
    (h.offMemRsvmap >= h.offDtStruct && h.offMemRsvmap < h.offDtStruct + h.sizeDtStruct) ||
    (h.offMemRsvmap >= h.offDtStrings && h.offMemRsvmap < h.offDtStrings + h.sizeDtStrings)
  ) {
    throw new FdtError('FDT_ERR_BADLAYOUT', h.offMemRsvmap, 'reservation map starts inside another block');
  }
  const memrsvCount = checkMemrsv(blob, h.offMemRsvmap, memrsvLimit(h));
  const memEnd = h.offMemRsvmap + (memrsvCount + 1) * FDT_RESERVE_ENTRY_SIZE;

  const base = h.offDtStruct;
  const end = base + h.sizeDtStruct; // absolute end of the structure block
  const strBase = h.offDtStrings;
  const strSize = h.sizeDtStrings;
  // A string starting at s is NUL-terminated inside the block iff s <= the last NUL's position.
  let lastNul = strSize - 1;
  while (lastNul >= 0 && blob[strBase + lastNul] !== 0) lastNul--;

  // Sized from the (already bounds-checked) structure block: a node takes at least 12 bytes.
  const cap = Math.max(64, Math.min(h.sizeDtStruct >>> 5, 1 << 16));
  let nodeOffsets = new Int32Array(cap);
  let nodeParents = new Int32Array(cap);
  let nodeEnds = new Int32Array(cap);
  const propBits = new Uint8Array((h.sizeDtStruct >>> 5) + 1);
  let stack = new Int32Array(64);
  let nodeCount = 0;
  let depth = 0;
  let rootSeen = false;
  let propsClosed = false; // a child has begun in the current node: no more properties
  // As in libfdt: an unreadable token is TRUNCATED, a token whose body overruns is BADSTRUCTURE.
  let pos = base;
  for (;;) {
    if (pos + 4 > end)
      throw new FdtError('FDT_ERR_TRUNCATED', pos, 'structure block ends before the END token');
    const tag = be32(blob, pos);
    if (tag === FDT_BEGIN_NODE) {
      if (depth === 0 && rootSeen) throw new FdtError('FDT_ERR_BADSTRUCTURE', pos, 'second root node');
      const nameStart = pos + 4;
      const nul = blob.indexOf(0, nameStart);
      if (nul < 0 || nul >= end)
        throw new FdtError('FDT_ERR_BADSTRUCTURE', nameStart, 'node name runs past the structure block');
      if (depth === 0 && nul !== nameStart)
        throw new FdtError('FDT_ERR_BADSTRUCTURE', nameStart, 'root node name is not empty');
      if (nodeCount === nodeOffsets.length) {
        nodeOffsets = grow(nodeOffsets);
        nodeParents = grow(nodeParents);
        nodeEnds = grow(nodeEnds);
      }
      nodeOffsets[nodeCount] = pos - base;
      nodeParents[nodeCount] = depth === 0 ? -1 : stack[depth - 1]!;
      if (depth === stack.length) stack = grow(stack);
      stack[depth] = nodeCount;
      nodeCount++;
      depth++;
      rootSeen = true;
      propsClosed = false;
      pos = (nul + 4) & ~3;
    } else if (tag === FDT_PROP) {
      if (depth === 0) throw new FdtError('FDT_ERR_BADSTRUCTURE', pos, 'property outside any node');
      if (propsClosed) throw new FdtError('FDT_ERR_BADSTRUCTURE', pos, 'property after a subnode');
      if (pos + 12 > end)
        throw new FdtError('FDT_ERR_BADSTRUCTURE', pos, 'property header runs past the structure block');
      const len = be32(blob, pos + 4);
      const nameoff = be32(blob, pos + 8);
      if (pos + 12 + len > end)
        throw new FdtError(
          'FDT_ERR_BADSTRUCTURE',
          pos + 4,
          `property length ${len} runs past the structure block`,
        );
      if (nameoff >= strSize)
        throw new FdtError('FDT_ERR_BADOFFSET', pos + 8, `name offset ${nameoff} outside the strings block`);
      if (nameoff > lastNul)
        throw new FdtError(
          'FDT_ERR_TRUNCATED',
          strBase + nameoff,
          'property name not terminated inside the strings block',
        );
      const w = (pos - base) >>> 2;
      propBits[w >>> 3]! |= 1 << (w & 7);
      pos = (pos + 12 + len + 3) & ~3;
      if (pos > end) pos = end; // padding may be cut by the block end; the next tag read reports it
    } else if (tag === FDT_END_NODE) {
      if (depth === 0) throw new FdtError('FDT_ERR_BADSTRUCTURE', pos, 'END_NODE without a node');
      depth--;
      nodeEnds[stack[depth]!] = nodeCount;
      propsClosed = true;
      pos += 4;
    } else if (tag === FDT_NOP) {
      // libfdt's fdt_check_full (1.6.1) expects FDT_END right after the root's END_NODE; NOPs
      // before the root and inside nodes are fine.
      if (depth === 0 && rootSeen)
        throw new FdtError('FDT_ERR_BADSTRUCTURE', pos, "FDT_NOP between the root's END_NODE and END");
      pos += 4;
    } else if (tag === FDT_END) {
      if (depth !== 0) throw new FdtError('FDT_ERR_BADSTRUCTURE', pos, `END inside a node (depth ${depth})`);
      if (!rootSeen) throw new FdtError('FDT_ERR_BADSTRUCTURE', pos, 'no root node');
      pos += 4;
      break;
    } else {
      throw new FdtError('FDT_ERR_BADSTRUCTURE', pos, `unknown token 0x${tag.toString(16)}`);
    }
  }
  const structEndAbs = h.version >= 17 ? end : pos;
  if (overlaps(h.offMemRsvmap, memEnd, base, structEndAbs)) {
    throw new FdtError(
      'FDT_ERR_BADLAYOUT',
      Math.max(h.offMemRsvmap, base),
      'reservation map overlaps the structure block',
    );
  }
  if (overlaps(h.offMemRsvmap, memEnd, strBase, strBase + strSize)) {
    throw new FdtError(
      'FDT_ERR_BADLAYOUT',
      Math.max(h.offMemRsvmap, strBase),
      'reservation map overlaps the strings block',
    );
  }
  if (overlaps(base, structEndAbs, strBase, strBase + strSize)) {
    throw new FdtError(
      'FDT_ERR_BADLAYOUT',
      Math.max(base, strBase),
      'structure block overlaps the strings block',
    );
  }
  return {
    header: h,
    memrsvCount,
    structEnd: pos - base,
    nodeOffsets,
    nodeParents,
    nodeEnds,
    propBits,
    nodeCount,
  };
}
