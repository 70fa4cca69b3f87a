/**
 * `kho mkimage --profile kho-v4 [--size 12M] [--seed N] -o FILE`: write a synthetic bzImage of a
 * simulated release (valid setup header, version string, deterministic filler payload) that the
 * simulated `kexec -l` accepts and a real `file`/kexec-tools would read as a bzImage.
 *
 * Exit codes: 0 written; 2 usage errors (unknown profile, bad size, unwritable file).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { mkImage, mkImageVersionString } from '../kexec/image.ts';
import { KexecError } from '../kexec/errors.ts';
import { PROFILE_NAMES, profileByName, DEFAULT_PROFILE } from '../kernel/profile.ts';
import { parseSize } from '../hw/topology.ts';
import { KhoMemError } from '../hw/errors.ts';
import { hostErrorText } from '../util/host-errors.ts';
import { stderr, stdout } from '../util/host-output.ts';

interface MkImageCliOptions {
  profile: string;
  size?: string;
  seed?: string;
  output: string;
}

function fail(message: string): void {
  stderr.write(`kho mkimage: ${message}\n`);
  process.exitCode = 2;
}

/** Registers `kho mkimage`. */
export function registerMkimage(program: Command): void {
  program
    .command('mkimage')
    .description('write a synthetic bzImage of a simulated kernel release (for kexec -l)')
    .option('--profile <name>', `release profile: ${PROFILE_NAMES.join(', ')}`, DEFAULT_PROFILE)
    .option('--size <size>', 'file size, e.g. 12M (default 12M)')
    .option('--seed <n>', 'seed of the filler payload (default 1)')
    .requiredOption('-o, --output <file>', 'output file')
    .action((opts: MkImageCliOptions) => {
      const profile = profileByName(opts.profile);
      if (profile === null) {
        fail(`unknown profile "${opts.profile}" (known: ${PROFILE_NAMES.join(', ')})`);
        return;
      }
      let size: number | undefined;
      let seed: number | undefined;
      try {
        if (opts.size !== undefined) size = parseSize(opts.size);
      } catch (err) {
        if (err instanceof KhoMemError) {
          fail(err.message.replace(/^EINVAL: /, ''));
          return;
        }
        throw err;
      }
      if (opts.seed !== undefined) {
        if (!/^[0-9]+$/.test(opts.seed) || Number(opts.seed) > 0xffff_ffff) {
          fail(`invalid seed "${opts.seed}": expected an integer in [0, 2^32)`);
          return;
        }
        seed = Number(opts.seed);
      }
      let image: Uint8Array;
      try {
        image = mkImage({
          profile,
          ...(size === undefined ? {} : { size }),
          ...(seed === undefined ? {} : { seed }),
        });
      } catch (err) {
        if (err instanceof KexecError) {
          fail(err.message);
          return;
        }
        throw err;
      }
      try {
        writeFileSync(opts.output, image);
      } catch (err) {
        fail(`${opts.output}: ${hostErrorText(err)}`);
        return;
      }
      stdout.write(
        `${opts.output}: bzImage, ${image.length} bytes, version ${mkImageVersionString(profile)}\n`,
      );
    });
}
