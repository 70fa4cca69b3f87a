/**
 * The Live Update Orchestrator core of one kernel (kernel/liveupdate/luo_core.c): the
 * `liveupdate=` switch, the boot hooks, `/dev/liveupdate`, the file handler and FLB
 * registration API, and the reboot path.
 *
 * Boot: `earlyInit` (early_initcall) parses the incoming `LUO` sub-tree; a bad one disables LUO
 * and panics (`The incoming tree failed to initialize properly [..], disabling live update`),
 * even with `liveupdate` off as long as KHO is on (the kernel's behaviour). `lateInit`
 * (late_initcall) sets up the outgoing state (`luo_ser` + FLB page in `luo-v5`; the FDT, the
 * session area and the FLB page in `luo-v1`) and registers the misc device.
 *
 * `/dev/liveupdate` has one opener at a time (-EBUSY); the first open deserializes the incoming
 * sessions, and if that fails every open fails with -EIO from then on. Its two ioctls create an
 * outgoing session and retrieve an incoming one by name (src/luo/luo-session.ts).
 *
 * Reboot (`liveupdateReboot`, called by `kernel_kexec` before anything shuts down): sessions
 * are serialized (freeze), then FLBs; on `kho-v1` kernels `kho_finalize()` follows (-EAGAIN on
 * failure). An error aborts the kexec.
 */
import {
  LIVEUPDATE_CMD_BASE,
  LIVEUPDATE_IOCTL_CREATE_SESSION,
  LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
  LIVEUPDATE_SESSION_IOCTL_SIZE,
  LIVEUPDATE_SESSION_NAME_LENGTH,
} from '../abi/liveupdate-uapi.ts';
import { isLuoAbiCompatible, LUO_ABI_COMPATIBLE, LUO_KHO_ENTRY_NAME, LUO_SER_SIZE } from '../abi/luo.ts';
import {
  decodeLuoV1Fdt,
  LUO_FDT_COMPATIBLE,
  LUO_FDT_FLB_COMPATIBLE,
  LUO_FDT_FLB_HEADER,
  LUO_FDT_FLB_NODE_NAME,
  LUO_FDT_LIVEUPDATE_NUM,
  LUO_FDT_SESSION_COMPATIBLE,
  LUO_FDT_SESSION_HEADER,
  LUO_FDT_SESSION_NODE_NAME,
  LUO_FDT_SIZE,
  LuoV1FdtError,
  writeLuoV1Fdt,
} from '../abi/luo-v1.ts';
import type { Dmesg } from '../kernel/dmesg.ts';
import { O_CLOEXEC } from '../abi/uapi-fcntl.ts';
import type { Task } from '../kernel/fs/fdtable.ts';
import { fput, type File, type FileOperations } from '../kernel/fs/file.ts';
import type { KernelFs } from '../kernel/fs/kernel-fs.ts';
import { MISC_DYNAMIC_MINOR, miscRegister, type MiscDevice } from '../kernel/fs/miscdevice.ts';
import { copyStructFromUser, getUserU32, type UserPtr } from '../kernel/fs/uaccess.ts';
import type { LuoFormat, ReleaseProfile } from '../kernel/profile.ts';
import { KhoMemError } from '../hw/errors.ts';
import { v1Abort, v1Finalize } from '../kho/v1-finalize.ts';
import type { Kho } from '../kho/kho.ts';
import { ERRNO, errPtrText } from '../util/errno.ts';
import { LuoFlbs, type LiveupdateFlb } from './luo-flb.ts';
import type { LiveupdateFileHandler } from './luo-file.ts';
import { LuoSessions, respond } from './luo-session.ts';

/** `-ENOIOCTLCMD`. */
const ENOIOCTLCMD = 515;
/** x86-64 `PAGE_OFFSET` (4-level paging, no KASLR): where the direct map shows physical memory. */
const PAGE_OFFSET = 0xffff888000000000n;

/** The oops lines of a direct-map access to `phys` that has no memory behind it. */
function oops(dmesg: Dmesg, phys: number): void {
  const va = PAGE_OFFSET + BigInt(Math.max(0, phys));
  dmesg.log('alert', `BUG: unable to handle page fault for address: ${va.toString(16)}`);
  dmesg.log('alert', '#PF: supervisor read access in kernel mode');
  dmesg.log('alert', '#PF: error_code(0x0000) - not-present page');
  dmesg.warn('Oops: 0000 [#1] PREEMPT SMP NOPTI');
}

