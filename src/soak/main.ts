/**
 * `npm run soak -- --generations N --seed S [--mem 4G] [--nodes 1] [--no-sanitize]`: the
 * recursive-kexec soak; prints a JSON summary, exit 0 only when nothing was lost or corrupted.
 * Progress on stderr when it is a TTY (not under CI).
 */
import { parseArgs } from 'node:util';
import { isatty } from 'node:tty';
import { machineSizeError, parseSize } from '../hw/topology.ts';
import { stderr, stdout } from '../util/host-output.ts';
import { runSoak } from './run.ts';

function usage(msg: string): never {
  stderr.write(
    `soak: ${msg}\nusage: npm run soak -- --generations N [--seed S] [--mem SIZE] [--nodes N] [--no-sanitize]\n`,
  );
  process.exit(2);
}

function int(v: string | undefined, name: string, def: number, min: number): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < min) usage(`--${name} expects an integer >= ${min}, got '${v}'`);
  return Number(v);
}

let args;
try {
  args = parseArgs({
    options: {
      generations: { type: 'string' },
      seed: { type: 'string' },
      mem: { type: 'string' },
      nodes: { type: 'string' },
      'no-sanitize': { type: 'boolean' },
    },
    strict: true,
  }).values;
} catch (e) {
  usage(e instanceof Error ? e.message : String(e));
}
let mem = 4 * 1024 * 1024 * 1024;
if (args.mem !== undefined) {
  try {
    mem = parseSize(args.mem);
  } catch (e) {
    usage(e instanceof Error ? e.message : String(e));
  }
}
const nodes = int(args.nodes, 'nodes', 1, 1);
const bad = machineSizeError(mem, nodes);
if (bad !== null) usage(`--mem ${args.mem ?? '4G'} --nodes ${nodes}: ${bad}`);
const tty = isatty(2) && process.env['CI'] === undefined;
const summary = runSoak({
  generations: int(args.generations, 'generations', 100, 1),
  seed: int(args.seed, 'seed', 1, 0),
  mem,
  nodes,
  sanitize: args['no-sanitize'] !== true,
  ...(tty
    ? {
        onGeneration: (g: number, n: number): void => {
          if (g % 10 === 0 || g === n) stderr.write(`\r\x1b[Ksoak: generation ${g}/${n}`);
        },
      }
    : {}),
});
if (tty) stderr.write('\r\x1b[K');
stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
process.exitCode = summary.ok ? 0 : 1;
