/**
 * kho-v1 finalize (v6.16 kernel/kexec_handover.c: kho_finalize()): the in-kernel bitmaps are serialized into
 * a `khoser_mem_chunk` list plus one-page bitmaps (fresh unmovable pages, not themselves
 * preserved) and `preserved-memory-map` is set to the list head; abort frees them and puts 0
 * back. The successor only sees preservations made before the last finalize.
 */
import { encodeLe64Prop, KHO_FDT_PROP_MEMORY_MAP } from '../abi/kho-fdt.ts';
import { buildKhoV1MemMap } from '../abi/kho-v1-mem-map.ts';
import { FdtError } from '../fdt/errors.ts';
import { GFP_KERNEL, __GFP_ZERO } from '../mm/gfp.ts';
import { buddyOf, type KhoContext } from './context.ts';
import { editRootFdt } from './out-fdt.ts';
import { KhoV1Tracker } from './v1-tracker.ts';

const PAGE_SIZE = 4096;
const ENOMEM = 12;
const EINVAL = 22;

function setMemMap(ctx: KhoContext, value: number): number {
  try {
    editRootFdt(ctx.mem, ctx.fdtPhys, (rw) => {
      rw.setprop(0, KHO_FDT_PROP_MEMORY_MAP, encodeLe64Prop(value));
    });
    return 0;
  } catch (e) {
    if (e instanceof FdtError) return -EINVAL;
    throw e;
  }
}

function freeMapPages(ctx: KhoContext): void {
  const buddy = buddyOf(ctx);
  for (const phys of ctx.v1MapPages) buddy.freePages(phys / PAGE_SIZE, 0);
  ctx.v1MapPages = [];
}

/** `kho_finalize()`: serialize the tracker; 0 or -ENOMEM / -EINVAL. */
export function v1Finalize(ctx: KhoContext): number {
  const t = ctx.tracker;
  if (!(t instanceof KhoV1Tracker) || ctx.fdtPhys === 0) return -EINVAL;
  const buddy = buddyOf(ctx);
  const taken: number[] = [];
  const st = { failed: false };
  const image = buildKhoV1MemMap(t.blocks(), () => {
    const pfn = st.failed ? null : buddy.alloc(0, GFP_KERNEL | __GFP_ZERO);
    if (pfn === null) {
      st.failed = true;
      return PAGE_SIZE; // placeholder; the result is discarded
    }
    taken.push(pfn * PAGE_SIZE);
    return pfn * PAGE_SIZE;
  });
  if (st.failed) {
    for (const p of taken) buddy.freePages(p / PAGE_SIZE, 0);
    return -ENOMEM;
  }
  for (const p of image.pages) ctx.mem.write(p.phys, p.bytes);
  ctx.v1MapPages = taken;
  const r = setMemMap(ctx, image.head);
  if (r !== 0) {
    freeMapPages(ctx);
    return r;
  }
  ctx.v1Finalized = true;
  return 0;
}

/** `kho_abort()`: drop the serialized map; 0. */
export function v1Abort(ctx: KhoContext): number {
  freeMapPages(ctx);
  setMemMap(ctx, 0);
  ctx.v1Finalized = false;
  return 0;
}
