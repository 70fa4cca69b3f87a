/**
 * Progress of long simulated work on the terminal: the machine's long-work meter
 * (src/util/long-work.ts) reports after about two seconds; this prints each report over the
 * previous one on stderr, and clears the line when the work ends. Only when stderr is a
 * terminal: piped output never sees progress lines.
 */
import type { Machine } from '../kernel/machine.ts';
import { formatProgress } from '../util/long-work.ts';

/** What a progress line needs of the terminal's stderr. */
export interface ProgressTerminal {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** Show `machine`'s progress reports on `stderr` when it is a terminal. */
export function attachProgress(machine: Machine, stderr: ProgressTerminal): void {
  if (stderr.isTTY !== true) return;
  machine.work.sink = (e) => {
    stderr.write(e.final ? '\r\x1b[K' : `\r\x1b[K${formatProgress(e)}`);
  };
}
