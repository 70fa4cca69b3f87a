/**
 * Files in LUO sessions (kernel/liveupdate/luo_file.c): the file handler registry, and per
 * session the ordered set of preserved files with the handler operations in the kernel's call
 * order: `can_preserve` → FLB preserve → `preserve` at PRESERVE_FD; `unpreserve` → FLB
 * unpreserve → fput, last file first, when the outgoing session goes; `freeze` (then the
 * `luo_file_ser` entry) at reboot, with `unfreeze` of the files already frozen when one fails;
 * in the new kernel `retrieve` on the first RETRIEVE_FD and `can_finish` of every file then
 * `finish` (last first) at FINISH.
 *
 * Where the serialized entries live depends on the hand-over format: `luo-v5` keeps them in a
 * KHO block set per session (grown one entry ahead at preserve); `luo-v1` in a 2-page preserved
 * array allocated at the first preserve (128 files, then -ENOSPC) and freed when the set
 * empties.
 */
import { LIVEUPDATE_HNDL_COMPAT_LENGTH, LUO_FILE_SER_SIZE } from '../abi/luo.ts';
import { LUO_V1_FILE_AREA_SIZE, LUO_V1_FILE_MAX } from '../abi/luo-v1.ts';
import { fput, getFile, type File } from '../kernel/fs/file.ts';
import type { Task } from '../kernel/fs/fdtable.ts';
import { KhoBlockSet } from '../kho/block-set.ts';
import { ERRNO, errPtrText } from '../util/errno.ts';
import type { Luo } from './luo-core.ts';

/** What a handler operation gets (`struct liveupdate_file_op_args`). */
export interface LiveupdateFileOpArgs {
  readonly handler: LiveupdateFileHandler;
  /** The file (null in `retrieve`, where the handler sets it, and for never-retrieved files at finish). */
  file: File | null;
  /** The u64 handed over to the next kernel (set by `preserve`, may be updated by `freeze`). */
  serializedData: bigint;
  /** Handler data kept in this kernel only. */
  privateData: unknown;
  /** At finish: 0 never retrieved, 1 retrieved, <0 the retrieve error. */
  retrieveStatus: number;
}

/** `struct liveupdate_file_ops`: required `canPreserve`, `preserve`, `unpreserve`, `retrieve`, `finish`. */
export interface LiveupdateFileOps {
  /** Does this handler take `file`? The first handler that says yes wins. */
  canPreserve(handler: LiveupdateFileHandler, file: File): boolean;
  /** Preserve the file's state; set `serializedData` (and `privateData`). 0 or -errno. */
  preserve(args: LiveupdateFileOpArgs): number;
  /** Undo `preserve` (the outgoing session went away). */
  unpreserve(args: LiveupdateFileOpArgs): void;
  /** Last chance at reboot (may update `serializedData`). 0 or -errno (aborts the kexec). */
  freeze?: (args: LiveupdateFileOpArgs) => number;
  /** Undo `freeze` when a later file's freeze failed. */
  unfreeze?: (args: LiveupdateFileOpArgs) => void;
  /** New kernel: recreate the file from `serializedData`; set `file`. 0 or -errno. */
  retrieve(args: LiveupdateFileOpArgs): number;
  /** May the session finish now? (all files are asked before any finishes) */
  canFinish?: (args: LiveupdateFileOpArgs) => boolean;
  /** New kernel: the session is done; release what was handed over (retrieved or not). */
  finish(args: LiveupdateFileOpArgs): void;
  /** The identity of `file` for the "preserved twice" check (default: the open file itself). */
  getId?: (file: File) => unknown;
  /** The module implementing it. */
  readonly owner?: string;
}

/** `struct liveupdate_file_handler`. */
export interface LiveupdateFileHandler {
  /** The compatible written into each `luo_file_ser` (at most 47 characters). */
  readonly compatible: string;
  readonly ops: LiveupdateFileOps;
}

/** One preserved (or incoming) file of a session (`struct luo_file`). */
export class LuoFile {
  readonly fh: LiveupdateFileHandler;
  file: File | null;
  readonly token: bigint;
  serializedData: bigint;
  privateData: unknown = null;
  /** 0 not retrieved, 1 retrieved, <0 a failed retrieve (returned again forever). */
  retrieveStatus = 0;

