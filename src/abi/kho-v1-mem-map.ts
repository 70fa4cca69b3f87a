/**
 * The kho-v1 memory map (v6.16 kernel/kexec_handover.c: struct khoser_mem_chunk, kho_mem_deserialize()): a
 * linked list of `struct khoser_mem_chunk` pages, each holding bitmaps of one order. `preserved-memory-map`
 * in a v1 root FDT points at the first chunk.
 *
 * Chunk page (4096 bytes, LE):
 *
 * | off | size | field |
 * |-----|------|-------|
 * | 0   | 8    | `next`: phys of the next chunk, 0 = end |
 * | 8   | 4    | `order` (u32): order of every bitmap in this chunk |
 * | 12  | 4    | `num_elms` (u32): used entries |
 * | 16+16i | 8 | `bitmaps[i].phys_start`: address of the block of bit 0 |
 * | 24+16i | 8 | `bitmaps[i].bitmap`: phys of a one-page bitmap |
 *
 * 255 entries per chunk. A bitmap page has 32768 bits (LE bit numbering); bit `b` set means the
 * block of `order` at `phys_start + (b << (12 + order))` is preserved. The bitmap with index `j`
 * covers `phys_start = (j × 32768) << (12 + order)`.
 */
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult, PhysReader } from './errors.ts';
import { checkRange, getU32, getU64, need, putU32, putU64, readPhys, viewOf } from './bytes.ts';

/** Size of a chunk page. */
export const KHO_V1_CHUNK_SIZE = 4096;
/** Size of the chunk header (`next`, `order`, `num_elms`). */
export const KHO_V1_CHUNK_HEADER_SIZE = 16;
/** Size of one bitmap entry (`phys_start`, `bitmap`). */
export const KHO_V1_BITMAP_ENTRY_SIZE = 16;
/** Entries per chunk: (4096 − 16) / 16. */
export const KHO_V1_BITMAPS_PER_CHUNK = 255;
/** Size of a bitmap page. */
export const KHO_V1_BITMAP_SIZE = 4096;
/** Bits per bitmap page (`PRESERVE_BITS`). */
export const KHO_V1_BITMAP_BITS = 32768;
/** Largest order whose blocks can lie below 2^52 (orders above cannot describe RAM). */
export const KHO_V1_MAX_ORDER = 40;

/** One bitmap entry of a chunk. */
export interface KhoV1BitmapEntry {
  /** Physical address described by bit 0. */
  physStart: number;
  /** Physical address of the bitmap page. */
  bitmap: number;
}

/** A chunk page. */
export interface KhoV1Chunk {
  /** Physical address of the next chunk, 0 at the end. */
  next: number;
  /** Order of every bitmap in this chunk. */
  order: number;
  /** Used bitmap entries (`num_elms` of them). */
  bitmaps: KhoV1BitmapEntry[];
}

/** A preserved block: its physical address and order. */
export interface PreservedBlock {
  phys: number;
  order: number;
}

/** Encode a chunk page. */
export function encodeKhoV1Chunk(c: KhoV1Chunk): Uint8Array {
  checkRange(c.bitmaps.length, KHO_V1_BITMAPS_PER_CHUNK, 'khoser_mem_chunk', 'num_elms');
  const b = new Uint8Array(KHO_V1_CHUNK_SIZE);
  const v = viewOf(b);
  putU64(v, 0, c.next, 'khoser_mem_chunk', 'next');
  putU32(v, 8, c.order, 'khoser_mem_chunk', 'order');
  putU32(v, 12, c.bitmaps.length, 'khoser_mem_chunk', 'num_elms');
  c.bitmaps.forEach((e, i) => {
    const off = KHO_V1_CHUNK_HEADER_SIZE + i * KHO_V1_BITMAP_ENTRY_SIZE;
    putU64(v, off, e.physStart, 'khoser_mem_chunk', 'phys_start');
    putU64(v, off + 8, e.bitmap, 'khoser_mem_chunk', 'bitmap');
  });
  return b;
}

