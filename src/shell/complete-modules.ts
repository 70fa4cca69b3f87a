/**
 * Tab completion of module names: every module the machine has after `modprobe`, the loaded
 * ones (lsmod without the built-ins) after `rmmod` and `modprobe -r`. Parameters after the
 * name complete as paths, as bash does without a completion for them.
 */
import { lsmod, machineCatalog } from '../kernel/module.ts';
import type { Session } from './session.ts';
import type { ArgCompleter } from './complete.ts';

function loadedModules(session: Session): string[] {
  const k = session.machine.kernel;
  return k === null
    ? []
    : lsmod(k)
        .filter((x) => !x.builtin)
        .map((x) => x.name);
}

/** `modprobe NAME`, `modprobe -r NAME`. */
export const completeModprobe: ArgCompleter = (session, args) => {
  if (session.machine.kernel === null) return [];
  if (args.length === 0) return machineCatalog(session.machine)?.names() ?? [];
  if (args.length === 1 && (args[0] === '-r' || args[0] === '--remove')) return loadedModules(session);
  return 'path';
};

/** `rmmod NAME`. */
export const completeRmmod: ArgCompleter = (session, args) =>
  args.length === 0 ? loadedModules(session) : 'path';
