/**
 * The front end's handle on a shell session in a worker thread (src/shell/terminal-worker.ts,
 * messages in src/shell/terminal-protocol.ts): it starts the worker with a shared interrupt
 * flag and passes messages both ways. `kho shell` puts readline in front of it (repl.ts); a
 * WebSocket server can put a browser terminal in front of the same object.
 */
import { Worker } from 'node:worker_threads';
import { InterruptFlag } from '../util/interrupt.ts';
import type { FromWorker, TerminalStart, ToWorker } from './terminal-protocol.ts';

/** A running terminal session. */
export class TerminalHost {
  /** Ctrl-C's shared flag (the worker's machine polls it). */
  readonly interrupt: InterruptFlag;
  private readonly worker: Worker;
  private closed = false;

  /**
   * Start a session; `onMessage` receives every worker message, `onError` a crash of the
   * worker itself (a bug: the session is gone).
   */
  constructor(
    start: Omit<TerminalStart, 'interrupt'>,
    onMessage: (m: FromWorker) => void,
    onError: (message: string) => void,
  ) {
    this.interrupt = new InterruptFlag();
    const data: TerminalStart = { ...start, interrupt: this.interrupt.buffer };
    this.worker = new Worker(new URL('./terminal-worker.ts', import.meta.url), {
      workerData: { kind: 'kho-terminal', start: data },
      stdout: false,
      stderr: false,
    });
    this.worker.on('message', (m: FromWorker) => {
      onMessage(m);
    });
    this.worker.on('error', (err: unknown) => {
      if (!this.closed) onError(err instanceof Error ? err.message : String(err));
    });
    this.worker.on('exit', (code) => {
      if (!this.closed && code !== 0) onError(`the terminal's worker stopped (exit code ${code})`);
    });
  }

  /** Send a message to the session. */
  send(m: ToWorker): void {
    if (!this.closed) this.worker.postMessage(m);
  }

  /** Ctrl-C while a command runs: raise the shared flag, then wake the worker's waits. */
  raiseInterrupt(): void {
    this.interrupt.raise();
    this.send({ t: 'interrupt' });
  }

  /** Stop the worker (after `exit`, or when it no longer answers). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.terminate();
  }
}
