/**
 * vmalloc preservation ABI (include/linux/kho/abi/kexec_handover.h).
 *
 * `struct kho_vmalloc` (16 bytes, embedded in a client's own data):
 *
 * | off | size | field |
 * |-----|------|-------|
 * | 0   | 8    | `first`: phys of the first chunk page (0 = none) |
 * | 8   | 4    | `total_pages` (u32) |
 * | 12  | 2    | `flags` (u16): bit 0 `KHO_VMALLOC_ALLOC`, bit 1 `KHO_VMALLOC_HUGE_VMAP` |
 * | 14  | 2    | `order` (u16): page order of every physically contiguous piece |
 *
 * `struct kho_vmalloc_chunk` (one page): `next` (LE64 phys, 0 = last) then `phys[511]` (LE64);
 * entries are used in order and a 0 entry ends the list unless all 511 are used.
 */
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult, PhysReader } from './errors.ts';
import {
  checkRange,
  getU16,
  getU32,
  getU64,
  need,
  putU16,
  putU32,
  putU64,
  readPhys,
  viewOf,
} from './bytes.ts';

/** Size of `struct kho_vmalloc`. */
export const KHO_VMALLOC_DESC_SIZE = 16;
/** Size of a chunk: one page. */
export const KHO_VMALLOC_CHUNK_SIZE = 4096;
/** `KHO_VMALLOC_SIZE`: entries per chunk, (4096 − 8) / 8. */
export const KHO_VMALLOC_SIZE = 511;
/** Flag: the area was a plain vmalloc allocation (`VM_ALLOC`). */
export const KHO_VMALLOC_ALLOC = 0x1;
/** Flag: the area allowed huge mappings (`VM_ALLOW_HUGE_VMAP`). */
export const KHO_VMALLOC_HUGE_VMAP = 0x2;
/** Orders from here on would shift past 32 bits in the kernel's `1 << order`. */
export const KHO_VMALLOC_MAX_ORDER = 31;

/** `struct kho_vmalloc`. */
export interface KhoVmalloc {
  /** Physical address of the first chunk page, 0 when there is none. */
  first: number;
  /** Number of pages of the area. */
  totalPages: number;
  /** `KHO_VMALLOC_*` flags. */
  flags: number;
  /** Order of each contiguous piece. */
  order: number;
}

/** Encode the 16-byte descriptor. */
export function encodeKhoVmalloc(d: KhoVmalloc): Uint8Array {
  const b = new Uint8Array(KHO_VMALLOC_DESC_SIZE);
  const v = viewOf(b);
  putU64(v, 0, d.first, 'kho_vmalloc', 'first');
  putU32(v, 8, d.totalPages, 'kho_vmalloc', 'total_pages');
  putU16(v, 12, d.flags, 'kho_vmalloc', 'flags');
  putU16(v, 14, d.order, 'kho_vmalloc', 'order');
  return b;
}

/** Decode the descriptor at `off` (unknown flag bits are kept, as the kernel ignores them). */
export function decodeKhoVmalloc(b: Uint8Array, off = 0): AbiResult<KhoVmalloc> {
  return decodeWith(() => ({
    first: getU64(b, off, 'kho_vmalloc', 'first'),
    totalPages: getU32(b, off + 8, 'kho_vmalloc', 'total_pages'),
    flags: getU16(b, off + 12, 'kho_vmalloc', 'flags'),
    order: getU16(b, off + 14, 'kho_vmalloc', 'order'),
  }));
}

/** A decoded chunk page. */
export interface KhoVmallocChunk {
  /** Physical address of the next chunk, 0 for the last. */
  next: number;
  /** Used entries (up to the first 0, at most 511). */
  phys: number[];
}

/** Encode one chunk page (4096 bytes) with up to 511 entries. */
export function encodeKhoVmallocChunk(next: number, phys: readonly number[]): Uint8Array {
  checkRange(phys.length, KHO_VMALLOC_SIZE, 'kho_vmalloc_chunk', 'entries');
  const b = new Uint8Array(KHO_VMALLOC_CHUNK_SIZE);
  const v = viewOf(b);
  putU64(v, 0, next, 'kho_vmalloc_chunk', 'next');
  phys.forEach((p, i) => {
    putU64(v, 8 + i * 8, p, 'kho_vmalloc_chunk', 'phys');
  });
  return b;
}

/** Decode one chunk page. */
export function decodeKhoVmallocChunk(b: Uint8Array): AbiResult<KhoVmallocChunk> {
  return decodeWith(() => {
    need(b, 0, KHO_VMALLOC_CHUNK_SIZE, 'kho_vmalloc_chunk');
    const next = getU64(b, 0, 'kho_vmalloc_chunk', 'next');
    const phys: number[] = [];
    for (let i = 0; i < KHO_VMALLOC_SIZE; i++) {
      const p = getU64(b, 8 + i * 8, 'kho_vmalloc_chunk', `phys[${i}]`);
      if (p === 0) break;
      phys.push(p);
    }
    return { next, phys };
  });
}

