/**
 * Misc character devices (drivers/char/misc.c): major 10, a minor the driver asks for or a
 * dynamic one. Dynamic minors count down from 127 (`DYNAMIC_MINORS - 1`), as `misc_minor_alloc`
 * hands them out while the low range lasts. The node appears in devtmpfs with mode 0600.
 */
import { ERRNO } from '../../util/errno.ts';
import type { FileOperations } from './file.ts';
import type { KernelFs } from './kernel-fs.ts';

/** `MISC_MAJOR`. */
export const MISC_MAJOR = 10;
/** `MISC_DYNAMIC_MINOR`: ask for a dynamic minor. */
export const MISC_DYNAMIC_MINOR = 255;
const DYNAMIC_MINORS = 128;

/** `struct miscdevice`. */
export interface MiscDevice {
  readonly name: string;
  /** A fixed minor or {@link MISC_DYNAMIC_MINOR}. */
  minor: number;
  readonly fops: FileOperations;
}

/** `misc_register`: 0, -EBUSY (minor or name taken) or -ENOMEM (no dynamic minor left). */
export function miscRegister(fs: KernelFs, misc: MiscDevice): number {
  const used = fs.miscMinors;
  let minor = misc.minor;
  if (minor === MISC_DYNAMIC_MINOR) {
    minor = -1;
    for (let m = DYNAMIC_MINORS - 1; m >= 0; m--) {
      if (!used.has(m)) {
        minor = m;
        break;
      }
    }
    if (minor < 0) return -ERRNO.EBUSY;
  } else if (used.has(minor)) return -ERRNO.EBUSY;
  if (fs.addDevice(misc.name, { major: MISC_MAJOR, minor }, misc.fops) === null) return -ERRNO.EBUSY;
  used.add(minor);
  misc.minor = minor;
  return 0;
}

/** `misc_deregister`. */
export function miscDeregister(fs: KernelFs, misc: MiscDevice): void {
  fs.removeDevice(misc.name);
  fs.miscMinors.delete(misc.minor);
}
