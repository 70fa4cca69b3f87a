/**
 * The `kho` command. Each subcommand lives in its own module and registers itself here.
 * Exit codes: 0 success, 1 a failed check or operation, 2 a usage error (as the issue asks).
 */
import { Command, CommanderError } from 'commander';
import { reportFailure } from './action.ts';
import { stderr, stdout } from '../util/host-output.ts';

const program = new Command();
program
  .name('kho')
  .description('Linux Kexec HandOver: an executable, byte-exact model and tools for real handover data')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({
    // Help and usage errors go through the same complete, synchronous writer as everything else.
    writeOut: (str) => {
      stdout.write(str);
    },
    writeErr: (str) => {
      stderr.write(str);
    },
    outputError: (str, write) => {
      write(str);
    },
  });

/**
 * Subcommand modules in help order, loaded on demand: `kho fdt check` need not load the
 * machine model (which is most of the start-up time); help and unknown commands load them all.
 */
const SUBCOMMANDS: Readonly<Record<string, () => Promise<(program: Command) => void>>> = {
  check: async () => (await import('./check.ts')).registerCheck,
  demo: async () => (await import('./demo.ts')).registerDemo,
  fdt: async () => (await import('./fdt.ts')).registerFdt,
  inspect: async () => (await import('./inspect.ts')).registerInspect,
  mkimage: async () => (await import('./mkimage.ts')).registerMkimage,
  shell: async () => (await import('./shell.ts')).registerShell,
  run: async () => (await import('./run.ts')).registerRun,
  serve: async () => (await import('./serve.ts')).registerServe,
};
const named = process.argv[2];
const wanted = named !== undefined && named in SUBCOMMANDS ? [named] : Object.keys(SUBCOMMANDS);
for (const register of await Promise.all(wanted.map((name) => SUBCOMMANDS[name]!()))) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version "errors" are successes; everything else commander reports is usage.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    // Each action reports its own failures; this catches what escapes them, in one line too.
    reportFailure('kho', err);
  }
}
