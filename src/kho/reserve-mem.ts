/**
 * The memblock `reserve_mem` hand-over (mm/memblock.c): `reserve_mem=size:align:name` regions are
 * allocated at boot, or revived at the same address from the incoming `memblock` sub-tree; a
 * late initcall of a KHO-enabled kernel preserves every region and describes them in a
 * `memblock` sub-FDT (`memblock-v1` / `reserve-mem-v1`).
 */
import { encodeLe64Prop } from '../abi/kho-fdt.ts';
import {
  MEMBLOCK_KHO_FDT,
  MEMBLOCK_KHO_NODE_COMPATIBLE,
  RESERVE_MEM_KHO_NODE_COMPATIBLE,
  RESERVE_MEM_PROP_SIZE,
  RESERVE_MEM_PROP_START,
  type ReserveMemRecord,
} from '../abi/memblock-reserve-mem.ts';
import { stringListContains, decodeLe64Prop } from '../abi/kho-fdt.ts';
import { Fdt } from '../fdt/reader.ts';
import { FdtSw } from '../fdt/sw.ts';
import { HDR_SIZE_DT_STRINGS } from '../fdt/constants.ts';
import { be32 } from '../fdt/header.ts';
import type { ReserveMemParam } from '../kernel/cmdline.ts';
import { allocPreserve, unpreserveFree } from './alloc-preserve.ts';
import type { KhoContext } from './context.ts';
import { preservePages, unpreservePages } from './preserve.ts';
import { addSubtree, removeSubtree, retrieveSubtree } from './subtree.ts';

const PAGE_SIZE = 4096;

/** `reserve_mem_kho_revive`: the incoming record for `p`, or null (then allocate afresh). */
function revive(ctx: KhoContext, p: ReserveMemParam, warned: { once: boolean }): number | null {
  const r = retrieveSubtree(ctx, MEMBLOCK_KHO_FDT);
  if (!('size' in r)) {
    if (r.errno !== -2 && !warned.once) {
      warned.once = true;
      ctx.dmesg.warn(`failed to retrieve FDT '${MEMBLOCK_KHO_FDT}' from KHO: ${r.errno}`);
    }
    return null;
  }
  let fdt: Fdt;
  try {
    const hdr = ctx.mem.read(r.phys, 8);
    fdt = new Fdt(ctx.mem.read(r.phys, be32(hdr, 4)));
  } catch {
    return null;
  }
  const rc = fdt.getprop(fdt.root(), 'compatible');
  if (rc === null || !stringListContains(rc, MEMBLOCK_KHO_NODE_COMPATIBLE)) return null;
  const off = fdt.subnode(fdt.root(), p.name);
  if (off < 0) {
    ctx.dmesg.warn(`FDT '${MEMBLOCK_KHO_FDT}' has no child '${p.name}': -1`);
    return null;
  }
  const c = fdt.getprop(off, 'compatible');
  if (c === null || !stringListContains(c, RESERVE_MEM_KHO_NODE_COMPATIBLE)) {
    ctx.dmesg.warn(
      `Node '${p.name}' is incompatible with '${RESERVE_MEM_KHO_NODE_COMPATIBLE}': ${c === null ? -1 : 1}`,
    );
    return null;
  }
  const s = fdt.getprop(off, RESERVE_MEM_PROP_START);
  const z = fdt.getprop(off, RESERVE_MEM_PROP_SIZE);
  if (s === null || z === null || s.length !== 8 || z.length !== 8) return null;
  const start = decodeLe64Prop(s);
  const size = decodeLe64Prop(z);
  if (!start.ok || !size.ok) return null;
  if (start.value % p.align !== 0) {
    ctx.dmesg.warn(
      `KHO reserve-mem '${p.name}' has wrong alignment (0x${p.align.toString(16)}, 0x${start.value.toString(16)})`,
    );
    return null;
  }
  if (size.value !== p.size) {
    ctx.dmesg.warn(
      `KHO reserve-mem '${p.name}' has wrong size (0x${size.value.toString(16)} != 0x${p.size.toString(16)})`,
    );
    return null;
  }
  ctx.dmesg.info(`Revived memory reservation '${p.name}' from KHO`);
  return start.value;
}

