/**
 * The modules of a machine built with module files: the shipped catalog (`test_kho`, `memfd`)
 * plus each file, built into the kernel (`--module FILE`: initialised at device_initcall in
 * every kernel the machine boots, successors included, like CONFIG_…=y code).
 */
import type { Machine } from '../machine.ts';
import { configureModules, ModuleCatalog, ModuleError, canonical } from '../module.ts';
import { defaultModuleCatalog } from '../modules/catalog.ts';
import type { ModuleFile } from './load.ts';

/** Configure `machine` with the shipped modules and `files` built in. Throws ModuleError on a name clash. */
export function configureWithModuleFiles(machine: Machine, files: readonly ModuleFile[]): void {
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
  configureModules(machine, { catalog: new ModuleCatalog(all), builtin: files.map((f) => f.name) });
}
