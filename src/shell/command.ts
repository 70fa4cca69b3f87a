/**
 * What a shell command is: a name, a one-line summary for `help`, and a `run` that reads
 * arguments and stdin and writes stdout/stderr, returning the exit status the real tool would.
 *
 * Commands that read standard input say how (`stdin`): `'whole'` gets it as one buffer in
 * `ctx.stdin` (bounded), `'stream'` reads `ctx.input` chunk by chunk (cat, grep, head…, so that
 * pipelines stream). A command that writes a lot awaits `drain(ctx.stdout)` now and then and
 * calls `ctx.checkInterrupt()` in long loops, so Ctrl-C and a finished reader stop it.
 */
import type { Sink } from './io.ts';
import type { Session } from './session.ts';
import type { InputStream } from './stream.ts';

/** Everything a running command can use. */
export interface CommandContext {
  readonly session: Session;
  /**
   * Piped or redirected input as one buffer, for commands with `stdin: 'whole'`; null when
   * stdin is the terminal or the command does not declare that it reads stdin.
   */
  readonly stdin: Uint8Array | null;
  /** Streaming input for commands with `stdin: 'stream'`; null when stdin is the terminal. */
  readonly input: InputStream | null;
  readonly stdout: Sink;
  readonly stderr: Sink;
  /** Throws when Ctrl-C is pending (the terminal then shows a new prompt); cheap to call. */
  checkInterrupt(): void;
}

/** A command of the simulated machine. */
export interface ShellCommand {
  readonly name: string;
  /** Usage line for `help` (e.g. `cat [FILE]...`). */
  readonly usage: string;
  /** One-line description for `help`. */
  readonly summary: string;
  /** Longer help for `help NAME` (defaults to the usage and summary). */
  readonly help?: string;
  /** A bash builtin: its errors read `-bash: NAME: ...`. */
  readonly builtin?: boolean;
  /** How the command reads standard input (absent: it does not). */
  readonly stdin?: 'whole' | 'stream';
  run(args: readonly string[], ctx: CommandContext): number | Promise<number>;
}
