/**
 * The successor's restore API (kernel/liveupdate/kexec_handover.c: kho_restore_folio(),
 * kho_restore_pages(), kho_restore_vmalloc(); page metadata from kho_memory_init()): a preserved block head
 * carries `page->private` = KHOP magic | order (written by `kho_memory_init`); restoring clears it, sets
 * refcounts (folio: head 1, compound; pages: every page 1) and adds the pages to the managed
 * count. A second restore finds no magic and fails; unrestored blocks stay reserved.
 */
import { KHO_VMALLOC_SIZE } from '../abi/kho-vmalloc.ts';
import { KHO_PAGE_MAGIC } from '../abi/kho-page.ts';
import { PG_HEAD } from '../mm/page-meta.ts';
import { buddyOf, type KhoContext, warnOnce } from './context.ts';
import { ctzPfn, ilog2 } from './preserve.ts';
import { khoFlagsToVmalloc } from './vmalloc-preserve.ts';

const PAGE_SIZE = 4096;

/** `kho_restore_page(phys, is_folio)`: the head pfn, or null. */
function restorePage(ctx: KhoContext, phys: number, folio: boolean): number | null {
  if (!Number.isSafeInteger(phys) || phys < 0) return null;
  const buddy = buddyOf(ctx);
  const pfn = Math.floor(phys / PAGE_SIZE);
  if (!buddy.pfnOnline(pfn)) return null;
  const meta = buddy.meta;
  if (meta.privateHi(pfn) >>> 0 !== KHO_PAGE_MAGIC) {
    warnOnce(ctx, 'kho_restore_page', `page at ${phys.toString(16)} has no KHO magic`);
    return null;
  }
  const order = meta.privateLo(pfn) >>> 0;
  const n = 2 ** order;
  meta.setPrivate(pfn, 0, 0);
  meta.setRefcount(pfn, 1);
  // Tail pages: 0 for a folio (pages without state read 0, so only stale counts are cleared),
  // 1 for each page of a kho_restore_pages block.
  if (!folio) for (let i = 1; i < n; i++) meta.setRefcount(pfn + i, 1);
  else if (n > 1 && meta.firstReferenced(pfn + 1, pfn + n) >= 0) {
    for (let i = 1; i < n; i++) if (meta.refcount(pfn + i) !== 0) meta.setRefcount(pfn + i, 0);
  }
  meta.setOrder(pfn, folio ? order : 0);
  if (folio && order > 0) meta.setFlags(pfn, PG_HEAD);
  buddy.adjustManagedPageCount(pfn, n);
  return pfn;
}

/** `kho_restore_folio(phys)`: the folio's pfn, or null. */
export function restoreFolio(ctx: KhoContext, phys: number): number | null {
  return restorePage(ctx, phys, true);
}

/**
 * `kho_restore_pages(phys, nr)`: restore each block of the ctz/log2 decomposition (advancing by
 * the computed order, not the stored one: QUIRK). The first pfn, or null at the first failure
 * (blocks already restored stay restored).
 */
export function restorePages(ctx: KhoContext, phys: number, nr: number): number | null {
  if (!Number.isSafeInteger(phys) || phys < 0 || !Number.isSafeInteger(nr) || nr < 0) return null;
  const start = Math.floor(phys / PAGE_SIZE);
  const end = start + nr;
  let pfn = start;
  while (pfn < end) {
    const order = Math.min(ctzPfn(pfn), ilog2(end - pfn));
    if (restorePage(ctx, pfn * PAGE_SIZE, false) === null) return null;
    pfn += 2 ** order;
  }
  return start;
}

/** `kho_restore_free(mem)`: restore the folio and drop the reference (WARN when it fails). */
export function restoreFree(ctx: KhoContext, phys: number): void {
  if (phys === 0) return;
  const pfn = restoreFolio(ctx, phys);
  if (pfn === null) {
    ctx.dmesg.warnOn('kho_restore_free', `restore of ${phys.toString(16)} failed`);
    return;
  }
  buddyOf(ctx).putPage(pfn);
}

/**
 * `kho_restore_vmalloc(p)`: restore every piece and chunk page, then map the pages at a new
 * virtual address (aligned to the piece size). Returns the address, or null; a failure does not
 * undo what was restored.
 */
export function restoreVmalloc(ctx: KhoContext, descPhys: number): number | null {
  const mem = ctx.mem;
  const vm = ctx.vmalloc;
  if (vm === null) return null;
  let first: number;
  let total: number;
  let flags: number;
  let order: number;
  try {
    first = mem.readU64(descPhys);
    total = mem.readU32(descPhys + 8);
    flags = mem.readU16(descPhys + 12);
    order = mem.readU16(descPhys + 14);
  } catch {
    return null;
  }
  const vmFlags = khoFlagsToVmalloc(flags);
  if (order > 18) return null;
  const per = 2 ** order;
  // kvmalloc_array(total_pages, 8): mm/util.c refuses sizes above INT_MAX with a WARN; an array
  // for more pages than the machine has could be allocated, but the restore cannot succeed.
  if (total * 8 > 0x7fff_ffff) {
    warnOnce(ctx, '__kvmalloc_node_noprof', `kvmalloc of ${total * 8} bytes exceeds INT_MAX`);
    return null;
  }
  if (total > ctx.mem.limit / 4096) return null;
  const pages = new Float64Array(total);
  let idx = 0;
  let chunk = first;
  const buddy = buddyOf(ctx);
  const seen = new Set<number>();
  try {
    while (chunk !== 0) {
      if (seen.has(chunk)) return null;
      seen.add(chunk);
      for (let i = 0; i < KHO_VMALLOC_SIZE; i++) {
        const p = mem.readU64(chunk + 8 + i * 8);
        if (p === 0) break;
        if (idx + per > total) return null;
        const pfn = restorePages(ctx, p, per);
        if (pfn === null) return null;
        for (let j = 0; j < per; j++) pages[idx++] = pfn + j;
      }
      const cpfn = restorePages(ctx, chunk, 1);
      if (cpfn === null) return null;
      const next = mem.readU64(chunk);
      buddy.freePages(cpfn, 0);
      chunk = next;
    }
  } catch {
    return null;
  }
  if (idx !== total || total === 0) return null;
  try {
    return vm.vmap(pages, { flags: vmFlags, pageOrder: order });
  } catch {
    return null;
  }
}
