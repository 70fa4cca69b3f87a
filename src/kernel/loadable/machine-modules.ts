/**
 * The modules of a machine built with module files: the shipped catalog (`test_kho`, `memfd`)
 * plus each file, built into the kernel (`--module FILE`: initialised at device_initcall in
 * every kernel the machine boots, successors included, like CONFIG_…=y code). A module file
 * named by path in `/etc/modules-load.d` is found on the host by the caller's `hostFile` (the
 * shell's host directory, docs/shell.md), relative to the current directory without one.
 */
import { resolve } from 'node:path';
import { ERRNO, strerror } from '../../util/errno.ts';
import { errorCode } from '../../util/host-errors.ts';
import type { Machine } from '../machine.ts';
import { configureModules, ModuleCatalog, ModuleError, canonical } from '../module.ts';
import { defaultModuleCatalog } from '../modules/catalog.ts';
import { ModuleLoadError, openModuleFile, type ModuleFile } from './load.ts';

/** kmod's insmod `mod_strerror()`: init_module's errno as insmod words it. */
export function modStrerror(errno: number): string {
  switch (Math.abs(errno)) {
    case ERRNO.ENOEXEC:
      return 'Invalid module format';
    case ERRNO.ENOENT:
      return 'Unknown symbol in module';
    case ERRNO.EINVAL:
      return 'Invalid parameters';
    default:
      return strerror(errno);
  }
}

/**
 * The line insmod prints for a module file that cannot be loaded: kmod's `could not load module`
 * (the file cannot be read) or `could not insert module` with the reason in parentheses (the
 * model adds it; the kernel would log it).
 */
export function loadErrorMessage(tool: string, file: string, e: ModuleLoadError): string {
  return `${tool}: ERROR: could not ${e.stage === 'open' ? 'load' : 'insert'} module ${file}: ${loadErrorReason(e)}`;
}

/** Why a module file cannot be loaded, in insmod's words (after `could not … module FILE: `). */
export function loadErrorReason(e: ModuleLoadError): string {
  return e.stage === 'open' ? strerror(e.code) : `${modStrerror(ERRNO[e.code])} (${e.reason})`;
}

/**
 * Configure `machine` with the shipped modules and `files` built in. `hostFile` turns a path
 * written in `/etc/modules-load.d` into the host file to load, or throws an error with an errno
 * `code` (EACCES outside the shell's host directory). Throws ModuleError on a name clash.
 */
export function configureWithModuleFiles(
  machine: Machine,
  files: readonly ModuleFile[],
  hostFile: (path: string) => string = (path) => resolve(process.cwd(), path),
): void {
  const shipped = defaultModuleCatalog();
  const seen = new Set<string>();
  for (const f of files) {
    const n = canonical(f.name);
    if (shipped.find(n) !== undefined)
      throw new ModuleError('EEXIST', `${f.path}: module name ${f.name} is taken by a shipped module`);
    if (seen.has(n)) throw new ModuleError('EEXIST', `${f.path}: module ${f.name} is given twice`);
    seen.add(n);
  }
  const all = [...shipped.names().map((n) => shipped.find(n)!), ...files.map((f) => f.module)];
  configureModules(machine, {
    catalog: new ModuleCatalog(all),
    builtin: files.map((f) => f.name),
    openFile: (path) => {
      try {
        return openModuleFile(hostFile(path)).module;
      } catch (e) {
        if (e instanceof ModuleLoadError) return new ModuleError(e.code, loadErrorReason(e));
        const code = errorCode(e);
        if (code !== null && code in ERRNO) return new ModuleError(code, strerror(code));
        throw e;
      }
    },
  });
}
