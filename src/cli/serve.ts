/**
 * `kho serve [machine options] [--port N] [--host ADDR]`: boots a machine and serves its page
 * (memory map, radix tracker, FDTs, generations, terminal) on loopback until Ctrl-C.
 * `kho serve --inspect [inspect options]` serves the same views for real data, read-only.
 * Exit codes: 0 after Ctrl-C, 1 when the machine does not boot or the port cannot be used,
 * 2 for bad options. See docs/serve.md.
 */
import type { Command } from 'commander';
import { inspectHandover } from '../inspect/inspect.ts';
import { bootMachine, hostDirOption, machineConfig, type MachineCliOptions } from '../shell/machine-setup.ts';
import { ServeModel } from '../serve/model.ts';
import { isLoopback, newToken } from '../serve/security.ts';
import { startServer, type RunningServer } from '../serve/server.ts';
import { inspectSnapshot } from '../serve/snapshot.ts';
import { Console } from '../serve/terminal.ts';
import { describeFailure } from './action.ts';
import { inspectInput, inspectInputOptions, type InspectOptions } from './inspect.ts';
import { machineOptions } from './shell.ts';

/** Default port (any free one with --port 0). */
export const DEFAULT_PORT = 8470;

interface ServeCliOptions extends MachineCliOptions, InspectOptions {
  port: string;
  host: string;
  inspect?: boolean;
}

function fail(message: string, code: number): void {
  process.stderr.write(`kho serve: ${message}\n`);
  process.exitCode = code;
}

/** The model and console the options ask for, or an error (message, exit code). */
function build(
  o: ServeCliOptions,
): { model: ServeModel; console: Console | null; hostDir: string | null } | [string, number] {
  if (o.inspect === true) {
    let input;
    try {
      input = inspectInput(o);
    } catch (err) {
      const d = describeFailure(err);
      return [d.message, d.status];
    }
    const report = inspectHandover(input);
    const what = [input.fdt?.source, input.image?.source].filter((x) => x !== undefined).join(' + ');
    return {
      model: ServeModel.ofSnapshot(inspectSnapshot(report, input.image?.image ?? null, what)),
      console: null,
      hostDir: null,
    };
  }
  if (o.fdt !== undefined || o.image !== undefined) return ['--fdt and --image go with --inspect', 2];
  const cfg = machineConfig(o);
  if (typeof cfg === 'string') return [cfg, 2];
  // A page in a browser is one more way in: the terminal reaches no host file unless asked.
  const hostDir = hostDirOption(o, false);
  if (typeof hostDir === 'string') return [hostDir, 2];
  const machine = bootMachine(cfg, { hostDir });
  if (typeof machine === 'string') return [machine, 1];
  const model = ServeModel.ofMachine(machine);
  return {
    model,
    console: new Console(machine, cfg, model, hostDir),
    hostDir: hostDir.root === null ? null : hostDir.home,
  };
}

/** Registers `kho serve`. */
export function registerServe(program: Command): void {
  inspectInputOptions(machineOptions(program.command('serve'), 'none, as with --no-host'))
    .description(
      'serve a page with the memory map, radix tracker, FDTs and generations beside a live terminal',
    )
    .option('--port <n>', 'TCP port (0: any free port)', String(DEFAULT_PORT))
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--inspect', 'serve real data (--fdt/--image …) read-only, without a terminal')
    .action(async (o: ServeCliOptions) => {
      if (!/^[0-9]{1,5}$/.test(o.port) || Number(o.port) > 65535) {
        fail(`--port: expected 0..65535, got "${o.port}"`, 2);
        return;
      }
      const built = build(o);
      if (Array.isArray(built)) {
        fail(built[0], built[1]);
        return;
      }
      if (!isLoopback(o.host) && built.console !== null) {
        const reach =
          built.hostDir === null
            ? 'which reaches no host files (--no-host)'
            : `which reads and writes the files in ${built.hostDir} as ${process.env['USER'] ?? 'this user'}`;
        process.stderr.write(
          `kho serve: warning: listening on ${o.host}, not loopback: whoever has the URL can use the terminal, ${reach}\n`,
        );
      }
      let running: RunningServer;
      try {
        running = await startServer({
          model: built.model,
          console: built.console,
          host: o.host,
          port: Number(o.port),
          token: newToken(),
        });
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        const why =
          code === 'EADDRINUSE'
            ? `port ${o.port} is in use (try --port 0 for any free port)`
            : code === 'EADDRNOTAVAIL'
              ? `${o.host} is not an address of this host`
              : code === 'EACCES'
                ? `no permission to listen on port ${o.port}`
                : `cannot listen on ${o.host}:${o.port}`;
        fail(why, 1);
        return;
      }
      process.stdout.write(
        `kho serve: ${built.model.snapshot().title}\n    ${running.url}\nOpen the URL in a browser (it carries this run's secret token). Ctrl-C stops.\n`,
      );
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void running.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      process.exitCode = 0;
    });
}
