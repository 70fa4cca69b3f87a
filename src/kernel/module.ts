/**
 * Kernel modules (kernel/module/, modprobe/rmmod from kmod): a catalog of module definitions
 * (what `/lib/modules/<release>` holds), the modules built into a machine's kernel build
 * (initialised at boot in initcall order, with `name.param=value` from the command line), and
 * per running kernel the set of loaded modules.
 *
 * Modules are code, not data: after a kexec the successor (same build) runs `init` of its
 * built-in modules again, and user space runs `modprobe` again (systemd-modules-load reading
 * `/etc/modules-load.d`, which lives on disk and so survives the reboot). A module finds what
 * its predecessor left through `kho_retrieve_subtree` and the KHO restore calls: nothing but
 * memory crosses. The loaded set is keyed by the `Kernel` object, which does not survive a jump.
 */
import { ERRNO, ErrnoError, strerror as errnoText } from '../util/errno.ts';
import { HostMemoryError } from '../util/host-memory.ts';
import type { Kernel } from './kernel.ts';
import { KernelPanic } from './panic.ts';
import type { Machine } from './machine.ts';
import { confLines, machineDisk } from './disk.ts';

/** A module parameter (`module_param`). */
export interface ModuleParam {
  readonly name: string;
  /** `MODULE_PARM_DESC`. */
  readonly description: string;
  /** Value when not given. */
  readonly default: string;
}

/** initcall levels that matter here (include/linux/init.h). */
export const INITCALL = { fs: 5, device: 6, late: 7 } as const;

/** A module definition (the shell's `KernelModule` interface is a structural subset). */
export interface KernelModule {
  readonly name: string;
  /** `MODULE_DESCRIPTION`. */
  readonly description: string;
  /** Parameter names (`name=value` on the modprobe line). */
  readonly params: readonly string[];
  readonly paramSpecs: readonly ModuleParam[];
  /** initcall level when built in (`module_init` is device_initcall). */
  readonly initcall: number;
  /** `module_init`: 0 or -errno. `params` holds every parameter (defaults filled in). */
  init(kernel: Kernel, params: ReadonlyMap<string, string>): number;
  /** `module_exit`; absent for modules that cannot be removed. */
  exit?: (kernel: Kernel) => void;
}

/** A module operation that failed; `message` is what modprobe/rmmod print. */
export class ModuleError extends Error {
  /** Errno name or the tool's reason. */
  readonly code: string;
  /** Exit code of the tool (modprobe/rmmod exit 1). */
  readonly exitCode = 1;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'ModuleError';
    this.code = code;
  }
}

/** The modules installed under /lib/modules/<release>. */
export class ModuleCatalog {
  private readonly byName: Map<string, KernelModule>;

  constructor(mods: readonly KernelModule[]) {
    this.byName = new Map(mods.map((m) => [canonical(m.name), m]));
  }

  /** The module called `name` (dashes and underscores are the same, as kmod treats them). */
  find(name: string): KernelModule | undefined {
    return this.byName.get(canonical(name));
  }