  constructor(fh: LiveupdateFileHandler, file: File | null, token: bigint, data: bigint) {
    this.fh = fh;
    this.file = file;
    this.token = token;
    this.serializedData = data;
  }

  args(): LiveupdateFileOpArgs {
    return {
      handler: this.fh,
      file: this.file,
      serializedData: this.serializedData,
      privateData: this.privateData,
      retrieveStatus: this.retrieveStatus,
    };
  }
}

/** `struct luo_file_set_ser` as it sits in a session entry. */
export interface FileSetSer {
  files: number;
  count: number;
}

/** Encode a compatible for `luo_file_ser` (strscpy into 48 bytes). */
function compatBytes(s: string): Uint8Array {
  const b = new Uint8Array(LIVEUPDATE_HNDL_COMPAT_LENGTH);
  const t = Buffer.from(s, 'utf8').subarray(0, LIVEUPDATE_HNDL_COMPAT_LENGTH - 1);
  b.set(t, 0);
  return b;
}

/** The preserved files of one session (`struct luo_file_set`). */
export class LuoFileSet {
  readonly files: LuoFile[] = [];
  /** luo-v5: the `luo_file_ser` block chain. */
  readonly blocks: KhoBlockSet;
  /** luo-v1: the 2-page `luo_file_ser` array (0 until the first preserve). */
  arrayPhys = 0;
  private readonly luo: Luo;

  constructor(luo: Luo) {
    this.luo = luo;
    this.blocks = new KhoBlockSet(luo.kho, LUO_FILE_SER_SIZE, luo.log);
  }

  get count(): number {
    return this.files.length;
  }

  private tokenUsed(token: bigint): boolean {
    return this.files.some((f) => f.token === token);
  }

  /** luo-v1 `luo_alloc_files_mem`: the array on the first preserve. */
  private allocArray(): number {
    if (this.arrayPhys !== 0) return 0;
    const phys = this.luo.kho.allocPreserve(LUO_V1_FILE_AREA_SIZE);
    if (phys < 0) return phys;
    this.arrayPhys = phys;
    return 0;
  }

  /**
   * luo-v1: free the array once no file is left. `luo_free_files_mem()` (a failed preserve, the
   * outgoing session's close) unpreserves it; `luo_file_finish()` restores and frees it, whichever
   * kernel preserved it: on an array this kernel preserved (FINISH on an outgoing session, or
   * after PRESERVE_FD on an empty incoming one) the restore warns and the page stays preserved.
   */
  private freeArray(restore: boolean): void {
    if (this.files.length > 0 || this.arrayPhys === 0) return;
    if (restore) this.luo.kho.restoreFree(this.arrayPhys);
    else this.luo.kho.unpreserveFree(this.arrayPhys);
    this.arrayPhys = 0;
  }

  /**
   * `luo_preserve_file(file_set, token, fd)`: 0 or -EEXIST (token used in this session),
   * -ENOSPC/-ENOMEM (no room for the entry), -EBADF, -ENOENT (no handler takes the file),
   * -EBUSY (v7.1+: the file is preserved already, in any session, or retrieved and not
   * finished), the FLB's or the handler's error.
   */
  preserve(token: bigint, fd: number, task: Task): number {
    const luo = this.luo;
    const v1 = luo.format.abi === 'luo-v1';
    if (this.tokenUsed(token)) return -ERRNO.EEXIST;
    if (v1) {
      if (this.count === LUO_V1_FILE_MAX) return -ERRNO.ENOSPC;
    } else {
      const err = this.blocks.grow(this.count + 1);
      if (err !== 0) return err;
    }
    const undoRoom = (): void => {
      if (v1) this.freeArray(false);
      else this.blocks.shrink(this.count);
    };
    const file = task.files.fget(fd);
    if (file === null) {
      undoRoom();
      return -ERRNO.EBADF;
    }
    const fail = (err: number): number => {
      undoRoom();
      fput(file);
      return err;
    };
    if (v1) {
      const err = this.allocArray();
      if (err !== 0) return fail(err);
    }
    const fh = luo.handlers.find((h) => h.ops.canPreserve(h, file));
    if (fh === undefined) return fail(-ERRNO.ENOENT);
    if (!luo.trackFile(fh, file)) return fail(-ERRNO.EBUSY);
    const flbErr = luo.flbs.filePreserve(fh);
    if (flbErr !== 0) {
      luo.untrackFile(fh, file);
      return fail(flbErr);
    }
    const lf = new LuoFile(fh, file, token, 0n);
    const args = lf.args();
    const err = fh.ops.preserve(args);
    if (err !== 0) {
      luo.flbs.fileUnpreserve(fh);
      luo.untrackFile(fh, file);
      return fail(err);
    }
    lf.serializedData = args.serializedData;
    lf.privateData = args.privateData;
    this.files.push(lf);
    return 0;
  }

