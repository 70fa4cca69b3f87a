/**
 * `kho_memory_init()` (kernel/liveupdate/kexec_handover.c; docs/kho.md), run just before
 * `memblock_free_all()`. KHO boot: adopt the incoming scratch array, mark scratch pageblocks
 * CMA, and walk the incoming memory map in the predecessor's pages, reserving every preserved
 * block (memblock reserve + NOINIT + `page->private` = magic|order). Cold boot with KHO on:
 * size and reserve fresh scratch, or disable KHO when that fails.
 */
import { walkKhoV1MemMap } from '../abi/kho-v1-mem-map.ts';
import { KHO_PAGE_MAGIC } from '../abi/kho-page.ts';
import type { ScratchSetting } from '../kernel/cmdline.ts';
import type { Buddy } from '../mm/buddy.ts';
import type { Memblock } from '../mm/memblock.ts';
import { PHYS_ADDR_MAX } from '../mm/mm-error.ts';
import type { KhoContext, ScratchArea } from './context.ts';
import { POW2 } from '../abi/kho-radix.ts';
import { walkRadixTree } from './radix-walk.ts';
import { radixTreeStats } from './radix-tree.ts';
import { unionRanges, type RangeStream } from '../util/ranges.ts';
import { markScratchPageblocksCma, readScratchArray, reserveScratch, scratchSizes } from './scratch.ts';

const PAGE_SIZE = 4096;

/**
 * The size `kho_preserved_memory_reserve` reserves for an order-`o` block: the baseline computes
 * `1 << (o + 12)` in 32-bit int (QUIRK): bit 31 sign-extends to a size that runs to the top of
 * the physical space, larger shifts wrap modulo 32 (x86 `shl`). `reserve64` gives the real size.
 */
export function reserveSizeOf(order: number, reserve64: boolean): number {
  const shift = order + 12;
  if (reserve64 || shift < 31) return 2 ** shift;
  if (shift === 31) return Number.MAX_SAFE_INTEGER; // 0xffffffff80000000: capped by memblock
  return 2 ** (shift & 31);
}

/** Statistics of the incoming walk. */
export interface MemoryInitStats {
  blocks: number;
  bytes: number;
  problems: number;
  /** Blocks that overlap an incoming scratch area, and the first one's address. */
  inScratch: number;
  firstInScratch: number;
}

/**
 * The blocks to reserve, gathered during the walk per order (the radix walk delivers each order
 * in ascending address order; a v1 map may not, and is sorted then), then merged across orders
 * into sorted disjoint ranges and reserved in one memblock pass: the same reservations as one
 * `memblock_reserve` + `memblock_reserved_mark_noinit` per block, in time linear in the blocks.
 */
class PendingReservations {
  private readonly heads: (Float64Array | undefined)[] = [];
  private readonly n: number[] = [];
  private readonly sorted: boolean[] = [];

  /** `expected[order]`: block counts known before the walk (a radix popcount), or none. */
  constructor(expected: readonly number[] = []) {
    expected.forEach((count, order) => {
      if (count > 0) this.heads[order] = new Float64Array(count);
    });
  }

  push(phys: number, order: number): void {
    let a = this.heads[order];
    const n = this.n[order] ?? 0;
    if (a === undefined || n === a.length) {
      const b = new Float64Array(Math.max(1024, n * 2));
      if (a !== undefined) b.set(a);
      a = b;
      this.heads[order] = a;
    }
    if (n === 0) this.sorted[order] = true;
    else if (a[n - 1]! > phys) this.sorted[order] = false;
    a[n] = phys;
    this.n[order] = n + 1;
  }

  /** memblock_reserve + memblock_reserved_mark_noinit of every block (sizes per `reserve64`). */
  apply(mb: Memblock, reserve64: boolean): void {
    const streams: RangeStream[] = [];
    this.heads.forEach((all, order) => {
      const n = this.n[order] ?? 0;
      if (all === undefined || n === 0) return;
      const a = all.subarray(0, n);
      if (this.sorted[order] !== true) a.sort();
      const size = reserveSizeOf(order, reserve64);
      if (a[n - 1]! + size <= PHYS_ADDR_MAX) {
        streams.push({ start: a, count: n, span: size });
        return;
      }
      // Sizes that run past the physical space (the 32-bit quirk) are capped as memblock does.
      const start: number[] = [];
      const end: number[] = [];
      for (let i = 0; i < n; i++) {
        const e = Math.min(a[i]! + size, PHYS_ADDR_MAX);
        if (e > a[i]!) {
          start.push(a[i]!);
          end.push(e);
        }
      }
      streams.push({ start, end, count: start.length });
    });
    const r = unionRanges(streams);
    mb.reserveNoinitRanges(r.start, r.end, r.count);
  }
}

/**
 * Where the kernel is silent about a hand-over that cannot be right, say so as the sanitizer
 * does: an empty map (the FDT page is always preserved, so a real map is never empty), and
 * preserved blocks inside the scratch areas (early boot allocates there before they are
 * reserved, so their contents may already be gone).
 */
