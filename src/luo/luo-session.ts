/**
 * LUO sessions (kernel/liveupdate/luo_session.c): named containers of preserved files, each
 * reached through an anonymous-inode file (`[luo_session] <name>`). Two ordered lists: the
 * outgoing sessions created in this kernel (serialized at reboot if some process still holds
 * their file) and the incoming sessions of the previous kernel (deserialized at the first open
 * of /dev/liveupdate, retrieved by name, finished).
 *
 * The session ioctls dispatch as `luo_session_ioctl` does: unknown command number → -EINVAL;
 * the u32 `size` is read first (-EFAULT); a code that is not the table's (other type, size or
 * direction bits) → -ENOTTY; a command for the other direction → -EINVAL (v7.2 kernels only);
 * `size` below the minimum → -EINVAL; `copy_struct_from_user` (-E2BIG, -EFAULT); then the
 * command, under the serialization lock (v7.2 kernels only). Kernel quirk kept: GET_NAME is
 * declared with the 16-byte `liveupdate_session_retrieve_fd` struct, so its minimum size is 16
 * and bytes past 16 must be zero on input (docs/quirks.md).
 *
 * Serialized entries go to a KHO block set (`luo-v5`, growing one session ahead at create, so
 * a duplicate name can leave an empty block linked: the kernel's behaviour) or to the 16-page
 * array of `luo-v1` (819 sessions, then -ENOMEM).
 */
import {
  LIVEUPDATE_CMD_SESSION_BASE,
  LIVEUPDATE_FD_IOCTL_SIZE,
  LIVEUPDATE_FINISH_IOCTL_SIZE,
  LIVEUPDATE_GET_NAME_IOCTL_SIZE,
  LIVEUPDATE_SESSION_FINISH,
  LIVEUPDATE_SESSION_GET_NAME,
  LIVEUPDATE_SESSION_NAME_LENGTH,
  LIVEUPDATE_SESSION_PRESERVE_FD,
  LIVEUPDATE_SESSION_RETRIEVE_FD,
} from '../abi/liveupdate-uapi.ts';
import { LUO_SESSION_SER_SIZE } from '../abi/luo.ts';
import { LUO_V1_SESSION_AREA_SIZE, LUO_V1_SESSION_HEADER_SIZE, LUO_V1_SESSION_MAX } from '../abi/luo-v1.ts';
import { O_CLOEXEC, O_RDWR } from '../abi/uapi-fcntl.ts';
import { anonInodeGetfile } from '../kernel/fs/anon-inode.ts';
import { TaskBlockedError, type Task } from '../kernel/fs/fdtable.ts';
import { fput, type File, type FileOperations } from '../kernel/fs/file.ts';
import { copyStructFromUser, getUserU32, type UserPtr } from '../kernel/fs/uaccess.ts';
import { KhoMemError } from '../hw/errors.ts';
import { KhoBlockSet } from '../kho/block-set.ts';
import { kmalloc } from '../mm/failslab.ts';
import { GFP_KERNEL } from '../mm/gfp.ts';
import { ERRNO, errPtrText } from '../util/errno.ts';
import type { Luo } from './luo-core.ts';
import { LuoFileSet, type FileSetSer } from './luo-file.ts';

/** `-ENOIOCTLCMD` (the VFS answers -ENOTTY for it). */
const ENOIOCTLCMD = 515;

/** A session (`struct luo_session`). */
export class LuoSession {
  /** The name bytes up to the NUL, as a byte-exact key (latin1). */
  readonly key: string;
  /** The name as text (UTF-8), for messages. */
  readonly name: string;
  /** Set only on incoming sessions that were retrieved. */
  retrieved = false;
  readonly fileSet: LuoFileSet;

  constructor(luo: Luo, nameBytes: Uint8Array) {
    const raw = storedName(nameBytes);
    this.key = Buffer.from(raw).toString('latin1');
    this.name = Buffer.from(raw).toString('utf8');
    this.fileSet = new LuoFileSet(luo);
  }

  /** The 64 name bytes as written into a `luo_session_ser` (NUL-padded). */
  nameBytes(): Uint8Array {
    const b = new Uint8Array(LIVEUPDATE_SESSION_NAME_LENGTH);
    b.set(Buffer.from(this.key, 'latin1'), 0);
    return b;
  }
}

