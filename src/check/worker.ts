/**
 * The worker thread of `kho check`: runs the engine and posts its progress, the module phases
 * (for the watchdog) and the final report to the supervisor (supervise.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { onModulePhase } from '../kernel/loadable/load.ts';
import { runCheck, type CheckOptions } from './engine.ts';

const port = parentPort;
if (port !== null) {
  // Loading the model took what it took; the watchdog starts now.
  port.postMessage({ type: 'ready' });
  onModulePhase((e) => {
    port.postMessage({ type: 'phase', ...e });
  });
  const report = runCheck(workerData as CheckOptions, (e) => {
    port.postMessage(e);
  });
  port.postMessage({ type: 'done', report });
}
