/**
 * The `kho` command's standard output and standard error: every byte is written synchronously
 * to the descriptor, as a C tool's write(2) loop does, so output is never lost, never reordered
 * and never piles up in memory:
 *
 * - short writes are continued;
 * - EAGAIN (a descriptor left non-blocking, which Node does to pipes once `process.stdout` is
 *   touched) waits and retries, so a slow reader only slows the command down;
 * - EPIPE (the reader went away: `kho inspect --json | head -c 100`) ends the process by
 *   SIGPIPE, exactly as it ends `cat`: no message, and the shell sees status 141;
 * - any other failure (`> /dev/full`) is a {@link HostIoError} `write error: No space left on
 *   device`, as coreutils print it.
 *
 * Producers of large output (DTS, JSON, reports) hand their text over in chunks, so the
 * memory used is bounded by the chunk size whatever the output's length (see text-sink.ts).
 */
import { writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { errorCode, HostIoError, hostErrorText } from './host-errors.ts';
import { retryIo, sleepSync } from './sleep-sync.ts';

/**
 * The reader of our output is gone: die of SIGPIPE as coreutils do. Node ignores SIGPIPE
 * (libuv sets SIG_IGN at start-up); adding and removing a listener makes libuv restore the
 * default action, so the signal we send ourselves terminates the process. Outside the main
 * thread a signal cannot be used: the caller gets a `Broken pipe` error instead.
 */
export function brokenPipe(): never {
  if (isMainThread) {
    const ignore = (): void => undefined;
    process.on('SIGPIPE', ignore);
    process.off('SIGPIPE', ignore);
    process.kill(process.pid, 'SIGPIPE');
    sleepSync(100); // the signal is on its way; the exit below is only a fallback
    process.exit(128 + 13);
  }
  throw new HostIoError('write error', hostErrorText({ code: 'EPIPE' }), 'EPIPE');
}

/** A host descriptor written synchronously and completely. */
export class HostOutput {
  /** The descriptor (1 = stdout, 2 = stderr). */
  readonly fd: number;

  constructor(fd: number) {
    this.fd = fd;
  }

  /** Write all of `data` (strings as UTF-8); returns when the kernel has taken every byte. */
  write(data: string | Uint8Array): void {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let off = 0; off < b.length;) {
      try {
        off += retryIo(() => writeSync(this.fd, b, off, b.length - off));
      } catch (err) {
        const code = errorCode(err);
        if (code === 'EPIPE') brokenPipe();
        throw new HostIoError('write error', hostErrorText(err), code);
      }
    }
  }
}

/** The command's standard output. */
export const stdout = new HostOutput(1);
/** The command's standard error. */
export const stderr = new HostOutput(2);