/** The name bytes a session keeps: strscpy into char[64], so at most 63 bytes up to the NUL. */
function storedName(nameBytes: Uint8Array): Uint8Array {
  const n = nameBytes.indexOf(0);
  return nameBytes.subarray(0, Math.min(n < 0 ? nameBytes.length : n, LIVEUPDATE_SESSION_NAME_LENGTH - 1));
}

/**
 * `sizeof(struct luo_session)` on x86-64 as far as the model knows it (name, list, flags, file
 * set, mutex: about 200 bytes): kzalloc serves it from kmalloc-256, the size failslab's `space`
 * counts.
 */
const LUO_SESSION_ALLOC_SIZE = 200;

/** The key a raw user name buffer compares equal to (`strncmp(.., 64)` semantics). */
function keyOf(nameBytes: Uint8Array): string {
  const n = nameBytes.indexOf(0);
  return Buffer.from(nameBytes.subarray(0, n < 0 ? nameBytes.length : n)).toString('latin1');
}

/** `struct luo_session_header`: one list with its count and serialization storage. */
class SessionList {
  readonly list: LuoSession[] = [];
  readonly byKey = new Map<string, LuoSession>();
  /** luo-v5 session blocks. */
  readonly blocks: KhoBlockSet;
  /** luo-v1 session area. */
  areaPhys = 0;
  /** Set up (outgoing) or handed over (incoming). */
  active = false;

  constructor(luo: Luo) {
    this.blocks = new KhoBlockSet(luo.kho, LUO_SESSION_SER_SIZE, luo.log);
  }

  get count(): number {
    return this.list.length;
  }
}

/** One ioctl of the table (`struct luo_ioctl_op`). */
interface SessionOp {
  cmd: number;
  /** `sizeof` the struct the kernel copies. */
  size: number;
  /** `offsetofend` of its last field. */
  minSize: number;
  type: 'incoming' | 'outgoing' | 'all';
  /** Run on the kernel's copy `buf`; `reply(ksize)` copies back (`luo_ucmd_respond`). */
  run: (s: LuoSession, buf: Uint8Array, reply: (ksize: number) => number, task: Task) => number;
}

/** `luo_ucmd_respond`: copy back `min(size, ksize)` bytes; -EFAULT when that faults. */
export function respond(arg: UserPtr, usize: number, buf: Uint8Array, ksize: number): number {
  return arg.write(0, buf.subarray(0, Math.min(usize, ksize))) ? 0 : -ERRNO.EFAULT;
}

/** The sessions of one kernel. */
export class LuoSessions {
  readonly outgoing: SessionList;
  readonly incoming: SessionList;
  /** luo-v5: where `luo_ser.sessions_pa` lives (written at reboot). */
  sessionsPaAddr = 0;
  /** `luo_session_deserialize`'s cached result (null before the first call). */
  private deserialized: number | null = null;

  /** The incoming sessions were deserialized (the first open of /dev/liveupdate happened). */
  get isDeserialized(): boolean {
    return this.deserialized !== null;
  }
  private readonly luo: Luo;
  readonly fops: FileOperations;

  constructor(luo: Luo) {
    this.luo = luo;
    this.outgoing = new SessionList(luo);
    this.incoming = new SessionList(luo);
    this.fops = {
      owner: 'luo',
      release: (f) => {
        this.release(f);
      },
      unlockedIoctl: (f, cmd, arg, task) => this.ioctl(f, cmd, arg, task),
    };
  }

  private v1(): boolean {
    return this.luo.format.abi === 'luo-v1';
  }

  /**
   * Take `luo_session_serialize_rwsem` for reading: a held-for-good lock blocks the caller
   * forever. Kernels before v7.2 have no such lock (`LuoFormat.serializeLock`).
   */
  private readLock(task: Task | null): void {
    if (!this.luo.format.serializeLock) return;
    if (this.luo.serializationLocked && task !== null)
      throw new TaskBlockedError(task, 'LUO serialization lock is held since the reboot serialization');
  }

  // ------------------------------------------------------------------ list changes

  /**
   * `luo_session_alloc(name)`: kzalloc of a `struct luo_session` (GFP_KERNEL), which failslab
   * can fail (null, the kernel's -ENOMEM); `trace` names the callers for the verbose notice.
   */
  private alloc(nameBytes: Uint8Array, trace: readonly string[]): LuoSession | null {
    if (
      !kmalloc(this.luo.kho.ctx.failslab, LUO_SESSION_ALLOC_SIZE, GFP_KERNEL, ['luo_session_alloc', ...trace])
    )
      return null;
    return new LuoSession(this.luo, nameBytes);
  }