/** What LUO needs from the kernel it runs in. */
export interface LuoDeps {
  kho: Kho;
  fs: KernelFs;
  dmesg: Dmesg;
  profile: ReleaseProfile;
  /** `liveupdate=` from the command line (false when CONFIG_LIVEUPDATE is off). */
  enabled: boolean;
}

/** The LUO subsystem of one kernel. */
export class Luo {
  /** `luo_global.enabled` (`liveupdate_enabled()`). */
  enabled: boolean;
  /** The hand-over format and interface generation of this kernel's release. */
  readonly format: LuoFormat;
  readonly kho: Kho;
  readonly fs: KernelFs;
  readonly dmesg: Dmesg;
  /** `liveupdate_num` handed over by the previous kernel (0 on a cold boot). */
  incomingNumber = 0n;
  /** luo-v5: the outgoing `luo_ser` page; luo-v1: the outgoing FDT page (0 when not set up). */
  outPhys = 0;
  /** luo-v5: the incoming `luo_ser` address as read at early boot (0 without one). */
  incomingPhys = 0;
  /** The serialization lock is held for good (after a successful reboot serialization, luo-v5). */
  serializationLocked = false;
  /** Registered file handlers, in registration order. */
  readonly handlers: LiveupdateFileHandler[] = [];
  /** `luo_preserved_files` (v7.1+): identity of every preserved or retrieved file → the file. */
  readonly preservedIds = new Map<unknown, File>();
  readonly sessions: LuoSessions;
  readonly flbs: LuoFlbs;
  /** The misc device once registered. */
  misc: MiscDevice | null = null;
  private deviceInUse = false;

  constructor(d: LuoDeps) {
    this.enabled = d.enabled;
    this.format = d.profile.luo;
    this.kho = d.kho;
    this.fs = d.fs;
    this.dmesg = d.dmesg;
    this.sessions = new LuoSessions(this);
    this.flbs = new LuoFlbs(this);
  }

  /** Log with the `luo: ` prefix (KBUILD_MODNAME of luo.o). */
  readonly log = (level: 'err' | 'warn' | 'info', text: string): void => {
    this.dmesg.log(level, `luo: ${text}`);
  };

  /** The identity key of `file` for `fh` (`luo_get_id`). */
  fileId(fh: LiveupdateFileHandler, file: File): unknown {
    return fh.ops.getId !== undefined ? fh.ops.getId(file) : file;
  }

  /**
   * `xa_insert(&luo_preserved_files, luo_get_id(fh, file))`: false when the identity is taken.
   * Kernels before v7.1 keep no such table (`LuoFormat.doubleManagementCheck`): always true.
   */
  trackFile(fh: LiveupdateFileHandler, file: File): boolean {
    if (!this.format.doubleManagementCheck) return true;
    const id = this.fileId(fh, file);
    if (this.preservedIds.has(id)) return false;
    this.preservedIds.set(id, file);
    return true;
  }

  /** `xa_erase(&luo_preserved_files, luo_get_id(fh, file))`. */
  untrackFile(fh: LiveupdateFileHandler, file: File): void {
    this.preservedIds.delete(this.fileId(fh, file));
  }

  // ------------------------------------------------------------------ boot

  /**
   * `liveupdate_early_init` (early_initcall). Returns null, or the panic reason when the
   * incoming data is bad (LUO is disabled first, as the kernel does before panicking).
   */
  earlyInit(): string | null {
    if (!this.kho.isEnabled()) {
      if (this.enabled) this.log('warn', 'Disabling liveupdate because KHO is disabled');
      this.enabled = false;
      return null;
    }
    let err: number;
    try {
      err = this.format.abi === 'luo-v1' ? this.earlyStartupV1() : this.earlyStartupV5();
    } catch (e) {
      // A hand-over pointer past the end of physical memory: the kernel's access oopses in the
      // init task, which panics.
      if (!(e instanceof KhoMemError)) throw e;
      this.enabled = false;
      oops(this.dmesg, e.addr);
      return 'Attempted to kill init! exitcode=0x00000009';
    }
    if (err === 0) return null;
    this.enabled = false;
    return `The incoming tree failed to initialize properly [${errPtrText(err)}], disabling live update`;
  }

