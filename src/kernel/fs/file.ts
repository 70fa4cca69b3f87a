/**
 * The VFS objects user space reaches through file descriptors (include/linux/fs.h): `struct
 * inode` (what a file is: a shmem page cache, a character device, an anonymous inode),
 * `struct file` (one open of it: flags, position, private data, a reference count) and
 * `struct file_operations` (what the driver does on read, write, llseek, ioctl, mmap, release).
 *
 * Reference counting follows fs/file_table.c: `allocFile` returns a file with one reference,
 * `getFile` takes another, `fput` drops one and the last drop calls `release`, then lets go of
 * the inode (an unlinked shmem inode frees its page cache then). Operations return 0 / a count
 * or -errno, as the C functions do.
 */
import type { ShmemInode } from '../../mm/shmem.ts';
import { O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY } from '../../abi/uapi-fcntl.ts';
import type { UserPtr } from './uaccess.ts';
import type { Task } from './fdtable.ts';

/** The file system an inode belongs to (what `ls -l /proc/PID/fd` and handlers look at). */
export type SuperblockKind = 'shmem' | 'hugetlbfs' | 'anon_inodefs' | 'devtmpfs' | 'proc';

/** Character device numbers. */
export interface DevNumbers {
  major: number;
  minor: number;
}

/** `struct inode`: the object behind one or more open files. */
export class Inode {
  /** `i_ino`. */
  readonly ino: number;
  readonly sb: SuperblockKind;
  /** `i_mode` (S_IF* type and permission bits). */
  mode: number;
  /** `i_nlink`: 0 for memfds and anonymous inodes, 1 for a linked file. */
  nlink: number;
  /** Device numbers of a character device inode. */
  readonly rdev: DevNumbers | null;
  /** The page cache of a shmem inode (`shmem_file()` is true exactly when this is set). */
  readonly shmem: ShmemInode | null;
  /** Open files on this inode (the model's `i_count` as far as eviction cares). */
  openFiles = 0;

  constructor(o: {
    ino: number;
    sb: SuperblockKind;
    mode: number;
    nlink: number;
    rdev?: DevNumbers | null;
    shmem?: ShmemInode | null;
  }) {
    this.ino = o.ino;
    this.sb = o.sb;
    this.mode = o.mode;
    this.nlink = o.nlink;
    this.rdev = o.rdev ?? null;
    this.shmem = o.shmem ?? null;
  }

  /** `i_size` of an inode without a page cache here (hugetlbfs, devices). */
  private plainSize = 0;

  /** `i_size_read()`. */
  get size(): number {
    return this.shmem?.size ?? this.plainSize;
  }

  /** `i_size_write()`. */
  set size(v: number) {
    if (this.shmem !== null) this.shmem.size = v;
    else this.plainSize = v;
  }
}

/** A shared mapping of a file (`struct vm_area_struct` of an mmap). */
export interface FileMapping {
  /** Bytes `[off, off+len)` of the mapping; throws {@link SigbusError} past the end of the file. */
  read(off: number, len: number): Uint8Array;
  /** Store bytes at `off` of the mapping; throws {@link SigbusError} past the end of the file. */
  write(off: number, data: Uint8Array): void;
  /** The mapping's length in bytes. */
  readonly length: number;
  /** `munmap`. */
  unmap(): void;
}

/** An access through a mapping beyond the end of the file: the process gets SIGBUS. */
export class SigbusError extends Error {
  constructor(detail: string) {
    super(`Bus error: ${detail}`);
    this.name = 'SigbusError';
  }
}

/** `struct file_operations`: every operation is optional, as in C. */
export interface FileOperations {
  /** The module that implements them (`THIS_MODULE`), for messages. */
  readonly owner?: string;
  /** `open`: 0 or -errno (the file is dropped without `release` on failure). */
  open?: (file: File, task: Task) => number;
  /** `release`: the last reference to the file is gone. */
  release?: (file: File) => void;
  /** `read` of up to `count` bytes at `pos`: the bytes (the VFS advances the position) or -errno. */
  read?: (file: File, count: number, pos: number) => Uint8Array | number;
  /**
   * `read_iter` straight into `buf` (the user's buffer; as many bytes as fit) at `pos`: bytes
   * read or -errno. When present the VFS uses it instead of `read` (no copy through a fresh
   * buffer: reading back a memfd of a gigabyte).
   */
  readIter?: (file: File, buf: Uint8Array, pos: number) => number;
  /** `write` at `pos`: bytes written or -errno. */
  write?: (file: File, data: Uint8Array, pos: number) => number;
  /** `llseek`: the new position or -errno (the op sets `file.pos`). */
  llseek?: (file: File, offset: number, whence: number) => number;
  /** `unlocked_ioctl`: the result or -errno; -ENOIOCTLCMD becomes -ENOTTY in the VFS. */
  unlockedIoctl?: (file: File, cmd: number, arg: UserPtr, task: Task) => number;
  /** `mmap` of `[offset, offset+length)`: a mapping or -errno. */
  mmap?: (file: File, offset: number, length: number, prot: number, flags: number) => FileMapping | number;
  /** `fallocate`: 0 or -errno. */
  fallocate?: (file: File, mode: number, offset: number, length: number) => number;
  /** `setattr` of the size (`ftruncate`): 0 or -errno. */
  truncate?: (file: File, size: number) => number;
}

/** `struct file`: one open instance. */
export class File {
  readonly inode: Inode;
  readonly fops: FileOperations;
  /** `f_flags` (O_* bits, the access mode included). */
  flags: number;
  /** `f_pos`. */
  pos = 0;
  /** `private_data` of the driver. */
  privateData: unknown = null;
  /** `f_count`. */
  count = 1;
  /** The dentry name (`memfd:test_mfd`, `[luo_session] s1`, `liveupdate`). */
  readonly name: string;
  /** `d_path()` of the file: what `/proc/PID/fd/N` links to. */
  readonly path: () => string;
  /** Set once `release` has run. */
  released = false;

  constructor(inode: Inode, fops: FileOperations, flags: number, name: string, path: () => string) {
    this.inode = inode;
    this.fops = fops;
    this.flags = flags;
    this.name = name;
    this.path = path;
  }

  /** FMODE_READ. */
  get canRead(): boolean {
    const acc = this.flags & O_ACCMODE;
    return acc === O_RDONLY || acc === O_RDWR;
  }

  /** FMODE_WRITE. */
  get canWrite(): boolean {
    const acc = this.flags & O_ACCMODE;
    return acc === O_WRONLY || acc === O_RDWR;
  }
}

/**
 * `alloc_file_pseudo()` / `dentry_open()`: a new open file on `inode` with one reference.
 * `path` is what `d_path` prints for it.
 */
export function allocFile(
  inode: Inode,
  fops: FileOperations,
  flags: number,
  name: string,
  path: () => string,
): File {
  inode.openFiles++;
  return new File(inode, fops, flags, name, path);
}

/** `get_file()`: one more reference. */
export function getFile(file: File): File {
  file.count++;
  return file;
}

/**
 * `fput()`: drop a reference; the last one runs `release` and lets go of the inode (an
 * unlinked shmem inode with no other open file frees its page cache, `shmem_evict_inode`).
 */
export function fput(file: File): void {
  if (file.count <= 0) return;
  file.count--;
  if (file.count > 0) return;
  file.released = true;
  file.fops.release?.(file);
  const inode = file.inode;
  inode.openFiles--;
  if (inode.openFiles === 0 && inode.nlink === 0) inode.shmem?.evict();
}
