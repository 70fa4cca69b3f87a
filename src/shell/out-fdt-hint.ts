/**
 * The one-line explanation the terminal adds when a tool fails on KHO's debugfs `out/fdt` because
 * the file is shorter than the FDT it holds: the kernel sizes the file when kho_init() creates
 * it, so sub-trees added later (test_kho, memblock, LUO…) are cut off (docs/quirks.md).
 */
import { be32 } from '../fdt/header.ts';
import type { Session } from './session.ts';

const OUT_FDT = /\/kho\/out\/fdt$/;

/** The hint for `path` read as `blob`, or null when it is not a truncated `kho/out/fdt`. */
export function truncatedOutFdtHint(session: Session, path: string | null, blob: Uint8Array): string | null {
  if (path === null || !OUT_FDT.test(session.abs(path)) || blob.length < 8) return null;
  const total = be32(blob, 4);
  if (total <= blob.length) return null;
  return (
    `note: ${path} is truncated: header says ${total} bytes, file has ${blob.length}; the kernel sizes ` +
    'this file at kho_init (kernel/liveupdate/kexec_handover.c: kho_init()), so sub-trees added later are cut off\n'
  );
}
