/**
 * kho's public API: simulated machines, and the kernel API a loadable module (a KHO consumer)
 * calls from inside a simulated kernel. The page docs/api.md lists every export; the tutorial
 * is docs/consumers.md.
 *
 * A module file default-exports `defineModule({ name, params, init, exit })`. `init` receives a
 * {@link ModuleKernel} handle, the first argument of every kernel function below. Functions
 * return as the kernel's do: 0 or a negative errno, an address, or null where the kernel
 * returns NULL.
 *
 * @module
 */
import { parseSize } from './hw/topology.ts';
import { KexecError } from './kexec/errors.ts';
import { kexecExecute } from './kexec/execute.ts';
import { kexecFileLoad } from './kexec/file-load.ts';
import { mkImage } from './kexec/image.ts';
import type { SanitizerFinding } from './kexec/sanitizer.ts';
import { KernelPanic } from './kernel/boot.ts';
import { Machine } from './kernel/machine.ts';
import { profileByName, PROFILE_NAMES, DEFAULT_PROFILE } from './kernel/profile.ts';
import { openModuleFile } from './kernel/loadable/load.ts';
import { configureWithModuleFiles, modStrerror } from './kernel/loadable/machine-modules.ts';
import { machineDisk } from './kernel/disk.ts';
import { insertModule } from './kernel/module.ts';
import { resolve as resolvePath } from 'node:path';
import { BufferSink, callbackSink } from './shell/io.ts';
import { createSession } from './shell/machine-setup.ts';
import { runScript as runShellScript } from './shell/script.ts';
import type { Session } from './shell/session.ts';
import { superviseCheck } from './check/supervise.ts';
import type { CheckReport } from './check/engine.ts';
import {
  defineModule as defineModuleOf,
  type ModuleDefinition as ModuleDefinitionOf,
  type ParamSpecs,
} from './kernel/loadable/define.ts';
import type { Process } from './user/process.ts';

export type { Machine } from './kernel/machine.ts';
export type { Session } from './shell/session.ts';
export type { CheckReport, GenerationResult, PageTotals } from './check/engine.ts';
export type { CheckFinding, CheckFindingKind } from './check/findings.ts';
export { ModuleKernel, StaleHandleError } from './kernel/loadable/handle.ts';
export type { ParamSpec, ParamSpecs, ParamType, ParamValue, ParamValues } from './kernel/loadable/define.ts';
export { ModuleLoadError } from './kernel/loadable/load.ts';
export {
  KHO_VMALLOC_DESC_SIZE,
  addSubtree,
  allocPreserve,
  isKhoBoot,
  khoIsEnabled,
  preserveFolio,
  preservePages,
  preserveVmalloc,
  removeSubtree,
  restoreFolio,
  restoreFree,
  restorePages,
  restoreVmalloc,
  retrieveSubtree,
  unpreserveFolio,
  unpreserveFree,
  unpreservePages,
  unpreserveVmalloc,
} from './kernel/loadable/kho-api.ts';
export type { SubtreeLocation } from './kernel/loadable/kho-api.ts';
export {
  GFP_KERNEL,
  __GFP_ZERO,
  allocPages,
  folioAlloc,
  folioPhys,
  folioPut,
  folioSize,
  freePages,
  physCopy,
  physRead,
  physReadU32,
  physReadU64,
  physWrite,
  physWriteU32,
  physWriteU64,
  vfree,
  vmRead,
  vmWrite,
  vmalloc,
  vmallocToPfn,
  vzalloc,
} from './kernel/loadable/mm-api.ts';
export type { Folio } from './kernel/loadable/mm-api.ts';
export { prDebug, prErr, prInfo, prWarn, printk, signalPending } from './kernel/loadable/printk-api.ts';
export type { LogLevel } from './kernel/loadable/printk-api.ts';
export {
  MISC_DYNAMIC_MINOR,
  MISC_MAJOR,
  filpOpen,
  fput,
  liveupdateEnabled,
  liveupdateFlbGetIncoming,
  liveupdateFlbGetOutgoing,
  liveupdateRegisterFileHandler,
  liveupdateRegisterFlb,
  liveupdateUnregisterFileHandler,
  liveupdateUnregisterFlb,
  miscDeregister,
  miscRegister,
} from './kernel/loadable/luo-api.ts';
export type { FlbObject, MiscDevice } from './kernel/loadable/luo-api.ts';
export type { LiveupdateFileHandler, LiveupdateFileOpArgs, LiveupdateFileOps } from './luo/luo-file.ts';
export type { LiveupdateFlb, LiveupdateFlbOpArgs, LiveupdateFlbOps } from './luo/luo-flb.ts';
export type { File, FileOperations } from './kernel/fs/file.ts';
export type { Process } from './user/process.ts';
export { O_RDONLY, O_RDWR, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET } from './abi/uapi-fcntl.ts';
export {
  LUO_DEVICE,
  luoCreateSession,
  luoGetSessionName,
  luoOpenDevice,
  luoRetrieveSession,
  luoSessionFinish,
  luoSessionPreserveFd,
  luoSessionRetrieveFd,
} from './user/libliveupdate.ts';
export { ERRNO, strerror } from './util/errno.ts';
export { PAGE_SIZE } from './hw/physical-memory.ts';
export { MAX_PAGE_ORDER } from './mm/buddy.ts';