  /** Module names, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}

/** kmod's name normalisation: `-` and `_` are interchangeable. */
export function canonical(name: string): string {
  return name.replace(/-/g, '_');
}

/** One loaded module of a kernel. */
export interface LoadedModule {
  readonly module: KernelModule;
  readonly builtin: boolean;
  /** Effective parameters. */
  readonly params: ReadonlyMap<string, string>;
  /** What init returned (built-ins stay listed even when their initcall failed). */
  readonly initResult: number;
}

const LOADED = new WeakMap<Kernel, Map<string, LoadedModule>>();

/** The modules loaded in `kernel`, in load order (a new kernel starts with none). */
export function loadedModules(kernel: Kernel): ReadonlyMap<string, LoadedModule> {
  return loadedOf(kernel);
}

function loadedOf(kernel: Kernel): Map<string, LoadedModule> {
  let m = LOADED.get(kernel);
  if (m === undefined) {
    m = new Map();
    LOADED.set(kernel, m);
  }
  return m;
}

/** True when `name` is loaded (or built in) in `kernel`. */
export function isLoaded(kernel: Kernel, name: string): boolean {
  return loadedOf(kernel).has(canonical(name));
}

/** `strerror` for a (positive or negative) errno. */
export function strerror(errno: number): string {
  return errnoText(errno);
}

/**
 * Parse `name=value` arguments against the module's parameters (defaults filled in). An
 * unknown parameter is ignored: `modprobe` loads the module and the kernel logs
 * `<mod>: unknown parameter '<p>' ignored` (kernel/module/main.c: unknown_module_param_cb());
 * a built-in's unused `mod.param=` on the command line is skipped silently (init/main.c:
 * unknown_bootoption()).
 */
function parseParams(
  kernel: Kernel,
  mod: KernelModule,
  args: readonly string[],
  opts: { builtin: boolean },
): Map<string, string> {
  const out = new Map(mod.paramSpecs.map((p) => [p.name, p.default]));
  for (const a of args) {
    const eq = a.indexOf('=');
    const key = eq < 0 ? a : a.slice(0, eq);
    const value = eq < 0 ? '' : a.slice(eq + 1);
    if (!out.has(key)) {
      if (!opts.builtin) kernel.dmesg.warn(`${canonical(mod.name)}: unknown parameter '${key}' ignored`);
      continue;
    }
    out.set(key, value);
  }
  return out;
}

/** `modname.param=value` arguments for `mod` from the kernel command line. */
export function cmdlineParams(kernel: Kernel, mod: KernelModule): string[] {
  const prefix = `${canonical(mod.name)}.`;
  const out: string[] = [];
  for (const p of kernel.cmdline.params) {
    const n = canonical(p.name);
    if (!n.startsWith(prefix)) continue;
    out.push(p.value === null ? n.slice(prefix.length) : `${n.slice(prefix.length)}=${p.value}`);
  }
  return out;
}

/**
 * `modprobe NAME [param=value ...]` on `kernel`. Loading a module that is already loaded (or
 * built in) succeeds silently, as modprobe does. Throws ModuleError with modprobe's message:
 * `modprobe: FATAL: Module foo not found in directory /lib/modules/<release>` or
 * `modprobe: ERROR: could not insert 'foo': <strerror>` when init fails (nothing stays loaded).
 */
export function modprobe(
  kernel: Kernel,
  catalog: ModuleCatalog,
  name: string,
  args: readonly string[] = [],
): void {
  const mod = catalog.find(name);
  if (mod === undefined) {
    throw new ModuleError(
      'ENOENT',
      `modprobe: FATAL: Module ${name} not found in directory /lib/modules/${kernel.release}`,
    );
  }
  const loaded = loadedOf(kernel);
  if (loaded.has(canonical(mod.name))) return;
  const params = parseParams(kernel, mod, [...modprobeOptions(kernel.machine, mod.name), ...args], {
    builtin: false,
  });
  const rc = runInit(kernel, mod, params);
  if (rc !== 0) {
    throw new ModuleError(
      errnoCode(rc),
      `modprobe: ERROR: could not insert '${canonical(mod.name)}': ${strerror(rc)}`,
    );
  }
  loaded.set(canonical(mod.name), { module: mod, builtin: false, params, initResult: 0 });
}

/**
 * `init_module()` for a module that is not in the catalog (`insmod FILE`): 0, or -EEXIST when a
 * module of that name is loaded, or what init returned (an unknown parameter is ignored with
 * kernel/module/main.c: unknown_module_param_cb()'s line). On success the module is loaded (rmmod removes it).
 */
export function insertModule(kernel: Kernel, mod: KernelModule, args: readonly string[] = []): number {
  const loaded = loadedOf(kernel);
  if (loaded.has(canonical(mod.name))) return -ERRNO.EEXIST;
  const params = parseParams(kernel, mod, args, { builtin: false });
  const rc = runInit(kernel, mod, params);
  if (rc === 0) loaded.set(canonical(mod.name), { module: mod, builtin: false, params, initResult: 0 });
  return rc;
}

/**
 * `rmmod NAME`: runs the module's exit. Throws ModuleError with rmmod's message:
 * `rmmod: ERROR: Module foo is not currently loaded`, `rmmod: ERROR: Module foo is builtin.`,
 * or `rmmod: ERROR: could not remove 'foo': Device or resource busy` for a module without exit.
 */
export function rmmod(kernel: Kernel, name: string): void {
  const loaded = loadedOf(kernel);
  const key = canonical(name);
  const l = loaded.get(key);
  if (l === undefined)
    throw new ModuleError('ENOENT', `rmmod: ERROR: Module ${name} is not currently loaded`);
  if (l.builtin) throw new ModuleError('EPERM', `rmmod: ERROR: Module ${name} is builtin.`);
  if (l.module.exit === undefined) {
    throw new ModuleError('EBUSY', `rmmod: ERROR: could not remove '${key}': ${strerror(ERRNO.EBUSY)}`);
  }
  l.module.exit(kernel);
  loaded.delete(key);
}

function errnoCode(rc: number): string {
  const e = Object.entries(ERRNO).find(([, n]) => n === Math.abs(rc));
  return e === undefined ? `E${Math.abs(rc)}` : e[0];
}

/**
 * Run init. A kernel panic goes on unwinding; a workload the host cannot simulate
 * (HostMemoryError) is refused (modprobe fails with that line); any other failure the module did
 * not handle becomes init's result (-errno of a failed kernel call, else -EINVAL) with the
 * errno's text, never a JavaScript message.
 */
function runInit(kernel: Kernel, mod: KernelModule, params: ReadonlyMap<string, string>): number {
  try {
    return mod.init(kernel, params);
  } catch (e) {
    if (e instanceof KernelPanic) throw e;
    if (e instanceof HostMemoryError) {
      throw new ModuleError(
        'ENOMEM',
        `modprobe: ERROR: could not insert '${canonical(mod.name)}': ${e.message}`,
      );
    }
    const code = e instanceof ErrnoError ? e.code : 'EINVAL';
    kernel.dmesg.err(`${mod.name}: init failed: ${errnoText(code)}`);
    return -ERRNO[code];
  }
}

// ---------------------------------------------------------------- the machine's build and rootfs

/** What a machine's kernels are built with (what its disk says to load is on the disk). */
interface MachineModules {
  catalog: ModuleCatalog;
  /** CONFIG_...=y modules (part of the kernel image, so every successor of the build has them). */
  builtin: string[];
  /** Opens a module file named by path in `/etc/modules-load.d` (absent: paths are refused). */
  openFile: ((path: string) => KernelModule | ModuleError) | null;
}

/** The conf files `configureModules` writes for its `modulesLoad` list. */
const KHO_CONF = 'kho.conf';

/** `options NAME param=value…` lines of `/etc/modprobe.d/*.conf` for `name`, in file order. */
export function modprobeOptions(machine: Machine, name: string): string[] {
  const key = canonical(name);
  const out: string[] = [];
  for (const f of machineDisk(machine).confFiles('/etc/modprobe.d')) {
    for (const line of confLines(f.text)) {
      const [cmd, mod, ...rest] = line.split(/\s+/);
      if (cmd === 'options' && mod !== undefined && canonical(mod) === key) out.push(...rest);
    }
  }
  return out;
}

const MACHINES = new WeakMap<Machine, MachineModules>();

/**
 * Configure the modules of `machine`: the catalog, the built-in set (same for every kernel of
 * this build, like `machine.buildOptions`) and the boot-time modprobe list, written to the
 * machine's disk as `/etc/modules-load.d/kho.conf` with the arguments as `options` lines in
 * `/etc/modprobe.d/kho.conf`. `openFile` lets `/etc/modules-load.d` name module files by path.
 */
export function configureModules(
  machine: Machine,
  cfg: {
    catalog: ModuleCatalog;
    builtin?: readonly string[];
    modulesLoad?: readonly { name: string; args?: readonly string[] }[];
    openFile?: (path: string) => KernelModule | ModuleError;
  },
): void {
  for (const n of cfg.builtin ?? []) {
    if (cfg.catalog.find(n) === undefined)
      throw new ModuleError('ENOENT', `built-in module ${n} is not in the catalog`);
  }
  MACHINES.set(machine, {
    catalog: cfg.catalog,
    builtin: [...(cfg.builtin ?? [])],
    openFile: cfg.openFile ?? null,
  });
  writeModulesLoad(
    machine,
    (cfg.modulesLoad ?? []).map((m) => ({ name: m.name, args: [...(m.args ?? [])] })),
  );
}

/** Write the `kho.conf` pair for a modules-load list (an empty list removes them). */
function writeModulesLoad(
  machine: Machine,
  list: readonly { name: string; args: readonly string[] }[],
): void {
  const disk = machineDisk(machine);
  const load = `/etc/modules-load.d/${KHO_CONF}`;
  const opts = `/etc/modprobe.d/${KHO_CONF}`;
  if (list.length === 0) {
    disk.remove(load);
    disk.remove(opts);
    return;
  }
  const enc = new TextEncoder();
  disk.write(load, enc.encode(list.map((m) => `${m.name}\n`).join('')), MACHINE_DISK_EPOCH);
  const options = list.filter((m) => m.args.length > 0).map((m) => `options ${m.name} ${m.args.join(' ')}\n`);
  if (options.length > 0) disk.write(opts, enc.encode(options.join('')), MACHINE_DISK_EPOCH);
  else disk.remove(opts);
}

/** When the configuration files were written (the synthetic images' build date). */
const MACHINE_DISK_EPOCH = Date.UTC(2026, 0, 1);

function modulesLoadList(machine: Machine): { name: string; args: string[] }[] {
  const out: { name: string; args: string[] }[] = [];
  for (const line of confLines(machineDisk(machine).readText(`/etc/modules-load.d/${KHO_CONF}`) ?? '')) {
    out.push({ name: line, args: [] });
  }
  const opts = confLines(machineDisk(machine).readText(`/etc/modprobe.d/${KHO_CONF}`) ?? '');
  for (const o of opts) {
    const [, name, ...rest] = o.split(/\s+/);
    const m = out.find((x) => canonical(x.name) === canonical(name ?? ''));
    if (m !== undefined) m.args.push(...rest);
  }
  return out;
}

/** The catalog configured for `machine` (null when none was). */
export function machineCatalog(machine: Machine): ModuleCatalog | null {
  return MACHINES.get(machine)?.catalog ?? null;
}

/** Add (or replace) an entry of `machine`'s `/etc/modules-load.d/kho.conf` (arguments as `options`). */
export function addModulesLoad(machine: Machine, name: string, args: readonly string[] = []): void {
  if (!MACHINES.has(machine)) throw new ModuleError('ENOENT', 'no modules configured on this machine');
  const key = canonical(name);
  const list = modulesLoadList(machine).filter((m) => canonical(m.name) !== key);
  list.push({ name, args: [...args] });
  writeModulesLoad(machine, list);
}

/** What boot or modules-load did for one module. */
export interface ModuleStart {
  name: string;
  builtin: boolean;
  /** 0 or -errno. */
  result: number;
  /** modprobe's message on failure. */
  message?: string;
}

const STARTS = new WeakMap<Kernel, ModuleStart[]>();
const USERSPACE_DONE = new WeakSet<Kernel>();

function startsOf(kernel: Kernel): ModuleStart[] {
  let s = STARTS.get(kernel);
  if (s === undefined) {
    s = [];
    STARTS.set(kernel, s);
  }
  return s;
}

/**
 * The built-in modules' initcalls up to `level` (see {@link INITCALL}), in initcall order, with
 * parameters from `name.param=` on the command line. Boot calls this at each initcall level, so
 * `test_kho` (device_initcall) runs before memblock's late_initcall hand-over, as in the kernel.
 * A failing initcall is logged and the kernel goes on. Already-initialised modules are skipped.
 */
export function runModuleInitcalls(kernel: Kernel, level: number): void {
  const cfg = MACHINES.get(kernel.machine);
  if (cfg === undefined) return;
  const loaded = loadedOf(kernel);
  const builtins = cfg.builtin
    .map((n, i) => ({ mod: cfg.catalog.find(n)!, i }))
    .filter(({ mod }) => mod.initcall <= level)
    .sort((a, b) => a.mod.initcall - b.mod.initcall || a.i - b.i);
  for (const { mod } of builtins) {
    const key = canonical(mod.name);
    if (loaded.has(key)) continue;
    const params = parseParams(kernel, mod, cmdlineParams(kernel, mod), { builtin: true });
    let rc: number;
    try {
      rc = runInit(kernel, mod, params);
    } catch (e) {
      if (!(e instanceof ModuleError)) throw e;
      // The host cannot simulate this initcall's work: the model's line, then -ENOMEM.
      kernel.dmesg.err(e.message.replace(/^modprobe: ERROR: could not insert '[^']*': /, `${key}: `));
      rc = -ERRNO.ENOMEM;
    }
    if (rc !== 0) kernel.dmesg.warn(`initcall ${key}_init returned ${rc}`);
    loaded.set(key, { module: mod, builtin: true, params, initResult: rc });
    startsOf(kernel).push({ name: key, builtin: true, result: rc });
  }
}

/**
 * User space after boot: systemd-modules-load reads `/etc/modules-load.d/*.conf` (on the
 * machine's disk, so it survives the kexec) in file-name order and runs `modprobe` for each
 * name, with the `options` of `/etc/modprobe.d`. A line that is a path (it has a `/`) names a
 * module file, loaded as `insmod` would (a model extension: systemd takes names only). The
 * machine calls this once per booted kernel.
 */
export function runModulesLoad(kernel: Kernel): void {
  const cfg = MACHINES.get(kernel.machine);
  if (cfg === undefined || USERSPACE_DONE.has(kernel)) return;
  USERSPACE_DONE.add(kernel);
  for (const f of machineDisk(kernel.machine).confFiles('/etc/modules-load.d')) {
    for (const line of confLines(f.text)) modulesLoadOne(kernel, cfg, line);
  }
}

function modulesLoadOne(kernel: Kernel, cfg: MachineModules, entry: string): void {
  let name = entry;
  try {
    if (entry.includes('/')) {
      const mod =
        cfg.openFile?.(entry) ?? new ModuleError('EINVAL', `${entry}: module files are not supported here`);
      if (mod instanceof ModuleError) throw mod;
      name = mod.name;
      const rc = insertModule(kernel, mod, modprobeOptions(kernel.machine, mod.name));
      if (rc !== 0 && rc !== -ERRNO.EEXIST) throw new ModuleError(errnoCode(rc), strerror(rc));
    } else {
      modprobe(kernel, cfg.catalog, entry);
    }
    startsOf(kernel).push({ name: canonical(name), builtin: false, result: 0 });
  } catch (e) {
    if (!(e instanceof ModuleError)) throw e;
    kernel.dmesg.err(`systemd-modules-load: Failed to insert module '${entry}': ${e.message}`);
    startsOf(kernel).push({
      name: canonical(name),
      builtin: false,
      result: -((ERRNO as Record<string, number | undefined>)[e.code] ?? ERRNO.EINVAL),
      message: e.message,
    });
  }
}

/** What boot and user space's module loading did on `kernel` (empty without configured modules). */
export function moduleStarts(kernel: Kernel): readonly ModuleStart[] {
  return STARTS.get(kernel) ?? [];
}

/** `lsmod`-like listing of `kernel`'s modules. */
export function lsmod(kernel: Kernel): { name: string; builtin: boolean; params: Record<string, string> }[] {
  return [...loadedOf(kernel).entries()].map(([name, l]) => ({
    name,
    builtin: l.builtin,
    params: Object.fromEntries(l.params),
  }));
}
