/**
 * `kho check FILE.ts [param=value…] [--generations N] [--profile P[,P…]|all] [machine options]
 * [--module FILE]… [--json] [--timeout S]`: runs a module file through N kexecs with the
 * sanitizer on, once per profile, each in a worker thread under a watchdog (src/check). Exit
 * codes: 0 every run clean, 1 a finding, a failed init or a hung kernel, 2 usage errors.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { PROFILE_NAMES } from '../kernel/profile.ts';
import { renderCheck } from '../check/render.ts';
import { superviseCheck } from '../check/supervise.ts';
import type { CheckReport } from '../check/engine.ts';
import { MACHINE_DEFAULTS, machineConfig } from '../shell/machine-setup.ts';
import { stderr, stdout } from '../util/host-output.ts';
import { runAction } from './action.ts';

function intArg(min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`expected an integer, got '${v}'`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };
}

function secondsArg(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n <= 0 || n > 86400)
    throw new InvalidArgumentError(`expected seconds (0 < S ≤ 86400), got '${v}'`);
  return n;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

interface CheckCliOptions {
  generations: number;
  profile: string;
  mem: string;
  nodes: string;
  cmdline: string;
  seed: string;
  module: string[];
  json?: boolean;
  timeout: number;
}

/** A module file is source code a person wrote: 16 MiB is far beyond any. */
const MODULE_FILE_MAX = 16 << 20;

function usage(msg: string): void {
  stderr.write(`kho check: ${msg}\n`);
  process.exitCode = 2;
}

/** Registers `kho check`. */
export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      'run a module file through N kexecs with the sanitizer on: what it preserved and restored, every finding about its memory, its dmesg, a verdict',
    )
    .argument('<file>', 'the module file (TypeScript, default-exports defineModule({...}))')
    .argument('[params...]', 'module parameters, param=value (given as name.param=value on the command line)')
    .option('--generations <n>', 'number of kexecs (1-100)', intArg(1, 100), 10)
    .option(
      '--profile <names>',
      `kernel profile(s): one, a comma-separated list, or all (${PROFILE_NAMES.join(', ')})`,
      'kho-v4',
    )
    .option('--mem <size>', 'RAM size', MACHINE_DEFAULTS.mem)
    .option('--nodes <n>', 'NUMA nodes', MACHINE_DEFAULTS.nodes)
    .option(
      '--cmdline <text>',
      'kernel command line (kho=on and liveupdate=on are added when missing)',
      MACHINE_DEFAULTS.cmdline,
    )
    .option('--seed <n>', 'seed of every random stream', MACHINE_DEFAULTS.seed)
    .option('--module <file>', 'another module file built in alongside (repeatable)', collect, [])
    .option('--json', 'print the reports as JSON')
    .option(
      '--timeout <s>',
      'seconds a generation may run before the watchdog reports a soft lockup',
      secondsArg,
      30,
    )
    .action((file: string, params: string[], o: CheckCliOptions) =>
      runAction('kho check', async () => {
        const profiles = o.profile === 'all' ? [...PROFILE_NAMES] : o.profile.split(',').map((p) => p.trim());
        for (const p of profiles) {
          if (!(PROFILE_NAMES as readonly string[]).includes(p)) {
            usage(`--profile: unknown profile "${p}" (known: ${PROFILE_NAMES.join(', ')}, all)`);
            return;
          }
        }
        const cfg = machineConfig({ mem: o.mem, nodes: o.nodes, cmdline: o.cmdline, seed: o.seed });
        if (typeof cfg === 'string') {
          usage(cfg);
          return;
        }
        for (const f of [file, ...o.module]) {
          if (!existsSync(f)) {
            usage(`${f}: No such file or directory`);
            return;
          }
          const st = statSync(f);
          if (st.isDirectory()) {
            usage(`${f}: Is a directory`);
            return;
          }
          // The worker's module loader reads the whole file: no device, FIFO or giant file.
          if (!st.isFile()) {
            usage(`${f}: not a regular file (a module is a TypeScript file)`);
            return;
          }
          if (st.size > MODULE_FILE_MAX) {
            usage(`${f}: File too large (a module file: at most ${MODULE_FILE_MAX} bytes)`);
            return;
          }
        }
        for (const p of params) {
          if (!/^[A-Za-z_][A-Za-z0-9_]*(=.*)?$/.test(p)) {
            usage(`'${p}' is not a module parameter (param=value)`);
            return;
          }
        }
        const reports: CheckReport[] = [];
        for (const profile of profiles) {
          let r: CheckReport;
          try {
            r = await superviseCheck({
              file: resolve(file),
              params,
              modules: o.module.map((m) => resolve(m)),
              generations: o.generations,
              profile,
              mem: cfg.mem,
              nodes: cfg.nodes,
              seed: cfg.seed,
              cmdline: cfg.cmdline,
              timeout: o.timeout,
            });
          } catch (e) {
            stderr.write(`kho check: the check stopped: ${e instanceof Error ? e.message : String(e)}\n`);
            process.exitCode = 1;
            return;
          }
          r.file = file;
          reports.push(r);
          if (o.json !== true) stdout.write(`${reports.length > 1 ? '\n' : ''}${renderCheck(r)}`);
        }
        const ok = reports.every((r) => r.verdict === 'pass');
        if (o.json === true) stdout.write(`${JSON.stringify({ ok, reports }, null, 2)}\n`);
        process.exitCode = ok ? 0 : 1;
      }),
    );
}
