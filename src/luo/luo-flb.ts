/**
 * File-Lifecycle-Bound objects (kernel/liveupdate/luo_flb.c): global state that several
 * preserved files depend on (an IOMMU domain for VFIO devices, say). An FLB is registered with
 * one or more file handlers; it is preserved when the first dependent file is preserved and
 * unpreserved when the last one goes; at reboot every FLB in use is written into the FLB page
 * `{name, data, count}`. In the new kernel a user gets it with `getIncoming` (the first get
 * retrieves it and takes the dependent-file count from the record); every finishing file of a
 * dependent handler decrements that count and the one that reaches zero finishes the FLB.
 *
 * Kernel quirks kept: the incoming count is 0 until the FLB is retrieved, so a file that
 * finishes before any get wraps the u64 count and `finish` never runs; the incoming page is
 * never freed and its `count` is not bounds-checked.
 */
import {
  LIVEUPDATE_FLB_COMPAT_LENGTH,
  LUO_FLB_HEADER_SIZE,
  LUO_FLB_MAX,
  LUO_FLB_SER_SIZE,
} from '../abi/luo.ts';
import { ERRNO } from '../util/errno.ts';
import type { LiveupdateFileHandler } from './luo-file.ts';
import type { Luo } from './luo-core.ts';

/** What an FLB operation gets (`struct liveupdate_flb_op_args`). */
export interface LiveupdateFlbOpArgs {
  readonly flb: LiveupdateFlb;
  /** The u64 handed over (set by `preserve`, read by `retrieve`). */
  data: bigint;
  /** The live object in this kernel (set by `preserve` and `retrieve`). */
  obj: unknown;
}

/** `struct liveupdate_flb_ops`: all four operations are required. */
export interface LiveupdateFlbOps {
  preserve(args: LiveupdateFlbOpArgs): number;
  unpreserve(args: LiveupdateFlbOpArgs): void;
  retrieve(args: LiveupdateFlbOpArgs): number;
  finish(args: LiveupdateFlbOpArgs): void;
  readonly owner?: string;
}

/** `struct liveupdate_flb`. */
export interface LiveupdateFlb {
  /** Its name in the FLB page (at most 47 characters). */
  readonly compatible: string;
  readonly ops: LiveupdateFlbOps;
}

/** One registered FLB and its two sides. */
export interface LuoFlb {
  readonly flb: LiveupdateFlb;
  outgoing: { count: number; data: bigint; obj: unknown };
  /** `count` is a u64 in the kernel: decrementing 0 wraps (kept as a bigint). */
  incoming: { count: bigint; data: bigint; obj: unknown; retrieved: boolean; finished: boolean };
}

/** The FLB registry and hand-over of one kernel. */
export class LuoFlbs {
  private readonly all: LuoFlb[] = [];
  private readonly byHandler = new Map<LiveupdateFileHandler, LuoFlb[]>();
  /** The outgoing FLB page (0 before late_initcall or when LUO is off). */
  pagePhys = 0;
  /** The incoming FLB page (0 without one). */
  incomingPhys = 0;
  private readonly luo: Luo;

  constructor(luo: Luo) {
    this.luo = luo;
  }

  /** The FLBs registered with `fh`, in registration order. */
  ofHandler(fh: LiveupdateFileHandler): readonly LuoFlb[] {
    return this.byHandler.get(fh) ?? [];
  }

  private find(flb: LiveupdateFlb): LuoFlb | undefined {
    return this.all.find((f) => f.flb === flb);
  }

