/**
 * How every `kho` subcommand ends: success, or one line on stderr (`kho fdt: x.dtb: No such
 * file or directory`) and an exit status. No stack trace, Node error code or V8 message reaches
 * the user: host errors carry strerror texts (src/util/host-errors.ts), and anything unforeseen
 * is still reported in one line.
 *
 * Exit statuses: 0 success; 1 a failed check or operation (and a write error on stdout, as
 * coreutils give); 2 usage errors, which include input files that cannot be read. A reader that
 * goes away ends the command by SIGPIPE (src/util/host-output.ts).
 */
import { errorCode, HostIoError, hostErrorText } from '../util/host-errors.ts';
import { stderr } from '../util/host-output.ts';

/** A user-facing failure: its one-line message and exit status. */
export class CliFailure extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CliFailure';
    this.exitCode = exitCode;
  }
}

/** A usage error (exit 2). */
export function usageError(message: string): CliFailure {
  return new CliFailure(message, 2);
}

/** The line and status for a failure. */
export function describeFailure(err: unknown): { message: string; status: number } {
  if (err instanceof CliFailure) return { message: err.message, status: err.exitCode };
  if (err instanceof HostIoError) return { message: err.message, status: err.path === 'write error' ? 1 : 2 };
  // A Node system error that escaped its caller: strerror text, with the path when it has one.
  const code = errorCode(err);
  if (code !== null && /^E[A-Z0-9]+$/.test(code)) {
    const path = (err as { path?: unknown }).path;
    return { message: `${typeof path === 'string' ? `${path}: ` : ''}${hostErrorText(err)}`, status: 1 };
  }
  // V8's own texts (`Invalid string length`, `Array buffer allocation failed`) are not for users.
  if (err instanceof RangeError) return { message: hostErrorText(err), status: 1 };
  return { message: err instanceof Error ? err.message : String(err), status: 1 };
}

/** Print a failure as `PREFIX: message` and set the exit status. */
export function reportFailure(prefix: string, err: unknown): void {
  const { message, status } = describeFailure(err);
  stderr.write(`${prefix}: ${message}\n`);
  process.exitCode = status;
}

/** Run a subcommand's action; a failure becomes one line and an exit status. */
export async function runAction(prefix: string, action: () => void | Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    reportFailure(prefix, err);
  }
}
