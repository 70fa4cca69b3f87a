/**
 * User memory as the kernel sees it through `copy_from_user` / `copy_to_user`
 * (include/linux/uaccess.h). A process hands the kernel a pointer; an access outside the
 * memory behind it faults, and the kernel answers -EFAULT. The model's user memory is a byte
 * buffer per pointer: reading or writing past its end, through a NULL pointer, or writing to a
 * read-only buffer is a fault.
 */
import { ERRNO } from '../../util/errno.ts';

/** A user-space pointer: the start of some readable (and maybe writable) bytes. */
export interface UserPtr {
  /** `copy_from_user`: `len` bytes at `off`, or null when any of them faults. */
  read(off: number, len: number): Uint8Array | null;
  /** `copy_to_user`: false when any byte faults (nothing is written then). */
  write(off: number, bytes: Uint8Array): boolean;
}

/** The NULL pointer (and any unmapped address): every access faults. */
export const NULL_USER_PTR: UserPtr = {
  read: () => null,
  write: () => false,
};

/**
 * A pointer to `bytes` (the caller's buffer, shared: the kernel's writes land in it). With
 * `readOnly` writes fault, as for a buffer in a read-only mapping.
 */
export function userPtr(bytes: Uint8Array, opts: { readOnly?: boolean } = {}): UserPtr {
  const ro = opts.readOnly === true;
  return {
    read(off, len) {
      if (off < 0 || len < 0 || off + len > bytes.length) return null;
      return bytes.slice(off, off + len);
    },
    write(off, b) {
      if (ro || off < 0 || off + b.length > bytes.length) return false;
      bytes.set(b, off);
      return true;
    },
  };
}

/** `get_user` of a u32 at `off` (little-endian): the value, or -EFAULT. */
export function getUserU32(p: UserPtr, off = 0): number {
  const b = p.read(off, 4);
  if (b === null) return -ERRNO.EFAULT;
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

/** `get_user` of an s32 (an `int *` argument): `{ value }` or `{ err: -EFAULT }`. */
export function getUserS32(p: UserPtr, off = 0): { value: number } | { err: number } {
  const b = p.read(off, 4);
  if (b === null) return { err: -ERRNO.EFAULT };
  return { value: b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24) };
}

/**
 * `copy_struct_from_user(dst, ksize, src, usize)`: the kernel's struct of `ksize` bytes from a
 * user struct of `usize` bytes. A shorter user struct is zero-extended; a longer one must have
 * only zero bytes past `ksize` (-E2BIG otherwise; -EFAULT when checking them faults). Returns
 * the `ksize` bytes or -errno.
 */
export function copyStructFromUser(src: UserPtr, ksize: number, usize: number): Uint8Array | number {
  const dst = new Uint8Array(ksize);
  const size = Math.min(ksize, usize);
  const rest = usize - size;
  if (rest > 0) {
    const tail = src.read(size, rest);
    if (tail === null) return -ERRNO.EFAULT;
    if (tail.some((b) => b !== 0)) return -ERRNO.E2BIG;
  }
  const head = src.read(0, size);
  if (head === null) return -ERRNO.EFAULT;
  dst.set(head, 0);
  return dst;
}