  /** `luo_session_insert`: room for one more (outgoing), then the duplicate check. */
  private insert(sh: SessionList, s: LuoSession): number {
    if (sh === this.outgoing) {
      if (this.v1()) {
        if (sh.count === LUO_V1_SESSION_MAX) return -ERRNO.ENOMEM;
      } else {
        const err = sh.blocks.grow(sh.count + 1);
        if (err !== 0) return err;
      }
    }
    if (sh.byKey.has(s.key)) return -ERRNO.EEXIST;
    sh.list.push(s);
    sh.byKey.set(s.key, s);
    return 0;
  }

  /** `luo_session_remove`: off the list; outgoing session blocks shrink. */
  private remove(sh: SessionList, s: LuoSession): void {
    const i = sh.list.indexOf(s);
    if (i >= 0) sh.list.splice(i, 1);
    if (sh.byKey.get(s.key) === s) sh.byKey.delete(s.key);
    if (sh === this.outgoing && !this.v1()) sh.blocks.shrink(sh.count);
  }

  private getfile(s: LuoSession): File {
    return anonInodeGetfile(this.luo.fs, `[luo_session] ${s.name}`, this.fops, s, O_RDWR);
  }

  /**
   * `luo_session_create(name)`: a new outgoing session and its file (one reference), or
   * -EINVAL (luo-v5: empty or unterminated name), -EEXIST, -ENOMEM / -ENOSPC (no room to
   * serialize it).
   */
  create(nameBytes: Uint8Array, task: Task): File | number {
    if (this.luo.format.nameChecks) {
      const n = nameBytes.indexOf(0);
      const len = n < 0 ? Math.min(nameBytes.length, LIVEUPDATE_SESSION_NAME_LENGTH) : n;
      if (len === 0 || len > LIVEUPDATE_SESSION_NAME_LENGTH - 1) return -ERRNO.EINVAL;
    }
    const s = this.alloc(nameBytes, ['luo_session_create', 'luo_ioctl_create_session', 'luo_ioctl']);
    if (s === null) return -ERRNO.ENOMEM;
    this.readLock(task);
    const err = this.insert(this.outgoing, s);
    if (err !== 0) return err;
    return this.getfile(s);
  }

  /**
   * `luo_session_retrieve(name)`: the incoming session's file, or -ENOENT (no such incoming
   * session; always on a cold boot) or -EINVAL (retrieved already).
   */
  retrieve(nameBytes: Uint8Array, task: Task): File | number {
    this.readLock(task);
    const s = this.incoming.byKey.get(keyOf(nameBytes.subarray(0, LIVEUPDATE_SESSION_NAME_LENGTH)));
    if (s === undefined) return -ERRNO.ENOENT;
    if (s.retrieved) return -ERRNO.EINVAL;
    const f = this.getfile(s);
    s.retrieved = true;
    return f;
  }

  /**
   * `luo_session_release`: the last reference to a session file is gone. An incoming session
   * is finished (on failure it stays, retrieved and stuck: `Unable to finish session [..] on
   * release`); an outgoing one unpreserves its files and disappears.
   */
  private release(f: File): void {
    const s = f.privateData as LuoSession;
    if (this.luo.serializationLocked) return; // the closing task would sleep forever
    if (s.retrieved) {
      const err = s.fileSet.finish();
      if (err !== 0) {
        this.luo.log('warn', `Unable to finish session [${s.name}] on release`);
        return;
      }
      this.remove(this.incoming, s);
    } else {
      s.fileSet.unpreserveAll();
      this.remove(this.outgoing, s);
    }
  }

  // ------------------------------------------------------------------ ioctls

