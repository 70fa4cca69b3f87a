/**
 * `kho_populate()` (kernel/liveupdate/kexec_handover.c): the successor's first look at the
 * hand-over data, during arch setup. It validates the FDT header, the compatible string and the
 * memory-map property, adds and marks the scratch areas in memblock, reserves the array and
 * turns on scratch-only mode. Any failure logs `KHO: disabling KHO revival` (kho-v1 kernels add
 * `: <err>`) and the kernel boots as a cold boot. The messages and levels are those of each
 * release: kho-v1 calls the map "preserved memory bitmaps" and WARNs on a marking failure.
 */
import { decodeLe64Prop, KHO_FDT_PROP_MEMORY_MAP, stringListContains } from '../abi/kho-fdt.ts';
import { FdtError } from '../fdt/errors.ts';
import { readHeader } from '../fdt/header.ts';
import { Fdt } from '../fdt/reader.ts';
import { hexAddr, type KhoContext, type ScratchArea } from './context.ts';

const ENOENT = 2;
const EFAULT = 14;
const EINVAL = 22;

/** The four values of the hand-over record (x86 `struct kho_data`). */
export interface KhoHandover {
  fdtPhys: number;
  fdtLen: number;
  scratchPhys: number;
  scratchLen: number;
}

function mapBytes(ctx: KhoContext, phys: number, len: number): Uint8Array | null {
  if (!Number.isSafeInteger(phys) || !Number.isSafeInteger(len) || len <= 0 || len > 64 * 1024 * 1024)
    return null;
  try {
    return ctx.mem.read(phys, len);
  } catch {
    return null;
  }
}

/**
 * `kho_get_mem_map_phys`: the LE64 `preserved-memory-map`; 0 (and an error line) when missing or
 * not 8 bytes, 0 silently when it holds 0 (a kho-v1 kernel that did not finalize).
 */
function memMapPhys(ctx: KhoContext, fdt: Fdt): number {
  const v = fdt.getprop(fdt.root(), KHO_FDT_PROP_MEMORY_MAP);
  if (v === null || v.length !== 8) {
    const what = ctx.profile.abi.version === 1 ? 'bitmaps' : 'map';
    ctx.dmesg.err(`KHO: failed to get preserved memory ${what}`);
    return 0;
  }
  const d = decodeLe64Prop(v);
  if (!d.ok) {
    // Not below 2^53: no RAM the model has; the kernel would follow it.
    ctx.dmesg.warn('kexec sanitizer: preserved-memory-map points beyond 2^53; ignored');
    return 0;
  }
  return d.value;
}

/** `%pa` of a phys_addr_t: `0x` and 16 hex digits (the kernel's format adds its own `0x` too). */
function pa(x: number): string {
  return `0x${x.toString(16).padStart(16, '0')}`;
}

/**
 * The model refuses scratch areas it cannot back with RAM (the kernel would `memblock_add`
 * them as memory whatever they are); reported as a failure to mark them (docs/quirks.md).
 */
function areaOk(ctx: KhoContext, a: ScratchArea): boolean {
  if (a.size === 0) return true;
  if (a.addr + a.size > ctx.mem.limit) return false;
  let at = a.addr;
  const end = a.addr + a.size;
  for (const r of ctx.topology.ramRanges()) {
    if (r.end <= at) continue;
    if (r.start > at) return false;
    at = r.end;
    if (at >= end) return true;
  }
  return false;
}

/**
 * Validate and adopt the hand-over data. Returns true when accepted (`ctx.incoming` set,
 * memblock in scratch-only mode), false when KHO revival is disabled.
 */
export function khoPopulate(ctx: KhoContext, h: KhoHandover): boolean {
  const err = populate(ctx, h);
  if (err !== 0) {
    ctx.dmesg.warn(`KHO: disabling KHO revival${ctx.profile.abi.version === 1 ? `: ${err}` : ''}`);
    return false;
  }
  return true;
}

function populate(ctx: KhoContext, h: KhoHandover): number {
  const compat = ctx.profile.abi.compatible;
  const raw = mapBytes(ctx, h.fdtPhys, h.fdtLen);
  if (raw === null) {
    ctx.dmesg.warn(`KHO: setup: failed to memremap FDT (${hexAddr(h.fdtPhys)})`);
    return -EFAULT;
  }
  let hdrSize: number;
  try {
    hdrSize = readHeader(raw).totalsize;
  } catch (e) {
    const code = e instanceof FdtError ? -e.errno : -1;
    ctx.dmesg.warn(`KHO: setup: handover FDT (${hexAddr(h.fdtPhys)}) is invalid: ${code}`);
    return -EINVAL;
  }
  // fdt_check_header passed; a broken structure block shows up in the compatible check.
  let fdt: Fdt | null = null;
  let check: number;
  try {
    fdt = new Fdt(raw.subarray(0, hdrSize));
    const c = fdt.getprop(fdt.root(), 'compatible');
    // fdt_node_check_compatible: 0 when listed, 1 when not, -FDT_ERR_NOTFOUND without the property.
    check = c === null ? -1 : stringListContains(c, compat) ? 0 : 1;
  } catch (e) {
    check = e instanceof FdtError ? -e.errno : -1;
  }
  if (check !== 0) {
    ctx.dmesg.warn(
      `KHO: setup: handover FDT (${hexAddr(h.fdtPhys)}) is incompatible with '${compat}': ${check}`,
    );
    return -EINVAL;
  }
  const memMap = fdt === null ? 0 : memMapPhys(ctx, fdt);
  if (memMap === 0) return -ENOENT;
  const cnt = Math.floor(h.scratchLen / 16);
  const arr = mapBytes(ctx, h.scratchPhys, h.scratchLen);
  if (arr === null) {
    ctx.dmesg.warn(
      `KHO: setup: failed to memremap scratch (phys=${hexAddr(h.scratchPhys)}, len=${h.scratchLen})`,
    );
    return -EFAULT;
  }
  const v = new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
  const mb = ctx.memblock;
  for (let i = 0; i < cnt; i++) {
    const lo = (off: number): number => v.getUint32(off, true) + v.getUint32(off + 4, true) * 0x1_0000_0000;
    const a = { addr: lo(i * 16), size: lo(i * 16 + 8) };
    let bad = !Number.isSafeInteger(a.addr) || !Number.isSafeInteger(a.size) || !areaOk(ctx, a);
    if (!bad) {
      try {
        mb.add(a.addr, a.size);
        mb.markKhoScratch(a.addr, a.size);
      } catch {
        bad = true;
      }
    }
    if (bad) {
      // "0x%pa+0x%pa": %pa prints its own 0x. kho-v1 wrapped the check in WARN_ON().
      if (ctx.profile.abi.version === 1) ctx.dmesg.warnOn('kho_populate', 'scratch marking failed');
      ctx.dmesg.warn(`KHO: failed to mark the scratch region 0x${pa(a.addr)}+0x${pa(a.size)}: -ENOMEM`);
      return -12;
    }
  }
  mb.reserve(h.scratchPhys, h.scratchLen);
  mb.setKhoScratchOnly();
  ctx.incoming = { fdtPhys: h.fdtPhys, scratchPhys: h.scratchPhys, scratchCnt: cnt, memMapPhys: memMap };
  ctx.scratchPhys = h.scratchPhys;
  ctx.scratchCnt = cnt;
  ctx.khoBoot = true;
  ctx.dmesg.info('KHO: found kexec handover data.');
  return 0;
}
