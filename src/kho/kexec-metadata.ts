/**
 * KHO's own `kexec-metadata` sub-tree (spec §9.1): every `kho_init` from kho-v3 on writes the
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
 * Read the incoming `kexec-metadata` with the kernel's checks and warnings. Returns null when
 * missing or unusable. `log` false reads silently (generation bookkeeping without kho_init).
 */
export function readIncomingKexecMetadata(ctx: KhoContext, log = true): IncomingKexecMetadata | null {
  const r = retrieveSubtree(ctx, KHO_KEXEC_METADATA_NAME);
  if (!('size' in r)) return null;
  const warn = (t: string): void => {
    if (log) ctx.dmesg.warn(`KHO: ${t}`);
  };
  if (r.size < 4) {
    warn(`kexec-metadata too small (${r.size} bytes)`);
    return null;
  }
  let bytes: Uint8Array;
  try {
    bytes = ctx.mem.read(r.phys, Math.min(r.size, KEXEC_METADATA_SIZE));
  } catch {
    return null;
  }
  const version = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24);
  if (version >>> 0 !== KHO_KEXEC_METADATA_VERSION) {
    warn(`kexec-metadata version ${version >>> 0} is not supported`);
    return null;
  }
  if (r.size < KEXEC_METADATA_SIZE) {
    warn(`kexec-metadata too small (${r.size} bytes)`);
    return null;
  }
  const d = decodeKexecMetadata(bytes);
  if (!d.ok) return null;
  return { release: d.value.previousRelease, count: d.value.kexecCount };
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
  if (phys < 0) return { err: phys, incoming };
  ctx.mem.write(
    phys,
    encodeKexecMetadata({
      version: KHO_KEXEC_METADATA_VERSION,
      previousRelease: release,
      kexecCount: (incoming + 1) >>> 0,
    }),
  );
  const err = addSubtree(ctx, KHO_KEXEC_METADATA_NAME, phys, KEXEC_METADATA_SIZE);
  if (err !== 0) unpreserveFree(ctx, phys);
  return { err, incoming };
}
