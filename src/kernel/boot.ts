/**
 * A kernel's boot (init/main.c: start_kernel(); docs/kho.md): command line, memblock from the machine's RAM,
 * `kho_populate` at arch setup when hand-over data came with the jump, `reserve_mem=` regions, the early
 * allocations (mm-init), `kho_memory_init` just before `memblock_free_all`, then the
 * initcalls KHO cares about: `kho_init` (fs_initcall), built-in modules (device_initcall) and
 * the memblock hand-over (late_initcall). The same path serves cold boots and KHO boots; rejected hand-over data
 * falls back to the cold path.
 */
import { khoMemoryInit } from '../kho/memory-init.ts';
import { Kho } from '../kho/kho.ts';
import { khoPopulate, type KhoHandover } from '../kho/populate.ts';
import { reserveMemKhoOut, reserveMemSetupAll } from '../kho/reserve-mem.ts';
import type { ReserveMemRecord } from '../abi/memblock-reserve-mem.ts';
import { Memblock } from '../mm/memblock.ts';
import { MmError } from '../mm/mm-error.ts';
import { KERNEL_IMAGE_BASE, KERNEL_IMAGE_SIZE, mmInit } from '../mm/mm-init.ts';
import { Vmalloc } from '../mm/vmalloc.ts';
import { parseKernelCmdline } from './cmdline.ts';
import { Dmesg } from './dmesg.ts';
import { Kernel } from './kernel.ts';
import { INITCALL, runModuleInitcalls } from './module.ts';
import type { Machine } from './machine.ts';
import { Luo } from '../luo/luo-core.ts';
import { memfdLuoInit } from '../luo/memfd-luo.ts';
import { registerMemDevices } from './fs/chrdev.ts';
import { KernelFs } from './fs/kernel-fs.ts';
import { createProcfs } from './procfs.ts';
import type { ReleaseProfile } from './profile.ts';
import { PseudoDir } from './pseudo-fs.ts';
import { panic } from './panic.ts';
import { swiotlbPrintInfo } from '../mm/swiotlb.ts';
import { FailPageAlloc } from '../mm/fail-page-alloc.ts';
import { Failslab } from '../mm/failslab.ts';
import { applyFaultAttrSetup, CurrentTask, type FaultAttrDeps } from '../mm/fault-inject.ts';
import type { KernelCmdline } from './cmdline.ts';
import { failPageAllocDebugfsInit, failslabDebugfsInit } from './fault-inject-debugfs.ts';

export { KernelPanic } from './panic.ts';

/** What a boot starts from. */
export interface BootSpec {
  cmdline: string;
  profile: ReleaseProfile;
  /** Hand-over record from the jump (x86 `SETUP_KEXEC_KHO`), null on a cold boot. */
  handover: KhoHandover | null;
  /** Where the image was loaded (default: the cold-boot placement). */
  kernelImage?: { base: number; size: number } | undefined;
  /** initrd to keep reserved. */
  initrd?: { base: number; size: number } | null | undefined;
  /** Lines to log first (e.g. boot_params problems, an unknown image release). */
  notes?: readonly string[];
}

/**
 * The kernel's two fault attributes, armed by `failslab=` / `fail_page_alloc=` as their __setup
 * handlers do; each draws from its own stream of the machine's seed, so a run replays. Both see
 * the kernel's `current` (per-task `fail-nth`, `make-it-fail`).
 */
function faultInjectFor(
  machine: Machine,
  profile: ReleaseProfile,
  dmesg: Dmesg,
  cmdline: KernelCmdline,
): { failslab: Failslab; failPageAlloc: FailPageAlloc; current: CurrentTask } {
  const current = new CurrentTask();
  const deps = (name: string): FaultAttrDeps => ({
    rand: machine.rng(`fault-inject/${name}`),
    log: (level, text) => {
      dmesg.log(level, text);
    },
    current,
  });
  const failslab = new Failslab(deps('failslab'));
  failslab.ignoreGfpReclaim = profile.options.failslabIgnoreGfpWait;
  const failPageAlloc = new FailPageAlloc(deps('fail_page_alloc'));
  const p = cmdline.faultInject;
  if (p.failslab !== null) applyFaultAttrSetup(failslab.attr, p.failslab);
  if (p.failPageAlloc !== null) applyFaultAttrSetup(failPageAlloc.attr, p.failPageAlloc);
  return { failslab, failPageAlloc, current };
}

