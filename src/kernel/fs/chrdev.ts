/**
 * Opening a character device node (fs/char_dev.c `chrdev_open`, with misc devices'
 * `misc_open` handing over to the driver's operations), and the memory devices every kernel
 * registers (drivers/char/mem.c): `/dev/null` and `/dev/zero`.
 */
import { allocFile, type File, type FileOperations } from './file.ts';
import type { Task } from './fdtable.ts';
import type { CharDevice, KernelFs } from './kernel-fs.ts';

/** `MEM_MAJOR`. */
export const MEM_MAJOR = 1;

/**
 * Open `dev` with `flags` for `task`: a new file whose operations are the driver's, then the
 * driver's `open`. Returns the file (one reference) or -errno; a failed open never reaches
 * `release`, as `do_dentry_open` unwinds before FMODE_OPENED.
 */
export function chrdevOpen(dev: CharDevice, flags: number, task: Task): File | number {
  const f = allocFile(dev.inode, dev.fops, flags, dev.name, () => `/dev/${dev.name}`);
  const rc = dev.fops.open?.(f, task) ?? 0;
  if (rc < 0) {
    f.count = 0;
    f.released = true;
    dev.inode.openFiles--;
    return rc;
  }
  return f;
}

/** `null_fops`: reads see end of file, writes vanish, seeks go nowhere. */
export const NULL_FOPS: FileOperations = {
  owner: 'mem',
  read: () => new Uint8Array(0),
  write: (_f, data) => data.length,
  llseek: (f) => {
    f.pos = 0;
    return 0;
  },
};

/** `zero_fops`: reads return zeros, writes vanish. */
export const ZERO_FOPS: FileOperations = {
  owner: 'mem',
  read: (_f, count) => new Uint8Array(Math.min(count, 1 << 20)),
  write: (_f, data) => data.length,
  llseek: (f) => {
    f.pos = 0;
    return 0;
  },
};

/** `chr_dev_init`: the memory devices (mode 0666, as devtmpfs creates them). */
export function registerMemDevices(fs: KernelFs): void {
  fs.addDevice('null', { major: MEM_MAJOR, minor: 3 }, NULL_FOPS, 0o666);
  fs.addDevice('zero', { major: MEM_MAJOR, minor: 5 }, ZERO_FOPS, 0o666);
}
