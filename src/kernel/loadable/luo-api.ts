/**
 * The LUO API as a loadable module calls it (include/linux/liveupdate.h), over the running
 * kernel's `Luo` (src/luo/luo-core.ts), and the pieces of the VFS a driver needs to have files
 * worth preserving: a misc character device whose node appears under /dev
 * (drivers/char/misc.c: misc_register()), `filp_open()` to make a file of it again in `retrieve`,
 * and `fput()`.
 *
 * A module's handler, FLB and device operations are called later by the kernel (at
 * PRESERVE_FD, at reboot, at RETRIEVE_FD, on open and read…), not from the module's own call.
 * Each is wrapped so that a throw in it is reported as the kernel reports an oops in a driver
 * (dmesg, the module's functions as the call trace) and the operation fails (-EFAULT, or
 * `false` from `can_preserve`), instead of taking the machine down.
 */
import { FdTable, type Task } from '../fs/fdtable.ts';
import { chrdevOpen } from '../fs/chrdev.ts';
import { fput as vfsFput, type File, type FileOperations } from '../fs/file.ts';
import {
  MISC_DYNAMIC_MINOR,
  MISC_MAJOR,
  miscDeregister as vfsMiscDeregister,
  miscRegister as vfsMiscRegister,
} from '../fs/miscdevice.ts';
import type { LiveupdateFileHandler, LiveupdateFileOpArgs, LiveupdateFileOps } from '../../luo/luo-file.ts';
import type { LiveupdateFlb, LiveupdateFlbOpArgs, LiveupdateFlbOps } from '../../luo/luo-flb.ts';
import { ERRNO } from '../../util/errno.ts';
import { errorFrames, oopsLines } from './caller.ts';
import { noteDmesg, within, type HandleState, type ModuleKernel } from './handle.ts';

export { MISC_DYNAMIC_MINOR, MISC_MAJOR };

/** A misc character device a module registers (`struct miscdevice`): `/dev/<name>`, major 10. */
export interface MiscDevice {
  /** Node name under /dev. */
  readonly name: string;
  /** A fixed minor, or {@link MISC_DYNAMIC_MINOR}; set to the minor given at registration. */
  minor: number;
  /** The driver's file operations (`open`, `release`, `read`, `write`, `llseek`, `unlockedIoctl`). */
  readonly fops: FileOperations;
}

/** What {@link liveupdateFlbGetIncoming} and {@link liveupdateFlbGetOutgoing} return. */
export interface FlbObject {
  /** 0 or -errno. */
  err: number;
  /** The FLB's live object (`*objp`); null on error or when there is none yet. */
  obj: unknown;
}

/**
 * Call a module callback the kernel makes: a throw becomes an oops in dmesg (attributed to the
 * module) and `fallback` is returned.
 */
function guarded<A extends unknown[], R>(
  s: HandleState,
  where: string,
  fn: (...a: A) => R,
  fallback: R,
): (...a: A) => R {
  return (...a: A): R => {
    const k = s.kernel;
    const first = k.dmesg.records.length;
    try {
      return fn(...a);
    } catch (e) {
      for (const l of oopsLines(s.run.module, where, e, errorFrames(e))) k.dmesg.log('alert', l);
      return fallback;
    } finally {
      noteDmesg(s.run, first, k.dmesg.records.length);
    }
  };
}

/** A u64 a module set (a bigint, or a safe non-negative number); null when it is neither. */
function u64Of(v: unknown): bigint | null {
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  return null;
}

/** Registered handlers: the module's object → the one the LUO core holds. */
const HANDLERS = new WeakMap<LiveupdateFileHandler, LiveupdateFileHandler>();
const FLBS = new WeakMap<LiveupdateFlb, LiveupdateFlb>();
const MISC = new WeakMap<MiscDevice, MiscDevice>();

/** The fields of something a module passed (untyped at run time); empty for a non-object. */
function fields(x: unknown): Readonly<Record<string, unknown>> {
  return typeof x === 'object' && x !== null ? (x as Record<string, unknown>) : {};
}

/** A module's operation `name` of `ops` as a function (bound to `ops`), or null when missing. */
function opOf(ops: Readonly<Record<string, unknown>>, name: string): ((...a: unknown[]) => unknown) | null {
  const f = ops[name];
  return typeof f === 'function'
    ? (...a: unknown[]) => (f as (...x: unknown[]) => unknown).apply(ops, a)
    : null;
}

