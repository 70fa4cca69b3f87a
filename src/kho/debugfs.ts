/**
 * KHO's debugfs files (kernel/liveupdate/kexec_handover_debugfs.c): `kho/out/` (scratch_phys, scratch_len, sub_fdts/, fdt, and on
 * kho-v1 `finalize`, plus the never-mainline `active` behind an option) and `kho/in/` (fdt,
 * sub_fdts/) on a KHO boot. Binary files are live views of simulated memory.
 */
import { decodeLe64Prop, KHO_FDT_PROP_BLOB_SIZE } from '../abi/kho-fdt.ts';
import { FdtError } from '../fdt/errors.ts';
import { Fdt } from '../fdt/reader.ts';
import { KernelError } from '../util/errno.ts';
import { PseudoDir, rwFile, showAttributeFile, type PseudoFile } from '../kernel/pseudo-fs.ts';
import { hexAddr, type KhoContext } from './context.ts';
import { readRootFdt, rootFdtSize } from './out-fdt.ts';
import { v1Abort, v1Finalize } from './v1-finalize.ts';

const enc = new TextEncoder();

function khoDir(ctx: KhoContext): PseudoDir {
  return ctx.debugfs.dir('kho');
}

/**
 * A blob file (fs/debugfs/file.c: debugfs_create_blob(), mode 0400): reads show `size` bytes at
 * `phys`, live; root can write it, and write_file_blob() copies the bytes into that memory, at
 * most `size` of them (the kernel's FDT pages included).
 */
function blobFile(ctx: KhoContext, phys: number, size: () => number, read?: () => Uint8Array): PseudoFile {
  return rwFile(
    read ?? (() => ctx.mem.read(phys, size())),
    (data) => {
      ctx.mem.write(phys, data.subarray(0, Math.min(data.length, size())));
    },
    0o400,
  );
}

function outDir(ctx: KhoContext): PseudoDir | null {
  const d = ctx.debugfs.lookup('kho/out');
  return d instanceof PseudoDir ? d : null;
}

/** The scratch array as `0x<hex>\n` lines of one field. */
function scratchText(ctx: KhoContext, field: 0 | 8): string {
  let s = '';
  for (let i = 0; i < ctx.scratchCnt; i++)
    s += `${hexAddr(ctx.mem.readU64(ctx.scratchPhys + i * 16 + field))}\n`;
  return s;
}