  /** luo-v5 `luo_early_startup`. */
  private earlyStartupV5(): number {
    const r = this.kho.retrieveSubtree(LUO_KHO_ENTRY_NAME);
    if ('errno' in r) {
      if (r.errno === -ERRNO.ENOENT) return 0;
      this.log(
        'err',
        `failed to retrieve LUO state '${LUO_KHO_ENTRY_NAME}' from KHO: ${errPtrText(r.errno)}`,
      );
      return r.errno;
    }
    if (r.size < LUO_SER_SIZE) {
      this.log('err', `LUO state is too small (${r.size} < ${LUO_SER_SIZE})`);
      return -ERRNO.EINVAL;
    }
    const mem = this.kho.ctx.mem;
    if (!isLuoAbiCompatible(mem.read(r.phys, 8))) {
      this.log('err', `LUO state is incompatible with '${LUO_ABI_COMPATIBLE}'`);
      return -ERRNO.EINVAL;
    }
    this.incomingPhys = r.phys;
    this.incomingNumber = mem.readU64Big(r.phys + 8);
    this.log(
      'info',
      `Retrieved live update data, liveupdate number: ${BigInt.asIntN(64, this.incomingNumber)}`,
    );
    const err = this.sessions.setupIncomingV5(mem.readU64(r.phys + 16));
    if (err === 0) this.flbs.incomingPhys = mem.readU64(r.phys + 24);
    this.kho.restoreFree(r.phys);
    return err;
  }

  /** luo-v1 `luo_early_startup` with the session and FLB node checks. */
  private earlyStartupV1(): number {
    const r = this.kho.retrieveSubtree(LUO_KHO_ENTRY_NAME);
    if ('errno' in r) {
      if (r.errno === -ERRNO.ENOENT) return 0;
      this.log('err', `failed to retrieve FDT '${LUO_KHO_ENTRY_NAME}' from KHO: ${errPtrText(r.errno)}`);
      return r.errno;
    }
    const mem = this.kho.ctx.mem;
    const d = decodeLuoV1Fdt(mem.read(r.phys, LUO_FDT_SIZE));
    if (!d.ok) {
      const e = d.error;
      const v = e instanceof LuoV1FdtError ? e.value : -1;
      const check = e instanceof LuoV1FdtError ? e.check : 'compatible';
      switch (check) {
        case 'compatible':
          this.log('err', `FDT '${LUO_KHO_ENTRY_NAME}' is incompatible with '${LUO_FDT_COMPATIBLE}' [${v}]`);
          return -ERRNO.EINVAL;
        case 'liveupdate-number':
          this.log('err', `Unable to get live update number '${LUO_FDT_LIVEUPDATE_NUM}' [${v}]`);
          return -ERRNO.EINVAL;
        case 'session-node':
          this.log('err', `Unable to get session node: [${LUO_FDT_SESSION_NODE_NAME}]`);
          return -ERRNO.EINVAL;
        case 'session-compatible':
          this.log('err', `Session node incompatible [${LUO_FDT_SESSION_COMPATIBLE}]`);
          return -ERRNO.EINVAL;
        case 'session-header':
          this.log('err', `Unable to get session header '${LUO_FDT_SESSION_HEADER}' [${v}]`);
          return -ERRNO.EINVAL;
        case 'flb-compatible':
          this.log('err', `FLB node is incompatible with '${LUO_FDT_FLB_COMPATIBLE}' [${v}]`);
          return -ERRNO.EINVAL;
        case 'flb-header':
          this.log('err', `Unable to get FLB header property '${LUO_FDT_FLB_HEADER}' [${v}]`);
          return -ERRNO.EINVAL;
      }
    }
    const fdt = d.value;
    this.incomingPhys = r.phys;
    this.incomingNumber = fdt.liveupdateNum;
    this.log(
      'info',
      `Retrieved live update data, liveupdate number: ${BigInt.asIntN(64, fdt.liveupdateNum)}`,
    );
    this.sessions.setupIncomingV1(fdt.sessionHeader);
    if (this.format.flbNode) {
      if (fdt.flbHeader === null) {
        this.log('err', `Unable to get FLB node [${LUO_FDT_FLB_NODE_NAME}]`);
        return -ERRNO.ENOENT;
      }
      this.flbs.incomingPhys = fdt.flbHeader;
    }
    return 0;
  }

  /**
   * The late_initcalls of luo_core.c: the outgoing state (failure disables LUO with the
   * kernel's message), then the misc device `/dev/liveupdate` if LUO is still enabled.
   */
  lateInit(): void {
    if (this.enabled) {
      const err = this.format.abi === 'luo-v1' ? this.setupOutgoingV1() : this.setupOutgoingV5();
      if (err !== 0) this.enabled = false;
    }
    if (!this.enabled) return;
    const misc: MiscDevice = { name: 'liveupdate', minor: MISC_DYNAMIC_MINOR, fops: this.deviceFops() };
    if (miscRegister(this.fs, misc) === 0) this.misc = misc;
  }

