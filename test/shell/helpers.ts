/** A session on a small booted machine with captured output, for the shell tests. */
import { BufferSink } from '../../src/shell/io.ts';
import {
  bootMachine,
  createSession,
  machineConfig,
  type MachineCliOptions,
} from '../../src/shell/machine-setup.ts';
import type { Session } from '../../src/shell/session.ts';
import { HostDir } from '../../src/util/host-dir.ts';
import { runScript } from '../../src/shell/script.ts';
import { spawnSync } from 'node:child_process';

export interface TestTerm {
  session: Session;
  out: BufferSink;
  err: BufferSink;
  /** Run a line; returns status, stdout and stderr of that line only. */
  run(line: string): Promise<{ status: number; out: string; err: string }>;
}

/**
 * A session whose host directory is `home` (null: none, as `--no-host`); module files named in
 * the machine's /etc/modules-load.d are found there too, as under `kho shell`.
 */
export function term(opts: MachineCliOptions = {}, home: string | null = '/tmp'): TestTerm {
  const cfg = machineConfig({ mem: '2G', nodes: '1', ...opts });
  if (typeof cfg === 'string') throw new Error(cfg);
  const hostDir = new HostDir(home);
  const machine = bootMachine(cfg, { hostDir });
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
      home: hostDir,
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

/** Runs scripts as `bash -s` would (non-interactive, no `set -e`), each in a fresh session on one machine. */
export function bashLike(
  opts: MachineCliOptions = {},
  home = '/tmp',
): (script: string) => Promise<{ status: number; out: string; err: string }> {
  const t = term(opts, home);
  return async (script) => {
    const out = new BufferSink();
    const err = new BufferSink();
    const s = createSession(t.session.machine, t.session.boot, { stdout: out, stderr: err, home });
    const r = await runScript(s, script, {
      quiet: true,
      transcript: out,
      errors: err,
      errexit: false,
      name: 'bash',
    });
    return { status: r.status, out: out.text(), err: err.text() };
  };
}

/** What real bash prints for `script` read from stdin (its `bash:` prefix as the login shell's `-bash:`). */
export function realBash(script: string, cwd = '/tmp'): { status: number; out: string; err: string } {
  const r = spawnSync('bash', ['-s'], {
    input: script,
    encoding: 'utf8',
    cwd,
    env: { PATH: process.env['PATH'] ?? '', HOME: cwd, LC_ALL: 'C' },
  });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr.replace(/^bash: /gm, '-bash: ') };
}
