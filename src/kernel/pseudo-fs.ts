/**
 * Kernel pseudo file systems (debugfs, procfs, sysfs) as the kernel exposes them to user space:
 * directories of files whose contents are computed on read and whose writes go to a handler.
 * The shell's VFS mounts these trees; the kernel adds and removes entries as its state changes
 * (e.g. `kho/out/sub_fdts/<name>`), so a directory is live, not a snapshot.
 */
import { KernelError } from '../util/errno.ts';

/** A file: content on read, an optional write handler that throws `KernelError` to fail. */
export interface PseudoFile {
  readonly kind: 'file';
  /** Permission bits, e.g. 0o400 for KHO's debugfs files, 0o600 for `finalize`. */
  readonly mode: number;
  read(): Uint8Array;
  /** Absent on read-only files (writing them is EACCES/EPERM at the VFS). */
  write?: (data: Uint8Array) => void;
}

/** A directory whose entries may change over time. */
export class PseudoDir {
  readonly kind = 'dir';
  readonly mode: number;
  private readonly children = new Map<string, PseudoNode>();

  constructor(mode = 0o755) {
    this.mode = mode;
  }

  /** Entry names in creation order (debugfs lists in creation order). */
  names(): string[] {
    return [...this.children.keys()];
  }

  get(name: string): PseudoNode | undefined {
    return this.children.get(name);
  }

  /** Add an entry; an existing name is EEXIST, as debugfs_create_* reports. */
  add(name: string, node: PseudoNode): PseudoNode {
    if (this.children.has(name)) throw new KernelError('EEXIST', `${name} exists`);
    this.children.set(name, node);
    return node;
  }

  /** Add (or return the existing) subdirectory. */
  dir(name: string, mode = 0o755): PseudoDir {
    const cur = this.children.get(name);
    if (cur instanceof PseudoDir) return cur;
    const d = new PseudoDir(mode);
    this.add(name, d);
    return d;
  }

  /** Remove an entry if present. */
  remove(name: string): boolean {
    return this.children.delete(name);
  }

  /** Resolve a relative path like `kho/out/fdt`; undefined when missing. */
  lookup(path: string): PseudoNode | undefined {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the walk starts here
    let dir: PseudoDir = this;
    for (let i = 0; i < parts.length; i++) {
      const next = dir.get(parts[i]!);
      if (next === undefined || i === parts.length - 1) return next;
      if (!(next instanceof PseudoDir)) return undefined;
      dir = next;
    }
    return dir;
  }
}

/**
 * A symbolic link, such as `/proc/PID/fd/N` (whose target is the open file's `d_path`).
 * `read`, when present, reads what opening the link reaches (procfs fd links open the file
 * itself, not the target path).
 */
export interface PseudoLink {
  readonly kind: 'link';
  /** Permission bits (`lrwx------` for a read-write fd link). */
  readonly mode: number;
  target(): string;
  read?: () => Uint8Array;
}

/** A file, directory or symbolic link. */
export type PseudoNode = PseudoFile | PseudoDir | PseudoLink;

/** A read-only file whose bytes come from `read`. */
export function roFile(read: () => Uint8Array, mode = 0o400): PseudoFile {
  return { kind: 'file', mode, read };
}

/** A read-only text file. */
export function textFile(read: () => string, mode = 0o444): PseudoFile {
  return { kind: 'file', mode, read: () => new TextEncoder().encode(read()) };
}

/**
 * A debugfs file whose file_operations have no `write` (a DEFINE_SHOW_ATTRIBUTE seq file): root
 * gets past the 0400 mode when opening it for writing (CAP_DAC_OVERRIDE), then
 * fs/read_write.c: vfs_write() refuses the write with EINVAL.
 */
export function showAttributeFile(read: () => Uint8Array, mode = 0o400): PseudoFile {
  return {
    kind: 'file',
    mode,
    read,
    write: () => {
      throw new KernelError('EINVAL', 'the file has no write method');
    },
  };
}

/** A read-write file. */
export function rwFile(read: () => Uint8Array, write: (data: Uint8Array) => void, mode = 0o600): PseudoFile {
  return { kind: 'file', mode, read, write };
}