  private ops(): SessionOp[] {
    const ops: SessionOp[] = [
      {
        cmd: LIVEUPDATE_SESSION_FINISH,
        size: LIVEUPDATE_FINISH_IOCTL_SIZE,
        minSize: LIVEUPDATE_FINISH_IOCTL_SIZE,
        type: 'incoming',
        run: (s, _buf, reply) => {
          const err = s.fileSet.finish();
          return err !== 0 ? err : reply(LIVEUPDATE_FINISH_IOCTL_SIZE);
        },
      },
      {
        cmd: LIVEUPDATE_SESSION_PRESERVE_FD,
        size: LIVEUPDATE_FD_IOCTL_SIZE,
        minSize: LIVEUPDATE_FD_IOCTL_SIZE,
        type: 'outgoing',
        run: (s, buf, reply, task) => this.preserveFd(s, buf, reply, task),
      },
      {
        cmd: LIVEUPDATE_SESSION_RETRIEVE_FD,
        size: LIVEUPDATE_FD_IOCTL_SIZE,
        minSize: LIVEUPDATE_FD_IOCTL_SIZE,
        type: 'incoming',
        run: (s, buf, reply, task) => this.retrieveFd(s, buf, reply, task),
      },
    ];
    if (this.luo.format.getName) {
      // The kernel's table declares GET_NAME with struct liveupdate_session_retrieve_fd.
      ops.push({
        cmd: LIVEUPDATE_SESSION_GET_NAME,
        size: LIVEUPDATE_FD_IOCTL_SIZE,
        minSize: LIVEUPDATE_FD_IOCTL_SIZE,
        type: 'all',
        run: (s, buf, reply) => {
          if (new DataView(buf.buffer, buf.byteOffset).getUint32(4, true) !== 0) return -ERRNO.EINVAL;
          buf.set(s.nameBytes(), 8);
          return reply(LIVEUPDATE_GET_NAME_IOCTL_SIZE);
        },
      });
    }
    // Designated initializers: the table is indexed by command number.
    return ops.sort((a, b) => (a.cmd & 0xff) - (b.cmd & 0xff));
  }

  /** `luo_session_ioctl`. */
  private ioctl(f: File, cmd: number, arg: UserPtr, task: Task): number {
    const s = f.privateData as LuoSession;
    const ops = this.ops();
    const nr = cmd & 0xff;
    if (nr < LIVEUPDATE_CMD_SESSION_BASE || nr - LIVEUPDATE_CMD_SESSION_BASE >= ops.length)
      return -ERRNO.EINVAL;
    const usize = getUserU32(arg);
    if (usize < 0) return usize;
    const op = ops[nr - LIVEUPDATE_CMD_SESSION_BASE]!;
    if (op.cmd !== cmd) return -ENOIOCTLCMD;
    // luo_ioctl_type_valid() (v7.2). FDT-era kernels run the command on either kind of
    // session: PRESERVE_FD on a retrieved session joins its incoming file set, RETRIEVE_FD on
    // an outgoing one calls the handler's retrieve on data this kernel preserved (memfd:
    // -EINVAL and KHO warnings, or a fresh empty memfd for an empty one), FINISH on an
    // outgoing one finishes, i.e. drops, its files and succeeds (docs/luo.md).
    if (this.luo.format.directionChecks) {
      const ok = op.type === 'all' || (op.type === 'incoming' ? s.retrieved : !s.retrieved);
      if (!ok) return -ERRNO.EINVAL;
    }
    if (usize < op.minSize) return -ERRNO.EINVAL;
    const k = copyStructFromUser(arg, op.size, usize);
    if (typeof k === 'number') return k;
    this.readLock(task);
    // `union ucmd_buffer`: large enough for any reply.
    const buf = new Uint8Array(LIVEUPDATE_GET_NAME_IOCTL_SIZE);
    buf.set(k, 0);
    return op.run(s, buf, (ksize) => respond(arg, usize, buf, ksize), task);
  }

  private preserveFd(s: LuoSession, buf: Uint8Array, reply: (ksize: number) => number, task: Task): number {
    const v = new DataView(buf.buffer, buf.byteOffset);
    const err = s.fileSet.preserve(v.getBigUint64(8, true), v.getInt32(4, true), task);
    if (err !== 0) return err;
    const r = reply(LIVEUPDATE_FD_IOCTL_SIZE);
    if (r !== 0) this.luo.log('warn', 'The file was successfully preserved, but response to user failed');
    return r;
  }

  private retrieveFd(s: LuoSession, buf: Uint8Array, reply: (ksize: number) => number, task: Task): number {
    const v = new DataView(buf.buffer, buf.byteOffset);
    const fd = task.files.getUnusedFd(O_CLOEXEC);
    v.setInt32(4, fd, true);
    if (fd < 0) return fd;
    const f = s.fileSet.retrieve(v.getBigUint64(8, true));
    if (typeof f === 'number') {
      task.files.putUnusedFd(fd);
      return f;
    }
    const r = reply(LIVEUPDATE_FD_IOCTL_SIZE);
    if (r !== 0) {
      fput(f);
      task.files.putUnusedFd(fd);
      return r;
    }
    task.files.install(fd, f);
    return 0;
  }

  // ------------------------------------------------------------------ reboot and boot