  /** `luo_file_unpreserve_files`: every file, last first, then the entry storage. */
  unpreserveAll(): void {
    const luo = this.luo;
    while (this.files.length > 0) {
      const lf = this.files[this.files.length - 1]!;
      lf.fh.ops.unpreserve(lf.args());
      luo.flbs.fileUnpreserve(lf.fh);
      if (lf.file !== null) luo.untrackFile(lf.fh, lf.file);
      this.files.pop();
      if (lf.file !== null) fput(lf.file);
    }
    if (luo.format.abi === 'luo-v1') this.freeArray(false);
    else this.blocks.destroy();
  }

  private freezeOne(lf: LuoFile): number {
    const freeze = lf.fh.ops.freeze;
    if (freeze === undefined) return 0;
    const args = lf.args();
    const err = freeze(args);
    if (err === 0) lf.serializedData = args.serializedData;
    return err;
  }

  private unfreezeOne(lf: LuoFile): void {
    lf.fh.ops.unfreeze?.(lf.args());
  }

  private writeEntry(at: number, lf: LuoFile): void {
    const mem = this.luo.kho.ctx.mem;
    mem.write(at, compatBytes(lf.fh.compatible));
    mem.writeU64Halves(at + 48, Number(lf.serializedData & 0xffffffffn), Number(lf.serializedData >> 32n));
    mem.writeU64Halves(at + 56, Number(lf.token & 0xffffffffn), Number(lf.token >> 32n));
  }

  /**
   * `luo_file_freeze`: freeze every file in preservation order and write its `luo_file_ser`.
   * On a failure the files frozen before it are unfrozen, the entries cleared, and the error
   * returned (the reboot is aborted). On success `ser` receives where the entries are.
   */
  freeze(ser: FileSetSer): number {
    if (this.count === 0) return 0;
    const luo = this.luo;
    const mem = luo.kho.ctx.mem;
    const v1 = luo.format.abi === 'luo-v1';
    const it = v1 ? null : this.blocks.iterator();
    for (let i = 0; i < this.files.length; i++) {
      const lf = this.files[i]!;
      let at: number;
      if (it === null) at = this.arrayPhys + i * LUO_FILE_SER_SIZE;
      else {
        at = it.reserveEntry(mem);
        if (at === 0) {
          luo.kho.ctx.dmesg.warnOn('luo_file_freeze', 'no room for a file entry');
          this.unfreezeUpTo(i);
          return -ERRNO.ENOSPC;
        }
      }
      const err = this.freezeOne(lf);
      if (err < 0) {
        luo.log(
          'warn',
          `Freeze failed for token[${lf.token === 0n ? '0' : `0x${lf.token.toString(16)}`}] handler[${lf.fh.compatible}] err[${errPtrText(err)}]`,
        );
        this.unfreezeUpTo(i);
        return err;
      }
      this.writeEntry(at, lf);
    }
    ser.files = v1 ? this.arrayPhys : this.blocks.headPa;
    ser.count = this.count;
    return 0;
  }

  /** `__luo_file_unfreeze(failed)`: unfreeze the files before index `upTo`, clear the entries. */
  private unfreezeUpTo(upTo: number): void {
    for (let i = 0; i < upTo; i++) this.unfreezeOne(this.files[i]!);
    if (this.luo.format.abi === 'luo-v1') {
      if (this.arrayPhys !== 0) this.luo.kho.ctx.mem.fill(this.arrayPhys, LUO_V1_FILE_AREA_SIZE, 0);
    } else this.blocks.clear();
  }

  /** `luo_file_unfreeze`: roll a frozen set back (a later session failed to freeze). */
  unfreeze(ser: FileSetSer): void {
    if (this.count === 0) return;
    this.unfreezeUpTo(this.files.length);
    ser.files = 0;
    ser.count = 0;
  }