/** Parse a debugfs attribute write (`%llu`, kstrtoull base 0). */
function parseAttr(data: Uint8Array): number {
  const t = new TextDecoder().decode(data).trim();
  if (!/^(0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(t)) throw new KernelError('EINVAL', `bad value '${t}'`);
  return Number(t.startsWith('0') && !t.startsWith('0x') && t.length > 1 ? parseInt(t, 8) : t);
}

/** `kho_out_finalize_set` (kho-v1): non-zero finalizes, zero aborts. */
function finalizeWrite(ctx: KhoContext, data: Uint8Array): void {
  const val = parseAttr(data) !== 0;
  if (val === ctx.v1Finalized) {
    throw new KernelError(ctx.v1Finalized ? 'EEXIST' : 'ENOENT');
  }
  const r = val ? v1Finalize(ctx) : v1Abort(ctx);
  if (r !== 0) throw new KernelError(r === -12 ? 'ENOMEM' : 'EINVAL');
}

/**
 * `kho_debugfs_init` + `kho_out_debugfs_init`: `kho/`, `kho/out/` with scratch_phys,
 * scratch_len, sub_fdts/ (and `finalize` on kho-v1).
 */
export function createOutDebugfs(ctx: KhoContext): void {
  const out = khoDir(ctx).dir('out');
  out.add(
    'scratch_phys',
    showAttributeFile(() => enc.encode(scratchText(ctx, 0))),
  );
  out.add(
    'scratch_len',
    showAttributeFile(() => enc.encode(scratchText(ctx, 8))),
  );
  out.dir('sub_fdts');
  if (ctx.profile.abi.hasFinalize) {
    const read = (): Uint8Array => enc.encode(ctx.v1Finalized ? '1\n' : '0\n');
    out.add(
      'finalize',
      rwFile(read, (d) => {
        finalizeWrite(ctx, d);
      }),
    );
    if (ctx.profile.options.v1ActiveFile) {
      out.add(
        'active',
        rwFile(read, (d) => {
          finalizeWrite(ctx, d);
        }),
      );
    }
  }
}

/** `out/sub_fdts/<name>`: the blob's first `size` bytes, read live. */
export function addSubFdtFile(ctx: KhoContext, name: string, phys: number, size: number): void {
  const d = outDir(ctx)?.get('sub_fdts');
  if (!(d instanceof PseudoDir)) return;
  d.remove(name);
  d.add(
    name,
    blobFile(ctx, phys, () => size),
  );
}

/** Remove `out/sub_fdts/<name>`. */
export function removeSubFdtFile(ctx: KhoContext, name: string): void {
  const d = outDir(ctx)?.get('sub_fdts');
  if (d instanceof PseudoDir) d.remove(name);
}

/**
 * `out/fdt`: the outgoing FDT. The kernel fixes the length at creation (QUIRK: later sub-trees
 * are cut off); `fullOutFdt` shows the current totalsize.
 */
export function createOutFdtFile(ctx: KhoContext): void {
  const out = outDir(ctx);
  if (out === null) return;
  ctx.outFdtLen = rootFdtSize(ctx.mem, ctx.fdtPhys);
  const full = ctx.profile.options.fullOutFdt;
  out.add(
    'fdt',
    blobFile(
      ctx,
      ctx.fdtPhys,
      () => (full ? rootFdtSize(ctx.mem, ctx.fdtPhys) : ctx.outFdtLen),
      full ? () => readRootFdt(ctx.mem, ctx.fdtPhys) : undefined,
    ),
  );
}

/**
 * `kho_in_debugfs_init` (kernel/liveupdate/kexec_handover_debugfs.c): `in/fdt` (incoming FDT,
 * totalsize bytes) and `in/sub_fdts/<name>` for each child with an 8-byte data property and
 * (kho-v3 on) an 8-byte `blob-size`; a bad length or a missing size is logged and the child
 * skipped. kho-v1/v2 sub-trees are FDTs sized by their header. A blob outside RAM, which the
 * kernel would expose as whatever its direct map holds there, is skipped with a sanitizer line.
 */
export function createInDebugfs(ctx: KhoContext): void {
  const inc = ctx.incoming;
  if (inc === null) return;
  const dir = khoDir(ctx).dir('in');
  const inSize = rootFdtSize(ctx.mem, inc.fdtPhys);
  dir.add(
    'fdt',
    blobFile(ctx, inc.fdtPhys, () => inSize),
  );
  const subs = dir.dir('sub_fdts');
  let fdt: Fdt;
  try {
    fdt = new Fdt(readRootFdt(ctx.mem, inc.fdtPhys));
  } catch (e) {
    // kho_populate checked the header; a broken structure block ends fdt_for_each_subnode.
    if (e instanceof FdtError) return;
    throw e;
  }
  const abi = ctx.profile.abi;
  const prop = abi.subtreeDataProp;
  for (const c of fdt.children(fdt.root())) {
    const name = fdt.getName(c);
    const v = fdt.getprop(c, prop);
    if (v === null) continue;
    if (v.length !== 8) {
      ctx.dmesg.warn(`KHO: node ${name} prop ${prop} has invalid length: ${v.length}`);
      continue;
    }
    const d = decodeLe64Prop(v);
    const phys = d.ok ? d.value : -1;
    let size: number;
    if (abi.hasBlobSize) {
      const s = fdt.getprop(c, KHO_FDT_PROP_BLOB_SIZE);
      const sd = s !== null && s.length === 8 ? decodeLe64Prop(s) : null;
      if (sd === null) {
        ctx.dmesg.warn(`KHO: node ${name} missing or invalid ${KHO_FDT_PROP_BLOB_SIZE} property`);
        continue;
      }
      size = sd.ok ? sd.value : -1;
    } else {
      // kho-v1/v2 sub-trees are FDTs: their header gives the size (anything else is skipped).
      try {
        if (phys < 0 || ctx.mem.read(phys, 4).join() !== '208,13,254,237') continue;
        size = rootFdtSize(ctx.mem, phys);
      } catch {
        continue;
      }
    }
    if (
      phys < 0 ||
      size < 0 ||
      !ctx.topology.ramRanges().some((r) => r.start <= phys && phys + size <= r.end)
    ) {
      ctx.dmesg.warn(
        `kexec sanitizer: sub-tree '${name}' blob at 0x${phys < 0 ? '?' : phys.toString(16)} (${size < 0 ? '?' : size} bytes) is outside RAM; not shown in debugfs`,
      );
      continue;
    }
    subs.add(
      name,
      blobFile(ctx, phys, () => size),
    );
  }
}
