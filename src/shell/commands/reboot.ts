/**
 * `reboot`: a cold reboot (power cycle: memory is cleared) into the machine's boot profile and
 * command line. `afterBoot` is what the terminal shows when a new kernel comes up (after reboot
 * or kexec): the new kernel's KHO console lines, then a fresh login in the home directory.
 */
import type { CommandContext, ShellCommand } from '../command.ts';
import { formatStamp } from '../../kernel/dmesg.ts';

/**
 * A new kernel is up (its boot ran the module initcalls and user space's module loading):
 * print its KHO console lines and a login banner, and reset the session to a new login.
 */
export function afterBoot(ctx: CommandContext): void {
  const s = ctx.session;
  const k = s.kernel;
  const recs = k.dmesg.records;
  const lines = recs.filter((r, i) => i === 0 || /KHO|^kho/.test(r.text));
  let out = '';
  for (const r of lines) out += `${formatStamp(r.usec)} ${r.text}\n`;
  out += `\nLinux kho ${k.release} #1 SMP PREEMPT_DYNAMIC x86_64\n\n`;
  ctx.stdout.write(out);
  s.relogin();
}

export const reboot: ShellCommand = {
  name: 'reboot',
  usage: 'reboot',
  summary: 'cold reboot: memory is lost, the boot profile and command line boot again',
  run(args, ctx) {
    if (args.some((a) => a !== '-f' && a !== '--force')) {
      ctx.stderr.write(`reboot: invalid option -- '${args[0]!.replace(/^-+/, '')}'\n`);
      return 1;
    }
    const s = ctx.session;
    ctx.stdout.write('reboot: Restarting system\n');
    s.machine.coldBoot({ cmdline: s.boot.cmdline, profile: s.boot.profile });
    afterBoot(ctx);
    return 0;
  },
};