  /**
   * `luo_retrieve_file(token)`: the file (with a new reference for the caller), or -ENOENT
   * (no such token, or no files), or the handler's error, which is returned again on every
   * later attempt without calling the handler ("liveupdate: luo_file: remember retrieve()
   * status", f85b1c6af5bc, in v7.0 and 6.19.y; v6.19.0 called `retrieve` again).
   */
  retrieve(token: bigint): File | number {
    const lf = this.files.find((f) => f.token === token);
    if (lf === undefined) return -ERRNO.ENOENT;
    if (lf.retrieveStatus < 0) return lf.retrieveStatus;
    if (lf.retrieveStatus > 0) return getFile(lf.file!);
    const args = lf.args();
    const err = lf.fh.ops.retrieve(args);
    if (err !== 0 || args.file === null) {
      lf.retrieveStatus = err !== 0 ? err : -ERRNO.EINVAL;
      return lf.retrieveStatus;
    }
    lf.file = args.file;
    // LUO keeps its own reference until finish; the caller gets the one `retrieve` made.
    getFile(lf.file);
    if (!this.luo.trackFile(lf.fh, lf.file))
      this.luo.kho.ctx.dmesg.warnOn('luo_retrieve_file', 'retrieved file is already tracked');
    lf.retrieveStatus = 1;
    return lf.file;
  }

  /**
   * `luo_file_finish`: nothing to do without files; -EBUSY if a handler's `can_finish` says
   * no (nothing is done then); else `finish` each file, last first (unretrieved ones are
   * discarded by their handler), drop LUO's references, and free the entry storage.
   */
  finish(): number {
    if (this.count === 0) return 0;
    const luo = this.luo;
    for (const lf of this.files) {
      const can = lf.fh.ops.canFinish;
      if (can !== undefined && !can(lf.args())) return -ERRNO.EBUSY;
    }
    while (this.files.length > 0) {
      const lf = this.files[this.files.length - 1]!;
      lf.fh.ops.finish(lf.args());
      luo.flbs.fileFinish(lf.fh);
      if (lf.file !== null) {
        luo.untrackFile(lf.fh, lf.file);
        fput(lf.file);
      }
      this.files.pop();
    }
    if (luo.format.abi === 'luo-v1') this.freeArray(true);
    else this.blocks.destroy();
    return 0;
  }

  /**
   * `luo_file_deserialize`: rebuild the file list from the previous kernel's entries (the
   * handler found by compatible; files are recreated only at RETRIEVE_FD). 0 or -errno.
   */
  deserialize(ser: FileSetSer): number {
    const luo = this.luo;
    const mem = luo.kho.ctx.mem;
    if (ser.files === 0) {
      if (ser.count !== 0) luo.kho.ctx.dmesg.warnOn('luo_file_deserialize', 'files count without files');
      return 0;
    }
    const add = (at: number): number => {
      const raw = mem.read(at, LIVEUPDATE_HNDL_COMPAT_LENGTH);
      const nul = raw.indexOf(0);
      const compat = Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)).toString('latin1');
      const fh = luo.handlers.find((h) => Buffer.from(h.compatible, 'utf8').toString('latin1') === compat);
      if (fh === undefined) {
        luo.log(
          'warn',
          `No registered handler for compatible '${Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)).toString('utf8')}'`,
        );
        return -ERRNO.ENOENT;
      }
      const data = mem.readU64Big(at + 48);
      const token = mem.readU64Big(at + 56);
      this.files.push(new LuoFile(fh, null, token, data));
      return 0;
    };
    if (luo.format.abi === 'luo-v1') {
      this.arrayPhys = ser.files;
      for (let i = 0; i < ser.count; i++) {
        const err = add(ser.files + i * LUO_FILE_SER_SIZE);
        if (err !== 0) return err;
      }
      return 0;
    }
    const err = this.blocks.restore(ser.files);
    if (err !== 0) return err;
    const it = this.blocks.iterator();
    for (let at = it.readEntry(mem); at !== 0; at = it.readEntry(mem)) {
      const e = add(at);
      if (e !== 0) return e;
    }
    if (this.files.length !== ser.count) {
      luo.log('warn', `File count mismatch: expected ${ser.count}, found ${this.files.length}`);
      return -ERRNO.EINVAL;
    }
    return 0;
  }
}
