/**
 * Installed programs of the machine (src/user/programs.ts) as shell commands: a command word
 * with a `/` that names one (relative to the current directory), or a bare name found in a
 * PATH directory, runs as a process (fork of the login shell, terminal on fds 0/1/2). After a
 * program kexecs the machine, the terminal shows the new kernel as after `kexec -e`.
 */
import '../user/rootfs.ts';
import { programAt, programDirEntries, runProgram } from '../user/programs.ts';
import type { ShellCommand } from './command.ts';
import { afterBoot } from './commands/reboot.ts';

/** The PATH a login shell has. */
const PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The installed program `name` stands for (as an absolute path), or null. */
export function findProgram(name: string, abs: (p: string) => string): string | null {
  if (name.includes('/')) {
    const p = abs(name);
    return programAt(p) !== undefined ? p : null;
  }
  for (const dir of PATH) if (programAt(`${dir}/${name}`) !== undefined) return `${dir}/${name}`;
  return null;
}

/** The names of the programs a bare command word finds in a PATH directory (for Tab). */
export function pathProgramNames(): string[] {
  return PATH.flatMap((dir) =>
    (programDirEntries(dir) ?? []).filter((n) => programAt(`${dir}/${n}`) !== undefined),
  );
}

/** A shell command that runs the program at `path` (argv[0] is what the user typed). */
export function programCommand(name: string, path: string): ShellCommand {
  return {
    name,
    usage: name,
    summary: programAt(path)?.summary ?? '',
    stdin: 'whole',
    async run(args, ctx) {
      const s = ctx.session;
      const script = programAt(path)?.script;
      if (script !== undefined)
        return s.runScriptFile(script, path, args, { stdin: null, stdout: ctx.stdout, stderr: ctx.stderr });
      const r = await runProgram(s.kernel, [path, ...args], {
        stdout: (t) => {
          ctx.stdout.write(t);
        },
        stderr: (t) => {
          ctx.stderr.write(t);
        },
        ...(ctx.stdin === null ? {} : { stdin: ctx.stdin }),
      });
      if (r === null) return 127;
      if (r.rebooted && s.machine.kernel !== null) afterBoot(ctx);
      return r.status;
    },
  };
}