/** What an int-returning operation returned: 0 or -errno, anything else -EINVAL. */
function intResult(r: unknown): number {
  return typeof r === 'number' && Number.isInteger(r) && r <= 0 ? r : -ERRNO.EINVAL;
}

/** The core's handler for a module's: its ops call the module's with the module's objects. */
function wrapHandler(s: HandleState, fh: LiveupdateFileHandler): LiveupdateFileHandler {
  const o = fields(fields(fh)['ops']);
  const ops: Record<string, unknown> = { owner: s.run.module };
  // The module sees its own handler object in `args.handler`; what it sets is copied back.
  const withArgs =
    <R>(name: string, f: (a: LiveupdateFileOpArgs) => R, fallback: R) =>
    (args: LiveupdateFileOpArgs): R => {
      const mine: LiveupdateFileOpArgs = { ...args, handler: fh };
      const r = guarded(s, name, f, fallback)(mine);
      args.file = mine.file;
      args.privateData = mine.privateData;
      const data = u64Of(mine.serializedData);
      if (data === null) {
        s.kernel.dmesg.warnOn(`${s.run.module}: ${name}`, 'serialized_data is not a u64');
        return fallback;
      }
      args.serializedData = data;
      return r;
    };
  const kinds: [string, string, 'int' | 'void' | 'bool'][] = [
    ['preserve', 'preserve', 'int'],
    ['unpreserve', 'unpreserve', 'void'],
    ['freeze', 'freeze', 'int'],
    ['unfreeze', 'unfreeze', 'void'],
    ['retrieve', 'retrieve', 'int'],
    ['canFinish', 'can_finish', 'bool'],
    ['finish', 'finish', 'void'],
  ];
  for (const [key, name, kind] of kinds) {
    const f = opOf(o, key);
    if (f === null) continue;
    if (kind === 'int') ops[key] = withArgs(name, (a) => intResult(f(a)), -ERRNO.EFAULT);
    else if (kind === 'bool') ops[key] = withArgs(name, (a) => f(a) === true, false);
    else ops[key] = withArgs(name, (a) => void f(a), undefined);
  }
  const canPreserve = opOf(o, 'canPreserve');
  if (canPreserve !== null)
    ops['canPreserve'] = (_h: LiveupdateFileHandler, file: File) =>
      guarded(s, 'can_preserve', canPreserve, false)(fh, file) === true;
  const getId = opOf(o, 'getId');
  if (getId !== null) ops['getId'] = (file: File) => guarded(s, 'get_id', getId, file)(file);
  return { compatible: String(fields(fh)['compatible']), ops: ops as unknown as LiveupdateFileOps };
}

/** `liveupdate_enabled()`: LUO is on in this kernel (`liveupdate=on`, with KHO on). */
export function liveupdateEnabled(k: ModuleKernel): boolean {
  return within(k, liveupdateEnabled, (s) => s.kernel.luo.enabled);
}

/**
 * `liveupdate_register_file_handler(fh)`: make files `fh.ops.canPreserve` accepts preservable
 * (and the previous kernel's files of `fh.compatible` retrievable). 0, -EOPNOTSUPP (LUO off),
 * -EINVAL (a required operation is missing: `canPreserve`, `preserve`, `unpreserve`,
 * `retrieve`, `finish`), -EEXIST (the compatible is registered already).
 */
export function liveupdateRegisterFileHandler(k: ModuleKernel, fh: LiveupdateFileHandler): number {
  return within(k, liveupdateRegisterFileHandler, (s) => {
    if (typeof fields(fh)['compatible'] !== 'string') return -ERRNO.EINVAL;
    const prev = HANDLERS.get(fh);
    if (prev !== undefined && s.kernel.luo.handlers.includes(prev)) return -ERRNO.EEXIST;
    const inner = wrapHandler(s, fh);
    const rc = s.kernel.luo.registerFileHandler(inner);
    if (rc === 0) HANDLERS.set(fh, inner);
    return rc;
  });
}

/**
 * `liveupdate_unregister_file_handler(fh)`: 0, -EOPNOTSUPP, -ENOENT (not registered) or -EBUSY
 * (FLBs are still registered with it).
 */
