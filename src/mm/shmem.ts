/**
 * shmem (mm/shmem.c) as memfds need it: an inode's page cache whose folios live in simulated
 * physical memory. Folios are order-0 pages allocated from the buddy allocator as movable user
 * memory (GFP_HIGHUSER_MOVABLE), so they may land in CMA pageblocks, which on a KHO kernel are
 * the scratch areas; that is why pinning for KHO migrates them first (`memfd_pin_folios`).
 *
 * The cache is sparse: an index without a folio is a hole that reads as zeros. Each cached
 * folio carries the two page flags the LUO memfd handler hands over (uptodate, dirty) and a
 * pin count (FOLL_PIN). The inode also keeps what `struct shmem_inode_info` keeps for memfds:
 * the seals and LUO's "frozen" mark (`shmem_freeze`).
 *
 * Errors are returned the kernel way (-errno); the byte-level checks (seals, modes) are the
 * callers' (src/kernel/fs/memfd.ts).
 */
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import type { Buddy } from './buddy.ts';
import { GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE, __GFP_NOWARN, __GFP_ZERO } from './gfp.ts';
import { MIGRATE_CMA } from './pageblock.ts';

const PAGE_SIZE = 4096;
const ENOMEM = 12;
const ENOSPC = 28;

/** Folio flag: contents newer than backing store (`PG_dirty`; same bit as MEMFD_LUO_FOLIO_DIRTY). */
export const SHMEM_FOLIO_DIRTY = 0x1;
/** Folio flag: contents valid (`PG_uptodate`; same bit as MEMFD_LUO_FOLIO_UPTODATE). */
export const SHMEM_FOLIO_UPTODATE = 0x2;

/** `MAX_LFS_FILESIZE` on 64-bit: the largest file size (and offset) the VFS allows. */
export const MAX_LFS_FILESIZE = Number.MAX_SAFE_INTEGER;

/** Entries per chunk of the sparse page cache (an xarray node's worth, 2 MiB of file). */
const CHUNK_SHIFT = 9;
const CHUNK = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK - 1;

/** One chunk of the cache: pfns (0 = hole: pfn 0 is never handed out by the allocator). */
interface Chunk {
  pfn: Float64Array;
  flags: Uint8Array;
  pins: Uint16Array;
  used: number;
}

/** The page allocator and memory a shmem instance works on (one per kernel). */
export class Shmem {
  readonly mem: PhysicalMemory;
  readonly buddy: Buddy;

  constructor(mem: PhysicalMemory, buddy: Buddy) {
    this.mem = mem;
    this.buddy = buddy;
  }

  /** A new, empty inode (size 0, no seals). */
  newInode(): ShmemInode {
    return new ShmemInode(this);
  }
}

/** The page cache and memfd state of one shmem inode. */
export class ShmemInode {
  readonly shmem: Shmem;
  /** `i_size` in bytes. */
  size = 0;
  /** `info->seals` (F_SEAL_* bits): every shmem inode starts with F_SEAL_SEAL (`shmem_get_inode`). */
  seals = 0x1;
  /** LUO's `shmem_freeze()`: the size may not change and holes may not be punched. */
  frozen = false;
  /** Writable shared mappings (`mapping->i_mmap_writable`). */
  writableMappings = 0;
  private readonly chunks = new Map<number, Chunk>();
  private pages = 0;
  private pinnedPages = 0;
  private evicted = false;

  constructor(shmem: Shmem) {
    this.shmem = shmem;
  }

  /** Folios in the page cache. */
  get nrPages(): number {
    return this.pages;
  }

  /** Folios with a pin (FOLL_PIN) on them. */
  get nrPinned(): number {
    return this.pinnedPages;
  }

  private chunk(index: number, create: boolean): Chunk | undefined {
    const key = Math.floor(index / CHUNK);
    let c = this.chunks.get(key);
    if (c === undefined && create) {
      c = {
        pfn: new Float64Array(CHUNK),
        flags: new Uint8Array(CHUNK),
        pins: new Uint16Array(CHUNK),
        used: 0,
      };
      this.chunks.set(key, c);
    }
    return c;
  }

  /** The pfn of the folio at page `index`, or 0 for a hole. */
  pfnAt(index: number): number {
    const c = this.chunk(index, false);
    return c === undefined ? 0 : c.pfn[index & CHUNK_MASK]!;
  }

  /** The SHMEM_FOLIO_* flags of the folio at `index` (0 for a hole). */
  flagsAt(index: number): number {
    const c = this.chunk(index, false);
    return c === undefined ? 0 : c.flags[index & CHUNK_MASK]!;
  }

  /** Set flags on a cached folio (no-op for a hole). */
  setFlags(index: number, flags: number): void {
    const c = this.chunk(index, false);
    if (c !== undefined && c.pfn[index & CHUNK_MASK]! !== 0) c.flags[index & CHUNK_MASK] = flags;
  }

