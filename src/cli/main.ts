/**
 * The `kho` command. Each subcommand lives in its own module and registers itself here.
 * Exit codes: 0 success, 1 a failed check or operation, 2 a usage error (as the issue asks).
 */
import { Command, CommanderError } from 'commander';
import { registerCheck } from './check.ts';
import { registerFdt } from './fdt.ts';
import { registerDemo } from './demo.ts';
import { registerInspect } from './inspect.ts';
import { registerMkimage } from './mkimage.ts';
import { registerShell } from './shell.ts';
import { registerRun } from './run.ts';
import { registerServe } from './serve.ts';

const program = new Command();
program
  .name('kho')
  .description('Linux Kexec HandOver: an executable, byte-exact model and tools for real handover data')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({
    outputError: (str, write) => {
      write(str);
    },
  });

registerCheck(program);
registerDemo(program);
registerFdt(program);
registerInspect(program);
registerMkimage(program);
registerShell(program);
registerRun(program);
registerServe(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version "errors" are successes; everything else commander reports is usage.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    throw err;
  }
}
