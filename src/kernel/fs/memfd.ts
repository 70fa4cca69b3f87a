/**
 * memfds (mm/memfd.c) and the shmem file operations behind them (mm/shmem.c): anonymous files
 * whose contents live in a shmem page cache in simulated memory (src/mm/shmem.ts). Sizes,
 * holes, read/write/position, shared mappings and the seals of `fcntl(F_ADD_SEALS)` follow the
 * kernel, as does LUO's freeze (`shmem_freeze`): a preserved memfd cannot change its size.
 *
 * `memfdCheckFlags` and `memfdAllocFile` are the two halves of `memfd_create` around the fd
 * reservation (the syscall layer in src/user reserves the number); `memfd_alloc_file` is also
 * what LUO's memfd handler calls to recreate a memfd after kexec.
 */
import {
  F_ALL_SEALS,
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_NAME_MAX_LEN,
  MFD_NOEXEC_SEAL,
  O_LARGEFILE,
  O_RDWR,
  PROT_WRITE,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
} from '../../abi/uapi-fcntl.ts';
import { MAX_LFS_FILESIZE, pageIndex, SHMEM_FOLIO_DIRTY, SHMEM_FOLIO_UPTODATE } from '../../mm/shmem.ts';
import { ERRNO } from '../../util/errno.ts';
import { allocFile, Inode, SigbusError, type File, type FileMapping, type FileOperations } from './file.ts';
import type { KernelFs } from './kernel-fs.ts';

const PAGE_SIZE = 4096;
/** `FALLOC_FL_KEEP_SIZE`. */
export const FALLOC_FL_KEEP_SIZE = 0x01;
/** `FALLOC_FL_PUNCH_HOLE`. */
export const FALLOC_FL_PUNCH_HOLE = 0x02;
/** `MFD_HUGE_SHIFT` / `MFD_HUGE_MASK`: the hugetlb page-size bits of memfd_create's flags. */
const MFD_HUGE_SHIFT = 26;
const MFD_HUGE_MASK = 0x3f;
const MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;
/** Huge page size of a hugetlbfs memfd (x86-64 default 2 MiB). */
const HPAGE_SIZE = 2 * 1024 * 1024;

/**
 * memfd_create's checks before anything is allocated: unknown flags, MFD_EXEC with
 * MFD_NOEXEC_SEAL, and the name (at most 249 bytes). 0 or -EINVAL.
 */
export function memfdCheckFlags(name: string, flags: number): number {
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff_ffff) return -ERRNO.EINVAL;
  const allowed =
    (flags & MFD_HUGETLB) === 0 ? MFD_ALL_FLAGS : MFD_ALL_FLAGS | (MFD_HUGE_MASK << MFD_HUGE_SHIFT);
  if ((flags & ~allowed) !== 0) return -ERRNO.EINVAL;
  if ((flags & MFD_EXEC) !== 0 && (flags & MFD_NOEXEC_SEAL) !== 0) return -ERRNO.EINVAL;
  if (Buffer.byteLength(name, 'utf8') > MFD_NAME_MAX_LEN) return -ERRNO.EINVAL;
  return 0;
}

/** True when `file` is a shmem file (`shmem_file()`). */
export function shmemFile(file: File): boolean {
  return file.inode.shmem !== null;
}

/** The seals of a memfd-capable file (`memfd_file_seals_ptr`), or null for other files. */
function sealsOf(file: File): number | null {
  if (file.inode.shmem !== null) return file.inode.shmem.seals;
  return null;
}

/**
 * `memfd_alloc_file(name, flags)`: a new memfd open O_RDWR|O_LARGEFILE with one reference.
 * Without MFD_ALLOW_SEALING the file keeps shmem's initial F_SEAL_SEAL (no more seals can be
 * added); MFD_NOEXEC_SEAL drops the x bits and seals exec instead.
 */
export function memfdAllocFile(fs: KernelFs, name: string, flags: number): File {
  const hugetlb = (flags & MFD_HUGETLB) !== 0;
  const dname = `memfd:${name}`;
  const inode = hugetlb
    ? new Inode({ ino: fs.nextIno(), sb: 'hugetlbfs', mode: 0o100777, nlink: 0 })
    : fs.newShmemInode(0o777, 0);
  const sh = inode.shmem;
  if ((flags & MFD_NOEXEC_SEAL) !== 0) {
    inode.mode &= ~0o111;
    if (sh !== null) sh.seals = (sh.seals & ~F_SEAL_SEAL) | F_SEAL_EXEC;
  } else if ((flags & MFD_ALLOW_SEALING) !== 0 && sh !== null) {
    sh.seals &= ~F_SEAL_SEAL;
  }
  return allocFile(inode, hugetlb ? HUGETLBFS_FOPS : SHMEM_FOPS, O_RDWR | O_LARGEFILE, dname, () =>
    inode.nlink === 0 ? `/${dname} (deleted)` : `/${dname}`,
  );
}

