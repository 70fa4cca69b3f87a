/**
 * The user space of a module under `kho check` (`ModuleDefinition.userspace`): run after every
 * boot in a process of the machine (a child of init, its terminal captured), which is not exited
 * afterwards, so the descriptors it keeps (LUO sessions and their files) are open at the kexec
 * as a daemon's would be. A throw is the process dying: reported with the module's function.
 */
import { TaskBlockedError } from '../kernel/fs/fdtable.ts';
import { SigbusError } from '../kernel/fs/file.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { errorFrames, formatFrame } from '../kernel/loadable/caller.ts';
import { loadedDefinition, userspacePhase } from '../kernel/loadable/load.ts';
import type { Process } from '../user/process.ts';
import { ttyFiles } from '../user/tty.ts';
import { userspace } from '../user/userspace.ts';

/** How the module's user space ran in one kernel. */
export interface UserspaceRun {
  /** Exit status (0 success; 128 + signal when it died). */
  status: number;
  /** What it printed (stdout and stderr), line by line. */
  output: string[];
  /** Why it failed, in one line (null on success). */
  failure: string | null;
}

/** Run the user space of module `name` in `k`; null when the module has none (or did not load). */
export function runModuleUserspace(k: Kernel, name: string): UserspaceRun | null {
  const def = loadedDefinition(k, name);
  if (def?.userspace === undefined) return null;
  const main = (p: Process): unknown =>
    (def.userspace as (this: unknown, p: Process) => unknown).call(def, p);
  const u = userspace(k);
  const p = u.spawn(u.init, [name]);
  if (typeof p === 'number') return { status: 254, output: [], failure: `fork failed: ${p}` };
  let text = '';
  const dec = new TextDecoder();
  const sink = (t: string | Uint8Array): void => {
    text += typeof t === 'string' ? t : dec.decode(t);
  };
  const tty = ttyFiles(k.fs, { stdout: sink, stderr: sink });
  for (let fd = 0; fd <= 2; fd++) {
    p.files.close(fd);
    p.files.install(p.files.allocFd(fd, 0), tty[fd]!);
  }
  let status: number;
  let failure: string | null = null;
  userspacePhase(k, name, 'start');
  try {
    const r = main(p);
    status = typeof r === 'number' && Number.isInteger(r) ? r & 0xff : 1;
    if (status !== 0) failure = `${name}'s user space exited with status ${status}`;
  } catch (e) {
    const at = errorFrames(e)[0];
    const where = at === undefined ? '' : ` in ${formatFrame(at)}`;
    if (e instanceof SigbusError) status = 128 + 7;
    else if (e instanceof TaskBlockedError) status = 128 + 9;
    else status = 128 + 11;
    const what = e instanceof Error ? e.message.split('\n', 1)[0]! : String(e);
    failure = `${name}'s user space died${where}: ${what}`;
  } finally {
    userspacePhase(k, name, 'end');
  }
  const output = text.split('\n');
  if (output.at(-1) === '') output.pop();
  return { status, output, failure };
}
