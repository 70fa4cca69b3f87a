/**
 * ioctl command numbers as include/uapi/asm-generic/ioctl.h builds them (x86-64 and arm64):
 * `dir << 30 | size << 16 | type << 8 | nr`, with `_IOC_NONE` 0, `_IOC_WRITE` 1, `_IOC_READ` 2.
 * Results are unsigned 32-bit numbers.
 */
import { checkRange } from './bytes.ts';

/** No data transfer (`_IO`). */
export const IOC_NONE = 0;
/** User space writes, the kernel reads (`_IOW`). */
export const IOC_WRITE = 1;
/** The kernel writes, user space reads (`_IOR`). */
export const IOC_READ = 2;

/** `_IOC(dir, type, nr, size)`. */
export function ioc(dir: number, type: number, nr: number, size: number): number {
  checkRange(dir, 3, 'ioctl', 'dir');
  checkRange(type, 0xff, 'ioctl', 'type');
  checkRange(nr, 0xff, 'ioctl', 'nr');
  checkRange(size, 0x3fff, 'ioctl', 'size');
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

/** `_IO(type, nr)`: a command without direction or size bits. */
export function io(type: number, nr: number): number {
  return ioc(IOC_NONE, type, nr, 0);
}

/** `_IOR(type, nr, size)`. */
export function ior(type: number, nr: number, size: number): number {
  return ioc(IOC_READ, type, nr, size);
}

/** `_IOW(type, nr, size)`. */
export function iow(type: number, nr: number, size: number): number {
  return ioc(IOC_WRITE, type, nr, size);
}

/** `_IOWR(type, nr, size)`. */
export function iowr(type: number, nr: number, size: number): number {
  return ioc(IOC_READ | IOC_WRITE, type, nr, size);
}

/** `_IOC_NR(cmd)`: bits 0–7. */
export function iocNr(cmd: number): number {
  return cmd & 0xff;
}

/** `_IOC_TYPE(cmd)`: bits 8–15. */
export function iocType(cmd: number): number {
  return (cmd >>> 8) & 0xff;
}

/** `_IOC_SIZE(cmd)`: bits 16–29. */
export function iocSize(cmd: number): number {
  return (cmd >>> 16) & 0x3fff;
}

/** `_IOC_DIR(cmd)`: bits 30–31. */
export function iocDir(cmd: number): number {
  return cmd >>> 30;
}