  /** Page indices that have a folio, ascending. */
  indices(): number[] {
    const out: number[] = [];
    for (const key of [...this.chunks.keys()].sort((a, b) => a - b)) {
      const c = this.chunks.get(key)!;
      for (let i = 0; i < CHUNK; i++) if (c.pfn[i]! !== 0) out.push(key * CHUNK + i);
    }
    return out;
  }

  /**
   * `shmem_add_to_page_cache`: put an allocated folio (`pfn`, one reference owned by the cache
   * from now on) at `index`. -EEXIST-like failure (false) when the slot is taken.
   */
  addToPageCache(index: number, pfn: number, flags: number): boolean {
    const c = this.chunk(index, true)!;
    const i = index & CHUNK_MASK;
    if (c.pfn[i]! !== 0) return false;
    c.pfn[i] = pfn;
    c.flags[i] = flags;
    c.pins[i] = 0;
    c.used++;
    this.pages++;
    return true;
  }

  /** A fresh zeroed movable folio for `index` (`shmem_alloc_folio`), cached; pfn or -errno. */
  private allocAt(index: number, flags: number): number {
    const pfn = this.shmem.buddy.alloc(0, GFP_HIGHUSER_MOVABLE | __GFP_ZERO | __GFP_NOWARN);
    if (pfn === null) return -ENOSPC;
    this.addToPageCache(index, pfn, flags);
    return pfn;
  }

  /** `shmem_get_folio(SGP_WRITE)`: the folio at `index`, allocated if it is a hole; pfn or -errno. */
  getFolioForWrite(index: number): number {
    const pfn = this.pfnAt(index);
    return pfn !== 0 ? pfn : this.allocAt(index, SHMEM_FOLIO_UPTODATE);
  }

