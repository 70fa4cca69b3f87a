/**
 * A pending interrupt, shared between the thread that runs a simulated machine and the thread
 * that owns the terminal (or a test). Long kernel-side loops poll it the way kernel code polls
 * `signal_pending(current)` (include/linux/sched/signal.h) or `fatal_signal_pending()` and
 * unwind with -EINTR where the kernel does; the front end raises it on Ctrl-C.
 *
 * The flag lives in a SharedArrayBuffer so that another thread can raise it while the machine's
 * thread is busy in a synchronous loop: a plain `process.on('SIGINT')` handler cannot run until
 * that loop returns.
 */
export class InterruptFlag {
  /** The shared word; pass it to another thread to raise the flag from there. */
  readonly buffer: SharedArrayBuffer;
  private readonly word: Int32Array;

  /** A new flag, or a view of one created in another thread. */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.buffer = buffer;
    this.word = new Int32Array(buffer, 0, 1);
  }

  /** Ask the running work to stop (Ctrl-C). */
  raise(): void {
    Atomics.store(this.word, 0, 1);
  }

  /** Forget a pending interrupt (the front end does this before running the next command). */
  clear(): void {
    Atomics.store(this.word, 0, 0);
  }

  /** `signal_pending()`: cheap enough to call every few thousand iterations of a hot loop. */
  pending(): boolean {
    return Atomics.load(this.word, 0) !== 0;
  }
}