  /**
   * `liveupdate_register_flb(fh, flb)`: -EOPNOTSUPP with LUO off; -EINVAL (with a warning)
   * for a missing operation or a handler that is not registered; -EEXIST when already linked
   * to `fh`; on its first registration -ENOSPC when 63 FLBs exist and -EEXIST when another FLB
   * has the name.
   */
  register(fh: LiveupdateFileHandler, flb: LiveupdateFlb): number {
    const luo = this.luo;
    if (!luo.enabled) return -ERRNO.EOPNOTSUPP;
    const o = flb.ops as Partial<LiveupdateFlbOps>;
    const dmesg = luo.kho.ctx.dmesg;
    if (
      typeof o.preserve !== 'function' ||
      typeof o.unpreserve !== 'function' ||
      typeof o.retrieve !== 'function' ||
      typeof o.finish !== 'function'
    ) {
      dmesg.warnOn('liveupdate_register_flb', 'an FLB operation is missing');
      return -ERRNO.EINVAL;
    }
    if (!luo.handlers.includes(fh)) {
      dmesg.warnOn('liveupdate_register_flb', `file handler '${fh.compatible}' is not registered`);
      return -ERRNO.EINVAL;
    }
    const list = this.byHandler.get(fh) ?? [];
    if (list.some((f) => f.flb === flb)) return -ERRNO.EEXIST;
    let entry = this.find(flb);
    if (entry === undefined) {
      if (this.all.length >= LUO_FLB_MAX) return -ERRNO.ENOSPC;
      if (this.all.some((f) => f.flb.compatible === flb.compatible)) return -ERRNO.EEXIST;
      entry = {
        flb,
        outgoing: { count: 0, data: 0n, obj: null },
        incoming: { count: 0n, data: 0n, obj: null, retrieved: false, finished: false },
      };
      this.all.push(entry);
    }
    list.push(entry);
    this.byHandler.set(fh, list);
    return 0;
  }

  /** `liveupdate_unregister_flb(fh, flb)`: 0, -EOPNOTSUPP, or -ENOENT (not linked to `fh`). */
  unregister(fh: LiveupdateFileHandler, flb: LiveupdateFlb): number {
    if (!this.luo.enabled) return -ERRNO.EOPNOTSUPP;
    const list = this.byHandler.get(fh) ?? [];
    const i = list.findIndex((f) => f.flb === flb);
    if (i < 0) return -ERRNO.ENOENT;
    const entry = list[i]!;
    list.splice(i, 1);
    if (![...this.byHandler.values()].some((l) => l.includes(entry)))
      this.all.splice(this.all.indexOf(entry), 1);
    return 0;
  }

  /** `luo_flb_file_preserve(fh)`: preserve each FLB of `fh` on its first dependent; rolls back on error. */
  filePreserve(fh: LiveupdateFileHandler): number {
    const done: LuoFlb[] = [];
    for (const f of this.ofHandler(fh)) {
      if (f.outgoing.count === 0) {
        const args: LiveupdateFlbOpArgs = { flb: f.flb, data: 0n, obj: null };
        const err = f.flb.ops.preserve(args);
        if (err !== 0) {
          for (const d of done.reverse()) this.unpreserveOne(d);
          return err;
        }
        f.outgoing.data = args.data;
        f.outgoing.obj = args.obj;
      }
      f.outgoing.count++;
      done.push(f);
    }
    return 0;
  }

  private unpreserveOne(f: LuoFlb): void {
    f.outgoing.count--;
    if (f.outgoing.count === 0) {
      (f.flb.ops.unpreserve as LiveupdateFlbOps['unpreserve'] | undefined)?.({
        flb: f.flb,
        data: f.outgoing.data,
        obj: f.outgoing.obj,
      });
      f.outgoing.data = 0n;
      f.outgoing.obj = null;
    }
  }

  /** `luo_flb_file_unpreserve(fh)`: one dependent fewer; the last one unpreserves. */
  fileUnpreserve(fh: LiveupdateFileHandler): void {
    for (const f of [...this.ofHandler(fh)].reverse()) this.unpreserveOne(f);
  }

  /** `luo_flb_file_finish(fh)`: each FLB of `fh` has one dependent file fewer. */
  fileFinish(fh: LiveupdateFileHandler): void {
    for (const f of [...this.ofHandler(fh)].reverse()) this.fileFinishOne(f);
  }

  /** `liveupdate_flb_get_outgoing(flb)`: the live object (null before the first dependent file). */
  getOutgoing(flb: LiveupdateFlb): { obj: unknown } | number {
    if (!this.luo.enabled) return -ERRNO.EOPNOTSUPP;
    return { obj: this.find(flb)?.outgoing.obj ?? null };
  }

