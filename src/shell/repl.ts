/**
 * `kho shell`'s front ends over a session in a worker (src/shell/terminal.ts).
 *
 * At a terminal: node:readline with bash's prompt, history and Tab completion (two Tabs list
 * the candidates, asked of the worker). The keyboard stays live while a command runs: Ctrl-C
 * then raises the machine's interrupt flag and shows `^C`; the command stops at its next poll
 * and a new prompt follows, as in bash. Ctrl-C at the prompt drops the line (`$?` = 130).
 * Ctrl-D on an empty line logs out (`logout`, as a login shell prints it). Lines typed while a
 * command runs wait for the next prompt, as the terminal's type-ahead does.
 *
 * From a pipe: the input goes to the worker as it arrives; each command is echoed after the
 * prompt (a transcript); SIGINT stops the running command and ends the session with 130.
 */
import { createInterface, type Interface } from 'node:readline';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { FromWorker, TerminalStart } from './terminal-protocol.ts';
import { TerminalHost } from './terminal.ts';

/** A Ctrl-C left unanswered this long, pressed again twice more, gives up on the machine. */
const STUCK_MS = 3000;

/** Where the front end writes. */
export interface TerminalIo {
  input: Readable;
  output: Writable & { columns?: number; on(event: 'resize', f: () => void): unknown };
  errors: Writable;
}

function writeAcked(host: TerminalHost, out: Writable, data: Uint8Array): void {
  out.write(data, () => {
    host.send({ t: 'ack', bytes: data.length });
  });
}

/**
 * The keyboard as readline should see it: each Tab in a read of its own. readline takes several
 * keys that arrive in one read for a paste and inserts a Tab of a paste literally, so two quick
 * Tabs (or a terminal that sends them together) would never list the candidates. Object mode
 * keeps the pieces apart even when readline pauses the stream while it completes.
 */
function tabSplitting(input: Readable & { setRawMode?: (mode: boolean) => unknown }): Readable {
  const keys = new PassThrough({ objectMode: true });
  input.on('data', (chunk: Buffer) => {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== 9) continue;
      if (i > from) keys.write(chunk.subarray(from, i));
      keys.write(chunk.subarray(i, i + 1));
      from = i + 1;
    }
    if (from < chunk.length) keys.write(chunk.subarray(from));
  });
  input.on('end', () => keys.end());
  Object.assign(keys, {
    isTTY: true,
    setRawMode: (mode: boolean) => input.setRawMode?.(mode),
  });
  return keys;
}

