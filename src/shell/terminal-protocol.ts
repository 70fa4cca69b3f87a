/**
 * The messages between a terminal front end and the shell session that runs, with its
 * machine, in a worker thread (src/shell/terminal-worker.ts). The front end owns the keyboard
 * and the screen (readline in `kho shell`, a browser terminal behind a WebSocket in
 * `kho serve`); the worker owns the machine, so a long kernel loop never freezes the keyboard.
 * Ctrl-C travels as shared memory (the machine's InterruptFlag, src/util/interrupt.ts), which
 * a busy worker sees at once; everything else is a structured-clone message, so the same
 * objects can cross a WebSocket as JSON (Uint8Array data as base64 or an array there).
 * docs/shell.md describes the exchange.
 */
import type { MachineCliOptions } from './machine-setup.ts';

/** How the worker starts (its `workerData`). */
export interface TerminalStart {
  /** Machine options as typed (checked again in the worker). */
  readonly machine: MachineCliOptions;
  /** The shared word of the machine's InterruptFlag. */
  readonly interrupt: SharedArrayBuffer;
  /** The host directory the shell may use (null: none), see docs/shell.md. */
  readonly hostDir: string | null;
  /** Terminal width for `ls` (null: not a terminal). */
  readonly columns: number | null;
  /** stderr is a terminal: long simulated work shows a progress line there (src/shell/progress.ts). */
  readonly progress?: boolean;
  /**
   * `line`: a person types lines (prompts, errors without line numbers, errors end only the
   * line). `stream`: input is a script arriving in pieces (each command is echoed after the
   * prompt, a syntax error ends the session with status 2), as bash reading a pipe.
   */
  readonly mode: 'line' | 'stream';
}

/** Front end → worker. */
export type ToWorker =
  /** One typed line, without its newline (`line` mode). */
  | { readonly t: 'line'; readonly text: string }
  /** A piece of a script (`stream` mode). */
  | { readonly t: 'input'; readonly text: string }
  /** No more input (Ctrl-D at an empty prompt, or the pipe ended): the session ends. */
  | { readonly t: 'eof' }
  /** Ctrl-C at the prompt: forget a half-typed command; `$?` becomes 130. */
  | { readonly t: 'cancel' }
  /** Ctrl-C while a command runs (after raising the shared flag): wakes waits at once. */
  | { readonly t: 'interrupt' }
  /** Tab: completions for `line` (the text up to the cursor). */
  | { readonly t: 'complete'; readonly id: number; readonly line: string }
  /** The terminal's width changed. */
  | { readonly t: 'resize'; readonly columns: number | null }
  /** `bytes` of output have been shown (flow control: the worker waits beyond a window). */
  | { readonly t: 'ack'; readonly bytes: number };

/** Worker → front end. */
export type FromWorker =
  /** The machine has booted; `banner` is the login banner to show (line mode). */
  | { readonly t: 'ready'; readonly banner: string }
  /** The machine could not be built or booted. */
  | { readonly t: 'fatal'; readonly message: string; readonly status: number }
  /** Output of the session: fd 1 or 2. */
  | { readonly t: 'out'; readonly fd: 1 | 2; readonly data: Uint8Array }
  /** Waiting for input: show `text` (`continuation`: a `> ` prompt inside a command). */
  | { readonly t: 'prompt'; readonly text: string; readonly continuation: boolean }
  /** The answer to `complete`, in readline's `[matches, substring]` form. */
  | { readonly t: 'completions'; readonly id: number; readonly matches: string[]; readonly word: string }
  /** The running command stopped at Ctrl-C (the front end ends the `^C` line). */
  | { readonly t: 'interrupted' }
  /** The session ended (`exit`, end of input, a script error); `logout`: say so, as bash does. */
  | { readonly t: 'exit'; readonly status: number; readonly logout: boolean };

/** Output the worker sends before it waits for `ack`s. */
export const OUTPUT_WINDOW = 1024 * 1024;