  /** luo-v5 `luo_late_startup`: `luo_ser` (32 bytes in a preserved page), the FLB page, the sub-tree. */
  private setupOutgoingV5(): number {
    const kho = this.kho;
    const mem = kho.ctx.mem;
    const ser = kho.allocPreserve(LUO_SER_SIZE);
    if (ser < 0) {
      this.log('err', 'failed to allocate/preserve LUO state memory');
      return ser;
    }
    mem.write(ser, new TextEncoder().encode(LUO_ABI_COMPATIBLE));
    const num = (this.incomingNumber + 1n) & 0xffff_ffff_ffff_ffffn;
    mem.writeU64Halves(ser + 8, Number(num & 0xffffffffn), Number(num >> 32n));
    this.sessions.setupOutgoingV5(ser + 16);
    let err = this.flbs.setupOutgoing();
    if (err >= 0) {
      mem.writeU64(ser + 24, this.flbs.pagePhys);
      err = kho.addSubtree(LUO_KHO_ENTRY_NAME, ser, LUO_SER_SIZE);
    }
    if (err < 0) {
      // The FLB page is not given back here (kernel quirk).
      kho.unpreserveFree(ser);
      this.log('err', `failed to prepare LUO state: ${err}`);
      return err;
    }
    this.outPhys = ser;
    return 0;
  }

  /** luo-v1 `luo_fdt_setup`: the one-page FDT with the session area and (v7.0+) the FLB page. */
  private setupOutgoingV1(): number {
    const kho = this.kho;
    const fdt = kho.allocPreserve(LUO_FDT_SIZE);
    if (fdt < 0) {
      this.log('err', 'failed to allocate/preserve FDT memory');
      return fdt;
    }
    let err = this.sessions.setupOutgoingV1();
    if (err === 0 && this.format.flbNode) err = Math.min(0, this.flbs.setupOutgoing());
    if (err === 0) {
      const blob = writeLuoV1Fdt({
        liveupdateNum: (this.incomingNumber + 1n) & 0xffff_ffff_ffff_ffffn,
        sessionHeader: this.sessions.outgoing.areaPhys,
        flbHeader: this.format.flbNode ? this.flbs.pagePhys : null,
      });
      kho.ctx.mem.write(fdt, blob);
      const size = new DataView(blob.buffer, blob.byteOffset).getUint32(4, false);
      err = kho.addSubtree(LUO_KHO_ENTRY_NAME, fdt, size);
    }
    if (err !== 0) {
      kho.unpreserveFree(fdt);
      this.log('err', `failed to prepare LUO FDT: ${err}`);
      return err;
    }
    this.outPhys = fdt;
    return 0;
  }

  // ------------------------------------------------------------------ /dev/liveupdate

  private deviceFops(): FileOperations {
    return {
      owner: 'luo',
      open: () => {
        if (this.deviceInUse) return -ERRNO.EBUSY;
        this.deviceInUse = true;
        let err: number;
        try {
          err = this.sessions.deserialize();
        } catch (e) {
          // A pointer past the end of physical memory: the opener oopses and is killed inside
          // open, so the device stays marked in use (every later open: -EBUSY). The model
          // returns -EFAULT to the caller instead of killing it (docs/quirks.md).
          if (!(e instanceof KhoMemError)) throw e;
          oops(this.dmesg, e.addr);
          return -ERRNO.EFAULT;
        }
        if (err !== 0) {
          this.deviceInUse = false;
          return -ERRNO.EIO;
        }
        return 0;
      },
      release: () => {
        this.deviceInUse = false;
      },
      unlockedIoctl: (_f, cmd, arg, task) => this.deviceIoctl(cmd, arg, task),
    };
  }