export function liveupdateUnregisterFileHandler(k: ModuleKernel, fh: LiveupdateFileHandler): number {
  return within(k, liveupdateUnregisterFileHandler, (s) => {
    if (!s.kernel.luo.enabled) return -ERRNO.EOPNOTSUPP;
    const inner = HANDLERS.get(fh);
    if (inner === undefined) return -ERRNO.ENOENT;
    const rc = s.kernel.luo.unregisterFileHandler(inner);
    if (rc === 0) HANDLERS.delete(fh);
    return rc;
  });
}

function wrapFlb(s: HandleState, flb: LiveupdateFlb): LiveupdateFlb {
  const o = fields(fields(flb)['ops']);
  const ops: Record<string, unknown> = { owner: s.run.module };
  for (const name of ['preserve', 'unpreserve', 'retrieve', 'finish']) {
    const f = opOf(o, name);
    if (f === null) continue;
    const int = name === 'preserve' || name === 'retrieve';
    const fallback = int ? -ERRNO.EFAULT : undefined;
    ops[name] = (args: LiveupdateFlbOpArgs): number | undefined => {
      const mine: LiveupdateFlbOpArgs = { ...args, flb };
      const r = guarded(
        s,
        `flb ${name}`,
        (a: LiveupdateFlbOpArgs) => (int ? intResult(f(a)) : void f(a)),
        fallback,
      )(mine);
      args.obj = mine.obj;
      const data = u64Of(mine.data);
      if (data === null) {
        s.kernel.dmesg.warnOn(`${s.run.module}: flb ${name}`, 'FLB data is not a u64');
        return fallback;
      }
      args.data = data;
      return r;
    };
  }
  return { compatible: String(fields(flb)['compatible']), ops: ops as unknown as LiveupdateFlbOps };
}

/** The core's handler object for a module's (a never-registered one stays unknown to the core). */
function innerHandler(fh: LiveupdateFileHandler): LiveupdateFileHandler {
  return HANDLERS.get(fh) ?? { compatible: String(fields(fh)['compatible']), ops: fh.ops };
}

/**
 * `liveupdate_register_flb(fh, flb)`: tie the global object `flb` to the files of `fh` (it is
 * preserved with the first of them and finished with the last). 0, -EOPNOTSUPP, -EINVAL (a
 * missing operation, or `fh` not registered), -EEXIST (already tied to `fh`, or another FLB
 * has the compatible), -ENOSPC (too many FLBs).
 */
export function liveupdateRegisterFlb(
  k: ModuleKernel,
  fh: LiveupdateFileHandler,
  flb: LiveupdateFlb,
): number {
  return within(k, liveupdateRegisterFlb, (s) => {
    if (typeof fields(flb)['compatible'] !== 'string') return -ERRNO.EINVAL;
    let inner = FLBS.get(flb);
    const fresh = inner === undefined;
    inner ??= wrapFlb(s, flb);
    const rc = s.kernel.luo.registerFlb(innerHandler(fh), inner);
    if (rc === 0 && fresh) FLBS.set(flb, inner);
    return rc;
  });
}

/** `liveupdate_unregister_flb(fh, flb)`: 0, -EOPNOTSUPP or -ENOENT (not tied to `fh`). */
export function liveupdateUnregisterFlb(
  k: ModuleKernel,
  fh: LiveupdateFileHandler,
  flb: LiveupdateFlb,
): number {
  return within(k, liveupdateUnregisterFlb, (s) => {
    const inner = FLBS.get(flb);
    if (inner === undefined) return s.kernel.luo.enabled ? -ERRNO.ENOENT : -ERRNO.EOPNOTSUPP;
    return s.kernel.luo.unregisterFlb(innerHandler(fh), inner);
  });
}

function flbObject(r: { obj: unknown } | number): FlbObject {
  return typeof r === 'number' ? { err: r, obj: null } : { err: 0, obj: r.obj };
}

/**
 * `liveupdate_flb_get_incoming(flb, &obj)`: the object the previous kernel handed over, made by
 * the FLB's `retrieve` on first use. `err` 0, -EOPNOTSUPP, -ENODATA (nothing handed over, or
 * finished already), -ENOENT, or `retrieve`'s error.
 */