/**
 * A loadable module: what a module file default-exports (`name`, `description`, `params`,
 * `init`, `exit`, and `userspace`, which gets a {@link Process} of the machine).
 */
export type ModuleDefinition<P extends ParamSpecs = ParamSpecs> = ModuleDefinitionOf<P, Process>;

/**
 * Give a module definition its types (parameter values in `init` are typed from `params`,
 * `userspace` gets a {@link Process}). Returns the definition unchanged.
 */
export function defineModule<const P extends ParamSpecs = Readonly<Record<string, never>>>(
  def: ModuleDefinition<P>,
): ModuleDefinition<P> {
  return defineModuleOf(def);
}

/** What a machine is built from. Sizes accept `K`/`M`/`G`/`T` suffixes. */
export interface MachineSpec {
  /** RAM (default `4G`). */
  mem?: number | string;
  /** NUMA nodes (default 1). */
  nodes?: number;
  /** Seed of every random stream (default 1). */
  seed?: number;
  /** Poison unpreserved memory at kexec and track reads of it (default true). */
  sanitize?: boolean;
  /** Kernel release profile, `kho-v1` … `kho-v4` (default `kho-v4`). */
  profile?: string;
  /** Kernel command line (default `console=ttyS0 kho=on`). */
  cmdline?: string;
  /** Module files built into the kernel (initialised at boot in every generation). */
  modules?: readonly string[];
  /**
   * Module files (paths) or shipped module names that user space loads after every boot: the
   * machine disk's `/etc/modules-load.d/api.conf`.
   */
  modulesLoad?: readonly string[];
}

interface BootDefaults {
  cmdline: string;
  profile: string;
}
const BOOT = new WeakMap<Machine, BootDefaults>();

/**
 * Build a machine (not yet powered on): RAM, nodes, seed, and its kernel build with the shipped
 * modules plus `spec.modules` built in. Throws an Error with a clear message on bad options or a
 * module file that cannot be loaded ({@link ModuleLoadError}).
 */
export function createMachine(spec: MachineSpec = {}): Machine {
  const profile = spec.profile ?? DEFAULT_PROFILE;
  if (profileByName(profile) === null)
    throw new Error(`unknown profile '${profile}' (known: ${PROFILE_NAMES.join(', ')})`);
  const mem = typeof spec.mem === 'number' ? spec.mem : parseSize(spec.mem ?? '4G');
  const files = (spec.modules ?? []).map((f) => openModuleFile(f));
  const machine = Machine.create({
    mem,
    nodes: spec.nodes ?? 1,
    seed: spec.seed ?? 1,
    sanitize: spec.sanitize ?? true,
  });
  configureWithModuleFiles(machine, files);
  if (spec.modulesLoad !== undefined && spec.modulesLoad.length > 0) {
    const text = spec.modulesLoad.map((m) => `${m.includes('/') ? resolvePath(m) : m}\n`).join('');
    machineDisk(machine).write('/etc/modules-load.d/api.conf', new TextEncoder().encode(text), Date.now());
  }
  BOOT.set(machine, { cmdline: spec.cmdline ?? 'console=ttyS0 kho=on', profile });
  return machine;
}

/** Facts about the running kernel. */
export interface KernelInfo {
  /** `uname -r`. */
  release: string;
  /** Kexec count (0 after a cold boot). */
  generation: number;
  cmdline: string;
}

function info(machine: Machine): KernelInfo {
  const k = machine.kernel;
  if (k === null) throw new Error('the machine has no running kernel');
  return { release: k.release, generation: k.generation, cmdline: k.cmdline.raw };
}

/**
 * Power the machine on (memory cleared) and boot its kernel; built-in modules run their init.
 * Throws an Error whose message is the kernel panic when the kernel cannot boot.
 */
export function boot(machine: Machine, opts: { cmdline?: string; profile?: string } = {}): KernelInfo {
  const d = BOOT.get(machine) ?? { cmdline: 'console=ttyS0 kho=on', profile: DEFAULT_PROFILE };
  const profile = profileByName(opts.profile ?? d.profile);
  if (profile === null) throw new Error(`unknown profile '${opts.profile ?? d.profile}'`);
  try {
    machine.coldBoot({ cmdline: opts.cmdline ?? d.cmdline, profile });
  } catch (e) {
    if (e instanceof KernelPanic) throw new Error(e.message, { cause: e });
    throw e;
  }
  return info(machine);
}

/** What one kexec did. */
export interface KexecResult extends KernelInfo {
  /** Sanitizer findings at the jump and in the successor so far. */
  findings: readonly SanitizerFinding[];
}

