/**
 * A short synchronous sleep, for retrying a read or write on a non-blocking descriptor that said
 * EAGAIN (Node has no synchronous poll()), and the retry loop itself. Atomics.wait blocks the
 * calling thread without spinning; it is allowed on Node's main thread and in workers.
 */
const cell = new Int32Array(new SharedArrayBuffer(4));

/** Block the calling thread for about `ms` milliseconds. */
export function sleepSync(ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}

/**
 * Back-off for EAGAIN retries: 1 ms doubling to 16 ms, so a reader or writer that stays busy
 * costs about 60 wake-ups a second and one that becomes ready is noticed quickly.
 */
export class Backoff {
  private ms = 1;

  /** Sleep the current step and lengthen the next. */
  wait(): void {
    sleepSync(this.ms);
    if (this.ms < 16) this.ms *= 2;
  }

  /** Progress was made: the next wait starts short again. */
  reset(): void {
    this.ms = 1;
  }
}

/**
 * Run a read(2)- or write(2)-like call until it stops failing with EAGAIN (a non-blocking
 * descriptor that is not ready: wait and retry) or EINTR (retry at once); other errors pass.
 */
export function retryIo(call: () => number): number {
  const backoff = new Backoff();
  for (;;) {
    try {
      return call();
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (code === 'EAGAIN') backoff.wait();
      else if (code !== 'EINTR') throw err;
    }
  }
}
