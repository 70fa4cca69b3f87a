/**
 * Runs a check in a worker thread under a watchdog. A module whose init never returns is
 * synchronous JavaScript that nothing inside its thread can stop; the supervisor terminates the
 * worker when the check makes no progress (a new generation, a module's init starting or
 * ending) for `timeout` seconds and reports the kernel's soft lockup (src/kernel/watchdog.ts
 * says why that report and not the hung-task one). Built-in initcalls run in PID 1 before it
 * executes init, whose name is still `swapper/0`.
 */
import { Worker } from 'node:worker_threads';
import { INITCALL_TASK, softLockupLines } from '../kernel/watchdog.ts';
import { checkCmdline } from './cmdline.ts';
import type { CheckEvent, CheckOptions, CheckReport, GenerationResult } from './engine.ts';

/** A check with its watchdog timeout in seconds. */
export interface SupervisedCheck extends CheckOptions {
  timeout: number;
}

type Message =
  | CheckEvent
  | {
      type: 'phase';
      phase: 'init' | 'exit' | 'userspace';
      state: 'start' | 'end';
      module: string;
      gen: number;
    }
  | { type: 'ready' }
  | { type: 'done'; report: CheckReport };

/** Run `o` in a worker; resolves with the report (verdict `hung` when the watchdog fired). */
export function superviseCheck(o: SupervisedCheck): Promise<CheckReport> {
  const { timeout, ...opts } = o;
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: opts });
    const results: GenerationResult[] = [];
    let gen = 0;
    let phase: { module: string; gen: number; what: 'init' | 'exit' | 'userspace' } | null = null;
    let timer: NodeJS.Timeout | null = null;
    let settled = false;
    const arm = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        void fire();
      }, timeout * 1000);
    };
    const settle = (r: CheckReport | Error): void => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const fire = async (): Promise<void> => {
      if (settled) return;
      await worker.terminate();
      const module = phase?.module ?? null;
      const where =
        phase === null
          ? `generation ${gen} did not finish booting`
          : `${phase.module}: ${phase.what} did not return in generation ${phase.gen}`;
      const secs = Math.round(timeout);
      settle({
        module,
        file: opts.file,
        profile: opts.profile,
        machine: { mem: opts.mem, nodes: opts.nodes, seed: opts.seed, cmdline: checkCmdline(opts.cmdline) },
        generationsWanted: opts.generations,
        generations: results,
        verdict: 'hung',
        errors: results.reduce((a, g) => a + g.findings.filter((f) => f.severity === 'error').length, 0) + 1,
        warnings: results.reduce((a, g) => a + g.findings.filter((f) => f.severity === 'warning').length, 0),
        stopped: `${where} within ${secs} s (stopped by the watchdog)`,
        // A process spinning in user space locks no CPU up: only the kernel side is a soft lockup.
        hung:
          phase?.what === 'userspace'
            ? [where]
            : [...softLockupLines(secs, INITCALL_TASK, module === null ? [] : [module]), where],
      });
    };
    worker.on('message', (m: Message) => {
      // Any message is progress: the watchdog measures time without one.
      arm();
      if (m.type === 'generation') {
        gen = m.gen;
        phase = null;
      } else if (m.type === 'phase') {
        phase = m.state === 'start' ? { module: m.module, gen: m.gen, what: m.phase } : null;
      } else if (m.type === 'result') {
        results.push(m.result);
      } else if (m.type === 'done') {
        settle(m.report);
      }
    });
    worker.on('error', (e: unknown) => {
      settle(e instanceof Error ? e : new Error(String(e)));
    });
    worker.on('exit', () => {
      // Messages posted before the exit are delivered first; wait one turn to be sure.
      setImmediate(() => {
        settle(new Error('the check stopped without a report'));
      });
    });
  });
}