  /** luo-v5 `luo_session_setup_outgoing`: remember where `sessions_pa` goes. */
  setupOutgoingV5(sessionsPaAddr: number): void {
    this.sessionsPaAddr = sessionsPaAddr;
    this.outgoing.active = true;
  }

  /** luo-v1 `luo_session_setup_outgoing`: the 16-page session area; 0 or -errno. */
  setupOutgoingV1(): number {
    const phys = this.luo.kho.allocPreserve(LUO_V1_SESSION_AREA_SIZE);
    if (phys < 0) return phys;
    this.outgoing.areaPhys = phys;
    this.outgoing.active = true;
    return 0;
  }

  /** luo-v5 `luo_session_setup_incoming(sessions_pa)`: take over the block chain; 0 or -EINVAL. */
  setupIncomingV5(sessionsPa: number): number {
    if (sessionsPa === 0) return 0;
    const err = this.incoming.blocks.restore(sessionsPa);
    if (err !== 0) return err;
    this.incoming.active = true;
    return 0;
  }

  /** luo-v1 `luo_session_setup_incoming`: the session area. */
  setupIncomingV1(areaPhys: number): void {
    this.incoming.areaPhys = areaPhys;
    this.incoming.active = true;
  }

  /** The `luo_session_ser` slot `i` of the luo-v1 area at `area`. */
  private v1Slot(area: number, i: number): number {
    return area + LUO_V1_SESSION_HEADER_SIZE + i * LUO_SESSION_SER_SIZE;
  }

  private writeSer(at: number, s: LuoSession, ser: FileSetSer | null): void {
    const mem = this.luo.kho.ctx.mem;
    mem.write(at, s.nameBytes());
    if (ser !== null) {
      mem.writeU64(at + 64, ser.files);
      mem.writeU64(at + 72, ser.count);
    }
  }

  private clearSer(at: number, withFiles: boolean): void {
    const mem = this.luo.kho.ctx.mem;
    mem.fill(at, LIVEUPDATE_SESSION_NAME_LENGTH, 0);
    if (withFiles) mem.fill(at + 64, 16, 0);
  }

  /**
   * `luo_session_serialize`: under the serialization lock taken for writing (v7.2), every
   * outgoing session in creation order gets its entry (files frozen first). On success the lock
   * stays held for good and `sessions_pa` names the first block; on a freeze failure the
   * sessions frozen so far are unfrozen and their entries cleared, the lock is released, and
   * the error is returned (the kexec is aborted).
   */
  serialize(): number {
    const sh = this.outgoing;
    const mem = this.luo.kho.ctx.mem;
    const v1 = this.v1();
    if (!v1 && this.sessionsPaAddr !== 0) mem.writeU64(this.sessionsPaAddr, 0);
    const it = v1 ? null : sh.blocks.iterator();
    const slots: number[] = [];
    const sers: FileSetSer[] = [];
    let err = 0;
    let i = 0;
    for (; i < sh.list.length; i++) {
      const s = sh.list[i]!;
      let at: number;
      if (it === null) at = this.v1Slot(sh.areaPhys, i);
      else {
        at = it.reserveEntry(mem);
        if (at === 0) {
          this.luo.kho.ctx.dmesg.warnOn('luo_session_serialize', 'no preallocated session entry');
          err = -ERRNO.ENOSPC;
          break;
        }
      }
      const ser: FileSetSer = { files: 0, count: 0 };
      err = s.fileSet.freeze(ser);
      if (err !== 0) {
        it?.prev();
        break;
      }
      this.writeSer(at, s, s.fileSet.count > 0 ? ser : null);
      slots.push(at);
      sers.push(ser);
    }
    if (err !== 0) {
      for (let j = i - 1; j >= 0; j--) {
        const at = it === null ? slots[j]! : it.prev();
        sh.list[j]!.fileSet.unfreeze(sers[j]!);
        if (sh.list[j]!.fileSet.count > 0) mem.fill(at + 64, 16, 0);
        this.clearSer(at, false);
      }
      return err;
    }
    if (v1) mem.writeU64(sh.areaPhys, sh.count);
    else if (sh.count > 0) mem.writeU64(this.sessionsPaAddr, sh.blocks.headPa);
    if (this.luo.format.serializeLock) this.luo.serializationLocked = true;
    return 0;
  }