  /** `luo_ioctl`: CREATE_SESSION and RETRIEVE_SESSION with the common dispatch rules. */
  private deviceIoctl(cmd: number, arg: UserPtr, task: Task): number {
    const ops = [LIVEUPDATE_IOCTL_CREATE_SESSION, LIVEUPDATE_IOCTL_RETRIEVE_SESSION];
    const nr = cmd & 0xff;
    if (nr - LIVEUPDATE_CMD_BASE >= ops.length) return -ERRNO.EINVAL;
    const usize = getUserU32(arg);
    if (usize < 0) return usize;
    if (ops[nr - LIVEUPDATE_CMD_BASE] !== cmd) return -ENOIOCTLCMD;
    if (usize < LIVEUPDATE_SESSION_IOCTL_SIZE) return -ERRNO.EINVAL;
    const buf = copyStructFromUser(arg, LIVEUPDATE_SESSION_IOCTL_SIZE, usize);
    if (typeof buf === 'number') return buf;
    const fd = task.files.getUnusedFd(O_CLOEXEC);
    const v = new DataView(buf.buffer, buf.byteOffset);
    v.setInt32(4, fd, true);
    if (fd < 0) return fd;
    const name = buf.subarray(8, 8 + LIVEUPDATE_SESSION_NAME_LENGTH);
    const f =
      cmd === LIVEUPDATE_IOCTL_CREATE_SESSION
        ? this.sessions.create(name, task)
        : this.sessions.retrieve(name, task);
    if (typeof f === 'number') {
      task.files.putUnusedFd(fd);
      return f;
    }
    const err = respond(arg, usize, buf, LIVEUPDATE_SESSION_IOCTL_SIZE);
    if (err !== 0) {
      // Releasing the file destroys the session (an incoming one is finished: kernel quirk).
      fput(f);
      task.files.putUnusedFd(fd);
      return err;
    }
    task.files.install(fd, f);
    return 0;
  }

  // ------------------------------------------------------------------ reboot

  /**
   * `liveupdate_reboot()`: serialize the sessions and FLBs; on kho-v1 kernels finalize KHO.
   * 0, or the error that aborts the kexec.
   */
  reboot(): number {
    if (!this.enabled) return 0;
    // Serialized already (the kernel would never get here twice: a successful serialization
    // is followed by the jump, and its lock is never released).
    if (this.serializationLocked) return 0;
    const err = this.sessions.serialize();
    if (err !== 0) return err;
    this.flbs.serialize();
    if (this.format.finalize && !this.kho.ctx.v1Finalized) {
      const r = v1Finalize(this.kho.ctx);
      if (r !== 0) {
        this.log('err', `kho_finalize failed ${r}`);
        v1Abort(this.kho.ctx);
        return -ERRNO.EAGAIN;
      }
    }
    return 0;
  }

  // ------------------------------------------------------------------ registration API

  /**
   * `liveupdate_register_file_handler(fh)`: 0, or -EOPNOTSUPP (LUO off), -EINVAL (a required
   * operation is missing), -EEXIST (the compatible is taken).
   */
  registerFileHandler(fh: LiveupdateFileHandler): number {
    if (!this.enabled) return -ERRNO.EOPNOTSUPP;
    const o = fh.ops as Partial<LiveupdateFileHandler['ops']>;
    if (
      typeof o.preserve !== 'function' ||
      typeof o.unpreserve !== 'function' ||
      typeof o.retrieve !== 'function' ||
      typeof o.finish !== 'function' ||
      typeof o.canPreserve !== 'function'
    )
      return -ERRNO.EINVAL;
    if (this.handlers.some((h) => h.compatible === fh.compatible)) {
      this.log(
        'err',
        `File handler registration failed: Compatible string '${fh.compatible}' already registered.`,
      );
      return -ERRNO.EEXIST;
    }
    this.handlers.push(fh);
    return 0;
  }

  /** `liveupdate_unregister_file_handler(fh)`: 0, -EOPNOTSUPP, or -EBUSY (FLBs still linked, or files use it). */
  unregisterFileHandler(fh: LiveupdateFileHandler): number {
    if (!this.enabled) return -ERRNO.EOPNOTSUPP;
    const i = this.handlers.indexOf(fh);
    if (i < 0) return -ERRNO.ENOENT;
    if (this.flbs.ofHandler(fh).length > 0) return -ERRNO.EBUSY;
    this.handlers.splice(i, 1);
    return 0;
  }

  /** `liveupdate_register_flb(fh, flb)` (see {@link LuoFlbs.register}). */
  registerFlb(fh: LiveupdateFileHandler, flb: LiveupdateFlb): number {
    return this.flbs.register(fh, flb);
  }

  /** `liveupdate_unregister_flb(fh, flb)`. */
  unregisterFlb(fh: LiveupdateFileHandler, flb: LiveupdateFlb): number {
    return this.flbs.unregister(fh, flb);
  }
}
