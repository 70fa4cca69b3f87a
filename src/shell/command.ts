/**
 * What a shell command is: a name, a one-line summary for `help`, and a `run` that reads
 * arguments and stdin and writes stdout/stderr, returning the exit status the real tool would.
 */
import type { Sink } from './io.ts';
import type { Session } from './session.ts';

/** Everything a running command can use. */
export interface CommandContext {
  readonly session: Session;
  /** Piped or redirected input; null when stdin is the terminal (commands then read nothing). */
  readonly stdin: Uint8Array | null;
  readonly stdout: Sink;
  readonly stderr: Sink;
}

/** A command of the simulated machine. */
export interface ShellCommand {
  readonly name: string;
  /** Usage line for `help` (e.g. `cat [FILE]...`). */
  readonly usage: string;
  /** One-line description for `help`. */
  readonly summary: string;
  /** A bash builtin: its errors read `-bash: NAME: ...`. */
  readonly builtin?: boolean;
  run(args: readonly string[], ctx: CommandContext): number | Promise<number>;
}
