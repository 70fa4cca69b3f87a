/**
 * `kho run [machine options] [--quiet] SCRIPT|-`: the shell's commands from a file (or stdin)
 * without a terminal, with `set -e` semantics (see src/shell/script.ts). Exit codes: 0 when
 * every command succeeded, the failing command's status otherwise, 2 for bad options or an
 * unreadable script.
 */
import type { Command } from 'commander';
import { attachProgress } from '../shell/progress.ts';
import { callbackSink } from '../shell/io.ts';
import {
  bootMachine,
  createSession,
  hostDirOption,
  machineConfig,
  type MachineCliOptions,
} from '../shell/machine-setup.ts';
import { runScript } from '../shell/script.ts';
import { readHostText, type ReadLimit } from '../util/host-input.ts';
import { stderr, stdout } from '../util/host-output.ts';
import { runAction, usageError } from './action.ts';
import { machineOptions } from './shell.ts';

/** A script is text a person wrote or generated; 64 MiB is far beyond either. */
const SCRIPT_LIMIT: ReadLimit = { max: 64 << 20, why: 'a script' };

/** Registers `kho run`. */
export function registerRun(program: Command): void {
  machineOptions(program.command('run'))
    .description(
      'run shell commands from SCRIPT (or - for stdin) on a simulated machine, stopping at the first failure',
    )
    .argument('<script>', 'script file, or - for stdin')
    .option('-q, --quiet', 'do not echo each command after the prompt', false)
    .action((script: string, opts: MachineCliOptions & { quiet: boolean }) =>
      runAction('kho run', async () => {
        const cfg = machineConfig(opts);
        if (typeof cfg === 'string') throw usageError(cfg);
        const hostDir = hostDirOption(opts);
        if (typeof hostDir === 'string') throw usageError(hostDir);
        const text = readHostText(script, SCRIPT_LIMIT);
        const machine = bootMachine(cfg, { hostDir });
        if (typeof machine === 'string') {
          stderr.write(`kho run: ${machine}\n`);
          process.exitCode = 1;
          return;
        }
        attachProgress(machine, process.stderr);
        const out = callbackSink((b) => {
          stdout.write(b);
        });
        const err = callbackSink((b) => {
          stderr.write(b);
        });
        const session = createSession(machine, cfg, { stdout: out, stderr: err, home: hostDir });
        const r = await runScript(session, text, {
          quiet: opts.quiet,
          transcript: out,
          errors: err,
          name: script === '-' ? 'stdin' : script,
        });
        process.exitCode = r.status;
      }),
    );
}
