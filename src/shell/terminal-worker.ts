/**
 * The shell session in a worker thread: it boots the machine, runs what the front end sends
 * (src/shell/terminal-protocol.ts) and streams output back with flow control. Busy work (a
 * kernel loop, a shell loop, a long pipeline) runs here, so the front end's keyboard stays
 * live; Ctrl-C arrives as the machine's shared InterruptFlag, which that work polls.
 *
 * {@link TerminalSession} is the logic without the thread (tests drive it directly); the bottom
 * of the file starts it when this module is a worker's entry.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { InterruptFlag } from '../util/interrupt.ts';
import { complete } from './complete.ts';
import { FsError, Interrupted, strerror, type Sink } from './io.ts';
import { HostDir } from '../util/host-dir.ts';
import { attachProgress } from './progress.ts';
import { bootMachine, createSession, MACHINE_DEFAULTS, machineConfig } from './machine-setup.ts';
import { ScriptRunner } from './script.ts';
import type { Session } from './session.ts';
import { OUTPUT_WINDOW, type FromWorker, type TerminalStart, type ToWorker } from './terminal-protocol.ts';

const enc = new TextEncoder();
/** Output batched into one message at most. */
const BATCH = 64 * 1024;

/** The worker side of a terminal. */
export class TerminalSession {
  private readonly start: TerminalStart;
  private readonly send: (m: FromWorker) => void;
  private readonly flag: InterruptFlag;
  private session: Session | null = null;
  private runner: ScriptRunner | null = null;
  private columns: number | null;
  /** Messages that run input, one at a time. */
  private chain: Promise<void> = Promise.resolve();
  private ended = false;
  // Output batching and flow control.
  private batch: { fd: 1 | 2; data: Uint8Array }[] = [];
  private batchBytes = 0;
  private flushQueued = false;
  private unacked = 0;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(start: TerminalStart, send: (m: FromWorker) => void) {
    this.start = start;
    this.send = send;
    this.flag = new InterruptFlag(start.interrupt);
    this.columns = start.columns;
  }

  /** A sink for fd 1 or 2 that batches into `out` messages and waits for acks. */
  private sink(fd: 1 | 2): Sink {
    return {
      write: (data) => {
        const b = typeof data === 'string' ? enc.encode(data) : data.slice();
        if (b.length === 0) return;
        this.batch.push({ fd, data: b });
        this.batchBytes += b.length;
        if (this.batchBytes >= BATCH) this.flush();
        else if (!this.flushQueued) {
          this.flushQueued = true;
          queueMicrotask(() => {
            this.flush();
          });
        }
      },
      ready: async () => {
        this.flush();
        while (this.unacked > OUTPUT_WINDOW) {
          if (this.flag.pending()) throw new Interrupted();
          await new Promise<void>((resolve, reject) => {
            this.waiters.push({ resolve, reject });
          });
        }
      },
    };
  }

  /** Send batched output, merging neighbours of the same fd. */
  private flush(): void {
    this.flushQueued = false;
    if (this.batch.length === 0) return;
    let i = 0;
    while (i < this.batch.length) {
      const fd = this.batch[i]!.fd;
      let j = i;
      let n = 0;
      while (j < this.batch.length && this.batch[j]!.fd === fd) n += this.batch[j++]!.data.length;
      const data = new Uint8Array(n);
      let off = 0;
      for (let k = i; k < j; k++) {
        data.set(this.batch[k]!.data, off);
        off += this.batch[k]!.data.length;
      }
      this.unacked += n;
      this.send({ t: 'out', fd, data });
      i = j;
    }
    this.batch = [];
    this.batchBytes = 0;
  }

