/**
 * `kho shell [machine options]`: an interactive terminal on a freshly booted simulated machine
 * (see src/shell/repl.ts). Exit codes: the shell's last status; 2 for bad options.
 */
import type { Command } from 'commander';
import { PROFILE_NAMES } from '../kernel/profile.ts';
import { callbackSink } from '../shell/io.ts';
import {
  bootMachine,
  createSession,
  MACHINE_DEFAULTS,
  machineConfig,
  type MachineCliOptions,
} from '../shell/machine-setup.ts';
import { runRepl } from '../shell/repl.ts';
import { ScriptRunner } from '../shell/script.ts';

/** Add the machine options shared by `kho shell` and `kho run`. */
export function machineOptions(cmd: Command): Command {
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
    );
}

/** Registers `kho shell`. */
export function registerShell(program: Command): void {
  machineOptions(program.command('shell'))
    .description("interactive terminal on a simulated machine (type the KHO usage document's commands)")
    .action(async (opts: MachineCliOptions) => {
      const cfg = machineConfig(opts);
      if (typeof cfg === 'string') {
        process.stderr.write(`kho shell: ${cfg}\n`);
        process.exitCode = 2;
        return;
      }
      const machine = bootMachine(cfg);
      if (typeof machine === 'string') {
        process.stderr.write(`kho shell: ${machine}\n`);
        process.exitCode = 1;
        return;
      }
      const tty = process.stdin.isTTY && process.stdout.isTTY;
      const session = createSession(machine, cfg, {
        stdout: callbackSink((b) => process.stdout.write(b)),
        stderr: callbackSink((b) => process.stderr.write(b)),
        home: process.cwd(),
        columns: () => (process.stdout.isTTY ? process.stdout.columns : null),
      });
      if (tty) {
        process.stdout.write(
          `Linux kho ${machine.kernel!.release} #1 SMP PREEMPT_DYNAMIC x86_64 (simulated: ${opts.mem ?? MACHINE_DEFAULTS.mem}, ${cfg.nodes} nodes, "${cfg.cmdline}")\n` +
            "Type 'help' for the commands; Ctrl-D or 'exit' leaves. Host files are read-only here.\n\n",
        );
      }
      if (tty) {
        process.exitCode = await runRepl(session, process.stdin, process.stdout, tty);
        return;
      }
      // Piped input: bash reading commands from a pipe (a transcript after the prompt).
      const out = callbackSink((b) => process.stdout.write(b));
      const runner = new ScriptRunner(session, { transcript: out, errors: out, errexit: false });
      const dec = new TextDecoder();
      for await (const chunk of process.stdin) {
        runner.feed(dec.decode(chunk as Uint8Array, { stream: true }));
        const r = await runner.run(false);
        if (r !== null) {
          process.exitCode = r.status;
          return;
        }
      }
      runner.feed(dec.decode());
      process.exitCode = (await runner.run(true))!.status;
    });
}