/** `memfd_add_seals`: 0 or -EINVAL / -EPERM / -EBUSY. */
export function memfdAddSeals(file: File, seals: number): number {
  const sh = file.inode.shmem;
  if (sh === null) return -ERRNO.EINVAL;
  if (!file.canWrite) return -ERRNO.EPERM;
  if (!Number.isInteger(seals) || (seals & ~F_ALL_SEALS) !== 0 || seals < 0) return -ERRNO.EINVAL;
  if ((sh.seals & F_SEAL_SEAL) !== 0) return -ERRNO.EPERM;
  if ((seals & F_SEAL_WRITE) !== 0 && (sh.seals & F_SEAL_WRITE) === 0) {
    // mapping_deny_writable(), then memfd_wait_for_pins(): long-term pins (LUO) keep it busy.
    if (sh.writableMappings > 0) return -ERRNO.EBUSY;
    if (sh.nrPinned > 0) return -ERRNO.EBUSY;
  }
  // An executable file sealed against exec is made write-protected too (W^X).
  if ((seals & F_SEAL_EXEC) !== 0 && (file.inode.mode & 0o111) !== 0)
    seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
  sh.seals |= seals;
  return 0;
}

/** `memfd_get_seals`: the seals or -EINVAL for a file that has none. */
export function memfdGetSeals(file: File): number {
  const s = sealsOf(file);
  return s === null ? -ERRNO.EINVAL : s;
}

/** `shmem_file_llseek` (and `generic_file_llseek_size` for SET/CUR/END). */
function shmemLlseek(file: File, offset: number, whence: number): number {
  const size = file.inode.size;
  let pos: number;
  switch (whence) {
    case SEEK_SET:
      pos = offset;
      break;
    case SEEK_CUR:
      pos = file.pos + offset;
      break;
    case SEEK_END:
      pos = size + offset;
      break;
    case SEEK_DATA:
    case SEEK_HOLE: {
      if (offset < 0 || offset >= size) return -ERRNO.ENXIO;
      const sh = file.inode.shmem!;
      let at = offset;
      const wantData = whence === SEEK_DATA;
      while (at < size) {
        const has = sh.pfnAt(pageIndex(at)) !== 0;
        if (has === wantData) break;
        at = (pageIndex(at) + 1) * PAGE_SIZE;
      }
      if (at >= size) {
        if (wantData) return -ERRNO.ENXIO;
        at = size;
      }
      pos = Math.max(at, offset);
      break;
    }
    default:
      return -ERRNO.EINVAL;
  }
  if (!Number.isSafeInteger(pos) || pos < 0 || pos > MAX_LFS_FILESIZE) return -ERRNO.EINVAL;
  file.pos = pos;
  return pos;
}

/** `shmem_file_read_iter` (as `read`, for callers that want the bytes). */
function shmemRead(file: File, count: number, pos: number): Uint8Array {
  return file.inode.shmem!.read(pos, count);
}

/** `shmem_file_read_iter` into the caller's buffer. */
function shmemReadIter(file: File, buf: Uint8Array, pos: number): number {
  return file.inode.shmem!.readInto(pos, buf);
}

/** `shmem_file_write_iter` with `shmem_write_begin`'s seal and freeze checks. */
function shmemWrite(file: File, data: Uint8Array, pos: number): number {
  const sh = file.inode.shmem!;
  if ((sh.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0) return -ERRNO.EPERM;
  const end = pos + data.length;
  if (end > sh.size && ((sh.seals & F_SEAL_GROW) !== 0 || sh.frozen)) return -ERRNO.EPERM;
  if (end > MAX_LFS_FILESIZE) return -ERRNO.EFBIG;
  if (data.length === 0) return 0;
  return sh.write(pos, data);
}

/** `shmem_setattr` for a new size (`ftruncate`): seals and LUO's freeze say no with -EPERM. */
function shmemTruncate(file: File, size: number): number {
  const sh = file.inode.shmem!;
  if (size === sh.size) return 0;
  if (sh.frozen) return -ERRNO.EPERM;
  if (size < sh.size && (sh.seals & F_SEAL_SHRINK) !== 0) return -ERRNO.EPERM;
  if (size > sh.size && (sh.seals & F_SEAL_GROW) !== 0) return -ERRNO.EPERM;
  sh.setSize(size);
  return 0;
}

/** `shmem_fallocate`: hole punching (with KEEP_SIZE) and preallocation. */
function shmemFallocate(file: File, mode: number, offset: number, length: number): number {
  const sh = file.inode.shmem!;
  if (offset < 0 || length <= 0) return -ERRNO.EINVAL;
  if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0) return -ERRNO.EOPNOTSUPP;
  if (sh.frozen) return -ERRNO.EPERM;
  if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0) {
    if ((mode & FALLOC_FL_KEEP_SIZE) === 0) return -ERRNO.EOPNOTSUPP;
    if ((sh.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0) return -ERRNO.EPERM;
    sh.punchHole(offset, Math.max(0, Math.min(length, sh.size - offset)));
    return 0;
  }
  const end = offset + length;
  if ((mode & FALLOC_FL_KEEP_SIZE) === 0 && end > sh.size && (sh.seals & F_SEAL_GROW) !== 0)
    return -ERRNO.EPERM;
  for (let i = pageIndex(offset); i * PAGE_SIZE < end; i++) {
    if (sh.getFolioForWrite(i) < 0) return -ERRNO.ENOSPC;
  }
  if ((mode & FALLOC_FL_KEEP_SIZE) === 0 && end > sh.size) sh.size = end;
  return 0;
}

