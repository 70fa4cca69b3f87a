/**
 * Opening a file of the kernel's pseudo file systems from a process (fs/proc/base.c's
 * `/proc/<pid>/…` entries through fs/open.c: do_sys_open()): a `struct file` whose read gives
 * the entry's text from the position on (`simple_read_from_buffer`) and whose write goes to
 * the entry's handler, its `KernelError` becoming the returned -errno.
 */
import { O_ACCMODE, O_RDONLY } from '../../abi/uapi-fcntl.ts';
import { ERRNO, ErrnoError } from '../../util/errno.ts';
import type { PseudoFile } from '../pseudo-fs.ts';
import { allocFile, Inode, type File, type FileOperations } from './file.ts';
import type { KernelFs } from './kernel-fs.ts';

function pseudoOf(f: File): PseudoFile {
  return f.privateData as PseudoFile;
}

/** The file operations of an opened pseudo file. */
const PSEUDO_FOPS: FileOperations = {
  owner: 'proc',
  read: (f, count, pos) => {
    try {
      const b = pseudoOf(f).read();
      return b.subarray(Math.min(pos, b.length), Math.min(pos + count, b.length));
    } catch (e) {
      if (e instanceof ErrnoError) return -e.errno;
      throw e;
    }
  },
  write: (f, data) => {
    const w = pseudoOf(f).write;
    if (w === undefined) return -ERRNO.EINVAL; // no write method (fs/read_write.c: vfs_write())
    try {
      w(data);
    } catch (e) {
      if (e instanceof ErrnoError) return -e.errno;
      throw e;
    }
    return data.length;
  },
  llseek: (f, offset, whence) => {
    if (whence !== 0 || offset < 0) return -ERRNO.EINVAL;
    f.pos = offset;
    return offset;
  },
};

/**
 * Open `node` (at `path`, e.g. `/proc/205/fail-nth`) with `flags`: the file, or -EACCES when
 * it is opened for writing and has no write handler (root's DAC override does not make a
 * read-only proc entry writable).
 */
export function pseudoFileOpen(fs: KernelFs, node: PseudoFile, flags: number, path: string): File | number {
  if ((flags & O_ACCMODE) !== O_RDONLY && node.write === undefined) return -ERRNO.EACCES;
  const inode = new Inode({ ino: fs.nextIno(), sb: 'proc', mode: 0o100000 | node.mode, nlink: 1 });
  const f = allocFile(inode, PSEUDO_FOPS, flags, path.split('/').pop()!, () => path);
  f.privateData = node;
  return f;
}
