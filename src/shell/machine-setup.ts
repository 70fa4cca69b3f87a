/**
 * The machine behind `kho shell` and `kho run`: options as typed on the command line
 * (`--mem 16G --nodes 2 --cmdline "kho=on" --profile kho-v4 --seed 1 --sanitize`), checked with
 * one clear message each, then a cold-booted machine and a terminal session on it.
 */
import { KhoMemError } from '../hw/errors.ts';
import { machineSizeError, MAX_NODES, parseSize } from '../hw/topology.ts';
import { Machine } from '../kernel/machine.ts';
import type { InterruptFlag } from '../util/interrupt.ts';
import { ModuleError } from '../kernel/module.ts';
import { ModuleLoadError, openModuleFile, type ModuleFile } from '../kernel/loadable/load.ts';
import { configureWithModuleFiles, loadErrorMessage } from '../kernel/loadable/machine-modules.ts';
import { DEFAULT_PROFILE, PROFILE_NAMES, profileByName, type ReleaseProfile } from '../kernel/profile.ts';
import { COMMANDS } from './commands/index.ts';
import { FsError, nodeErrCode, strerror, type Sink } from './io.ts';
import { HostDir } from '../util/host-dir.ts';
import { resolve } from 'node:path';
import { Session } from './session.ts';

/** Option values as strings (what commander hands over). */
export interface MachineCliOptions {
  mem?: string;
  nodes?: string;
  cmdline?: string;
  profile?: string;
  seed?: string;
  sanitize?: boolean;
  /** `--module FILE` (repeatable): module files built into the kernel. */
  module?: string[];
  /** `--host-dir DIR`: the one host directory the shell may use. */
  hostDir?: string;
  /** `--no-host`: the shell uses no host directory. */
  noHost?: boolean;
}

/** Defaults shown in `--help`. */
export const MACHINE_DEFAULTS = {
  mem: '16G',
  nodes: '2',
  cmdline: 'kho=on',
  profile: DEFAULT_PROFILE,
  seed: '1',
};

/** Checked machine options. */
export interface MachineConfig {
  mem: number;
  nodes: number;
  cmdline: string;
  profile: ReleaseProfile;
  seed: number;
  sanitize: boolean;
  /** Module files built in (`--module`), opened and checked. */
  modules: ModuleFile[];
}

/** Check the options; a string is the error message. */
export function machineConfig(o: MachineCliOptions): MachineConfig | string {
  let mem: number;
  try {
    mem = parseSize(o.mem ?? MACHINE_DEFAULTS.mem);
  } catch (err) {
    if (err instanceof KhoMemError) return `--mem: ${err.message.replace(/^EINVAL: /, '')}`;
    throw err;
  }
  const nodesText = o.nodes ?? MACHINE_DEFAULTS.nodes;
  if (!/^[0-9]+$/.test(nodesText) || Number(nodesText) < 1 || Number(nodesText) > MAX_NODES) {
    return `--nodes: expected an integer from 1 to ${MAX_NODES}, got "${nodesText}"`;
  }
  const nodes = Number(nodesText);
  // Refused here, before anything is built or booted (src/hw/topology.ts: machineSizeError()).
  const size = machineSizeError(mem, nodes);
  if (size !== null) return `--mem ${o.mem ?? MACHINE_DEFAULTS.mem} --nodes ${nodes}: ${size}`;
  const profileName = o.profile ?? MACHINE_DEFAULTS.profile;
  const profile = profileByName(profileName);
  if (profile === null)
    return `--profile: unknown profile "${profileName}" (known: ${PROFILE_NAMES.join(', ')})`;
  const seedText = o.seed ?? MACHINE_DEFAULTS.seed;
  if (!/^[0-9]+$/.test(seedText) || Number(seedText) > 0xffff_ffff) {
    return `--seed: expected an integer in [0, 2^32), got "${seedText}"`;
  }
  const modules: ModuleFile[] = [];
  for (const f of o.module ?? []) {
    try {
      modules.push(openModuleFile(f));
    } catch (err) {
      if (err instanceof ModuleLoadError)
        return `--module: ${loadErrorMessage('insmod', f, err).replace(/^insmod: ERROR: /, '')}`;
      throw err;
    }
  }
  return {
    mem,
    nodes,
    cmdline: o.cmdline ?? MACHINE_DEFAULTS.cmdline,
    profile,
    seed: Number(seedText),
    sanitize: o.sanitize === true,
    modules,
  };
}

/**
 * The host directory the options choose (docs/shell.md): none with `--no-host`, `DIR` with
 * `--host-dir DIR`, else the current directory, or none when `byDefault` is false (`kho
 * serve`). A string is the error message.
 */
export function hostDirOption(o: MachineCliOptions, byDefault = true): HostDir | string {
  if (o.noHost === true && o.hostDir !== undefined) return '--host-dir and --no-host exclude each other';
  if (o.noHost === true || (o.hostDir === undefined && !byDefault)) return new HostDir(null);
  const dir = o.hostDir ?? '.';
  try {
    return new HostDir(resolve(process.cwd(), dir));
  } catch (err) {
    return `--host-dir: ${dir}: ${strerror(err instanceof FsError ? err.code : nodeErrCode(err))}`;
  }
}

/**
 * Build and cold-boot the machine; a string is the error message. Module files named in the
 * machine's `/etc/modules-load.d` are found inside `hostDir` (none without one).
 */
export function bootMachine(
  cfg: MachineConfig,
  opts: { interrupt?: InterruptFlag; hostDir?: HostDir } = {},
): Machine | string {
  let machine: Machine;
  try {
    machine = Machine.create({
      mem: cfg.mem,
      nodes: cfg.nodes,
      seed: cfg.seed,
      sanitize: cfg.sanitize,
      ...(opts.interrupt === undefined ? {} : { interrupt: opts.interrupt }),
    });
  } catch (err) {
    return `cannot build a ${cfg.mem}-byte machine with ${cfg.nodes} nodes: ${err instanceof Error ? err.message : String(err)}`;
  }
  // /lib/modules holds the shipped modules (test_kho); `--module` files are built in.
  try {
    const hostDir = opts.hostDir ?? new HostDir(null);
    configureWithModuleFiles(machine, cfg.modules, (path) =>
      hostDir.regularFile(resolve(hostDir.home, path)),
    );
  } catch (err) {
    if (err instanceof ModuleError) return err.message;
    throw err;
  }
  try {
    machine.coldBoot({ cmdline: cfg.cmdline, profile: cfg.profile });
  } catch (err) {
    return `the kernel failed to boot: ${err instanceof Error ? err.message : String(err)}`;
  }
  return machine;
}

/** A session with every command on a booted machine. */
export function createSession(
  machine: Machine,
  cfg: Pick<MachineConfig, 'cmdline' | 'profile'>,
  io: { stdout: Sink; stderr: Sink; home: string | HostDir | null; columns?: () => number | null },
): Session {
  return new Session(
    {
      machine,
      boot: { cmdline: cfg.cmdline, profile: cfg.profile },
      home: io.home,
      stdout: io.stdout,
      stderr: io.stderr,
      ...(io.columns === undefined ? {} : { columns: io.columns }),
    },
    COMMANDS,
  );
}
