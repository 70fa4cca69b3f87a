/**
 * The terminal's file system: the host's files with the machine mounted over `/sys`, `/proc`,
 * `/dev` and `/boot`. `/sys/kernel/debug` is the running kernel's debugfs and `/proc` its procfs
 * (looked up at each access, so after a kexec they are the new kernel's); `/dev/mem` reads
 * physical memory; `/boot/vmlinuz` and `/boot/initrd.img` are synthetic files of the running
 * release. Host files are reached only inside one host directory (src/util/host-dir.ts).
 */
import {
  closeSync,
  constants,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { machineDisk } from '../kernel/disk.ts';
import { PseudoDir, type PseudoFile, type PseudoLink, type PseudoNode } from '../kernel/pseudo-fs.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { KernelError } from '../util/errno.ts';
import { FsError, nodeErrCode, type Sink } from './io.ts';
import { HOST_WRITE_LIMIT, readRegularFile, type HostDir } from '../util/host-dir.ts';
import { loadedCrashImage, loadedImage } from '../kexec/file-load.ts';
import { programAt, programDirEntries } from '../user/programs.ts';
import { userspace } from '../user/userspace.ts';

/** Mount points the machine owns (everything else is the host's). */
export const MACHINE_MOUNTS: readonly string[] = ['/sys', '/proc', '/dev', '/boot', '/etc'];

/** The simulated wall clock starts here (the synthetic images' build date). */
export const MACHINE_EPOCH_MS = Date.UTC(2026, 0, 1, 0, 0, 0);

/** A directory. */
export interface VDir {
  readonly type: 'dir';
  readonly machine: boolean;
  readonly mode: number;
  readonly mtime: Date;
  readonly uid: number;
  readonly gid: number;
  /** Link count (`ls -l`); default 2 + subdirectories. */
  readonly nlink?: number;
  /** 1 KiB blocks (default 0). */
  readonly blocks?: number;
  /** Size for `ls -l` (default 0, as pseudo file systems report). */
  readonly size?: number;
  /** Entry names (unsorted; `ls` sorts). */
  names(): string[];
}

/** What a file is, for messages and `ls -l`. */
export type VFileKind =
  'debugfs' | 'procfs' | 'sysfs' | 'devmem' | 'null' | 'boot' | 'host' | 'symlink' | 'disk';

/** A file (regular, pseudo or character device). */
export interface VFile {
  readonly type: 'file';
  readonly kind: VFileKind;
  readonly machine: boolean;
  readonly mode: number;
  readonly mtime: Date;
  readonly uid: number;
  readonly gid: number;
  /** Size for `ls -l` (0 for pseudo files, as the kernel reports). */
  readonly size: number;
  /** Link count (default 1). */
  readonly nlink?: number;
  /** 1 KiB blocks for `ls -l`'s total (default 0). */
  readonly blocks?: number;
  /** Character device numbers (`/dev/mem` is 1,1). */
  readonly rdev?: { major: number; minor: number };
  /** Symlink target (host symlinks in `ls -l`). */
  readonly linkTarget?: string;
  /** The whole content. */
  read(): Uint8Array;
  /** `len` bytes from `off` (fewer at the end); files that cannot seek read all and slice. */
  readRange(off: number, len: number): Uint8Array;
  /** Write handler (a pseudo file's); absent when the file cannot be written. */
  write?: (data: Uint8Array) => void;
  /** `>>` on a regular file of the machine's disk: add to the end instead of replacing. */
  append?: (data: Uint8Array) => void;
}

/** A resolved path. */
export type VNode = VDir | VFile;

/** Where `ls -l` would find an entry (for host entries, without following a final symlink). */
export interface VfsOptions {
  /** The running kernel (read at every access). */
  kernel: () => Kernel;
  /** `/boot` contents for the running kernel. */
  bootFiles: (k: Kernel) => { vmlinuz: () => Uint8Array; initrd: () => Uint8Array };
  /** Simulated "now" in ms since the epoch (for machine file times). */
  machineNow: () => number;
  /** The host directory the shell may use (src/util/host-dir.ts). */
  hostDir: HostDir;
}

/** Lexically normalise `path` against `cwd` (`.` and `..` removed, no trailing slash). */
export function normalizePath(cwd: string, path: string): string {
  const full = path.startsWith('/') ? path : `${cwd}/${path}`;
  const out: string[] = [];
  for (const part of full.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/** True when `abs` (normalised) belongs to the machine. */
export function isMachinePath(abs: string): boolean {
  return MACHINE_MOUNTS.some((m) => abs === m || abs.startsWith(`${m}/`));
}

function fixedDir(names: string[], mtime: Date, mode = 0o755): VDir {
  return { type: 'dir', machine: true, mode, mtime, uid: 0, gid: 0, names: () => names };
}

function sliceRange(b: Uint8Array, off: number, len: number): Uint8Array {
  if (off >= b.length) return new Uint8Array(0);
  return b.subarray(off, Math.min(b.length, off + len));
}

/** Convert a pseudo-fs node into a VNode. */
function pseudoNode(node: PseudoNode, kind: 'debugfs' | 'procfs', mtime: Date): VNode {
  if (node instanceof PseudoDir) {
    return { type: 'dir', machine: true, mode: node.mode, mtime, uid: 0, gid: 0, names: () => node.names() };
  }
  if (node.kind === 'link') return pseudoLink(node, kind, mtime);
  const f: PseudoFile = node;
  const base = {
    type: 'file' as const,
    kind,
    machine: true,
    mode: f.mode,
    mtime,
    uid: 0,
    gid: 0,
    size: 0,
    read: () => f.read(),
    readRange: (off: number, len: number) => sliceRange(f.read(), off, len),
  };
  if (f.write === undefined) return base;
  const w = f.write;
  return {
    ...base,
    write: (d: Uint8Array) => {
      w(d);
    },
  };
}

/** A pseudo-fs symlink (`/proc/PID/fd/N`): `ls -l` shows its target; reading opens what it reaches. */
function pseudoLink(node: PseudoLink, kind: 'debugfs' | 'procfs', mtime: Date): VFile {
  const read = (): Uint8Array => {
    if (node.read === undefined) throw new FsError('EINVAL');
    return node.read();
  };
  return {
    type: 'file',
    kind: 'symlink',
    machine: true,
    mode: node.mode,
    mtime,
    uid: 0,
    gid: 0,
    size: 64,
    linkTarget: node.target(),
    read,
    readRange: (off, len) => sliceRange(read(), off, len),
  };
}

/** The terminal's file system. */
export class Vfs {
  private readonly opts: VfsOptions;

  constructor(opts: VfsOptions) {
    this.opts = opts;
  }

  private machineTime(): Date {
    return new Date(this.opts.machineNow());
  }

  /**
   * Resolve a normalised absolute path; null when it does not exist. Throws FsError ENOTDIR
   * when a middle component is a file, EACCES for an unreadable host directory.
   */
  resolve(abs: string): VNode | null {
    if (isMachinePath(abs)) return this.resolveMachine(abs);
    return programFile(abs) ?? this.resolveHost(abs, true) ?? programDir(abs, this.machineTime());
  }

  /** Like {@link resolve} but a final host symlink is not followed (for `ls -l`). */
  resolveNoFollow(abs: string): VNode | null {
    if (isMachinePath(abs)) return this.resolveMachine(abs);
    return programFile(abs) ?? this.resolveHost(abs, false) ?? programDir(abs, this.machineTime());
  }

  private resolveMachine(abs: string): VNode | null {
    const k = this.opts.kernel();
    const t = this.machineTime();
    const parts = abs.split('/').filter((p) => p !== '');
    const top = parts[0]!;
    const rest = parts.slice(1);
    if (top === 'sys') {
      if (rest.length === 0) return fixedDir(['kernel'], t, 0o555);
      if (rest[0] !== 'kernel') return null;
      if (rest.length === 1) return fixedDir(['debug', ...Object.keys(KSYSFS)], t);
      const attr = KSYSFS[rest[1]!];
      if (attr !== undefined) {
        if (rest.length > 2) throw new FsError('ENOTDIR');
        return sysfsFile(() => attr(k), t);
      }
      if (rest[1] !== 'debug') return null;
      return this.lookupPseudo(k.debugfs, rest.slice(2), 'debugfs', t);
    }
    if (top === 'proc') {
      // A booted system has init and the terminal's login shell in /proc before any program ran.
      userspace(k).login();
      return this.lookupPseudo(k.procfs, rest, 'procfs', t);
    }
    if (top === 'etc') return this.diskNode(k, abs, false);
    if (top === 'dev') {
      const devs = k.fs.deviceNames().filter((n) => n !== 'null');
      if (rest.length === 0) return fixedDir(['mem', 'null', ...devs], t);
      const dev = k.fs.device(rest[0]!);
      if (rest.length > 1) return this.throughFile(rest[0] === 'mem' || dev !== undefined);
      if (rest[0] === 'mem') return this.devMem(k, t);
      if (rest[0] === 'null') return devNull(t);
      if (dev !== undefined) return charDevice(dev.mode, dev.dev, t);
      return null;
    }
    // /boot
    if (rest.length === 0) return fixedDir(['initrd.img', 'vmlinuz'], t);
    const files = this.opts.bootFiles(k);
    const pick = rest[0] === 'vmlinuz' ? files.vmlinuz : rest[0] === 'initrd.img' ? files.initrd : null;
    if (pick === null) return null;
    if (rest.length > 1) return this.throughFile(true);
    return machineFile(pick(), 0o644);
  }

  /**
   * `/etc` on the machine's disk (src/kernel/disk.ts): directories, and regular files that `>`
   * replaces and `>>` extends. With `create`, a missing file whose directory exists is returned
   * as an empty file that the first write creates.
   */
  private diskNode(k: Kernel, abs: string, create: boolean): VNode | null {
    const disk = machineDisk(k.machine);
    const now = (): number => this.opts.machineNow();
    if (disk.isDir(abs)) {
      return {
        type: 'dir',
        machine: true,
        mode: 0o755,
        mtime: new Date(MACHINE_EPOCH_MS),
        uid: 0,
        gid: 0,
        size: 4096,
        names: () => disk.list(abs),
      };
    }
    const f = disk.stat(abs);
    if (f === null && !(create && disk.canCreate(abs))) {
      if (disk.stat(abs.slice(0, abs.lastIndexOf('/'))) !== null) throw new FsError('ENOTDIR');
      return null;
    }
    const data = f?.data ?? new Uint8Array(0);
    return {
      type: 'file',
      kind: 'disk',
      machine: true,
      mode: 0o644,
      mtime: new Date(f?.mtime ?? now()),
      uid: 0,
      gid: 0,
      size: data.length,
      blocks: Math.ceil(data.length / 4096) * 4,
      read: () => disk.stat(abs)?.data ?? new Uint8Array(0),
      readRange: (off, len) => sliceRange(disk.stat(abs)?.data ?? new Uint8Array(0), off, len),
      write: (d) => {
        disk.write(abs, d, now());
      },
      append: (d) => {
        disk.write(abs, d, now(), true);
      },
    };
  }

  /** A new file on the machine's disk that a redirection may create, or null. */
  creatable(abs: string): VNode | null {
    if (!abs.startsWith('/etc/')) return null;
    return this.diskNode(this.opts.kernel(), abs, true);
  }

  private throughFile(isFile: boolean): null {
    if (isFile) throw new FsError('ENOTDIR');
    return null;
  }

  private lookupPseudo(root: PseudoDir, parts: string[], kind: 'debugfs' | 'procfs', t: Date): VNode | null {
    let node: PseudoNode = root;
    for (const p of parts) {
      if (!(node instanceof PseudoDir)) throw new FsError('ENOTDIR');
      const next = node.get(p);
      if (next === undefined) return null;
      node = next;
    }
    return pseudoNode(node, kind, t);
  }

  private devMem(k: Kernel, t: Date): VFile {
    const mem = k.machine.mem;
    return {
      type: 'file',
      kind: 'devmem',
      machine: true,
      mode: 0o640,
      mtime: t,
      uid: 0,
      gid: 15,
      size: 0,
      rdev: { major: 1, minor: 1 },
      read: () => mem.read(0, Math.min(mem.limit, 1024 * 1024)),
      readRange: (off, len) => {
        if (off >= mem.limit) return new Uint8Array(0);
        return mem.read(off, Math.min(len, mem.limit - off));
      },
    };
  }

  /**
   * The host side, through the host directory: outside it EACCES, except the installed
   * programs' directories (`/usr/sbin`, …), which the machine has where the host is not shown.
   */
  private resolveHost(abs: string, follow: boolean): VNode | null {
    const hd = this.opts.hostDir;
    const place = hd.place(abs);
    const t = this.machineTime();
    if (place !== 'inside') {
      const programs = programDirEntries(abs);
      if (place === 'outside') {
        if (programs === null) throw new FsError('EACCES');
        return fixedDir(programs, t);
      }
      // Above the host directory only the way down to it shows, and the machine's own names.
      const names = [hd.childOnTheWay(abs), ...(programs ?? [])];
      if (abs === '/') for (const m of MACHINE_MOUNTS) names.push(m.slice(1));
      return fixedDir([...new Set(names)].sort(), t);
    }
    if (hd.root === null) return abs === hd.home ? fixedDir([], t, 0o700) : null;
    const real = follow ? hd.realPath(abs) : hd.realPathNoFollow(abs);
    if (real === null) return null;
    let st: Stats;
    try {
      st = follow ? statSync(real) : lstatSync(real);
    } catch (err) {
      const code = nodeErrCode(err);
      if (code === 'ENOENT') return null;
      throw new FsError(code);
    }
    return hostNode(real, st);
  }

  /** Create or replace a host file (`cp`, `dtc -o`), inside the host directory only. Throws FsError. */
  writeHost(abs: string, data: Uint8Array): void {
    const sink = this.openHostWrite(abs, false);
    try {
      sink.write(data);
    } finally {
      sink.close();
    }
  }

  /**
   * A host file opened for writing (a redirection, `cp`): only a regular file inside the host
   * directory. Throws FsError (EACCES outside or through a link that leads out, ENOENT…).
   */
  openHostWrite(abs: string, append: boolean): HostWriter {
    if (isMachinePath(abs)) throw new FsError('EACCES');
    return new HostWriter(this.opts.hostDir.openWrite(abs, append));
  }

  /** The host directory: every host file the machine's side reads or writes goes through it. */
  get hostDir(): HostDir {
    return this.opts.hostDir;
  }
}

/** A host file being written: synchronous writes, at most HOST_WRITE_LIMIT bytes. */
export class HostWriter implements Sink {
  readonly fd: number;
  private written = 0;
  private closed = false;

  constructor(fd: number) {
    this.fd = fd;
  }

  write(data: string | Uint8Array): void {
    const b = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (this.written + b.length > HOST_WRITE_LIMIT) throw new FsError('EFBIG');
    let off = 0;
    try {
      while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    } catch (err) {
      throw new FsError(nodeErrCode(err));
    }
    this.written += b.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** kernel/ksysfs.c's attributes the terminal shows under /sys/kernel. */
const KSYSFS: Record<string, (k: Kernel) => string> = {
  // kexec_loaded_show(), kexec_crash_loaded_show(): `%d\n` of "an image is loaded".
  kexec_loaded: (k) => `${loadedImage(k) === null ? 0 : 1}\n`,
  kexec_crash_loaded: (k) => `${loadedCrashImage(k) === null ? 0 : 1}\n`,
};

/** A read-only sysfs attribute (0444, size 4096 as sysfs reports it). */
function sysfsFile(text: () => string, t: Date): VFile {
  const read = (): Uint8Array => new TextEncoder().encode(text());
  return {
    type: 'file',
    kind: 'sysfs',
    machine: true,
    mode: 0o444,
    mtime: t,
    uid: 0,
    gid: 0,
    size: 4096,
    read,
    readRange: (off, len) => sliceRange(read(), off, len),
  };
}

/** A device node of the running kernel (`/dev/liveupdate`): opening it for reading fails as its driver has no read. */
function charDevice(mode: number, dev: { major: number; minor: number }, t: Date): VFile {
  const read = (): Uint8Array => {
    throw new FsError('EINVAL');
  };
  return {
    type: 'file',
    kind: 'null',
    machine: true,
    mode,
    mtime: t,
    uid: 0,
    gid: 0,
    size: 0,
    rdev: dev,
    read,
    readRange: read,
  };
}

/** An installed program of the machine (src/user/programs.ts), shown over the host's files. */
function programFile(abs: string): VFile | null {
  const prog = programAt(abs);
  if (prog === undefined) return null;
  return machineFile(new TextEncoder().encode(prog.script ?? `\x7fELF kho program ${abs}\n`), 0o755);
}

/** A read-only file of the machine's root file system (/boot, installed programs), owned by root. */
function machineFile(bytes: Uint8Array, mode: number): VFile {
  return {
    type: 'file',
    kind: 'boot',
    machine: true,
    mode,
    mtime: new Date(MACHINE_EPOCH_MS),
    uid: 0,
    gid: 0,
    size: bytes.length,
    read: () => bytes,
    readRange: (off, len) => sliceRange(bytes, off, len),
  };
}

/** A directory of installed programs where the host has none. */
function programDir(abs: string, t: Date): VDir | null {
  const names = programDirEntries(abs);
  return names === null ? null : fixedDir(names, t);
}

function devNull(t: Date): VFile {
  return {
    type: 'file',
    kind: 'null',
    machine: true,
    mode: 0o666,
    mtime: t,
    uid: 0,
    gid: 0,
    size: 0,
    rdev: { major: 1, minor: 3 },
    read: () => new Uint8Array(0),
    readRange: () => new Uint8Array(0),
    write: () => {
      /* discarded */
    },
  };
}

/** A host file or directory from its stat (`abs` is its real path, checked by the host directory). */
function hostNode(abs: string, st: Stats): VNode {
  if (st.isDirectory()) {
    return {
      type: 'dir',
      machine: false,
      mode: st.mode & 0o7777,
      mtime: st.mtime,
      uid: st.uid,
      gid: st.gid,
      nlink: st.nlink,
      blocks: Math.ceil((st.blocks * 512) / 1024),
      size: st.size,
      names: () => {
        try {
          return readdirSync(abs);
        } catch (err) {
          throw new FsError(nodeErrCode(err));
        }
      },
    };
  }
  // Only regular files are read: FIFOs, sockets and devices could block or never end.
  const regular = st.isFile();
  const read = (): Uint8Array => {
    if (!regular) throw new FsError('EACCES');
    return readRegularFile(abs);
  };
  return {
    type: 'file',
    kind: st.isSymbolicLink() ? 'symlink' : 'host',
    machine: false,
    mode: st.mode & 0o7777,
    mtime: st.mtime,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    nlink: st.nlink,
    blocks: Math.ceil((st.blocks * 512) / 1024),
    ...(st.isSymbolicLink() ? { linkTarget: safeReadlink(abs) } : {}),
    ...(st.isCharacterDevice() || st.isBlockDevice()
      ? { rdev: { major: Math.floor(st.rdev / 256) & 0xfff, minor: st.rdev & 0xff } }
      : {}),
    read,
    readRange: (off, len) => {
      if (!regular) throw new FsError('EACCES');
      return readHostRange(abs, off, len);
    },
  };
}

function safeReadlink(abs: string): string {
  try {
    return readlinkSync(abs);
  } catch {
    return '?';
  }
}

/** Read `len` bytes at `off` of a host file without reading the rest. */
function readHostRange(abs: string, off: number, len: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw new FsError(nodeErrCode(err));
  }
  try {
    const buf = new Uint8Array(Math.max(0, Math.min(len, 64 * 1024 * 1024)));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, off + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } catch (err) {
    throw new FsError(nodeErrCode(err));
  } finally {
    closeSync(fd);
  }
}

/** How much one read of a file's stream asks for. */
const READ_CHUNK = 64 * 1024;

/**
 * A file's content piece by piece (for streaming readers): host files and `/dev/mem` in
 * chunks at increasing offsets, pseudo and boot files in one piece. Null at the end.
 */
export function fileChunks(node: VFile): () => Uint8Array | null {
  if (node.kind === 'host' || node.kind === 'symlink' || node.kind === 'devmem') {
    let off = 0;
    let done = false;
    return () => {
      if (done) return null;
      const c = node.readRange(off, READ_CHUNK);
      if (c.length === 0) {
        done = true;
        return null;
      }
      off += c.length;
      return c;
    };
  }
  let done = false;
  return () => {
    if (done) return null;
    done = true;
    return node.read();
  };
}

/** The errno a write to `node` fails with when it has no write handler. */
export function writeDeniedCode(node: VNode): string {
  if (node.type === 'dir') return 'EISDIR';
  if (!node.machine) return 'EROFS';
  // Verified as root on a real kernel: proc files without a write op answer EIO.
  return node.kind === 'procfs' ? 'EIO' : 'EACCES';
}

/** The errno name of a pseudo file's write handler failure. */
export function writeErrorCode(err: unknown): string | null {
  if (err instanceof KernelError) return err.code;
  if (err instanceof FsError) return err.code;
  return null;
}