/** Chunk pages to write for a vmalloc area: where each goes and its bytes. */
export interface KhoVmallocImage {
  /** The descriptor (its `first` is the first chunk's address). */
  desc: KhoVmalloc;
  /** Chunk pages in list order. */
  chunks: { phys: number; bytes: Uint8Array }[];
}

/**
 * Build the chunk list for `pieces` (phys of each 2^order-page piece, in order) as
 * `kho_preserve_vmalloc` lays it out: one chunk up front, a new chunk linked when one fills.
 * `allocPage` returns the physical address of a fresh page for each chunk, in list order.
 */
export function buildKhoVmalloc(
  pieces: readonly number[],
  order: number,
  flags: number,
  allocPage: () => number,
): KhoVmallocImage {
  checkRange(order, KHO_VMALLOC_MAX_ORDER, 'kho_vmalloc', 'order');
  const addrs: number[] = [allocPage()];
  const groups: number[][] = [[]];
  for (const p of pieces) {
    if (groups[groups.length - 1]!.length === KHO_VMALLOC_SIZE) {
      addrs.push(allocPage());
      groups.push([]);
    }
    groups[groups.length - 1]!.push(p);
  }
  const chunks = groups.map((g, i) => ({
    phys: addrs[i]!,
    bytes: encodeKhoVmallocChunk(addrs[i + 1] ?? 0, g),
  }));
  const totalPages = pieces.length * 2 ** order;
  checkRange(totalPages, 0xffff_ffff, 'kho_vmalloc', 'total_pages');
  return { desc: { first: addrs[0]!, totalPages, flags, order }, chunks };
}

/** The pieces of a preserved vmalloc area as the successor walks them. */
export interface KhoVmallocPieces {
  /** Physical addresses of the chunk pages, in list order. */
  chunks: number[];
  /** Physical address of each piece of 2^order pages, in order. */
  pieces: number[];
}

/** Options of {@link walkKhoVmalloc}. */
export interface WalkKhoVmallocOptions {
  /** Stop with TOO_LONG after this many chunks (default: enough for `total_pages` + 1). */
  maxChunks?: number;
}

/**
 * Walk a descriptor's chunk list through `read` with the checks of `kho_restore_vmalloc`: an entry
 * that would go past `total_pages` fails, and the pages found must equal `total_pages`. Also
 * rejects cycles, unreadable chunks and orders the kernel cannot shift by.
 */
export function walkKhoVmalloc(
  desc: KhoVmalloc,
  read: PhysReader,
  opts: WalkKhoVmallocOptions = {},
): AbiResult<KhoVmallocPieces> {
  return decodeWith(() => {
    if (desc.order > KHO_VMALLOC_MAX_ORDER) {
      throw new AbiError('BAD_VALUE', 'kho_vmalloc', -1, `order ${desc.order} is too large`);
    }
    const per = 2 ** desc.order;
    const maxChunks = opts.maxChunks ?? Math.ceil(desc.totalPages / per / KHO_VMALLOC_SIZE) + 1;
    const seen = new Set<number>();
    const chunks: number[] = [];
    const pieces: number[] = [];
    let pages = 0;
    let at = desc.first;
    while (at !== 0) {
      if (seen.has(at)) throw new AbiError('CYCLE', 'kho_vmalloc_chunk', at, 'chunk list loops');
      if (chunks.length >= maxChunks) {
        throw new AbiError('TOO_LONG', 'kho_vmalloc_chunk', at, `more than ${maxChunks} chunks`);
      }
      seen.add(at);
      chunks.push(at);
      const page = readPhys(read, at, KHO_VMALLOC_CHUNK_SIZE, 'kho_vmalloc_chunk');
      const chunk = decodeKhoVmallocChunk(page);
      if (!chunk.ok) throw chunk.error;
      for (const p of chunk.value.phys) {
        if (pages + per > desc.totalPages) {
          throw new AbiError(
            'BAD_VALUE',
            'kho_vmalloc_chunk',
            at,
            `more pages than total_pages ${desc.totalPages}`,
          );
        }
        pieces.push(p);
        pages += per;
      }
      at = chunk.value.next;
    }
    if (pages !== desc.totalPages) {
      throw new AbiError(
        'BAD_VALUE',
        'kho_vmalloc',
        -1,
        `found ${pages} pages, total_pages is ${desc.totalPages}`,
      );
    }
    return { chunks, pieces };
  });
}
