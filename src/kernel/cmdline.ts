/**
 * The kernel command line as a booting kernel reads it (init/main.c: parse_early_param()): the early pass
 * (`parse_early_param` → `do_early_param`) runs the KHO handlers, the normal pass
 * (`parse_args("Booting kernel")` → `unknown_bootoption`) runs `__setup` handlers such as
 * `reserve_mem=` and hands unknown parameters to init, and what follows `--` becomes init's
 * arguments. Parsing never throws: bad values leave the setting unchanged and log what the
 * kernel logs.
 */
import { parseFaultAttrSetup, type FaultAttrSetup } from '../mm/fault-inject.ts';
import { parameq, splitCmdline, splitInitArgs } from './cmdline-args.ts';
import type { CmdlineParam } from './cmdline-args.ts';
import { defaultKhoParamState, khoParseEnable, khoParseScratchSize } from './params-kho.ts';
import type { ParamLog, ParamResult } from './params-kho.ts';
import { kstrtobool, kstrtoint } from './params-kstrtox.ts';
import { reserveMemSetup } from './params-reserve-mem.ts';
import type { ReserveMemParam } from './params-reserve-mem.ts';

export type { CmdlineParam } from './cmdline-args.ts';
export type { ReserveMemParam } from './params-reserve-mem.ts';

/** x86 `COMMAND_LINE_SIZE`: the boot command line keeps at most 2047 characters. */
export const COMMAND_LINE_SIZE = 2048;

/** The scratch sizing request (`kho_scratch=`): a percentage, or explicit sizes when the scale is 0. */
export type ScratchSetting =
  { kind: 'scale'; scale: number } | { kind: 'sizes'; lowmem: number; global: number; pernode: number };

/** One log line produced while parsing; `level` names a printk level. */
export interface CmdlineLogLine {
  level: 'err' | 'warn' | 'notice' | 'info';
  text: string;
}

/** Build-time facts of the kernel that parses the line. */
export interface CmdlineOptions {
  /** `CONFIG_KEXEC_HANDOVER`: when false `kho=`/`kho_scratch=` are unknown parameters. Default true. */
  kexecHandover?: boolean;
  /** `CONFIG_KEXEC_HANDOVER_ENABLE_DEFAULT`: value of `kho` without `kho=`. Default false. */
  khoEnableDefault?: boolean;
  /** `CONFIG_LIVEUPDATE`: parse `liveupdate=<bool>`. Default false. */
  liveupdate?: boolean;
  /** `kstrtobool` accepts `e`/`d` (newer kernels). Default true. */
  kstrtoboolEnableDisable?: boolean;
  /** Extra parameter names the kernel knows (handled silently, not passed to init). */
  knownParams?: readonly string[];
  /** Command-line buffer size; the text is cut to `size - 1` characters. Default 2048. */
  commandLineSize?: number;
}

/**
 * Parameters a stock kernel handles itself, so they are not "unknown" (not passed to init). The
 * list is what a KHO test machine uses; `CmdlineOptions.knownParams` extends it.
 */
export const DEFAULT_KNOWN_PARAMS: readonly string[] = [
  'console',
  'earlycon',
  'earlyprintk',
  'root',
  'rootwait',
  'rootfstype',
  'ro',
  'rw',
  'init',
  'rdinit',
  'panic',
  'quiet',
  'debug',
  'loglevel',
  'ignore_loglevel',
  'nokaslr',
  'kaslr',
  'mem',
  'memmap',
  'crashkernel',
  'nosmp',
  'maxcpus',
  'nr_cpus',
  'numa',
  'movablecore',
  'kernelcore',
  'hugepages',
  'hugepagesz',
  'default_hugepagesz',
  'cma',
  'memblock',
  'initcall_debug',
  'no_console_suspend',
];

/** The fault-injection boot parameters (mm/failslab.c, mm/fail_page_alloc.c). */
export interface FaultInjectParams {
  failslab: FaultAttrSetup | null;
  failPageAlloc: FaultAttrSetup | null;
}

/** The boot environment `envp_init` starts with; user parameters with a value are added after. */
const INITIAL_ENVP = ['HOME=/', 'TERM=linux'];

