/**
 * KHO's own `kexec-metadata` sub-tree (include/linux/kho/abi/kexec_metadata.h,
 * kernel/liveupdate/kexec_handover.c: kho_kexec_metadata_init()): every `kho_init` from kho-v3 on writes the
 * release and the kexec count (incoming count + 1) into a preserved page and registers it;
 * on a KHO boot the incoming one is read first and logged as `KHO: exec from: …`.
 */
import {
  decodeKexecMetadata,
  encodeKexecMetadata,
  KEXEC_METADATA_SIZE,
  KHO_KEXEC_METADATA_NAME,
  KHO_KEXEC_METADATA_VERSION,
} from '../abi/kexec-metadata.ts';
import { allocPreserve, unpreserveFree } from './alloc-preserve.ts';
import type { KhoContext } from './context.ts';
import { addSubtree, retrieveSubtree } from './subtree.ts';

/** The incoming metadata as the successor reads it. */
export interface IncomingKexecMetadata {
  release: string;
  count: number;
}

/**
 * `kho_in_kexec_metadata()`: read the incoming `kexec-metadata` with the kernel's checks and
 * warnings. Returns null when missing or unusable. `log` false reads silently (generation
 * bookkeeping without kho_init). A blob outside RAM, which the kernel would dereference, is
 * dropped with a sanitizer line.
 */
export function readIncomingKexecMetadata(ctx: KhoContext, log = true): IncomingKexecMetadata | null {
  const r = retrieveSubtree(ctx, KHO_KEXEC_METADATA_NAME);
  if (!('size' in r)) return null;
  const warn = (t: string): void => {
    if (log) ctx.dmesg.warn(t);
  };
  if (r.size < 4) {
    warn(`KHO: kexec-metadata blob too small (${r.size} bytes)`);
    return null;
  }
  const len = Math.min(r.size, KEXEC_METADATA_SIZE);
  if (!inRam(ctx, r.phys, len)) {
    warn(
      `kexec sanitizer: kexec-metadata blob at 0x${r.phys.toString(16)} (${r.size} bytes) is outside RAM; ignored`,
    );
    return null;
  }
  const bytes = ctx.mem.read(r.phys, len);
  const version = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
  if (version !== KHO_KEXEC_METADATA_VERSION) {
    warn(`KHO: kexec-metadata version ${version} not supported (expected ${KHO_KEXEC_METADATA_VERSION})`);
    return null;
  }
  if (r.size < KEXEC_METADATA_SIZE) {
    warn(`KHO: kexec-metadata blob too small for v${version} (${r.size} < ${KEXEC_METADATA_SIZE})`);
    return null;
  }
  const d = decodeKexecMetadata(bytes);
  if (!d.ok) return null;
  return { release: d.value.previousRelease, count: d.value.kexecCount };
}

/** True when `[phys, phys+len)` lies in the machine's RAM (what the direct map covers). */
function inRam(ctx: KhoContext, phys: number, len: number): boolean {
  if (!Number.isSafeInteger(phys) || phys + len > ctx.mem.limit) return false;
  return ctx.topology.ramRanges().some((r) => r.start <= phys && phys + len <= r.end);
}

/**
 * `kho_kexec_metadata_init`: on a KHO boot read and log the incoming record, then write this
 * kernel's (count = incoming + 1) and register it. 0 or -errno (the caller disables KHO).
 */
export function kexecMetadataInit(ctx: KhoContext, release: string): { err: number; incoming: number } {
  let incoming = 0;
  if (ctx.incoming !== null) {
    const m = readIncomingKexecMetadata(ctx);
    if (m !== null) {
      incoming = m.count;
      ctx.dmesg.info(`KHO: exec from: ${m.release} (count ${m.count})`);
    }
  }
  const phys = allocPreserve(ctx, KEXEC_METADATA_SIZE);
  if (phys < 0) {
    ctx.dmesg.warn(`KHO: failed to initialize kexec-metadata subtree: ${phys}`);
    return { err: phys, incoming };
  }
  ctx.mem.write(
    phys,
    encodeKexecMetadata({
      version: KHO_KEXEC_METADATA_VERSION,
      previousRelease: release,
      kexecCount: (incoming + 1) >>> 0,
    }),
  );
  const err = addSubtree(ctx, KHO_KEXEC_METADATA_NAME, phys, KEXEC_METADATA_SIZE);
  if (err !== 0) {
    unpreserveFree(ctx, phys);
    ctx.dmesg.warn(`KHO: failed to initialize kexec-metadata subtree: ${err}`);
  }
  return { err, incoming };
}
