/**
 * Named sub-trees in the root FDT (kernel/liveupdate/kexec_handover.c): `kho_add_subtree` (newest first,
 * -EEXIST, -ENOMEM when the one-page FDT is full, the April 2026 error path that deletes a half-built
 * node), `kho_remove_subtree` (by blob address, silent), and the successor's
 * `kho_retrieve_subtree` reading the incoming FDT from memory.
 */
import { decodeLe64Prop, encodeLe64Prop, KHO_FDT_PROP_BLOB_SIZE } from '../abi/kho-fdt.ts';
import { FdtError } from '../fdt/errors.ts';
import { Fdt } from '../fdt/reader.ts';
import { type KhoContext, warnOnce } from './context.ts';
import { addSubFdtFile, removeSubFdtFile } from './debugfs.ts';
import { editRootFdt, readRootFdt } from './out-fdt.ts';

const ENOENT = 2;
const ENOMEM = 12;
const EEXIST = 17;
const EINVAL = 22;

/** The sub-node property holding the blob address in this kernel's ABI (`fdt` or `preserved-data`). */
function dataProp(ctx: KhoContext): string {
  return ctx.profile.abi.subtreeDataProp;
}

/**
 * `kho_add_subtree(name, blob, size)`: 0, -EEXIST or -ENOMEM. The blob's pages are not
 * preserved here (the caller does that). From kho-v3 on `blob-size` is recorded; kho-v1 writes
 * the `fdt` property only.
 */
export function addSubtree(ctx: KhoContext, name: string, phys: number, size: number): number {
  if (ctx.fdtPhys === 0) {
    // The kernel dereferences NULL here; the model refuses (docs/quirks.md).
    warnOnce(ctx, 'kho_add_subtree', 'KHO is not initialised');
    return -EINVAL;
  }
  if (typeof name !== 'string' || !Number.isSafeInteger(phys) || phys < 0) return -EINVAL;
  if (!Number.isSafeInteger(size) || size < 0) return -EINVAL;
  let err = -ENOMEM;
  try {
    editRootFdt(ctx.mem, ctx.fdtPhys, (rw) => {
      let off: number;
      try {
        off = rw.addSubnode(0, name);
      } catch (e) {
        if (e instanceof FdtError && e.code === 'FDT_ERR_EXISTS') err = -EEXIST;
        return;
      }
      try {
        rw.setprop(off, dataProp(ctx), encodeLe64Prop(phys));
        if (ctx.profile.abi.hasBlobSize) rw.setprop(off, KHO_FDT_PROP_BLOB_SIZE, encodeLe64Prop(size));
      } catch {
        // After the April 2026 fix: drop the half-built node, report -ENOMEM.
        rw.delNode(off);
        return;
      }
      err = 0;
    });
  } catch (e) {
    if (!(e instanceof FdtError)) throw e;
    return -ENOMEM;
  }
  if (err === 0) {
    const shown = ctx.profile.abi.hasBlobSize ? size : v1BlobSize(ctx, phys, size);
    ctx.subtrees.set(name, { name, phys, size: shown });
    addSubFdtFile(ctx, name, phys, shown);
  }
  return err;
}

/** kho-v1 sub-trees are FDTs whose size is their header's totalsize. */
function v1BlobSize(ctx: KhoContext, phys: number, fallback: number): number {
  try {
    const b = ctx.mem.read(phys + 4, 4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  } catch {
    return fallback;
  }
}

/** `kho_remove_subtree(blob)`: delete the first child whose data property equals `phys`. */
export function removeSubtree(ctx: KhoContext, phys: number): void {
  if (ctx.fdtPhys === 0) return;
  const found: { name: string | null } = { name: null };
  try {
    editRootFdt(ctx.mem, ctx.fdtPhys, (rw) => {
      const fdt = rw.toFdt();
      for (const c of fdt.children(fdt.root())) {
        const v = fdt.getprop(c, dataProp(ctx));
        if (v === null || v.length !== 8) continue;
        const d = decodeLe64Prop(v);
        if (d.ok && d.value === phys) {
          // By offset: a path lookup of `name` could match an earlier `name@unit` sibling.
          found.name = fdt.getName(c);
          rw.delNode(c);
          break;
        }
      }
    });
  } catch (e) {
    if (!(e instanceof FdtError)) throw e;
    return;
  }
  if (found.name !== null) {
    ctx.subtrees.delete(found.name);
    removeSubFdtFile(ctx, found.name);
  }
}

/** Result of {@link retrieveSubtree}: the blob, or -errno; `phys` may be set even on error (QUIRK). */
export type RetrieveResult = { phys: number; size: number } | { errno: number; phys?: number };

/** The incoming root FDT as a validated reader, or null. */
export function incomingFdt(ctx: KhoContext): Fdt | null {
  const inc = ctx.incoming;
  if (inc === null) return null;
  try {
    return new Fdt(readRootFdt(ctx.mem, inc.fdtPhys));
  } catch {
    return null;
  }
}

/**
 * `kho_retrieve_subtree(name, &phys, &size)`: -ENOENT without incoming data or child;
 * -EINVAL when `preserved-data` is not 8 bytes, or (v3+) `blob-size` is missing/bad, in which
 * case `phys` was already written and a line is logged. v1/v2 kernels have no size: v1 reads
 * the sub-FDT's totalsize, v2 reports 0.
 */
export function retrieveSubtree(ctx: KhoContext, name: string): RetrieveResult {
  const fdt = incomingFdt(ctx);
  if (fdt === null) return { errno: -ENOENT };
  const off = fdt.subnode(fdt.root(), name);
  if (off < 0) return { errno: -ENOENT };
  const v = fdt.getprop(off, dataProp(ctx));
  if (v === null || v.length !== 8) return { errno: -EINVAL };
  const d = decodeLe64Prop(v);
  if (!d.ok) return { errno: -EINVAL };
  const phys = d.value;
  if (!ctx.profile.abi.hasBlobSize) {
    return { phys, size: ctx.profile.abi.version === 1 ? v1BlobSize(ctx, phys, 0) : 0 };
  }
  const s = fdt.getprop(off, KHO_FDT_PROP_BLOB_SIZE);
  const sd = s !== null && s.length === 8 ? decodeLe64Prop(s) : null;
  if (sd === null || !sd.ok) {
    ctx.dmesg.warn(`KHO: broken KHO subnode '${name}': missing or invalid blob-size property`);
    return { errno: -EINVAL, phys };
  }
  return { phys, size: sd.value };
}

/** Children of the outgoing FDT's root, newest first (for reports). */
export function outgoingSubtreeNames(ctx: KhoContext): string[] {
  if (ctx.fdtPhys === 0) return [];
  try {
    const fdt = new Fdt(readRootFdt(ctx.mem, ctx.fdtPhys));
    return fdt.children(fdt.root()).map((c) => fdt.getName(c));
  } catch (e) {
    if (e instanceof FdtError) return []; // the page was overwritten
    throw e;
  }
}
