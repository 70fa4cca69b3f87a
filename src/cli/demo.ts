/**
 * `kho demo [--generations N] [--json] [--seed N]`: the main job (src/demo). Exit 0 only when
 * every verification passed. Progress goes to stderr on a TTY only (never under CI); colour only
 * when stdout is a TTY.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { demoJson, renderDemo } from '../demo/render.ts';
import { runDemo } from '../demo/run.ts';
import { isatty } from 'node:tty';
import { stderr, stdout } from '../util/host-output.ts';
import { runAction } from './action.ts';

function intArg(min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`expected an integer, got '${v}'`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };
}

/** Registers `kho demo`, the main job. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run the KHO hand-over story on the default simulated machine (16 GiB, 2 nodes) and verify it',
    )
    .option('--generations <n>', 'number of kexecs (1-50)', intArg(1, 50), 3)
    .option('--seed <n>', 'machine seed (replays a run)', intArg(0, Number.MAX_SAFE_INTEGER), 1)
    .option('--json', 'print the facts as JSON')
    .action((o: { generations: number; seed: number; json?: boolean }) =>
      runAction('kho demo', () => {
        demo(o);
      }),
    );
}

function demo(o: { generations: number; seed: number; json?: boolean }): void {
  const tty = isatty(2) && process.env['CI'] === undefined;
  const progress = tty
    ? (t: string): void => {
        stderr.write(`\r\x1b[K... ${t}`);
      }
    : undefined;
  const r = runDemo({
    generations: o.generations,
    seed: o.seed,
    ...(progress === undefined ? {} : { progress }),
  });
  if (tty) stderr.write('\r\x1b[K');
  stdout.write(
    o.json === true
      ? `${JSON.stringify(demoJson(r), null, 2)}\n`
      : renderDemo(r, { color: isatty(1) && process.env['NO_COLOR'] === undefined }),
  );
  process.exitCode = r.ok ? 0 : 1;
}