/** A parsed kernel command line. */
export class KernelCmdline {
  /** The command line as stored (`saved_command_line`, what `/proc/cmdline` shows). */
  readonly raw: string;
  /** Every kernel parameter before `--`, in order, quotes removed. */
  readonly params: readonly CmdlineParam[];
  /** Words after a bare `--`, for init. */
  readonly initArgs: readonly string[];
  /** `kho_is_enabled()` as the command line leaves it. */
  readonly kho: boolean;
  /** The scratch sizing request. */
  readonly scratch: ScratchSetting;
  /** `reserve_mem=` requests that passed the parser's checks, in order. */
  readonly reserveMem: readonly ReserveMemParam[];
  /** `liveupdate=` (false unless the kernel has LUO and the line enables it). */
  readonly liveupdate: boolean;
  /** `panic=N` (kernel/panic.c `panic_timeout`, a core_param int): seconds; 0 = stay halted. */
  readonly panicTimeout: number;
  /** `failslab=` and `fail_page_alloc=` (the last that parsed; null when none did). */
  readonly faultInject: FaultInjectParams;
  /** Parameters the kernel did not recognise (passed to user space), without module parameters. */
  readonly unknown: readonly CmdlineParam[];
  /** init's arguments after argv[0]: unknown bare parameters, then the words after `--`. */
  readonly initArgv: readonly string[];
  /** init's environment: `HOME=/`, `TERM=linux`, then unknown `name=value` parameters. */
  readonly initEnvp: readonly string[];
  /** Log lines produced while parsing, in kernel order. */
  readonly dmesg: readonly CmdlineLogLine[];

  constructor(fields: {
    raw: string;
    params: CmdlineParam[];
    initArgs: string[];
    kho: boolean;
    scratch: ScratchSetting;
    reserveMem: ReserveMemParam[];
    liveupdate: boolean;
    panicTimeout: number;
    faultInject?: FaultInjectParams;
    unknown: CmdlineParam[];
    initArgv: string[];
    initEnvp: string[];
    dmesg: CmdlineLogLine[];
  }) {
    this.raw = fields.raw;
    this.params = fields.params;
    this.initArgs = fields.initArgs;
    this.kho = fields.kho;
    this.scratch = fields.scratch;
    this.reserveMem = fields.reserveMem;
    this.liveupdate = fields.liveupdate;
    this.panicTimeout = fields.panicTimeout;
    this.faultInject = fields.faultInject ?? { failslab: null, failPageAlloc: null };
    this.unknown = fields.unknown;
    this.initArgv = fields.initArgv;
    this.initEnvp = fields.initEnvp;
    this.dmesg = fields.dmesg;
  }

  /**
   * The value of the last occurrence of `name` (`-` and `_` equivalent): a string, `null` for a
   * bare `name`, `undefined` when absent. For settings where the last occurrence wins, e.g.
   * `test_kho.max_mem` or `panic`.
   */
  param(name: string): string | null | undefined {
    for (let i = this.params.length - 1; i >= 0; i--) {
      const p = this.params[i]!;
      if (parameq(p.name, name)) return p.value;
    }
    return undefined;
  }

  /** The text of `/proc/cmdline` (the stored line plus a newline). */
  procCmdline(): string {
    return `${this.raw}\n`;
  }
}

function malformed(log: ParamLog, name: string, r: ParamResult): void {
  if (!r.ok) log('warn', `Malformed early option '${name}'`);
}