  private wake(err?: Error): void {
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) {
      if (err === undefined) x.resolve();
      else x.reject(err);
    }
  }

  /** Build and boot the machine; false (after a `fatal` message) when that fails. */
  boot(): boolean {
    const cfg = machineConfig(this.start.machine);
    if (typeof cfg === 'string') {
      this.send({ t: 'fatal', message: cfg, status: 2 });
      return false;
    }
    let hostDir: HostDir;
    try {
      hostDir = new HostDir(this.start.hostDir);
    } catch (err) {
      const why = strerror(err instanceof FsError ? err.code : 'EIO');
      this.send({ t: 'fatal', message: `--host-dir: ${this.start.hostDir ?? ''}: ${why}`, status: 2 });
      return false;
    }
    const machine = bootMachine(cfg, { interrupt: this.flag, hostDir });
    if (typeof machine === 'string') {
      this.send({ t: 'fatal', message: machine, status: 1 });
      return false;
    }
    if (this.start.progress === true) {
      // Sent at once: the work that reports runs synchronously, so a batched line would wait.
      const err = this.sink(2);
      attachProgress(machine, {
        isTTY: true,
        write: (text) => {
          err.write(text);
          this.flush();
        },
      });
    }
    const line = this.start.mode === 'line';
    const session = createSession(machine, cfg, {
      stdout: this.sink(1),
      stderr: this.sink(2),
      home: hostDir,
      columns: () => this.columns,
    });
    this.session = session;
    // Neither a person at a prompt nor bash reading a pipe sees the commands echoed back
    // (`kho run` is the transcript).
    this.runner = new ScriptRunner(session, {
      quiet: true,
      transcript: session.stdout,
      errors: session.stderr,
      errexit: false,
      interactive: line,
    });
    const m = this.start.machine;
    this.send({
      t: 'ready',
      banner:
        `Linux kho ${machine.kernel!.release} #1 SMP PREEMPT_DYNAMIC x86_64 (simulated: ${m.mem ?? MACHINE_DEFAULTS.mem}, ${cfg.nodes} nodes, "${cfg.cmdline}")\n` +
        "Type 'help' for the commands; Ctrl-D or 'exit' leaves.\n\n",
    });
    if (line) this.prompt();
    return true;
  }

  private prompt(): void {
    const s = this.session!;
    const cont = this.runner!.pending;
    this.flag.clear();
    this.flush();
    this.send({ t: 'prompt', text: cont ? '> ' : s.prompt(), continuation: cont });
  }

  private exit(status: number): void {
    this.ended = true;
    this.flush();
    this.send({ t: 'exit', status, logout: this.start.mode === 'line' });
  }

  /** Handle one message from the front end. */
  handle(m: ToWorker): void {
    switch (m.t) {
      case 'ack':
        this.unacked = Math.max(0, this.unacked - m.bytes);
        if (this.unacked <= OUTPUT_WINDOW) this.wake();
        return;
      case 'interrupt':
        this.wake(new Interrupted());
        return;
      case 'resize':
        this.columns = m.columns;
        return;
      case 'complete': {
        let r: [string[], string] = [[], ''];
        try {
          if (this.session !== null) r = complete(this.session, m.line);
        } catch {
          // A completion never disturbs the terminal.
        }
        this.send({ t: 'completions', id: m.id, matches: r[0], word: r[1] });
        return;
      }
      default:
        this.chain = this.chain.then(() => this.run(m));
    }
  }

  /** Input, end of input, or a cancelled line, in order. */
  private async run(m: ToWorker): Promise<void> {
    const runner = this.runner;
    const s = this.session;
    if (runner === null || s === null || this.ended) return;
    let final = false;
    if (m.t === 'line') runner.feed(`${m.text}\n`);
    else if (m.t === 'input') runner.feed(m.text);
    else if (m.t === 'cancel') {
      runner.discard();
      s.status = 130;
      this.prompt();
      return;
    } else final = true;
    const r = await runner.run(final);
    if (this.flag.pending()) {
      this.flush();
      this.send({ t: 'interrupted' });
      if (this.start.mode === 'stream') {
        this.exit(130);
        return;
      }
    }
    if (r !== null) {
      // The input ended: `exit`, the end of input, or (not at a prompt) a script error.
      this.exit(s.exitStatus ?? r.status);
      return;
    }
    if (this.start.mode === 'line') this.prompt();
    else this.flush();
  }
}

if (
  !isMainThread &&
  parentPort !== null &&
  (workerData as { kind?: string } | null)?.kind === 'kho-terminal'
) {
  const port = parentPort;
  const start = (workerData as { start: TerminalStart }).start;
  const t = new TerminalSession(start, (m) => {
    port.postMessage(m);
  });
  port.on('message', (m: ToWorker) => {
    t.handle(m);
  });
  t.boot();
}
