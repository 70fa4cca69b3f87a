/**
 * Folio and page preservation (kernel/liveupdate/kexec_handover.c: kho_preserve_folio(),
 * kho_preserve_pages()): blocks go into the outgoing tracker; with
 * CONFIG_KEXEC_HANDOVER_DEBUG (`khoDebug`) ranges overlapping scratch are refused.
 * `preservePages` splits a range into naturally aligned blocks that do not straddle NUMA nodes;
 * `unpreservePages` decomposes without the node check (the kernel's QUIRK).
 */
import { type KhoContext, warnOnce } from './context.ts';

const EINVAL = 22;
const PAGE_SIZE = 4096;

/** `floor(log2(n))` for n ≥ 1 (exact for any safe integer). */
export function ilog2(n: number): number {
  if (n < 0x1_0000_0000) return 31 - Math.clz32(n);
  return 32 + (31 - Math.clz32(Math.floor(n / 0x1_0000_0000)));
}

/**
 * `count_trailing_zeros(pfn)`, with the kernel helper's -1 for 0 read as an unsigned int
 * (so `min(ctz(0), x)` is x: pfn 0 takes the largest order the length allows).
 */
export function ctzPfn(pfn: number): number {
  if (pfn === 0) return 0xffff_ffff;
  const lo = pfn >>> 0;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = Math.floor(pfn / 0x1_0000_0000) >>> 0;
  return 32 + (31 - Math.clz32(hi & -hi));
}

/** The pfn/order blocks `[pfn, pfn+nr)` decomposes into, without NUMA adjustment. */
export function decompose(pfn: number, nr: number): { pfn: number; order: number }[] {
  const out: { pfn: number; order: number }[] = [];
  const end = pfn + nr;
  let p = pfn;
  while (p < end) {
    const order = Math.min(ctzPfn(p), ilog2(end - p));
    out.push({ pfn: p, order });
    p += 2 ** order;
  }
  return out;
}

function checkPfnRange(pfn: unknown, nr: unknown): boolean {
  return (
    typeof pfn === 'number' &&
    typeof nr === 'number' &&
    Number.isSafeInteger(pfn) &&
    Number.isSafeInteger(nr) &&
    pfn >= 0 &&
    nr >= 0 &&
    pfn + nr <= 2 ** 40
  );
}

/**
 * The DEBUG check (`kho_scratch_overlap`): does `[phys, phys+size)` intersect a scratch area?
 * Reads the scratch array from memory, as the kernel reads `kho_scratch[]`.
 */
export function scratchOverlap(ctx: KhoContext, phys: number, size: number): boolean {
  for (let i = 0; i < ctx.scratchCnt; i++) {
    const addr = ctx.mem.readU64(ctx.scratchPhys + i * 16);
    const sz = ctx.mem.readU64(ctx.scratchPhys + i * 16 + 8);
    if (phys < addr + sz && addr < phys + size) return true;
  }
  return false;
}

function noTracker(ctx: KhoContext, site: string): number {
  warnOnce(ctx, site, 'KHO is not initialised (kho_init has not run or KHO is disabled)');
  return -EINVAL;
}

function debugRefuses(ctx: KhoContext, site: string, pfn: number, pages: number): boolean {
  if (!ctx.profile.options.khoDebug) return false;
  if (!scratchOverlap(ctx, pfn * PAGE_SIZE, pages * PAGE_SIZE)) return false;
  ctx.dmesg.warnOn(site, `range at pfn 0x${pfn.toString(16)} (${pages} pages) overlaps a scratch area`);
  return true;
}

/** `kho_preserve_folio`: 0 or -EINVAL / -ENOMEM. */
export function preserveFolio(ctx: KhoContext, pfn: number, order: number): number {
  if (!checkPfnRange(pfn, 0) || !Number.isInteger(order) || order < 0 || order > 40) return -EINVAL;
  const t = ctx.tracker;
  if (t === null) return noTracker(ctx, 'kho_preserve_folio');
  if (debugRefuses(ctx, 'kho_preserve_folio', pfn, 2 ** order)) return -EINVAL;
  return t.add(pfn, order);
}

/** `kho_unpreserve_folio`: removes key(pfn, order); pfn/order must match the preserve. */
export function unpreserveFolio(ctx: KhoContext, pfn: number, order: number): void {
  if (!checkPfnRange(pfn, 0) || !Number.isInteger(order) || order < 0 || order > 40) return;
  const t = ctx.tracker;
  if (t === null) {
    noTracker(ctx, 'kho_unpreserve_folio');
    return;
  }
  t.del(pfn, order);
}

/** Node of a pfn for the split (`pfn_to_nid`; -1 in holes). */
function nidOf(ctx: KhoContext, pfn: number): number {
  return ctx.topology.nodeOf(pfn * PAGE_SIZE);
}

/**
 * `kho_preserve_pages(page, nr)`: ctz/log2 decomposition, each block shrunk until its first
 * and last pfn are on the same node; on error the blocks before the failing one are
 * unpreserved (with the non-NUMA decomposition, as the kernel does) and the error returned.
 * Returns 0 or -errno; `blocks` (optional) receives the number of keys added.
 */
export function preservePages(ctx: KhoContext, pfn: number, nr: number, stats?: { blocks: number }): number {
  if (!checkPfnRange(pfn, nr)) return -EINVAL;
  const t = ctx.tracker;
  if (t === null) return noTracker(ctx, 'kho_preserve_pages');
  if (nr === 0) return 0;
  if (debugRefuses(ctx, 'kho_preserve_pages', pfn, nr)) return -EINVAL;
  const end = pfn + nr;
  let p = pfn;
  let blocks = 0;
  let err = 0;
  const numa = ctx.topology.nodes.length > 1;
  while (p < end) {
    let order = Math.min(ctzPfn(p), ilog2(end - p));
    if (numa) while (order > 0 && nidOf(ctx, p) !== nidOf(ctx, p + 2 ** order - 1)) order--;
    err = t.add(p, order);
    if (err !== 0) break;
    blocks++;
    p += 2 ** order;
  }
  if (stats !== undefined) stats.blocks = blocks;
  if (err !== 0) {
    unpreservePagesRaw(ctx, pfn, p - pfn);
    return err;
  }
  return 0;
}

function unpreservePagesRaw(ctx: KhoContext, pfn: number, nr: number): void {
  const t = ctx.tracker;
  if (t === null) return;
  const end = pfn + nr;
  let p = pfn;
  while (p < end) {
    const order = Math.min(ctzPfn(p), ilog2(end - p));
    t.del(p, order);
    p += 2 ** order;
  }
}

/** `kho_unpreserve_pages(page, nr)`: the same decomposition without the NUMA split (QUIRK). */
export function unpreservePages(ctx: KhoContext, pfn: number, nr: number): void {
  if (!checkPfnRange(pfn, nr)) return;
  if (ctx.tracker === null) {
    noTracker(ctx, 'kho_unpreserve_pages');
    return;
  }
  unpreservePagesRaw(ctx, pfn, nr);
}