/** The interactive terminal; resolves with the session's exit status. */
export function runTtyTerminal(
  start: Omit<TerminalStart, 'interrupt' | 'mode'>,
  io: TerminalIo,
): Promise<number> {
  return new Promise((resolve) => {
    const { output, errors } = io;
    let rl: Interface | null = null;
    let busy = true;
    let eofPending = false;
    let sentEof = false;
    const queue: string[] = [];
    const completions = new Map<number, (r: [string[], string]) => void>();
    let nextId = 0;
    let ctrlC: { first: number; count: number } | null = null;
    let done = false;
    const finish = (status: number): void => {
      if (done) return;
      done = true;
      rl?.close();
      io.input.pause();
      (io.input as { setRawMode?: (mode: boolean) => unknown }).setRawMode?.(false);
      void host.close().then(() => {
        resolve(status);
      });
    };
    const dispatch = (text: string): void => {
      busy = true;
      rl?.setPrompt('');
      host.send({ t: 'line', text });
    };
    const onMessage = (m: FromWorker): void => {
      switch (m.t) {
        case 'ready':
          output.write(m.banner);
          rl = createInterface({
            input: tabSplitting(io.input),
            output,
            terminal: true,
            historySize: 1000,
            removeHistoryDuplicates: true,
            completer: (line: string, cb: (err: null, r: [string[], string]) => void) => {
              if (busy) {
                cb(null, [[], line]);
                return;
              }
              const id = nextId++;
              completions.set(id, (r) => {
                cb(null, r);
              });
              host.send({ t: 'complete', id, line });
            },
          });
          rl.setPrompt('');
          rl.on('line', (text) => {
            if (busy) queue.push(text);
            else dispatch(text);
          });
          rl.on('SIGINT', () => {
            if (busy) {
              // The tty shows ^C; the command stops at its next poll of the flag.
              output.write('^C');
              queue.length = 0;
              host.raiseInterrupt();
              const now = Date.now();
              ctrlC =
                ctrlC === null ? { first: now, count: 1 } : { first: ctrlC.first, count: ctrlC.count + 1 };
              if (ctrlC.count >= 3 && now - ctrlC.first > STUCK_MS) {
                errors.write('\nkho: the machine does not answer Ctrl-C; the terminal gives it up\n');
                finish(130);
              }
              return;
            }
            // bash: ^C, the line is dropped, $? = 130, a fresh prompt.
            output.write('^C\n');
            rl?.write(null, { ctrl: true, name: 'e' });
            rl?.write(null, { ctrl: true, name: 'u' });
            busy = true;
            host.send({ t: 'cancel' });
          });
          rl.on('close', () => {
            if (done) return;
            if (busy) eofPending = true;
            else {
              sentEof = true;
              busy = true;
              host.send({ t: 'eof' });
            }
          });
          output.on('resize', () => {
            host.send({ t: 'resize', columns: output.columns ?? null });
          });
          return;
        case 'fatal':
          errors.write(`kho shell: ${m.message}\n`);
          finish(m.status);
          return;
        case 'out':
          writeAcked(host, m.fd === 1 ? output : errors, m.data);
          return;
        case 'completions':
          completions.get(m.id)?.([m.matches, m.word]);
          completions.delete(m.id);
          return;
        case 'interrupted':
          output.write('\n');
          return;
        case 'prompt': {
          busy = false;
          ctrlC = null;
          const next = queue.shift();
          rl?.setPrompt(m.text);
          if (next !== undefined) {
            output.write(`${m.text}${next}\n`);
            dispatch(next);
          } else if (eofPending) {
            sentEof = true;
            busy = true;
            host.send({ t: 'eof' });
          } else rl?.prompt();
          return;
        }
        case 'exit':
          if (m.logout) output.write(`${sentEof ? '\n' : ''}logout\n`);
          finish(m.status);
          return;
      }
    };
    const host = new TerminalHost({ ...start, mode: 'line' }, onMessage, (msg) => {
      errors.write(`kho shell: ${msg}\n`);
      finish(1);
    });
  });
}

/** A script on a pipe; resolves with the session's exit status. */
export function runPipedTerminal(
  start: Omit<TerminalStart, 'interrupt' | 'mode'>,
  io: Omit<TerminalIo, 'output'> & { output: Writable },
): Promise<number> {
  return new Promise((resolve) => {
    let done = false;
    const onSigint = (): void => {
      host.raiseInterrupt();
    };
    const finish = (status: number): void => {
      if (done) return;
      done = true;
      process.off('SIGINT', onSigint);
      io.input.destroy();
      void host.close().then(() => {
        resolve(status);
      });
    };
    const feed = async (): Promise<void> => {
      const dec = new TextDecoder();
      for await (const chunk of io.input) {
        if (done) return;
        host.send({ t: 'input', text: dec.decode(chunk as Uint8Array, { stream: true }) });
      }
      host.send({ t: 'input', text: dec.decode() });
      host.send({ t: 'eof' });
    };
    const host = new TerminalHost(
      { ...start, mode: 'stream' },
      (m) => {
        switch (m.t) {
          case 'ready':
            feed().catch((err: unknown) => {
              io.errors.write(
                `kho shell: standard input: ${err instanceof Error ? err.message : String(err)}\n`,
              );
              finish(1);
            });
            return;
          case 'fatal':
            io.errors.write(`kho shell: ${m.message}\n`);
            finish(m.status);
            return;
          case 'out':
            writeAcked(host, m.fd === 1 ? io.output : io.errors, m.data);
            return;
          case 'exit':
            finish(m.status);
            return;
          default:
            return;
        }
      },
      (msg) => {
        io.errors.write(`kho shell: ${msg}\n`);
        finish(1);
      },
    );
    process.on('SIGINT', onSigint);
  });
}