/** Decode a chunk page; `num_elms` above 255 is BAD_VALUE. */
export function decodeKhoV1Chunk(b: Uint8Array): AbiResult<KhoV1Chunk> {
  return decodeWith(() => {
    need(b, 0, KHO_V1_CHUNK_SIZE, 'khoser_mem_chunk');
    const next = getU64(b, 0, 'khoser_mem_chunk', 'next');
    const order = getU32(b, 8, 'khoser_mem_chunk', 'order');
    const n = getU32(b, 12, 'khoser_mem_chunk', 'num_elms');
    if (n > KHO_V1_BITMAPS_PER_CHUNK) {
      throw new AbiError('BAD_VALUE', 'khoser_mem_chunk', 12, `num_elms ${n} > ${KHO_V1_BITMAPS_PER_CHUNK}`);
    }
    const bitmaps: KhoV1BitmapEntry[] = [];
    for (let i = 0; i < n; i++) {
      const off = KHO_V1_CHUNK_HEADER_SIZE + i * KHO_V1_BITMAP_ENTRY_SIZE;
      bitmaps.push({
        physStart: getU64(b, off, 'khoser_mem_chunk', 'phys_start'),
        bitmap: getU64(b, off + 8, 'khoser_mem_chunk', 'bitmap'),
      });
    }
    return { next, order, bitmaps };
  });
}

/** Page images of a v1 memory map. */
export interface KhoV1MemMapImage {
  /** Physical address of the first chunk (the `preserved-memory-map` value), 0 when empty. */
  head: number;
  /** Every page to write: bitmaps first (as allocated), then chunks in list order. */
  pages: { phys: number; bytes: Uint8Array; kind: 'bitmap' | 'chunk' }[];
}

/**
 * Lay out preserved blocks `(pfn, order)` as a v1 kernel serialises them at finalize: for each
 * order ascending a new chunk, then its bitmaps by ascending index, spilling into more chunks of
 * the same order after 255. Low pfn bits below the block size are dropped (the kernel keys by
 * `pfn >> order`). `allocPage` gives a fresh page address: first every bitmap (order, index
 * ascending), then every chunk in list order. No blocks → no pages and head 0.
 */
export function buildKhoV1MemMap(
  blocks: readonly { pfn: number; order: number }[],
  allocPage: () => number,
): KhoV1MemMapImage {
  const byOrder = new Map<number, Map<number, Uint8Array>>();
  for (const { pfn, order } of blocks) {
    checkRange(order, KHO_V1_MAX_ORDER, 'khoser_mem_chunk', 'order');
    checkRange(pfn, 2 ** 40 - 1, 'khoser_mem_chunk', 'pfn');
    const index = Math.floor(pfn / 2 ** order);
    const j = Math.floor(index / KHO_V1_BITMAP_BITS);
    const bit = index - j * KHO_V1_BITMAP_BITS;
    let maps = byOrder.get(order);
    if (maps === undefined) {
      maps = new Map();
      byOrder.set(order, maps);
    }
    let bits = maps.get(j);
    if (bits === undefined) {
      bits = new Uint8Array(KHO_V1_BITMAP_SIZE);
      maps.set(j, bits);
    }
    bits[bit >>> 3]! |= 1 << (bit & 7);
  }
  const pages: KhoV1MemMapImage['pages'] = [];
  const orders = [...byOrder.keys()].sort((a, b) => a - b);
  const chunks: KhoV1Chunk[] = [];
  for (const order of orders) {
    const maps = byOrder.get(order)!;
    let chunk: KhoV1Chunk = { next: 0, order, bitmaps: [] };
    chunks.push(chunk);
    for (const j of [...maps.keys()].sort((a, b) => a - b)) {
      const phys = allocPage();
      pages.push({ phys, bytes: maps.get(j)!, kind: 'bitmap' });
      if (chunk.bitmaps.length === KHO_V1_BITMAPS_PER_CHUNK) {
        chunk = { next: 0, order, bitmaps: [] };
        chunks.push(chunk);
      }
      chunk.bitmaps.push({ physStart: j * KHO_V1_BITMAP_BITS * 2 ** (12 + order), bitmap: phys });
    }
  }
  const addrs = chunks.map(() => allocPage());
  chunks.forEach((c, i) => {
    c.next = addrs[i + 1] ?? 0;
    pages.push({ phys: addrs[i]!, bytes: encodeKhoV1Chunk(c), kind: 'chunk' });
  });
  return { head: addrs[0] ?? 0, pages };
}

