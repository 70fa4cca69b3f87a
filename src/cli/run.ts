/**
 * `kho run [machine options] [--quiet] SCRIPT|-`: the shell's commands from a file (or stdin)
 * without a terminal, with `set -e` semantics (see src/shell/script.ts). Exit codes: 0 when
 * every command succeeded, the failing command's status otherwise, 2 for bad options or an
 * unreadable script.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { attachProgress } from '../shell/progress.ts';
import { callbackSink } from '../shell/io.ts';
import { bootMachine, createSession, machineConfig, type MachineCliOptions } from '../shell/machine-setup.ts';
import { runScript } from '../shell/script.ts';
import { machineOptions } from './shell.ts';

/** Registers `kho run`. */
export function registerRun(program: Command): void {
  machineOptions(program.command('run'))
    .description(
      'run shell commands from SCRIPT (or - for stdin) on a simulated machine, stopping at the first failure',
    )
    .argument('<script>', 'script file, or - for stdin')
    .option('-q, --quiet', 'do not echo each command after the prompt', false)
    .action(async (script: string, opts: MachineCliOptions & { quiet: boolean }) => {
      let text: string;
      try {
        text = readFileSync(script === '-' ? 0 : script, 'utf8');
      } catch (err) {
        const code = err !== null && typeof err === 'object' && 'code' in err ? String(err.code) : '';
        process.stderr.write(
          `kho run: cannot read ${script}: ${code === 'ENOENT' ? 'No such file or directory' : err instanceof Error ? err.message : String(err)}\n`,
        );
        process.exitCode = 2;
        return;
      }
      const cfg = machineConfig(opts);
      if (typeof cfg === 'string') {
        process.stderr.write(`kho run: ${cfg}\n`);
        process.exitCode = 2;
        return;
      }
      const machine = bootMachine(cfg);
      if (typeof machine === 'string') {
        process.stderr.write(`kho run: ${machine}\n`);
        process.exitCode = 1;
        return;
      }
      attachProgress(machine, process.stderr);
      const out = callbackSink((b) => process.stdout.write(b));
      const err = callbackSink((b) => process.stderr.write(b));
      const session = createSession(machine, cfg, { stdout: out, stderr: err, home: process.cwd() });
      const r = await runScript(session, text, {
        quiet: opts.quiet,
        transcript: out,
        errors: err,
        name: script === '-' ? 'stdin' : script,
      });
      process.exitCode = r.status;
    });
}