  /** `luo_flb_retrieve_one`: 0, -ENODATA (finished, or no incoming page), -ENOENT, or `retrieve`'s error. */
  private retrieveOne(f: LuoFlb): number {
    const inc = f.incoming;
    if (inc.finished) return -ERRNO.ENODATA;
    if (inc.retrieved) return 0;
    if (this.incomingPhys === 0) return -ERRNO.ENODATA;
    const rec = this.incomingRecord(f.flb.compatible);
    if (rec === null) return -ERRNO.ENOENT;
    inc.data = rec.data;
    inc.count = rec.count;
    const args: LiveupdateFlbOpArgs = { flb: f.flb, data: rec.data, obj: null };
    const err = f.flb.ops.retrieve(args);
    if (err !== 0) return err;
    inc.obj = args.obj;
    inc.retrieved = true;
    return 0;
  }

  /**
   * `liveupdate_flb_get_incoming(flb)`: the object the previous kernel handed over, retrieved on
   * first use; -EOPNOTSUPP, -ENODATA, -ENOENT or `retrieve`'s error.
   */
  getIncoming(flb: LiveupdateFlb): { obj: unknown } | number {
    if (!this.luo.enabled) return -ERRNO.EOPNOTSUPP;
    const f = this.find(flb);
    if (f === undefined) return -ERRNO.ENOENT;
    if (f.incoming.obj === null) {
      const err = this.retrieveOne(f);
      if (err !== 0) return err;
    }
    return { obj: f.incoming.obj };
  }

  /** `luo_flb_file_finish_one`: the u64 count goes down; at zero the FLB is finished. */
  private fileFinishOne(f: LuoFlb): void {
    const inc = f.incoming;
    inc.count = (inc.count - 1n) & 0xffff_ffff_ffff_ffffn;
    if (inc.count !== 0n) return;
    if (!inc.retrieved) {
      const err = this.retrieveOne(f);
      if (err !== 0) {
        this.luo.kho.ctx.dmesg.warnOn('luo_flb_file_finish_one', `retrieve failed: ${err}`);
        return;
      }
    }
    f.flb.ops.finish({ flb: f.flb, data: inc.data, obj: inc.obj });
    inc.data = 0n;
    inc.obj = null;
    inc.finished = true;
  }

  /** The incoming page's record for `name` (count read as stored, not bounds-checked). */
  private incomingRecord(name: string): { data: bigint; count: bigint } | null {
    if (this.incomingPhys === 0) return null;
    const mem = this.luo.kho.ctx.mem;
    const count = mem.readU64(this.incomingPhys + 8);
    const want = Buffer.from(name, 'utf8');
    for (let i = 0; i < count; i++) {
      const at = this.incomingPhys + LUO_FLB_HEADER_SIZE + i * LUO_FLB_SER_SIZE;
      const raw = mem.read(at, LIVEUPDATE_FLB_COMPAT_LENGTH);
      const nul = raw.indexOf(0);
      if (Buffer.compare(Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)), want) === 0)
        return { data: mem.readU64Big(at + 48), count: mem.readU64Big(at + 56) };
    }
    return null;
  }

  /** `luo_flb_setup_outgoing`: the FLB page (`pgcnt` 1); its address or -errno. */
  setupOutgoing(): number {
    const phys = this.luo.kho.allocPreserve(4096);
    if (phys < 0) return phys;
    this.luo.kho.ctx.mem.writeU64(phys, 1);
    this.pagePhys = phys;
    return phys;
  }

  /** `luo_flb_serialize`: every FLB in use into the page, in registration order. */
  serialize(): void {
    if (this.pagePhys === 0) return;
    const mem = this.luo.kho.ctx.mem;
    let n = 0;
    for (const f of this.all) {
      if (f.outgoing.count === 0) continue;
      const at = this.pagePhys + LUO_FLB_HEADER_SIZE + n * LUO_FLB_SER_SIZE;
      const name = new Uint8Array(LIVEUPDATE_FLB_COMPAT_LENGTH);
      name.set(Buffer.from(f.flb.compatible, 'utf8').subarray(0, LIVEUPDATE_FLB_COMPAT_LENGTH - 1));
      mem.write(at, name);
      mem.writeU64Halves(at + 48, Number(f.outgoing.data & 0xffffffffn), Number(f.outgoing.data >> 32n));
      mem.writeU64(at + 56, f.outgoing.count);
      n++;
    }
    mem.writeU64(this.pagePhys + 8, n);
  }
}
