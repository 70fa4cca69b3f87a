/**
 * The file-system state of one running kernel: the shmem instance (page caches in simulated
 * memory), the character devices devtmpfs shows under /dev, the single anonymous inode that
 * every `anon_inode_getfile` file shares (fs/anon_inodes.c), tmpfs files under /dev/shm, and
 * the inode number counter (`get_next_ino`). It belongs to the `Kernel` and dies with it.
 */
import type { PhysicalMemory } from '../../hw/physical-memory.ts';
import type { Buddy } from '../../mm/buddy.ts';
import { Shmem } from '../../mm/shmem.ts';
import { S_IFREG } from '../../abi/uapi-fcntl.ts';
import { Inode, type DevNumbers, type FileOperations } from './file.ts';

/** A character device node in devtmpfs. */
export interface CharDevice {
  /** Node name under /dev. */
  readonly name: string;
  readonly dev: DevNumbers;
  /** Permission bits of the node (devtmpfs default 0600). */
  readonly mode: number;
  readonly fops: FileOperations;
  /** The device node's inode (shared by every open). */
  readonly inode: Inode;
}

/** Per-kernel file-system state. */
export class KernelFs {
  readonly shmem: Shmem;
  private ino = 1000;
  private readonly devices = new Map<string, CharDevice>();
  /** Misc-device minors in use (drivers/char/misc.c `misc_minors`). */
  readonly miscMinors = new Set<number>();
  /** tmpfs files linked under /dev/shm, by name. */
  readonly shm = new Map<string, Inode>();
  /** `anon_inode_inode`: the one inode of every anonymous file. */
  readonly anonInode: Inode;

  constructor(mem: PhysicalMemory, buddy: Buddy) {
    this.shmem = new Shmem(mem, buddy);
    this.anonInode = new Inode({ ino: this.nextIno(), sb: 'anon_inodefs', mode: 0o600, nlink: 1 });
  }

  /** `get_next_ino()`. */
  nextIno(): number {
    return ++this.ino;
  }

  /** Create the devtmpfs node `/dev/<name>`; false when the name is taken. */
  addDevice(name: string, dev: DevNumbers, fops: FileOperations, mode = 0o600): CharDevice | null {
    if (this.devices.has(name)) return null;
    const inode = new Inode({
      ino: this.nextIno(),
      sb: 'devtmpfs',
      mode: 0o020000 | mode,
      nlink: 1,
      rdev: dev,
    });
    const d: CharDevice = { name, dev, mode, fops, inode };
    this.devices.set(name, d);
    return d;
  }

  /** Remove the node `/dev/<name>`. */
  removeDevice(name: string): void {
    this.devices.delete(name);
  }

  /** The device node `/dev/<name>`, or undefined. */
  device(name: string): CharDevice | undefined {
    return this.devices.get(name);
  }

  /** Device node names, in creation order. */
  deviceNames(): string[] {
    return [...this.devices.keys()];
  }

  /** A new shmem inode (`shmem_get_inode`): a regular file with `mode` and `nlink`. */
  newShmemInode(mode: number, nlink: number): Inode {
    return new Inode({
      ino: this.nextIno(),
      sb: 'shmem',
      mode: S_IFREG | mode,
      nlink,
      shmem: this.shmem.newInode(),
    });
  }
}