export function liveupdateFlbGetIncoming(k: ModuleKernel, flb: LiveupdateFlb): FlbObject {
  return within(k, liveupdateFlbGetIncoming, (s) => {
    const inner = FLBS.get(flb);
    if (inner === undefined)
      return { err: s.kernel.luo.enabled ? -ERRNO.ENOENT : -ERRNO.EOPNOTSUPP, obj: null };
    return flbObject(s.kernel.luo.flbs.getIncoming(inner));
  });
}

/**
 * `liveupdate_flb_get_outgoing(flb, &obj)`: the object the FLB's `preserve` made (null before
 * the first file of its handlers is preserved). `err` 0 or -EOPNOTSUPP.
 */
export function liveupdateFlbGetOutgoing(k: ModuleKernel, flb: LiveupdateFlb): FlbObject {
  return within(k, liveupdateFlbGetOutgoing, (s) => {
    const inner = FLBS.get(flb);
    if (inner === undefined) return { err: s.kernel.luo.enabled ? 0 : -ERRNO.EOPNOTSUPP, obj: null };
    return flbObject(s.kernel.luo.flbs.getOutgoing(inner));
  });
}

function wrapFops(s: HandleState, fops: FileOperations): FileOperations {
  const o = fields(fops);
  const out: FileOperations & Record<string, unknown> = { owner: s.run.module };
  for (const name of Object.keys(o)) {
    const f = opOf(o, name);
    if (f !== null) out[name] = guarded(s, name, f, name === 'release' ? undefined : -ERRNO.EFAULT);
  }
  return out;
}

/**
 * `misc_register(misc)`: create `/dev/<misc.name>` (major 10) whose opens get `misc.fops`; the
 * minor given is stored in `misc.minor`. 0, -EBUSY (the name or minor is taken, or no dynamic
 * minor is left), -EINVAL (not a device description).
 */
export function miscRegister(k: ModuleKernel, misc: MiscDevice): number {
  return within(k, miscRegister, (s) => {
    const m = fields(misc);
    const name = m['name'];
    if (
      typeof name !== 'string' ||
      !/^[A-Za-z0-9_.-]{1,63}$/.test(name) ||
      typeof m['fops'] !== 'object' ||
      m['fops'] === null ||
      !Number.isInteger(m['minor'])
    )
      return -ERRNO.EINVAL;
    if (MISC.has(misc)) return -ERRNO.EBUSY;
    const inner: MiscDevice = { name: misc.name, minor: misc.minor, fops: wrapFops(s, misc.fops) };
    const rc = vfsMiscRegister(s.kernel.fs, inner);
    if (rc === 0) {
      misc.minor = inner.minor;
      MISC.set(misc, inner);
    }
    return rc;
  });
}

/** `misc_deregister(misc)`: remove the node (open files keep working until closed). */
export function miscDeregister(k: ModuleKernel, misc: MiscDevice): void {
  within(k, miscDeregister, (s) => {
    const inner = MISC.get(misc);
    if (inner === undefined) return;
    vfsMiscDeregister(s.kernel.fs, inner);
    MISC.delete(misc);
  });
}

/** The task kernel code opens files as (no descriptors of its own). */
function kernelTask(s: HandleState): Task {
  return { pid: 0, comm: s.run.module, files: new FdTable(() => 0) };
}

/**
 * `filp_open(path, flags, 0)`: open a device node `/dev/<name>` from kernel code (a handler's
 * `retrieve` making the file of its device again). The file (one reference) or -errno:
 * -ENOENT (no such node: only /dev/<name> is known), or the driver's `open` error.
 */
export function filpOpen(k: ModuleKernel, path: string, flags: number): File | number {
  return within(k, filpOpen, (s) => {
    const m = typeof path === 'string' ? /^\/dev\/([^/]+)$/.exec(path) : null;
    const dev = m === null ? undefined : s.kernel.fs.device(m[1]!);
    if (dev === undefined) return -ERRNO.ENOENT;
    return chrdevOpen(dev, flags, kernelTask(s));
  });
}

/** `fput(file)`: drop a reference to a file; the last one calls the driver's `release`. */
export function fput(k: ModuleKernel, file: File): void {
  within(k, fput, () => {
    vfsFput(file);
  });
}