/**
 * Parse-time handling of every `reserve_mem=` request: revive from KHO, else
 * `memblock_phys_alloc(size, align)`. Returns the reservation table.
 */
export function reserveMemSetupAll(ctx: KhoContext, params: readonly ReserveMemParam[]): ReserveMemRecord[] {
  const table: ReserveMemRecord[] = [];
  const warned = { once: false };
  for (const p of params) {
    let start = ctx.incoming !== null ? revive(ctx, p, warned) : null;
    if (start === null) {
      try {
        start = ctx.memblock.physAlloc(p.size, p.align);
      } catch {
        start = 0;
      }
      if (start === 0) {
        ctx.dmesg.warn(`reserve_mem: failed to allocate ${p.size} bytes for '${p.name}'`);
        continue;
      }
    }
    table.push({ name: p.name, start, size: p.size });
  }
  return table;
}

/** The memblock sub-FDT page as `prepare_kho_fdt` writes it (sequential writer in one page). */
export function buildMemblockFdtPage(records: readonly ReserveMemRecord[]): Uint8Array {
  const sw = FdtSw.create(PAGE_SIZE);
  sw.finishReservemap();
  sw.beginNode('');
  sw.propertyString('compatible', MEMBLOCK_KHO_NODE_COMPATIBLE);
  for (const r of records) {
    sw.beginNode(r.name);
    sw.propertyString('compatible', RESERVE_MEM_KHO_NODE_COMPATIBLE);
    sw.property(RESERVE_MEM_PROP_START, encodeLe64Prop(r.start));
    sw.property(RESERVE_MEM_PROP_SIZE, encodeLe64Prop(r.size));
    sw.endNode();
  }
  sw.endNode();
  const blob = sw.finish();
  const page = new Uint8Array(PAGE_SIZE);
  const strSize = be32(blob, HDR_SIZE_DT_STRINGS);
  page.set(blob.subarray(blob.length - strSize), PAGE_SIZE - strSize);
  page.set(blob);
  return page;
}

/**
 * The late initcall (`reserve_mem_init` → `prepare_kho_fdt`): with KHO on and at least one
 * region, preserve each region and register the `memblock` sub-tree. Returns 0 or -errno
 * (logged; everything undone).
 */
export function reserveMemKhoOut(ctx: KhoContext, table: readonly ReserveMemRecord[]): number {
  if (!ctx.enabled || ctx.fdtPhys === 0 || table.length === 0) return 0;
  const fail = (err: number): number => {
    ctx.dmesg.err(`failed to prepare memblock FDT for KHO: ${err}`);
    return err;
  };
  const phys = allocPreserve(ctx, PAGE_SIZE);
  if (phys < 0) return fail(phys);
  const done: ReserveMemRecord[] = [];
  for (const r of table) {
    const err = preservePages(ctx, r.start / PAGE_SIZE, Math.floor(r.size / PAGE_SIZE));
    if (err !== 0) {
      for (const d of done) unpreservePages(ctx, d.start / PAGE_SIZE, Math.floor(d.size / PAGE_SIZE));
      unpreserveFree(ctx, phys);
      return fail(err);
    }
    done.push(r);
  }
  let page: Uint8Array;
  try {
    page = buildMemblockFdtPage(table);
  } catch {
    page = new Uint8Array(0);
  }
  if (page.length === 0) {
    for (const d of done) unpreservePages(ctx, d.start / PAGE_SIZE, Math.floor(d.size / PAGE_SIZE));
    unpreserveFree(ctx, phys);
    return fail(-12);
  }
  ctx.mem.write(phys, page);
  const err = addSubtree(ctx, MEMBLOCK_KHO_FDT, phys, be32(page, 4));
  if (err !== 0) {
    removeSubtree(ctx, phys);
    for (const d of done) unpreservePages(ctx, d.start / PAGE_SIZE, Math.floor(d.size / PAGE_SIZE));
    unpreserveFree(ctx, phys);
    return fail(err);
  }
  return 0;
}
