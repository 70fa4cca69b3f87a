/**
 * The per-task fault-injection files of `/proc/<pid>` (fs/proc/base.c, CONFIG_FAULT_INJECTION),
 * both mode 0644 and both acting on the task the directory belongs to, whoever writes:
 *
 * - `make-it-fail` (proc_fault_inject_read/write()): reads `%i`; a write (CAP_SYS_RESOURCE,
 *   which the model's root processes have) keeps its first 12 bytes (`PROC_NUMBUF` - 1),
 *   strips white space around them and takes `kstrtoint(…, 0)`: EINVAL or ERANGE for a bad
 *   number, EINVAL outside 0..1. It lets calls of the task through attributes whose
 *   `task-filter` is Y.
 * - `fail-nth` (proc_fail_nth_read/write()): reads `%u`; a write is `kstrtouint_from_user(…, 0)`
 *   (its first 34 bytes, C notation, one trailing newline, no other white space): EINVAL or
 *   ERANGE otherwise. N makes the task's N-th `should_fail_ex()` call fail (0: off); reading
 *   it afterwards gives 0 when that call happened, else the calls still to go.
 *
 * A task that is gone answers ESRCH (`get_proc_task()` finds nothing).
 */
import type { Kernel } from '../kernel/kernel.ts';
import { kstrtoint, kstrtouint } from '../kernel/params-kstrtox.ts';
import { rwFile, type PseudoFile } from '../kernel/pseudo-fs.ts';
import { KernelError } from '../util/errno.ts';
import type { Process } from './process.ts';

const enc = new TextEncoder();

/** `PROC_NUMBUF`: the size of the number buffers of fs/proc/base.c. */
const PROC_NUMBUF = 13;
/** `kstrtouint_from_user`'s buffer (sign, 32 binary digits, newline, NUL) less the NUL. */
const UINT_FROM_USER = 1 + 32 + 1;

/** The C string in the first `max` bytes of a write (a NUL ends it, as the copied buffer's). */
function cString(data: Uint8Array, max: number): string {
  const s = Buffer.from(data.subarray(0, max)).toString('latin1');
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

/** `strstrip()`: without leading and trailing white space (the kernel's `isspace`). */
function strstrip(s: string): string {
  return s.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
}

function liveTask(p: Process): Process {
  if (p.state === 'dead') throw new KernelError('ESRCH', `process ${p.pid} is gone`);
  return p;
}

/** `/proc/<pid>/make-it-fail`. */
export function makeItFailFile(p: Process): PseudoFile {
  return rwFile(
    () => enc.encode(`${liveTask(p).makeItFail}\n`),
    (data) => {
      const r = kstrtoint(strstrip(cString(data, PROC_NUMBUF - 1)), 0);
      if (!r.ok) throw new KernelError(r.error);
      if (r.value < 0 || r.value > 1) throw new KernelError('EINVAL', 'make-it-fail is 0 or 1');
      liveTask(p).makeItFail = r.value;
    },
    0o644,
  );
}

/** `/proc/<pid>/fail-nth` of a process of `kernel`. */
export function failNthFile(kernel: Kernel, p: Process): PseudoFile {
  return rwFile(
    () => enc.encode(`${liveTask(p).failNth}\n`),
    (data) => {
      const r = kstrtouint(cString(data, UINT_FROM_USER), 0);
      if (!r.ok) throw new KernelError(r.error);
      liveTask(p).failNth = r.value;
      kernel.current.failNthChanged(p);
    },
    0o644,
  );
}
