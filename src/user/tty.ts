/**
 * The terminal a program's standard descriptors point at: writes to fd 1 and 2 go to the
 * caller's output streams, reads from fd 0 take the caller's input. `/proc/PID/fd` shows them
 * as `/dev/pts/0`, as for a program started from an interactive shell.
 */
import { O_RDWR } from '../abi/uapi-fcntl.ts';
import { allocFile, Inode, type File, type FileOperations } from '../kernel/fs/file.ts';
import type { KernelFs } from '../kernel/fs/kernel-fs.ts';

/** Where a terminal's bytes go and come from. */
export interface TtyIo {
  stdout(text: string | Uint8Array): void;
  stderr(text: string | Uint8Array): void;
  /** Input bytes (empty: end of file at once). */
  stdin?: Uint8Array;
}

/** Unix98 pty slave major (`UNIX98_PTY_SLAVE_MAJOR`). */
const PTS_MAJOR = 136;

/** The three open files of a terminal: [stdin, stdout, stderr], one reference each. */
export function ttyFiles(fs: KernelFs, io: TtyIo): [File, File, File] {
  const inode = new Inode({
    ino: fs.nextIno(),
    sb: 'devtmpfs',
    mode: 0o020620,
    nlink: 1,
    rdev: { major: PTS_MAJOR, minor: 0 },
  });
  let input = io.stdin ?? new Uint8Array(0);
  // One terminal opened O_RDWR and duplicated: each descriptor reads the input and writes to
  // its stream (stdout for 0 and 1, stderr for 2).
  const fops = (sink: (t: Uint8Array) => void): FileOperations => ({
    owner: 'tty',
    read: (_f, count) => {
      const out = input.subarray(0, count);
      input = input.subarray(out.length);
      return out;
    },
    write: (_f, data) => {
      sink(data.slice());
      return data.length;
    },
  });
  const path = (): string => '/dev/pts/0';
  const out = fops((t) => {
    io.stdout(t);
  });
  const err = fops((t) => {
    io.stderr(t);
  });
  return [
    allocFile(inode, out, O_RDWR, 'pts0', path),
    allocFile(inode, out, O_RDWR, 'pts0', path),
    allocFile(inode, err, O_RDWR, 'pts0', path),
  ];
}
