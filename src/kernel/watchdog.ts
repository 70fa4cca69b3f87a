/**
 * The soft-lockup report (kernel/watchdog.c: watchdog_timer_fn()): what the kernel prints when a
 * CPU has run kernel code without scheduling for longer than the threshold. The model prints it
 * when a module's code never returns and the machine's thread is stopped from outside (`kho
 * check --timeout`, Ctrl-C in a shell whose machine runs in a worker): a JavaScript loop that
 * never yields is exactly a CPU spinning in kernel mode. (The hung-task report of
 * kernel/hung_task.c is for tasks asleep in D state, which a loop cannot be.)
 */

/** The task a CPU was running: `swapper/0` (PID 1 before it executes init) runs built-in initcalls. */
export interface LockedTask {
  comm: string;
  pid: number;
}

/** The report lines for a lockup of `seconds` in `task`, with the modules linked in. */
export function softLockupLines(seconds: number, task: LockedTask, modules: readonly string[]): string[] {
  return [
    `watchdog: BUG: soft lockup - CPU#0 stuck for ${Math.round(seconds)}s! [${task.comm}:${task.pid}]`,
    `Modules linked in: ${modules.join(' ')}`.trimEnd(),
  ];
}

/** The task that runs built-in initcalls at boot. */
export const INITCALL_TASK: LockedTask = { comm: 'swapper/0', pid: 1 };
