/**
 * KHO serialization blocks (kernel/liveupdate/kho_block.c, include/linux/kho/abi/block.h):
 * a linked list of preserved pages, each starting with
 * `struct kho_block_header_ser { u64 next; u64 count; }` (packed, 16 bytes, LE) followed by
 * `count` fixed-size entries.
 */
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult, PhysReader } from './errors.ts';
import { checkRange, getU64, putU64, readPhys, viewOf } from './bytes.ts';

/** `KHO_BLOCK_SIZE`: one page. */
export const KHO_BLOCK_SIZE = 4096;
/** Size of the block header. */
export const KHO_BLOCK_HEADER_SIZE = 16;
/** Safeguard: a chain may have at most this many blocks (-ENOSPC when growing past it). */
export const KHO_BLOCK_MAX_BLOCKS = 10000;

/** `struct kho_block_header_ser`. */
export interface KhoBlockHeader {
  /** Physical address of the next block, 0 for the last. */
  next: number;
  /** Entries in this block. */
  count: number;
}

/** Entries that fit in one block: `(4096 − 16) / entrySize`. */
export function khoBlockCapacity(entrySize: number): number {
  checkRange(entrySize, KHO_BLOCK_SIZE - KHO_BLOCK_HEADER_SIZE, 'kho_block', 'entry_size');
  if (entrySize === 0) throw new AbiError('BAD_VALUE', 'kho_block', -1, 'entry_size is 0');
  return Math.floor((KHO_BLOCK_SIZE - KHO_BLOCK_HEADER_SIZE) / entrySize);
}

/** Encode a header (16 bytes). */
export function encodeKhoBlockHeader(h: KhoBlockHeader): Uint8Array {
  const b = new Uint8Array(KHO_BLOCK_HEADER_SIZE);
  const v = viewOf(b);
  putU64(v, 0, h.next, 'kho_block_header_ser', 'next');
  putU64(v, 8, h.count, 'kho_block_header_ser', 'count');
  return b;
}

/** Decode a header. */
export function decodeKhoBlockHeader(b: Uint8Array, off = 0): AbiResult<KhoBlockHeader> {
  return decodeWith(() => ({
    next: getU64(b, off, 'kho_block_header_ser', 'next'),
    count: getU64(b, off + 8, 'kho_block_header_ser', 'count'),
  }));
}

/** Encode one block page: header plus `entries` (each exactly `entrySize` bytes). */
export function encodeKhoBlock(next: number, entrySize: number, entries: readonly Uint8Array[]): Uint8Array {
  const cap = khoBlockCapacity(entrySize);
  checkRange(entries.length, cap, 'kho_block', 'count');
  const b = new Uint8Array(KHO_BLOCK_SIZE);
  b.set(encodeKhoBlockHeader({ next, count: entries.length }), 0);
  entries.forEach((e, i) => {
    if (e.length !== entrySize) {
      throw new AbiError('BAD_LENGTH', 'kho_block', i, `entry ${i} is ${e.length} bytes, not ${entrySize}`);
    }
    b.set(e, KHO_BLOCK_HEADER_SIZE + i * entrySize);
  });
  return b;
}

/** One block found by {@link walkKhoBlocks}. */
export interface KhoBlockRecord {
  /** Physical address of the block. */
  phys: number;
  /** Its entries, each `entrySize` bytes (copies). */
  entries: Uint8Array[];
}

/** What {@link walkKhoBlocksPartial} found: the blocks before the first problem, and the problem. */
export interface KhoBlockWalk {
  /** Blocks that passed the checks, in chain order. */
  blocks: KhoBlockRecord[];
  /** Why the walk stopped early, or null when it reached the end of the chain. */
  error: AbiError | null;
}

/**
 * Follow a chain from `head` with the restore checks of kho_block_set_restore()
 * (kernel/liveupdate/kho_block.c): each `count` in 1..capacity (BAD_VALUE), no loops (CYCLE), at
 * most 10000 blocks (TOO_LONG), every block readable (UNREADABLE). Keeps what it read before a
 * problem, for reports that show the rest.
 */
export function walkKhoBlocksPartial(head: number, entrySize: number, read: PhysReader): KhoBlockWalk {
  const blocks: KhoBlockRecord[] = [];
  const r = decodeWith(() => {
    const cap = khoBlockCapacity(entrySize);
    const seen = new Set<number>();
    let at = head;
    while (at !== 0) {
      if (seen.has(at)) throw new AbiError('CYCLE', 'kho_block', at, 'block chain loops');
      if (blocks.length >= KHO_BLOCK_MAX_BLOCKS) {
        throw new AbiError('TOO_LONG', 'kho_block', at, `more than ${KHO_BLOCK_MAX_BLOCKS} blocks`);
      }
      seen.add(at);
      const page = readPhys(read, at, KHO_BLOCK_SIZE, 'kho_block');
      const h = decodeKhoBlockHeader(page);
      if (!h.ok) throw h.error;
      const { count, next } = h.value;
      if (count < 1 || count > cap) {
        throw new AbiError('BAD_VALUE', 'kho_block', at, `count ${count} not in 1..${cap}`);
      }
      const entries: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        const off = KHO_BLOCK_HEADER_SIZE + i * entrySize;
        entries.push(page.slice(off, off + entrySize));
      }
      blocks.push({ phys: at, entries });
      at = next;
    }
  });
  return { blocks, error: r.ok ? null : r.error };
}

/** Follow a chain from `head` with the restore checks (see {@link walkKhoBlocksPartial}); all or nothing. */
export function walkKhoBlocks(
  head: number,
  entrySize: number,
  read: PhysReader,
): AbiResult<KhoBlockRecord[]> {
  const w = walkKhoBlocksPartial(head, entrySize, read);
  return w.error === null ? { ok: true, value: w.blocks } : { ok: false, error: w.error };
}

/** A block chain laid out by {@link buildKhoBlockChain}. */
export interface KhoBlockChain {
  /** Physical address of the first block, 0 when there are no entries. */
  head: number;
  /** The blocks in chain order: address and page bytes. */
  blocks: { phys: number; bytes: Uint8Array }[];
}

/**
 * Lay `entries` out as a chain as the writer leaves it: blocks filled front to back, each one
 * full except the last, linked by `next`. `allocPage` gives each block's address in chain order.
 */
export function buildKhoBlockChain(
  entrySize: number,
  entries: readonly Uint8Array[],
  allocPage: () => number,
): KhoBlockChain {
  const cap = khoBlockCapacity(entrySize);
  const groups: Uint8Array[][] = [];
  for (let i = 0; i < entries.length; i += cap) groups.push(entries.slice(i, i + cap));
  if (groups.length > KHO_BLOCK_MAX_BLOCKS) {
    throw new AbiError(
      'TOO_LONG',
      'kho_block',
      -1,
      `${groups.length} blocks, at most ${KHO_BLOCK_MAX_BLOCKS}`,
    );
  }
  const addrs = groups.map(() => allocPage());
  const blocks = groups.map((g, i) => ({
    phys: addrs[i]!,
    bytes: encodeKhoBlock(addrs[i + 1] ?? 0, entrySize, g),
  }));
  return { head: addrs[0] ?? 0, blocks };
}
