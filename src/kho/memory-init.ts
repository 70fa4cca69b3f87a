/**
 * `kho_memory_init()` (spec §2.3, §4.7, §8.1 step 3, §8.2 step 4), run just before
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
import { walkRadixTree } from './radix-walk.ts';
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

/** Ranges to reserve, gathered during the walk and applied merged (same result, fewer splices). */
class PendingReservations {
  private starts = new Float64Array(1024);
  private ends = new Float64Array(1024);
  private n = 0;

  push(start: number, end: number): void {
    if (this.n === this.starts.length) {
      const s = new Float64Array(this.n * 2);
      const e = new Float64Array(this.n * 2);
      s.set(this.starts);
      e.set(this.ends);
      this.starts = s;
      this.ends = e;
    }
    this.starts[this.n] = start;
    this.ends[this.n] = end;
    this.n++;
  }

  /** memblock_reserve + memblock_reserved_mark_noinit of the union of the ranges. */
  apply(mb: Memblock): void {
    const idx = Array.from({ length: this.n }, (_, i) => i);
    idx.sort((a, b) => this.starts[a]! - this.starts[b]!);
    let cs = -1;
    let ce = -1;
    const flush = (): void => {
      if (cs < 0) return;
      mb.reserve(cs, ce - cs);
      mb.reservedMarkNoinit(cs, ce - cs);
    };
    for (const i of idx) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (cs >= 0 && s <= ce) {
        if (e > ce) ce = e;
        continue;
      }
      flush();
      cs = s;
      ce = e;
    }
    flush();
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

/** Reserve one preserved block (spec §4.7 steps 1–3); the memblock part is batched. */
function reserveBlock(
  ctx: KhoContext,
  buddy: Buddy,
  pending: PendingReservations,
  scratch: readonly ScratchArea[],
  phys: number,
  order: number,
  st: MemoryInitStats,
): void {
  const size = Math.min(reserveSizeOf(order, ctx.profile.options.reserve64), PHYS_ADDR_MAX - phys);
  if (size > 0) pending.push(phys, phys + size);
  st.blocks++;
  const bytes = 2 ** (order + 12);
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
  const pending = new PendingReservations();
  const scratch = readScratchArray(ctx.mem, ctx.scratchPhys, ctx.scratchCnt).filter((a) => a.size > 0);
  if (ctx.profile.abi.memoryMap === 'radix') {
    const r = walkRadixTree(
      ctx.mem,
      inc.memMapPhys,
      (phys, order) => {
        reserveBlock(ctx, buddy, pending, scratch, phys, order, st);
        return 0;
      },
      {
        onProblem: (p) => {
          st.problems++;
          ctx.dmesg.warn(`kexec sanitizer: preserved memory map: ${p.message}`);
        },
      },
    );
    if (r === -22) return null;
    pending.apply(ctx.memblock);
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
        reserveBlock(ctx, buddy, pending, scratch, phys, order, st);
      },
    },
  );
  if (!r.ok) {
    ctx.dmesg.warn(`kexec sanitizer: preserved memory map: ${r.error.message}`);
    st.problems++;
  }
  pending.apply(ctx.memblock);
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