function checkWhatWasSeen(ctx: KhoContext, st: MemoryInitStats): void {
  if (st.blocks === 0) {
    ctx.dmesg.warn(
      `kexec sanitizer: the preserved memory map at 0x${ctx.incoming!.memMapPhys.toString(16)} holds no blocks, not even the KHO FDT page: nothing was reserved`,
    );
  }
  if (st.inScratch > 0) {
    ctx.dmesg.warn(
      `kexec sanitizer: ${st.inScratch} preserved block(s) lie inside the scratch areas, first at 0x${st.firstInScratch.toString(16)}: early boot may have overwritten them`,
    );
  }
}

/** Reserve one preserved block (as kho_memory_init() does); the memblock part is batched. */
function reserveBlock(
  buddy: Buddy,
  pending: PendingReservations,
  scratch: readonly ScratchArea[],
  phys: number,
  order: number,
  st: MemoryInitStats,
): void {
  pending.push(phys, order);
  st.blocks++;
  const bytes = POW2[order + 12]!;
  st.bytes += bytes;
  for (const a of scratch) {
    if (phys < a.addr + a.size && a.addr < phys + bytes) {
      if (st.inScratch === 0 || phys < st.firstInScratch) st.firstInScratch = phys;
      st.inScratch++;
      break;
    }
  }
  const pfn = phys / PAGE_SIZE;
  // phys_to_page() of a pfn without a struct page would scribble anywhere: the model skips it.
  if (buddy.pfnValid(pfn)) buddy.meta.setPrivate(pfn, KHO_PAGE_MAGIC, order >>> 0);
  else st.problems++;
}

/** Walk the incoming memory map (radix tree or v1 chunk list) and reserve every block. */
function reservePreserved(ctx: KhoContext, buddy: Buddy): MemoryInitStats | null {
  const inc = ctx.incoming!;
  const st: MemoryInitStats = { blocks: 0, bytes: 0, problems: 0, inScratch: 0, firstInScratch: 0 };
  // Sized from a popcount pass over the leaves, so each order's list is written once.
  const pending = new PendingReservations(
    ctx.profile.abi.memoryMap === 'radix'
      ? radixTreeStats(ctx.mem, inc.memMapPhys, { onProblem: () => undefined }).blocksByOrder
      : [],
  );
  const scratch = readScratchArray(ctx.mem, ctx.scratchPhys, ctx.scratchCnt).filter((a) => a.size > 0);
  // A boot has no process to interrupt: long walks only report progress.
  const w = ctx.work?.start('KHO: reserving preserved memory') ?? null;
  if (ctx.profile.abi.memoryMap === 'radix') {
    const r = walkRadixTree(
      ctx.mem,
      inc.memMapPhys,
      (phys, order) => {
        reserveBlock(buddy, pending, scratch, phys, order, st);
        return 0;
      },
      {
        onProblem: (p) => {
          st.problems++;
          ctx.dmesg.warn(`kexec sanitizer: preserved memory map: ${p.message}`);
        },
        stop: () => {
          w?.step(st.blocks);
          return false;
        },
      },
    );
    if (r === -22) return null;
    pending.apply(ctx.memblock, ctx.profile.options.reserve64);
    w?.end(st.blocks);
    return st;
  }
  const r = walkKhoV1MemMap(
    inc.memMapPhys,
    (phys, len) => {
      try {
        return ctx.mem.read(phys, len);
      } catch {
        return null;
      }
    },
    {
      onBlock: (phys, order) => {
        reserveBlock(buddy, pending, scratch, phys, order, st);
      },
    },
  );
  if (!r.ok) {
    ctx.dmesg.warn(`kexec sanitizer: preserved memory map: ${r.error.message}`);
    st.problems++;
  }
  pending.apply(ctx.memblock, ctx.profile.options.reserve64);
  return st;
}

/**
 * Run `kho_memory_init`. `nids` are the nodes with memory (scratch per node on a cold boot).
 */
export function khoMemoryInit(
  ctx: KhoContext,
  buddy: Buddy,
  scratch: ScratchSetting,
  nids: readonly number[],
): MemoryInitStats | null {
  if (ctx.incoming !== null) {
    // kho_scratch := incoming array (already set by populate); kho_release_scratch().
    markScratchPageblocksCma(ctx.memblock, buddy);
    const st = reservePreserved(ctx, buddy);
    if (st === null) {
      // kho_mem_retrieve() gives up silently: no KHO boot after all.
      ctx.khoBoot = false;
      ctx.dmesg.warn('kexec sanitizer: the preserved memory map cannot be walked; this is not a KHO boot');
    } else {
      checkWhatWasSeen(ctx, st);
    }
    return st;
  }
  if (!ctx.enabled) return null;
  const sizes = scratchSizes(ctx.memblock, scratch, nids, ctx.profile.options.roundExplicitScratch);
  const r = reserveScratch(ctx.memblock, ctx.mem, sizes, (l) => {
    ctx.dmesg.err(l);
  });
  if (!r.ok) {
    ctx.dmesg.warn('KHO: Failed to reserve scratch area, disabling kexec handover');
    ctx.enabled = false;
    return null;
  }
  ctx.scratchPhys = r.arrayPhys;
  ctx.scratchCnt = r.areas.length;
  return null;
}