/** Parse a command line the way a booting kernel does. Never throws on any string. */
export function parseKernelCmdline(text: string, opts: CmdlineOptions = {}): KernelCmdline {
  const khoBuilt = opts.kexecHandover ?? true;
  const luoBuilt = opts.liveupdate ?? false;
  const boolOpts = { enableDisable: opts.kstrtoboolEnableDisable ?? true };
  const size = Math.max(1, Math.floor(opts.commandLineSize ?? COMMAND_LINE_SIZE));
  const known = [...DEFAULT_KNOWN_PARAMS, ...(opts.knownParams ?? [])];

  // A C string ends at the first NUL; the buffer holds size - 1 characters.
  const nul = text.indexOf('\0');
  let raw = nul >= 0 ? text.slice(0, nul) : text;
  if (raw.length > size - 1) raw = raw.slice(0, size - 1);

  const dmesg: CmdlineLogLine[] = [];
  const log: ParamLog = (level, t) => {
    dmesg.push({ level, text: t });
  };
  const split = splitCmdline(raw);
  const kho = defaultKhoParamState(khoBuilt && (opts.khoEnableDefault ?? false));
  let liveupdate = false;

  // Early pass: only early_param handlers run; a non-zero return is "malformed".
  for (const p of split.params) {
    if (khoBuilt && parameq(p.name, 'kho')) {
      malformed(log, p.name, khoParseEnable(p.value, kho, boolOpts));
    } else if (khoBuilt && parameq(p.name, 'kho_scratch')) {
      malformed(log, p.name, khoParseScratchSize(p.value, kho, log));
    } else if (luoBuilt && parameq(p.name, 'liveupdate')) {
      const r = p.value === null ? null : kstrtobool(p.value, boolOpts);
      if (r?.ok === true) liveupdate = r.value;
      else log('warn', `Malformed early option '${p.name}'`);
    }
  }

  log('notice', `Kernel command line: ${raw}`);

  // Normal pass: __setup handlers; early parameters count as handled; the rest goes to init.
  const reserveMem: ReserveMemParam[] = [];
  const unknown: CmdlineParam[] = [];
  const argv: string[] = [];
  const envp = [...INITIAL_ENVP];
  let panicTimeout = 0;
  const faultInject: FaultInjectParams = { failslab: null, failPageAlloc: null };
  for (const p of split.params) {
    const early =
      (khoBuilt && (parameq(p.name, 'kho') || parameq(p.name, 'kho_scratch'))) ||
      (luoBuilt && parameq(p.name, 'liveupdate'));
    if (early) continue;
    if (parameq(p.name, 'panic')) {
      // core_param(panic, panic_timeout, int): param_set_int → kstrtoint(val, 0); parse_args
      // reports a bad value (kernel/params.c) and keeps the old one.
      const v = p.value === null ? null : kstrtoint(p.value, 0);
      if (v?.ok === true) panicTimeout = v.value;
      else log('err', `Booting kernel: \`${p.value ?? ''}' invalid for parameter \`${p.name}'`);
      continue;
    }
    if (p.value !== null && parameq(p.name, 'reserve_mem')) {
      const { request } = reserveMemSetup(p.value, reserveMem, log);
      if (request !== null) reserveMem.push(request);
      continue;
    }
    // __setup("failslab=") / __setup("fail_page_alloc="): setup_fault_attr() needs four numbers;
    // when it fails (returns 0) obsolete_checksetup() goes on and the parameter is unknown.
    const fault = parameq(p.name, 'failslab')
      ? 'failslab'
      : parameq(p.name, 'fail_page_alloc')
        ? 'failPageAlloc'
        : null;
    if (fault !== null && p.value !== null) {
      const setup = parseFaultAttrSetup(p.value);
      if (setup !== null) {
        faultInject[fault] = setup;
        continue;
      }
      log('warn', 'FAULT_INJECTION: failed to parse arguments');
    }
    if (known.some((k) => parameq(p.name, k))) continue;
    // Module parameters (`mod.param`) are either a built-in's or silently unused.
    if (p.name.includes('.')) continue;
    unknown.push(p);
    if (p.value === null) {
      argv.push(p.name);
    } else {
      // A repeated variable replaces the earlier one in place (strncmp on "name=").
      const entry = `${p.name}=${p.value}`;
      const idx = envp.findIndex((e) => e.startsWith(`${p.name}=`));
      if (idx >= 0) envp[idx] = entry;
      else envp.push(entry);
    }
  }
  const shown = [...argv, ...envp.slice(INITIAL_ENVP.length)];
  if (shown.length > 0) {
    log(
      'notice',
      `Unknown kernel command line parameters "${shown.join(' ')}", will be passed to user space.`,
    );
  }
  const initArgs = split.hasDashes ? splitInitArgs(split.afterDashes) : [];

  const scratch: ScratchSetting =
    kho.scratchScale !== 0
      ? { kind: 'scale', scale: kho.scratchScale }
      : {
          kind: 'sizes',
          lowmem: Number(kho.scratchLowmem),
          global: Number(kho.scratchGlobal),
          pernode: Number(kho.scratchPernode),
        };

  return new KernelCmdline({
    raw,
    params: split.params,
    initArgs,
    kho: kho.enabled,
    scratch,
    reserveMem,
    liveupdate,
    panicTimeout,
    faultInject,
    unknown,
    initArgv: [...argv, ...initArgs],
    initEnvp: envp,
    dmesg,
  });
}