/**
 * (kho-v1: finalize first, as the usage document does) `kexec -l /boot/vmlinuz --reuse-cmdline -s`
 * then `kexec -e`: load the running release with
 * the file loader (which hands KHO data over) and jump. The successor's built-in modules run.
 * Throws an Error with kexec's message when loading fails.
 */
export function kexec(machine: Machine, opts: { cmdline?: string } = {}): KexecResult {
  const k = machine.kernel;
  if (k === null) throw new Error('the machine has no running kernel');
  try {
    // kho-v1 hands over only what finalize serialized before the load (kho_fill_kimage()).
    k.kho.finalize();
    kexecFileLoad(k, {
      image: mkImage({ profile: k.profile, size: 1024 * 1024 }),
      cmdline: opts.cmdline ?? k.cmdline.raw,
    });
    const r = kexecExecute(machine);
    return { ...info(machine), findings: r.report.findings };
  } catch (e) {
    if (e instanceof KexecError || e instanceof KernelPanic) throw new Error(e.message, { cause: e });
    throw e;
  }
}

/**
 * `insmod FILE param=value…` on the running kernel: 0 or -errno (init's, or -EEXIST, -ENOENT for
 * an unknown parameter, -EINVAL for a bad value). A file that cannot be loaded throws
 * {@link ModuleLoadError}.
 */
export function insmod(machine: Machine, file: string, params: readonly string[] = []): number {
  const k = machine.kernel;
  if (k === null) throw new Error('the machine has no running kernel');
  return insertModule(k, openModuleFile(file).module, params);
}

/** kmod's words for an insmod errno (`Invalid module format`, `Unknown symbol in module`, …). */
export { modStrerror };

/** The running kernel's log, as `dmesg` prints it. */
export function dmesg(machine: Machine): string {
  const k = machine.kernel;
  return k === null ? '' : k.dmesg.text();
}

function bootProfile(machine: Machine): {
  cmdline: string;
  profile: NonNullable<ReturnType<typeof profileByName>>;
} {
  const d = BOOT.get(machine) ?? { cmdline: 'console=ttyS0 kho=on', profile: DEFAULT_PROFILE };
  return { cmdline: d.cmdline, profile: profileByName(d.profile)! };
}

/**
 * A terminal session on a booted machine (what `kho shell` types into): `await
 * session.runText('cat /proc/cmdline')`. Output goes to the callbacks (default: discarded);
 * `home` is the one host directory the shell may use and starts in (default: the current
 * directory; null: none, as `kho shell --no-host`; docs/shell.md, "The host directory").
 */
export function openShell(
  machine: Machine,
  io: { stdout?: (text: string) => void; stderr?: (text: string) => void; home?: string | null } = {},
): Session {
  const dec = (f: ((t: string) => void) | undefined) =>
    callbackSink((b) => {
      f?.(new TextDecoder().decode(b));
    });
  return createSession(machine, bootProfile(machine), {
    stdout: dec(io.stdout),
    stderr: dec(io.stderr),
    home: io.home === undefined ? process.cwd() : io.home,
  });
}

/**
 * Run shell commands on a booted machine as `kho run` does (`set -e`: the first failing command
 * stops the script). Resolves with the exit status and everything printed. `home` is the host
 * directory, as for {@link openShell}.
 */
export async function runScript(
  machine: Machine,
  script: string,
  opts: { quiet?: boolean; home?: string | null } = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  const out = new BufferSink();
  const err = new BufferSink();
  const session = createSession(machine, bootProfile(machine), {
    stdout: out,
    stderr: err,
    home: opts.home === undefined ? process.cwd() : opts.home,
  });
  const r = await runShellScript(session, script, {
    quiet: opts.quiet ?? true,
    transcript: out,
    errors: err,
  });
  return { status: r.status, stdout: out.text(), stderr: err.text() };
}

/** Options of {@link checkModule}; sizes accept `K`/`M`/`G`/`T`. */
export interface CheckModuleOptions {
  /** Kexecs (default 10). */
  generations?: number;
  profile?: string;
  mem?: number | string;
  nodes?: number;
  seed?: number;
  cmdline?: string;
  /** Module parameters, `param=value`. */
  params?: readonly string[];
  /** Other module files built in alongside. */
  modules?: readonly string[];
  /** Seconds a generation may run before it counts as a soft lockup (default 30). */
  timeout?: number;
}

/**
 * `kho check FILE`: run a module file through kexecs with the sanitizer on, in a worker thread
 * under a watchdog, and report what it preserved and restored and every finding about its memory.
 */
export function checkModule(file: string, o: CheckModuleOptions = {}): Promise<CheckReport> {
  return superviseCheck({
    file,
    generations: o.generations ?? 10,
    profile: o.profile ?? DEFAULT_PROFILE,
    mem: typeof o.mem === 'number' ? o.mem : parseSize(o.mem ?? '16G'),
    nodes: o.nodes ?? 2,
    seed: o.seed ?? 1,
    cmdline: o.cmdline ?? 'kho=on',
    params: o.params ?? [],
    modules: o.modules ?? [],
    cwd: process.cwd(),
    timeout: o.timeout ?? 30,
  });
}
