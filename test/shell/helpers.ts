/** A session on a small booted machine with captured output, for the shell tests. */
import { BufferSink } from '../../src/shell/io.ts';
import {
  bootMachine,
  createSession,
  machineConfig,
  type MachineCliOptions,
} from '../../src/shell/machine-setup.ts';
import type { Session } from '../../src/shell/session.ts';

export interface TestTerm {
  session: Session;
  out: BufferSink;
  err: BufferSink;
  /** Run a line; returns status, stdout and stderr of that line only. */
  run(line: string): Promise<{ status: number; out: string; err: string }>;
}

export function term(opts: MachineCliOptions = {}, home = '/tmp'): TestTerm {
  const cfg = machineConfig({ mem: '2G', nodes: '1', ...opts });
  if (typeof cfg === 'string') throw new Error(cfg);
  const machine = bootMachine(cfg);
  if (typeof machine === 'string') throw new Error(machine);
  let out = new BufferSink();
  let err = new BufferSink();
  const t: TestTerm = {
    session: createSession(machine, cfg, {
      stdout: {
        write: (d) => {
          out.write(d);
        },
      },
      stderr: {
        write: (d) => {
          err.write(d);
        },
      },
      home,
    }),
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    async run(line) {
      out = new BufferSink();
      err = new BufferSink();
      const r = await t.session.runText(line);
      return { status: r.status, out: out.text(), err: err.text() };
    },
  };
  return t;
}
