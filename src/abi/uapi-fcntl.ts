/**
 * User-space ABI numbers of the file syscalls the machine's processes make, as the x86-64
 * uAPI headers define them: open flags (include/uapi/asm-generic/fcntl.h), fcntl commands and
 * seals (include/uapi/linux/fcntl.h), memfd_create flags (include/uapi/linux/memfd.h), lseek
 * whence values, the VFS-generic ioctls (include/uapi/asm-generic/ioctls.h), mmap protections
 * and flags, and the reboot commands (include/uapi/linux/reboot.h). Numbers only; no behaviour.
 */

// ------------------------------------------------------------------ open(2)
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
/** Mask of the access mode bits. */
export const O_ACCMODE = 0o3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_CLOEXEC = 0o2000000;

// ------------------------------------------------------------------ fcntl(2)
export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
/** `F_LINUX_SPECIFIC_BASE` + 6. */
export const F_DUPFD_CLOEXEC = 1030;
/** `F_LINUX_SPECIFIC_BASE` + 9. */
export const F_ADD_SEALS = 1033;
/** `F_LINUX_SPECIFIC_BASE` + 10. */
export const F_GET_SEALS = 1034;
/** The close-on-exec bit of F_GETFD/F_SETFD. */
export const FD_CLOEXEC = 1;

export const F_SEAL_SEAL = 0x0001;
export const F_SEAL_SHRINK = 0x0002;
export const F_SEAL_GROW = 0x0004;
export const F_SEAL_WRITE = 0x0008;
export const F_SEAL_FUTURE_WRITE = 0x0010;
export const F_SEAL_EXEC = 0x0020;
/** Every seal the kernel knows (`F_ALL_SEALS` in mm/memfd.c). */
export const F_ALL_SEALS =
  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;

// ------------------------------------------------------------------ memfd_create(2)
export const MFD_CLOEXEC = 0x0001;
export const MFD_ALLOW_SEALING = 0x0002;
export const MFD_HUGETLB = 0x0004;
export const MFD_NOEXEC_SEAL = 0x0008;
export const MFD_EXEC = 0x0010;
/** `MFD_NAME_MAX_LEN`: NAME_MAX minus the `memfd:` prefix. */
export const MFD_NAME_MAX_LEN = 249;

// ------------------------------------------------------------------ lseek(2)
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

// ------------------------------------------------------------------ ioctl(2), VFS-generic
export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;
export const FIOASYNC = 0x5452;
export const FIONBIO = 0x5421;
export const FIOQSIZE = 0x5460;

// ------------------------------------------------------------------ mmap(2)
export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;

// ------------------------------------------------------------------ reboot(2)
export const LINUX_REBOOT_MAGIC1 = 0xfee1dead;
export const LINUX_REBOOT_MAGIC2 = 672274793;
/** `RB_AUTOBOOT`: restart the system (a cold boot here). */
export const LINUX_REBOOT_CMD_RESTART = 0x01234567;
/** `RB_POWER_OFF`. */
export const LINUX_REBOOT_CMD_POWER_OFF = 0x4321fedc;
/** `RB_KEXEC`: jump into the kernel loaded with kexec_load/kexec_file_load. */
export const LINUX_REBOOT_CMD_KEXEC = 0x45584543;

// ------------------------------------------------------------------ getrlimit(2)
export const RLIMIT_NOFILE = 7;
/** The default soft RLIMIT_NOFILE (`INR_OPEN_CUR`). */
export const INR_OPEN_CUR = 1024;
/** The default hard RLIMIT_NOFILE (`INR_OPEN_MAX`). */
export const INR_OPEN_MAX = 4096;
/** `fs.nr_open` default (`sysctl_nr_open`): the hard limit may not exceed it (EPERM). */
export const NR_OPEN_DEFAULT = 1024 * 1024;

// ------------------------------------------------------------------ file modes
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFCHR = 0o020000;
export const S_IFDIR = 0o040000;

/** `PIDFD_NONBLOCK` (= O_NONBLOCK), the one flag `pidfd_open` takes. */
export const PIDFD_NONBLOCK = O_NONBLOCK;
/** SIGKILL. */
export const SIGKILL = 9;
/** SIGTERM. */
export const SIGTERM = 15;