/** `shmem_mmap` (with `memfd_check_seals_mmap`): a shared or private mapping of the page cache. */
function shmemMmap(
  file: File,
  offset: number,
  length: number,
  prot: number,
  flags: number,
): FileMapping | number {
  const sh = file.inode.shmem!;
  const writableShared = (flags & MAP_SHARED) !== 0 && (prot & PROT_WRITE) !== 0;
  if (writableShared && (sh.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0) return -ERRNO.EPERM;
  if (writableShared) sh.writableMappings++;
  let mapped = true;
  const check = (off: number, len: number, write: boolean): void => {
    if (!mapped) throw new SigbusError('access to an unmapped address');
    if (off < 0 || len < 0 || off + len > length) throw new SigbusError('access outside the mapping');
    if (write && (prot & PROT_WRITE) === 0) throw new SigbusError('write to a read-only mapping');
    const pageEnd = Math.ceil(sh.size / PAGE_SIZE) * PAGE_SIZE;
    if (offset + off + len > pageEnd) throw new SigbusError('access beyond the end of the file');
  };
  return {
    length,
    read(off, len) {
      check(off, len, false);
      const start = offset + off;
      // Within the last page past i_size the mapping reads the folio's (zeroed) tail.
      const inFile = sh.read(start, len);
      if (inFile.length === len) return inFile;
      const out = new Uint8Array(len);
      out.set(inFile, 0);
      return out;
    },
    write(off, data) {
      check(off, data.length, true);
      if ((flags & MAP_SHARED) === 0) throw new SigbusError('private mappings are not modelled');
      const start = offset + off;
      let done = 0;
      while (done < data.length) {
        const at = start + done;
        const index = pageIndex(at);
        const po = at - index * PAGE_SIZE;
        const n = Math.min(PAGE_SIZE - po, data.length - done);
        const pfn = sh.getFolioForWrite(index);
        if (pfn < 0) throw new SigbusError('out of memory while faulting in a page');
        sh.shmem.mem.write(pfn * PAGE_SIZE + po, data.subarray(done, done + n));
        sh.setFlags(index, sh.flagsAt(index) | SHMEM_FOLIO_DIRTY | SHMEM_FOLIO_UPTODATE);
        done += n;
      }
    },
    unmap() {
      if (!mapped) return;
      mapped = false;
      if (writableShared) sh.writableMappings--;
    },
  };
}

/** `shmem_file_operations`. */
export const SHMEM_FOPS: FileOperations = {
  owner: 'shmem',
  read: shmemRead,
  readIter: shmemReadIter,
  write: shmemWrite,
  llseek: shmemLlseek,
  mmap: shmemMmap,
  fallocate: shmemFallocate,
  truncate: shmemTruncate,
};

/** `hugetlbfs_file_operations` as far as the model goes: no pool, no write, aligned sizes only. */
export const HUGETLBFS_FOPS: FileOperations = {
  owner: 'hugetlbfs',
  read: () => new Uint8Array(0),
  truncate: (file, size) => {
    if (size % HPAGE_SIZE !== 0) return -ERRNO.EINVAL;
    file.inode.size = size;
    return 0;
  },
  llseek: (file, offset, whence) => {
    const pos =
      whence === SEEK_SET
        ? offset
        : whence === SEEK_CUR
          ? file.pos + offset
          : whence === SEEK_END
            ? file.inode.size + offset
            : -1;
    if (whence > SEEK_END || pos < 0) return -ERRNO.EINVAL;
    file.pos = pos;
    return pos;
  },
};