  /** Bytes `[pos, pos+len)` clipped to `size`; holes read as zeros. */
  read(pos: number, len: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(this.size, pos + len) - pos));
    this.readInto(pos, out);
    return out;
  }

  /**
   * Copies the bytes from `pos` (clipped to `size`) into `buf`, as many as fit; holes read as
   * zeros. Returns the count.
   */
  readInto(pos: number, buf: Uint8Array): number {
    const end = Math.min(this.size, pos + buf.length);
    if (pos >= end) return 0;
    const mem = this.shmem.mem;
    // Whole pages land word-aligned in `buf` when its offset in its buffer allows it.
    const wordable = ((buf.byteOffset + PAGE_SIZE - (pos % PAGE_SIZE)) & 3) === 0;
    let at = pos;
    while (at < end) {
      const index = Math.floor(at / PAGE_SIZE);
      const off = at - index * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, end - at);
      const pfn = this.pfnAt(index);
      const dst = at - pos;
      if (pfn !== 0 && n === PAGE_SIZE && wordable) {
        const words = new Uint32Array(buf.buffer, buf.byteOffset + dst, PAGE_SIZE / 4);
        if (!mem.readPage(pfn, words)) words.fill(0);
      } else if (pfn !== 0) buf.set(mem.read(pfn * PAGE_SIZE + off, n), dst);
      else buf.fill(0, dst, dst + n);
      at += n;
    }
    return end - pos;
  }

  /**
   * Store `data` at `pos`, allocating folios for holes; the size grows when the write ends past
   * it. Returns the bytes written (short when memory runs out part way) or -ENOSPC when none
   * could be (shmem reports an allocation failure as ENOSPC).
   */
  write(pos: number, data: Uint8Array): number {
    const mem = this.shmem.mem;
    let done = 0;
    while (done < data.length) {
      const at = pos + done;
      const index = Math.floor(at / PAGE_SIZE);
      const off = at - index * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, data.length - done);
      const pfn = this.getFolioForWrite(index);
      if (pfn < 0) {
        if (done === 0) return pfn;
        break;
      }
      mem.write(pfn * PAGE_SIZE + off, data.subarray(done, done + n));
      const c = this.chunk(index, false)!;
      c.flags[index & CHUNK_MASK] = c.flags[index & CHUNK_MASK]! | SHMEM_FOLIO_UPTODATE | SHMEM_FOLIO_DIRTY;
      done += n;
    }
    if (pos + done > this.size) this.size = pos + done;
    return done;
  }

  /** Drop the folio at `index` (the cache's reference); pinned folios are only unlinked. */
  private dropAt(c: Chunk, i: number): void {
    const pfn = c.pfn[i]!;
    if (pfn === 0) return;
    if (c.pins[i]! > 0) this.pinnedPages--;
    c.pfn[i] = 0;
    c.flags[i] = 0;
    c.pins[i] = 0;
    c.used--;
    this.pages--;
    this.shmem.buddy.putPage(pfn);
  }

  /** Remove the folios of page indices `[first, last]` (inclusive); empty chunks go. */
  private removeRange(first: number, last: number): void {
    for (const [key, c] of [...this.chunks]) {
      const base = key * CHUNK;
      if (base + CHUNK - 1 < first || base > last) continue;
      const lo = Math.max(first, base) - base;
      const hi = Math.min(last, base + CHUNK - 1) - base;
      for (let i = lo; i <= hi; i++) this.dropAt(c, i);
      if (c.used === 0) this.chunks.delete(key);
    }
  }

  /** Zero `[pos, pos+len)` inside one cached folio (if there is one). */
  private zeroPartial(pos: number, len: number): void {
    if (len <= 0) return;
    const index = Math.floor(pos / PAGE_SIZE);
    const pfn = this.pfnAt(index);
    if (pfn !== 0) this.shmem.mem.fill(pfn * PAGE_SIZE + (pos - index * PAGE_SIZE), len, 0);
  }

  /**
   * `shmem_setattr` size change (`truncate_setsize`): folios wholly past the new size are
   * freed and the tail of a partial last folio is zeroed, so a later grow reads zeros.
   */
  setSize(size: number): void {
    if (size < this.size) {
      const firstGone = Math.ceil(size / PAGE_SIZE);
      this.removeRange(firstGone, Number.MAX_SAFE_INTEGER);
      const tail = firstGone * PAGE_SIZE - size;
      if (tail > 0) this.zeroPartial(size, tail);
    }
    this.size = size;
  }

  /** `FALLOC_FL_PUNCH_HOLE`: free whole folios in the range and zero the partial ends. */
  punchHole(pos: number, len: number): void {
    const end = pos + len;
    const first = Math.ceil(pos / PAGE_SIZE);
    const last = Math.floor(end / PAGE_SIZE) - 1;
    if (first > last) {
      this.zeroPartial(pos, len);
      return;
    }
    this.zeroPartial(pos, first * PAGE_SIZE - pos);
    this.removeRange(first, last);
    this.zeroPartial((last + 1) * PAGE_SIZE, end - (last + 1) * PAGE_SIZE);
  }

  /**
   * `memfd_pin_folios(file, 0, end)` for page indices `[0, lastIndex]`: every hole gets a
   * zeroed, uptodate folio (`shmem_read_folio`), every folio in a CMA pageblock is migrated to
   * a non-movable page first (long-term pins may not stay in CMA), then each is pinned. Returns
   * the pfns in index order, or -errno with nothing left pinned (folios added for holes stay).
   */
  pinFolios(lastIndex: number, stats?: { migrated: number }): Float64Array | number {
    const n = lastIndex + 1;
    const out = new Float64Array(n);
    const buddy = this.shmem.buddy;
    const mem = this.shmem.mem;
    let migrated = 0;
    for (let index = 0; index < n; index++) {
      let c = this.chunk(index, false);
      const i = index & CHUNK_MASK;
      if (c === undefined || c.pfn[i]! === 0) {
        const r = this.allocAt(index, SHMEM_FOLIO_UPTODATE);
        if (r < 0) {
          this.unpinFolios(out.subarray(0, index));
          return -ENOMEM;
        }
        c = this.chunk(index, false)!;
      }
      let pfn = c.pfn[i]!;
      if (buddy.migratetype(pfn) === MIGRATE_CMA) {
        const to = buddy.alloc(0, GFP_HIGHUSER | __GFP_NOWARN);
        if (to === null) {
          this.unpinFolios(out.subarray(0, index));
          return -ENOMEM;
        }
        mem.copy(to * PAGE_SIZE, pfn * PAGE_SIZE, PAGE_SIZE);
        buddy.putPage(pfn);
        c.pfn[i] = to;
        pfn = to;
        migrated++;
      }
      if (c.pins[i]! === 0) this.pinnedPages++;
      c.pins[i] = c.pins[i]! + 1;
      out[index] = pfn;
    }
    if (stats !== undefined) stats.migrated = migrated;
    return out;
  }

  /** `unpin_folios`: drop one pin from each folio (looked up by pfn among `pfns`' indices). */
  unpinFolios(pfns: ArrayLike<number>): void {
    for (let index = 0; index < pfns.length; index++) {
      const c = this.chunk(index, false);
      const i = index & CHUNK_MASK;
      if (c === undefined || c.pfn[i]! !== pfns[index] || c.pins[i]! === 0) continue;
      c.pins[i] = c.pins[i]! - 1;
      if (c.pins[i] === 0) this.pinnedPages--;
    }
  }

  /** `unpin_folio` of the folio at `index`. */
  unpinAt(index: number): void {
    const c = this.chunk(index, false);
    const i = index & CHUNK_MASK;
    if (c === undefined || c.pins[i]! === 0) return;
    c.pins[i] = c.pins[i]! - 1;
    if (c.pins[i] === 0) this.pinnedPages--;
  }

  /** `shmem_evict_inode`: the last reference is gone, every folio goes back to the allocator. */
  evict(): void {
    if (this.evicted) return;
    this.evicted = true;
    this.removeRange(0, Number.MAX_SAFE_INTEGER);
    this.size = 0;
  }

  /** True once evicted (its folios are gone). */
  get isEvicted(): boolean {
    return this.evicted;
  }
}

/** Page index of byte offset `pos`. */
export function pageIndex(pos: number): number {
  return Math.floor(pos / PAGE_SIZE);
}

/** Pages needed for `size` bytes. */
export function pagesFor(size: number): number {
  return Math.ceil(size / PAGE_SIZE);
}