/** Boot a kernel on `machine` (memory as it is now). */
export function bootKernel(machine: Machine, spec: BootSpec): Kernel {
  const { profile } = spec;
  const mem = machine.mem;
  const topology = machine.topology;
  const dmesg = new Dmesg();
  dmesg.onPanic = (p) => {
    machine.handlePanic(p);
  };
  dmesg.info(
    `Linux version ${profile.release} (kho@sim) (gcc (GCC) 14.2.0, GNU ld 2.43) #1 SMP PREEMPT_DYNAMIC`,
  );
  dmesg.info(`Command line: ${spec.cmdline}`);
  for (const n of spec.notes ?? []) dmesg.warn(n);
  const cmdline = parseKernelCmdline(spec.cmdline, {
    khoEnableDefault: profile.options.khoEnableDefault,
    liveupdate: profile.options.liveupdate,
  });
  dmesg.tick(1000);
  const { failslab, failPageAlloc, current } = faultInjectFor(machine, profile, dmesg, cmdline);

  const memblock = new Memblock({
    mem,
    log: (l) => {
      dmesg.info(l);
    },
  });
  const debugfs = new PseudoDir();
  const kho = new Kho({
    mem,
    topology,
    dmesg,
    profile,
    memblock,
    debugfs,
    enabled: cmdline.kho,
    liveupdate: cmdline.liveupdate,
    work: machine.work,
    failslab,
  });
  const image = spec.kernelImage ?? { base: KERNEL_IMAGE_BASE, size: KERNEL_IMAGE_SIZE };
  let reserveMem: ReserveMemRecord[] = [];
  const nids = topology.nodes.filter((n) => n.bytes > 0).map((n) => n.nid);

  let ctx: ReturnType<typeof mmInit>;
  try {
    ctx = mmInitFor();
  } catch (e) {
    // Early allocations panic through `panic` below; any other mm failure is one too.
    if (!(e instanceof MmError)) throw e;
    panic(dmesg, e.message);
  }
  function mmInitFor(): ReturnType<typeof mmInit> {
    return mmInit({
      layout: topology,
      mem,
      memblock,
      kernelImage: image,
      log: (l, level) => {
        dmesg.log(level ?? 'info', l);
      },
      panic: (reason) => panic(dmesg, reason),
      failPageAlloc,
      onParseArgs: () => {
        dmesg.panicTimeout = cmdline.panicTimeout;
      },
      onMemblockReady: () => {
        // setup_arch → parse_setup_data → kho_populate, early params, then reserve_mem.
        if (spec.handover !== null) khoPopulate(kho.ctx, spec.handover);
        if (spec.initrd !== null && spec.initrd !== undefined && spec.initrd.size > 0) {
          memblock.reserve(spec.initrd.base, spec.initrd.size);
        }
        for (const l of cmdline.dmesg) dmesg.log(l.level, l.text);
        reserveMem = reserveMemSetupAll(kho.ctx, cmdline.reserveMem);
      },
      beforeFreeAll: (c) => {
        kho.ctx.buddy = c.buddy;
        khoMemoryInit(kho.ctx, c.buddy!, cmdline.scratch, nids);
      },
    });
  }
  dmesg.tick(20000);
  const buddy = ctx.buddy!;
  const vmalloc = new Vmalloc(buddy, mem, {
    log: (l) => {
      dmesg.warn(l);
    },
    fatalSignalPending: () => machine.signalPending(),
  });
  kho.ctx.vmalloc = vmalloc;
  dmesg.info(`Memory: ${buddy.meminfo().MemFree}K/${Math.floor(topology.totalRam / 1024)}K available`);
  const fs = new KernelFs(mem, buddy);

  // early_initcall(liveupdate_early_init): a bad incoming LUO hand-over panics.
  const luo = new Luo({ kho, fs, dmesg, profile, enabled: cmdline.liveupdate });
  const luoPanic = luo.earlyInit();
  if (luoPanic !== null) panic(dmesg, luoPanic);

  // fs_initcall(kho_init), then rootfs_initcall(pci_iommu_init) reports the swiotlb.
  dmesg.tick(50000);
  kho.init(profile.release);
  if (ctx.swiotlb !== undefined) {
    swiotlbPrintInfo(ctx.swiotlb, (l, level) => {
      dmesg.log(level, l);
    });
  }
  const generation =
    kho.ctx.incoming === null ? 0 : kho.isEnabled() ? kho.incomingKexecCount : kho.readIncomingCount();

  const procfs = createProcfs(cmdline, topology, buddy, image, profile);
  registerMemDevices(fs);
  const kernel = new Kernel({
    machine,
    profile,
    cmdline,
    dmesg,
    memblock,
    buddy,
    vmalloc,
    kho,
    debugfs,
    procfs,
    fs,
    luo,
    generation,
    kernelImage: image,
    early: ctx.early,
    reserveMem,
    current,
  });

  // device_initcall: built-in modules such as test_kho.
  dmesg.tick(50000);
  runModuleInitcalls(kernel, INITCALL.device);

  // late_initcall, in link order: LUO's outgoing state and /dev/liveupdate (kernel/), memblock's
  // reserve_mem hand-over and the memfd LUO handler (mm/), then late built-in modules.
  dmesg.tick(100000);
  luo.lateInit();
  reserveMemKhoOut(kho.ctx, reserveMem);
  memfdLuoInit(luo);
  failslabDebugfsInit(debugfs, failslab);
  failPageAllocDebugfsInit(debugfs, failPageAlloc);
  runModuleInitcalls(kernel, INITCALL.late);

  dmesg.tick(200000);
  dmesg.info('Run /init as init process');
  return kernel;
}
