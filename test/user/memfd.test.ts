import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  F_ADD_SEALS,
  F_GET_SEALS,
  F_GETFD,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  FD_CLOEXEC,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_NOEXEC_SEAL,
  O_RDONLY,
  PROT_READ,
  PROT_WRITE,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
} from '../../src/abi/uapi-fcntl.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../src/kernel/fs/memfd.ts';
import { SigbusError } from '../../src/kernel/fs/file.ts';
import { ERRNO } from '../../src/util/errno.ts';
import { boot, proc, text, utf8 } from './helpers.ts';

describe('memfd_create and the shmem file operations', () => {
  const k = boot();

  it('reads back what was written, with the position, size and holes of a shmem file', () => {
    const p = proc(k);
    const fd = p.memfdCreate('test_mfd', 0);
    assert.ok(fd >= 0);
    assert.equal(p.write(fd, 'hello'), 5);
    assert.equal(p.lseek(fd, 0, SEEK_CUR), 5);
    assert.equal(p.ftruncate(fd, 3 * 4096), 0);
    assert.equal(p.lseek(fd, 0, SEEK_END), 3 * 4096);
    assert.equal(p.lseek(fd, 0, SEEK_SET), 0);
    const buf = new Uint8Array(8);
    assert.equal(p.read(fd, buf), 8);
    assert.deepEqual([...buf], [...utf8('hello'), 0, 0, 0]);
    // Page 1 and 2 are holes: SEEK_HOLE finds page 1, SEEK_DATA from there finds nothing.
    assert.equal(p.lseek(fd, 0, SEEK_HOLE), 4096);
    assert.equal(p.lseek(fd, 4096, SEEK_DATA), -ERRNO.ENXIO);
    assert.equal(p.lseek(fd, -1, SEEK_SET), -ERRNO.EINVAL);
    assert.equal(p.lseek(fd, 0, 9), -ERRNO.EINVAL);
    // Shrinking zeroes the tail so a later grow reads zeros.
    assert.equal(p.ftruncate(fd, 2), 0);
    assert.equal(p.ftruncate(fd, 8), 0);
    assert.equal(p.pread(fd, buf, 8, 0), 8);
    assert.deepEqual([...buf], [...utf8('he'), 0, 0, 0, 0, 0, 0]);
    assert.equal(p.close(fd), 0);
    assert.equal(p.close(fd), -ERRNO.EBADF);
  });

  it('frees the page cache when the last reference goes', () => {
    const p = proc(k);
    const free0 = k.buddy.nrFreePages;
    const fd = p.memfdCreate('big', 0);
    assert.equal(p.write(fd, new Uint8Array(40 * 4096).fill(7)), 40 * 4096);
    assert.equal(k.buddy.nrFreePages, free0 - 40);
    const fd2 = p.dup(fd);
    p.close(fd);
    assert.equal(k.buddy.nrFreePages, free0 - 40, 'the dup still holds the file');
    p.close(fd2);
    assert.equal(k.buddy.nrFreePages, free0);
  });

  it('punches holes and SEEK_DATA finds the data after them', () => {
    const p = proc(k);
    const fd = p.memfdCreate('holes', 0);
    p.write(fd, new Uint8Array(4 * 4096).fill(1));
    assert.equal(p.fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), -ERRNO.EOPNOTSUPP);
    assert.equal(p.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 2 * 4096), 0);
    assert.equal(p.lseek(fd, 4096, SEEK_DATA), 3 * 4096);
    assert.equal(p.lseek(fd, 0, SEEK_HOLE), 4096);
    const b = new Uint8Array(4096);
    assert.equal(p.pread(fd, b, 4096, 4096), 4096);
    assert.ok(b.every((x) => x === 0));
  });

  it('checks flags and names as memfd_create does', () => {
    const p = proc(k);
    assert.equal(p.memfdCreate('x', 0x100), -ERRNO.EINVAL);
    assert.equal(p.memfdCreate('x', MFD_EXEC | MFD_NOEXEC_SEAL), -ERRNO.EINVAL);
    assert.equal(p.memfdCreate('n'.repeat(250), 0), -ERRNO.EINVAL);
    assert.ok(p.memfdCreate('n'.repeat(249), 0) >= 0);
    const fd = p.memfdCreate('c', MFD_CLOEXEC);
    assert.equal(p.fcntl(fd, F_GETFD), FD_CLOEXEC);
  });

  it('applies the seal rules of F_ADD_SEALS', () => {
    const p = proc(k);
    const plain = p.memfdCreate('plain', 0);
    assert.equal(p.fcntl(plain, F_GET_SEALS), F_SEAL_SEAL);
    assert.equal(p.fcntl(plain, F_ADD_SEALS, F_SEAL_GROW), -ERRNO.EPERM);
    const noexec = p.memfdCreate('noexec', MFD_NOEXEC_SEAL);
    assert.equal(p.fcntl(noexec, F_GET_SEALS), 0x20);
    const fd = p.memfdCreate('sealed', MFD_ALLOW_SEALING);
    assert.equal(p.fcntl(fd, F_GET_SEALS), 0);
    p.write(fd, new Uint8Array(8192));
    assert.equal(p.fcntl(fd, F_ADD_SEALS, 0x40), -ERRNO.EINVAL);
    assert.equal(p.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    assert.equal(p.ftruncate(fd, 4096), -ERRNO.EPERM);
    assert.equal(p.ftruncate(fd, 3 * 4096), -ERRNO.EPERM);
    assert.equal(p.lseek(fd, 8190, SEEK_SET), 8190);
    assert.equal(p.write(fd, 'abc'), -ERRNO.EPERM, 'a write past the end would grow the file');
    assert.equal(p.lseek(fd, 0, SEEK_SET), 0);
    assert.equal(p.write(fd, 'abc'), 3);
    const m = p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    assert.ok(typeof m !== 'number');
    assert.equal(p.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -ERRNO.EBUSY, 'a writable shared mapping exists');
    m.unmap();
    assert.equal(p.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
    assert.equal(p.write(fd, 'x'), -ERRNO.EPERM);
    assert.equal(p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd), -ERRNO.EPERM);
    assert.equal(p.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
    assert.equal(p.fcntl(fd, F_GET_SEALS), F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    assert.equal(p.fcntl(fd, F_ADD_SEALS, 0), -ERRNO.EPERM);
    const ro = p.open(`/proc/self/fd/${fd}`, O_RDONLY);
    assert.ok(ro >= 0);
    assert.equal(p.fcntl(ro, F_ADD_SEALS, 0), -ERRNO.EPERM, 'a read-only file cannot add seals');
  });

  it('maps a memfd shared: writes through the mapping are the file contents', () => {
    const p = proc(k);
    const fd = p.memfdCreate('map', 0);
    p.ftruncate(fd, 4096);
    const m = p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    assert.ok(typeof m !== 'number');
    m.write(0, utf8('through the mapping\0'));
    const b = new Uint8Array(19);
    p.read(fd, b);
    assert.equal(text(b), 'through the mapping');
    assert.throws(() => m.read(4096, 1), SigbusError);
    p.ftruncate(fd, 0);
    assert.throws(() => m.read(0, 1), SigbusError, 'the page is beyond the end of the file now');
    assert.equal(p.mmap(4096, PROT_READ, 0, fd), -ERRNO.EINVAL);
    assert.equal(p.mmap(4096, PROT_READ, MAP_SHARED, fd, 100), -ERRNO.EINVAL);
  });
});
