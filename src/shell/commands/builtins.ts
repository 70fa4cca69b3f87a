/** bash builtins of the terminal: `cd`, `pwd`, `exit`, `true`, `false`, `:`, `help`. */
import type { ShellCommand } from '../command.ts';
import { FsError, strerror } from '../io.ts';

export const cd: ShellCommand = {
  name: 'cd',
  usage: 'cd [DIR|-]',
  summary: 'change the current directory',
  builtin: true,
  run(args, ctx) {
    const s = ctx.session;
    if (args.length > 1) {
      ctx.stderr.write(`${ctx.session.errorPrefix()}cd: too many arguments\n`);
      return 1;
    }
    const arg = args[0] ?? s.home;
    const target = arg === '-' ? s.oldpwd : arg;
    if (target === '') return 0;
    let node;
    try {
      node = s.lookup(target);
    } catch (err) {
      ctx.stderr.write(
        `${ctx.session.errorPrefix()}cd: ${target}: ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`,
      );
      return 1;
    }
    if (node === null) {
      ctx.stderr.write(`${ctx.session.errorPrefix()}cd: ${target}: No such file or directory\n`);
      return 1;
    }
    if (node.type !== 'dir') {
      ctx.stderr.write(`${ctx.session.errorPrefix()}cd: ${target}: Not a directory\n`);
      return 1;
    }
    s.oldpwd = s.cwd;
    s.cwd = s.abs(target);
    if (arg === '-') ctx.stdout.write(`${s.cwd}\n`);
    return 0;
  },
};

export const pwd: ShellCommand = {
  name: 'pwd',
  usage: 'pwd',
  summary: 'print the current directory',
  builtin: true,
  run(_args, ctx) {
    ctx.stdout.write(`${ctx.session.cwd}\n`);
    return 0;
  },
};

export const exit: ShellCommand = {
  name: 'exit',
  usage: 'exit [N]',
  summary: 'leave the terminal (the machine is discarded)',
  builtin: true,
  run(args, ctx) {
    const s = ctx.session;
    if (args.length > 1) {
      ctx.stderr.write(`${ctx.session.errorPrefix()}exit: too many arguments\n`);
      return 1;
    }
    const a = args[0];
    let code = s.status;
    if (a !== undefined) {
      if (!/^[-+]?[0-9]+$/.test(a)) {
        ctx.stderr.write(`${ctx.session.errorPrefix()}exit: ${a}: numeric argument required\n`);
        code = 2;
      } else code = ((Number(a) % 256) + 256) % 256;
    }
    s.exitStatus = code;
    return code;
  },
};

export const trueCmd: ShellCommand = {
  name: 'true',
  usage: 'true',
  summary: 'do nothing, successfully',
  builtin: true,
  run: () => 0,
};

export const colon: ShellCommand = {
  name: ':',
  usage: ':',
  summary: 'do nothing, successfully (arguments are expanded)',
  builtin: true,
  run: () => 0,
};

export const falseCmd: ShellCommand = {
  name: 'false',
  usage: 'false',
  summary: 'do nothing, unsuccessfully',
  builtin: true,
  run: () => 1,
};

export const help: ShellCommand = {
  name: 'help',
  usage: 'help [COMMAND]...',
  summary: "list the commands of the simulated machine, or show one command's help",
  builtin: true,
  run(args, ctx) {
    const s = ctx.session;
    if (args.length > 0) {
      let out = '';
      let status = 0;
      for (const name of args) {
        const c = s.command(name);
        if (c === undefined) {
          ctx.stderr.write(
            `${ctx.session.errorPrefix()}help: no help topics match \`${name}'.  Try \`help help' or \`man -k ${name}' or \`info ${name}'.\n`,
          );
          status = 1;
          continue;
        }
        out += `${c.name}: ${c.usage}\n    ${c.summary}\n`;
        if (c.help !== undefined)
          out += `\n${c.help.replace(/^(?=.)/gm, '    ')}${c.help.endsWith('\n') ? '' : '\n'}`;
      }
      ctx.stdout.write(out);
      return status;
    }
    const cmds = s.commandList();
    const w = Math.max(...cmds.map((c) => c.usage.length));
    let out = 'Commands of the simulated machine (the KHO usage document works verbatim):\n\n';
    for (const c of cmds) out += `  ${c.usage.padEnd(w)}  ${c.summary}\n`;
    out +=
      '\nFiles: /sys/kernel/debug (debugfs), /proc, /dev/mem, /boot/vmlinuz, /boot/initrd.img belong to\n' +
      'the machine; other paths are host files (read-only; cp and dump-memory write to the host).\n' +
      'Syntax: quotes, \\ escapes, variables ($X, ${X:-default}, $?, $1), $(…), $((…)), ~, globs, {a,b},\n' +
      '> >> < 2>&1 <<<, |, ;, &&, ||, !, if/elif/else/fi, for/while/until loops, { …; }, ( … ), # comments.\n' +
      "'help NAME' shows one command.\n";
    ctx.stdout.write(out);
    return 0;
  },
};
