/** kmod's `modprobe NAME [param=value]...`, `rmmod NAME`, `lsmod` over src/kernel/module.ts. */
import type { ShellCommand } from '../command.ts';
import {
  ModuleCatalog,
  ModuleError,
  lsmod as listModules,
  machineCatalog,
  modprobe as load,
  rmmod as unload,
} from '../../kernel/module.ts';

export const modprobe: ShellCommand = {
  name: 'modprobe',
  usage: 'modprobe [-r] NAME [param=value]...',
  summary: 'load a kernel module (test_kho, ...) with parameters; -r removes',
  run(args, ctx) {
    const s = ctx.session;
    let remove = false;
    const rest: string[] = [];
    for (const a of args) {
      if (a === '-r' || a === '--remove') remove = true;
      else if (a.startsWith('-') && rest.length === 0) {
        ctx.stderr.write(`modprobe: unrecognized option '${a}'\nmodprobe: ERROR: Unknown option '${a}'\n`);
        return 1;
      } else rest.push(a);
    }
    const name = rest[0];
    if (name === undefined) {
      ctx.stderr.write('modprobe: ERROR: missing parameters. See -h.\n');
      return 1;
    }
    try {
      if (remove) unload(s.kernel, name);
      else load(s.kernel, machineCatalog(s.machine) ?? new ModuleCatalog([]), name, rest.slice(1));
    } catch (err) {
      if (!(err instanceof ModuleError)) throw err;
      ctx.stderr.write(`${remove ? err.message.replace(/^rmmod:/, 'modprobe:') : err.message}\n`);
      return err.exitCode;
    }
    return 0;
  },
};

export const rmmod: ShellCommand = {
  name: 'rmmod',
  usage: 'rmmod NAME',
  summary: 'unload a kernel module',
  run(args, ctx) {
    const name = args[0];
    if (name === undefined) {
      ctx.stderr.write('rmmod: ERROR: missing module name.\n');
      return 1;
    }
    try {
      unload(ctx.session.kernel, name);
    } catch (err) {
      if (!(err instanceof ModuleError)) throw err;
      ctx.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    return 0;
  },
};

export const lsmod: ShellCommand = {
  name: 'lsmod',
  usage: 'lsmod',
  summary: 'list loaded modules',
  run(_args, ctx) {
    let out = 'Module                  Size  Used by\n';
    for (const m of listModules(ctx.session.kernel)) {
      if (m.builtin) continue;
      out += `${m.name.padEnd(19)} ${'16384'.padStart(8)}  0\n`;
    }
    ctx.stdout.write(out);
    return 0;
  },
};