  /**
   * The incoming sessions as RETRIEVE_SESSION would find them, looked at without changing
   * anything (for Tab completion): the list once deserialized; before the first open of
   * /dev/liveupdate, the names in the previous kernel's entries, which
   * luo_session_deserialize() will insert (as far as they can be read). None once
   * deserialization failed: every open of the device fails then.
   */
  incomingNames(): { name: string; retrieved: boolean }[] {
    if (this.deserialized !== null) {
      if (this.deserialized !== 0) return [];
      return this.incoming.list.map((s) => ({ name: s.name, retrieved: s.retrieved }));
    }
    const sh = this.incoming;
    if (!sh.active) return [];
    const mem = this.luo.kho.ctx.mem;
    const out: { name: string; retrieved: boolean }[] = [];
    const add = (at: number): void => {
      const raw = storedName(mem.read(at, LIVEUPDATE_SESSION_NAME_LENGTH));
      out.push({ name: Buffer.from(raw).toString('utf8'), retrieved: false });
    };
    mem.quietly(() => {
      try {
        if (this.v1()) {
          const count = Math.min(mem.readU64(sh.areaPhys), LUO_V1_SESSION_MAX);
          for (let i = 0; i < count; i++) add(this.v1Slot(sh.areaPhys, i));
        } else {
          const it = sh.blocks.iterator();
          for (let at = it.readEntry(mem); at !== 0; at = it.readEntry(mem)) add(at);
        }
      } catch (e) {
        // Entries past the end of memory: the names before them are what can be shown.
        if (!(e instanceof KhoMemError)) throw e;
      }
    });
    return out;
  }

  /**
   * `luo_session_deserialize` (first open of /dev/liveupdate): rebuild the incoming sessions
   * and their files from the previous kernel's entries. The result is cached: a failure makes
   * every later open fail too (luo-v5; on luo-v1 not after a session allocation failure). The previous kernel's state that was already rebuilt
   * is deliberately leaked on failure, as the kernel does.
   */
  deserialize(): number {
    if (this.deserialized !== null) return this.deserialized;
    const sh = this.incoming;
    this.deserialized = 0;
    if (!sh.active) return 0;
    const mem = this.luo.kho.ctx.mem;
    // luo-v1 (kernel/liveupdate/luo_session.c before the block rework) returns an allocation
    // failure without storing it in its static `err`: only that open fails, later ones succeed
    // with the sessions inserted so far. luo-v5 stores every failure in `saved_err`.
    const failed = { alloc: false };
    const trace = this.v1()
      ? ['luo_session_deserialize', 'luo_open', 'misc_open', 'chrdev_open']
      : ['luo_session_deserialize_one', 'luo_session_deserialize', 'luo_open', 'misc_open', 'chrdev_open'];
    const one = (at: number): number => {
      const raw = mem.read(at, LIVEUPDATE_SESSION_NAME_LENGTH);
      const s = this.alloc(raw, trace);
      if (s === null) {
        const nul = raw.indexOf(0);
        const name = Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)).toString('utf8');
        this.luo.log(
          'warn',
          `Failed to allocate session [${name}] during deserialization ${errPtrText(-ERRNO.ENOMEM)}`,
        );
        failed.alloc = true;
        return -ERRNO.ENOMEM;
      }
      let err = this.insert(sh, s);
      if (err !== 0) {
        this.luo.log('warn', `Failed to insert session [${s.name}] ${errPtrText(err)}`);
        return err;
      }
      err = s.fileSet.deserialize({ files: mem.readU64(at + 64), count: mem.readU64(at + 72) });
      if (err !== 0) {
        if (this.v1()) return 0; // the FDT-era kernel ignored file errors (docs/quirks.md)
        this.luo.log('warn', `Failed to deserialize files for session [${s.name}] ${errPtrText(err)}`);
        return err;
      }
      return 0;
    };
    if (this.v1()) {
      const count = mem.readU64(sh.areaPhys);
      for (let i = 0; i < count; i++) {
        const err = one(this.v1Slot(sh.areaPhys, i));
        if (err !== 0) {
          this.deserialized = failed.alloc ? 0 : err;
          return err;
        }
      }
      this.luo.kho.restoreFree(sh.areaPhys);
      sh.areaPhys = 0;
      return 0;
    }
    const it = sh.blocks.iterator();
    for (let at = it.readEntry(mem); at !== 0; at = it.readEntry(mem)) {
      const err = one(at);
      if (err !== 0) {
        sh.blocks.destroy();
        this.deserialized = err;
        return err;
      }
    }
    sh.blocks.destroy();
    return 0;
  }
}
