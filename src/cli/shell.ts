/**
 * `kho shell [machine options]`: an interactive terminal on a freshly booted simulated machine
 * (see src/shell/repl.ts). Exit codes: the shell's last status; 2 for bad options.
 */
import { Option, type Command } from 'commander';
import { PROFILE_NAMES } from '../kernel/profile.ts';
import {
  hostDirOption,
  MACHINE_DEFAULTS,
  machineConfig,
  type MachineCliOptions,
} from '../shell/machine-setup.ts';
import { runPipedTerminal, runTtyTerminal } from '../shell/repl.ts';
import { runAction, usageError } from './action.ts';

/**
 * Add the machine options shared by `kho shell`, `kho run` and `kho serve`. `--no-host` is a
 * plain flag (attribute `noHost`), not commander's negation, which would clash with serve's
 * `--host ADDR`.
 */
export function machineOptions(cmd: Command, hostDefault = 'the current directory'): Command {
  const noHost = new Option('--no-host', "the machine's shell reaches no host file");
  noHost.negate = false;
  return cmd
    .option('--mem <size>', 'RAM size, e.g. 16G, 1T', MACHINE_DEFAULTS.mem)
    .option('--nodes <n>', 'NUMA nodes', MACHINE_DEFAULTS.nodes)
    .option(
      '--cmdline <text>',
      'kernel command line, e.g. "kho=on kho_scratch=16M,512M,256M"',
      MACHINE_DEFAULTS.cmdline,
    )
    .option(
      '--profile <name>',
      `kernel release profile: ${PROFILE_NAMES.join(', ')}`,
      MACHINE_DEFAULTS.profile,
    )
    .option('--seed <n>', 'seed of every random stream', MACHINE_DEFAULTS.seed)
    .option('--sanitize', 'poison unpreserved memory at kexec', false)
    .option(
      '--module <file>',
      'a module file built into the kernel, run at boot in every generation (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .option(
      '--host-dir <dir>',
      `the one host directory the machine's shell may read and write (default: ${hostDefault})`,
    )
    .addOption(noHost);
}

/** Registers `kho shell`. */
export function registerShell(program: Command): void {
  machineOptions(program.command('shell'))
    .description("interactive terminal on a simulated machine (type the KHO usage document's commands)")
    .action((opts: MachineCliOptions) =>
      runAction('kho shell', async () => {
        const cfg = machineConfig(opts);
        if (typeof cfg === 'string') throw usageError(cfg);
        const hostDir = hostDirOption(opts);
        if (typeof hostDir === 'string') throw usageError(hostDir);
        // The machine runs in a worker thread; this thread keeps the keyboard (Ctrl-C, Tab).
        const tty = process.stdin.isTTY && process.stdout.isTTY;
        const start = {
          machine: opts,
          hostDir: hostDir.root === null ? null : hostDir.home,
          columns: process.stdout.isTTY ? process.stdout.columns : null,
          progress: process.stderr.isTTY,
        };
        const io = { input: process.stdin, output: process.stdout, errors: process.stderr };
        process.exitCode = tty ? await runTtyTerminal(start, io) : await runPipedTerminal(start, io);
      }),
    );
}
