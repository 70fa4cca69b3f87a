/**
 * What the terminal shows when a command does not return normally: a kernel panic (the
 * panicking kernel's console lines, then either the restarted kernel's login or a plain note
 * that the machine has halted), a command typed on a halted machine, a kernel call that failed
 * with an errno, or an unexpected error of the model itself (one line, no JavaScript text;
 * `KHO_DEBUG=1` in the environment adds the stack for developers).
 */
import { formatStamp, LOGLEVEL } from '../kernel/dmesg.ts';
import { KernelPanic } from '../kernel/panic.ts';
import { ErrnoError, strerror } from '../util/errno.ts';
import type { CommandContext } from './command.ts';
import { FsError } from './io.ts';
import { afterBoot } from './commands/reboot.ts';

/** A command needed the kernel, but the machine has halted after a panic. */
export class MachineHaltedError extends Error {
  constructor() {
    super("the machine has halted after a kernel panic; 'reboot' cold-boots it");
    this.name = 'MachineHaltedError';
  }
}

/** The note printed once the machine halts. */
export const HALTED_NOTE = "The machine has halted after a kernel panic. Type 'reboot' to cold-boot it.\n";

/**
 * The console lines of a panic: a kernel that panicked while booting shows its banner, its
 * KHO lines and every warning or worse; a running kernel shows the panic lines.
 */
function panicConsole(p: KernelPanic): string {
  const recs = p.dmesg.records;
  const booting = !recs.some((r) => r.text === 'Run /init as init process');
  const first = recs.findIndex((r) => r.level === 'emerg' && r.text === p.message);
  let out = '';
  recs.forEach((r, i) => {
    const show =
      i >= first || (booting && (i === 0 || /KHO|^kho/.test(r.text) || LOGLEVEL[r.level] <= LOGLEVEL.warn));
    if (show) out += `${formatStamp(r.usec)} ${r.text}\n`;
  });
  return out;
}

/** Show a panic: its console lines, then the restarted kernel's login or the halted note. */
export function showPanic(ctx: CommandContext, p: KernelPanic): void {
  ctx.stdout.write(panicConsole(p));
  if (ctx.session.machine.kernel !== null) afterBoot(ctx);
  else ctx.stderr.write(HALTED_NOTE);
}

/** Model time one command costs on the running kernel's clock: a person typing it. */
export const COMMAND_USEC = 1_000_000;

/**
 * Before a command runs. On a halted machine only bash builtins and `reboot` run; any other
 * command needs the kernel and says so (the refusal's status is returned). Otherwise the running
 * kernel's model clock advances by {@link COMMAND_USEC}, so `dmesg` timestamps move on as on a
 * machine in use, the same on every run. Returns null when the command may run.
 */
export function startCommand(
  ctx: CommandContext,
  name: string,
  command: { builtin?: boolean },
): number | null {
  const k = ctx.session.machine.kernel;
  if (k !== null) {
    k.dmesg.tick(COMMAND_USEC);
    return null;
  }
  if (command.builtin === true || name === 'reboot') return null;
  ctx.stderr.write(`-bash: ${name}: ${new MachineHaltedError().message}\n`);
  return 1;
}

/** Report a command that threw instead of returning a status; returns the status. */
export function reportCommandFailure(ctx: CommandContext, name: string, err: unknown): number {
  if (err instanceof KernelPanic) {
    // The console is the terminal, whatever the command's redirections.
    const s = ctx.session;
    s.machine.handlePanic(err);
    showPanic({ ...ctx, stdout: s.stdout, stderr: s.stderr }, err);
    return 1;
  }
  if (err instanceof MachineHaltedError) {
    ctx.stderr.write(`-bash: ${name}: ${err.message}\n`);
    return 1;
  }
  if (err instanceof ErrnoError || err instanceof FsError) {
    ctx.stderr.write(`${name}: ${strerror(err.code)}\n`);
    return 1;
  }
  ctx.stderr.write(`${name}: the simulation failed unexpectedly (a bug in kho; KHO_DEBUG=1 shows details)\n`);
  if (process.env['KHO_DEBUG'] === '1' && err instanceof Error)
    ctx.stderr.write(`${err.stack ?? err.message}\n`);
  return 1;
}
