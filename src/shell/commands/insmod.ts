/**
 * kmod's `insmod FILE [param=value]...` (tools/insmod.c) for module files: a TypeScript file
 * that default-exports a module definition (docs/consumers.md), a regular file inside the
 * shell's host directory (src/util/host-dir.ts; outside it is `Permission denied`). Messages are kmod's: `insmod: ERROR: could not load module FILE: …`
 * when the file cannot be read, `insmod: ERROR: could not insert module FILE: …` with
 * `mod_strerror()`'s words when the kernel refuses it; the model adds the reason in
 * parentheses (a syntax error's position, the function where init threw).
 */
import type { ShellCommand } from '../command.ts';
import { insertModule } from '../../kernel/module.ts';
import { formatFrame } from '../../kernel/loadable/caller.ts';
import { moduleRuns } from '../../kernel/loadable/handle.ts';
import { ModuleLoadError, openModuleFile } from '../../kernel/loadable/load.ts';
import { loadErrorMessage, modStrerror } from '../../kernel/loadable/machine-modules.ts';
import { FsError, strerror } from '../io.ts';
import { isMachinePath } from '../vfs.ts';

const HELP =
  'Usage:\n\tinsmod [options] filename [args]\nOptions:\n\t-V, --version     show version\n\t-h, --help        show this help\n';

export const insmod: ShellCommand = {
  name: 'insmod',
  usage: 'insmod FILE [param=value]...',
  summary: 'load a module file (TypeScript, default-exports defineModule) into the running kernel',
  run(args, ctx) {
    const rest: string[] = [];
    for (const a of args) {
      if (rest.length > 0 || !a.startsWith('-') || a === '-') rest.push(a);
      else if (a === '-h' || a === '--help') {
        ctx.stdout.write(HELP);
        return 0;
      } else if (a === '-V' || a === '--version') {
        ctx.stdout.write('kmod version 30 (simulated)\n');
        return 0;
      } else if (/^-[psf]+$/.test(a))
        continue; // accepted for compatibility, ignored
      else {
        ctx.stderr.write(
          a.startsWith('--')
            ? `insmod: unrecognized option '${a}'\n`
            : `insmod: invalid option -- '${a[1]!}'\n`,
        );
        return 1;
      }
    }
    const file = rest[0];
    if (file === undefined) {
      ctx.stderr.write('insmod: ERROR: missing filename.\n');
      return 1;
    }
    if (file === '-') {
      ctx.stderr.write('insmod: ERROR: this tool does not support loading from stdin!\n');
      return 1;
    }
    const s = ctx.session;
    const abs = s.abs(file);
    let real: string;
    try {
      if (isMachinePath(abs)) throw new FsError('ENOENT');
      real = s.vfs.hostDir.regularFile(abs);
    } catch (err) {
      const why = strerror(err instanceof FsError ? err.code : 'EIO');
      ctx.stderr.write(`insmod: ERROR: could not load module ${file}: ${why}\n`);
      return 1;
    }
    let mod;
    try {
      mod = openModuleFile(real);
    } catch (e) {
      if (!(e instanceof ModuleLoadError)) throw e;
      ctx.stderr.write(`${loadErrorMessage('insmod', file, e)}\n`);
      return 1;
    }
    const kernel = s.kernel;
    const rc = insertModule(kernel, mod.module, rest.slice(1));
    if (rc === 0) return 0;
    const threw = moduleRuns(kernel).get(mod.name)?.threw ?? null;
    const why =
      threw === null
        ? modStrerror(rc)
        : `init threw ${threw.message}${threw.frames[0] === undefined ? '' : ` in ${formatFrame(threw.frames[0])}`}`;
    ctx.stderr.write(`insmod: ERROR: could not insert module ${file}: ${why}\n`);
    return 1;
  },
};