/** Options of {@link walkKhoV1MemMap}. */
export interface WalkKhoV1Options {
  /** Give up with TOO_LONG after this many chunks. Default 65536 (16 M bitmaps). */
  maxChunks?: number;
  /** Receive each block instead of collecting them (then `blocks` stays empty). */
  onBlock?: (phys: number, order: number) => void;
}

/** What a v1 memory map holds. */
export interface KhoV1MemMap {
  /** Chunks in list order with their addresses. */
  chunks: (KhoV1Chunk & { phys: number })[];
  /** Preserved blocks in the order the successor visits them (chunk, bitmap, bit). */
  blocks: PreservedBlock[];
}

/**
 * Walk a v1 chunk list from `head` through `read` and report every preserved block. Rejects loops
 * (CYCLE), lists longer than `maxChunks` (TOO_LONG), unreadable pages, orders above 40 and block
 * addresses past 2^53.
 */
export function walkKhoV1MemMap(
  head: number,
  read: PhysReader,
  opts: WalkKhoV1Options = {},
): AbiResult<KhoV1MemMap> {
  return decodeWith(() => {
    const maxChunks = opts.maxChunks ?? 65536;
    const seen = new Set<number>();
    const chunks: KhoV1MemMap['chunks'] = [];
    const blocks: PreservedBlock[] = [];
    const emit =
      opts.onBlock ??
      ((phys: number, order: number) => {
        blocks.push({ phys, order });
      });
    let at = head;
    while (at !== 0) {
      if (seen.has(at)) throw new AbiError('CYCLE', 'khoser_mem_chunk', at, 'chunk list loops');
      if (chunks.length >= maxChunks) {
        throw new AbiError('TOO_LONG', 'khoser_mem_chunk', at, `more than ${maxChunks} chunks`);
      }
      seen.add(at);
      const c = decodeKhoV1Chunk(readPhys(read, at, KHO_V1_CHUNK_SIZE, 'khoser_mem_chunk'));
      if (!c.ok) throw c.error;
      const chunk = c.value;
      if (chunk.order > KHO_V1_MAX_ORDER) {
        throw new AbiError(
          'BAD_VALUE',
          'khoser_mem_chunk',
          at + 8,
          `order ${chunk.order} > ${KHO_V1_MAX_ORDER}`,
        );
      }
      chunks.push({ ...chunk, phys: at });
      const step = 2 ** (12 + chunk.order);
      for (const e of chunk.bitmaps) {
        const bits = readPhys(read, e.bitmap, KHO_V1_BITMAP_SIZE, 'khoser_mem_chunk.bitmap');
        for (let byte = 0; byte < KHO_V1_BITMAP_SIZE; byte++) {
          const x = bits[byte]!;
          if (x === 0) continue;
          for (let k = 0; k < 8; k++) {
            if ((x & (1 << k)) === 0) continue;
            const phys = e.physStart + (byte * 8 + k) * step;
            if (phys > Number.MAX_SAFE_INTEGER) {
              throw new AbiError('TOO_BIG', 'khoser_mem_chunk', e.bitmap, `block address past 2^53`);
            }
            emit(phys, chunk.order);
          }
        }
      }
      at = chunk.next;
    }
    return { chunks, blocks };
  });
}
