/**
 * The fault-injection debugfs directories (lib/fault-inject.c: fault_create_debugfs_attr(),
 * mm/failslab.c: failslab_debugfs_init(), mm/fail_page_alloc.c: fail_page_alloc_debugfs()):
 * `/sys/kernel/debug/failslab/` and `/sys/kernel/debug/fail_page_alloc/`, mode 0600 files that
 * read and write the live attributes as the kernel's debugfs helpers do:
 *
 * - `probability`, `interval`, `verbose` (`debugfs_create_ul`): `%llu`; a write is `kstrtoull`
 *   in C notation of at most 23 bytes (`simple_attr_write`), EINVAL/ERANGE otherwise;
 * - `times`, `space` (`debugfs_create_atomic_t`): `%lld`; a write is `kstrtoll`, kept to 32 bits;
 * - `ignore-gfp-wait`, `ignore-gfp-highmem` (`debugfs_create_bool`): `Y`/`N`; a write is
 *   `kstrtobool`;
 * - `min-order` (`debugfs_create_u32`): `%llu`, a write kept to 32 bits.
 *
 * Files of the kernel's directories the model does not honour are absent (docs/fault-injection.md):
 * `task-filter`, `verbose_ratelimit_interval_ms`, `verbose_ratelimit_burst`, the stack-trace
 * filter files and failslab's `cache-filter`.
 */
import type { FailPageAlloc } from '../mm/fail-page-alloc.ts';
import type { Failslab } from '../mm/failslab.ts';
import type { FaultAttr } from '../mm/fault-inject.ts';
import { KernelError } from '../util/errno.ts';
import { kstrtobool, kstrtol, kstrtoull } from './params-kstrtox.ts';
import { rwFile, type PseudoDir } from './pseudo-fs.ts';

const enc = new TextEncoder();
/** `struct simple_attr`'s `set_buf[24]`: a write keeps its first 23 bytes. */
const SET_BUF = 23;

function text(data: Uint8Array): string {
  return Buffer.from(data).toString('latin1');
}

/** `simple_attr_write`: `kstrtoull(buf, 0)` of the first 23 bytes. */
function writeUnsigned(data: Uint8Array): bigint {
  const r = kstrtoull(text(data.subarray(0, SET_BUF)), 0);
  if (!r.ok) throw new KernelError(r.error);
  return r.value;
}

/** `simple_attr_write_signed`: `kstrtoll(buf, 0)` of the first 23 bytes. */
function writeSigned(data: Uint8Array): bigint {
  const r = kstrtol(text(data.subarray(0, SET_BUF)), 0);
  if (!r.ok) throw new KernelError(r.error);
  return r.value;
}

/** An unsigned attribute file (`DEFINE_SIMPLE_ATTRIBUTE(…, "%llu\n")`). */
function ulFile(get: () => bigint, set: (v: bigint) => void): ReturnType<typeof rwFile> {
  return rwFile(
    () => enc.encode(`${get()}\n`),
    (d) => {
      set(writeUnsigned(d));
    },
  );
}

/** `debugfs_create_atomic_t`: signed, `%lld`, stored in an `int`. */
function atomicFile(get: () => number, set: (v: number) => void): ReturnType<typeof rwFile> {
  return rwFile(
    () => enc.encode(`${get()}\n`),
    (d) => {
      set(Number(BigInt.asIntN(32, writeSigned(d))));
    },
  );
}

/** `debugfs_create_bool`: `Y`/`N`; a write is `kstrtobool_from_user`. */
function boolFile(get: () => boolean, set: (v: boolean) => void): ReturnType<typeof rwFile> {
  return rwFile(
    () => enc.encode(get() ? 'Y\n' : 'N\n'),
    (d) => {
      const r = kstrtobool(text(d.subarray(0, 3)));
      if (!r.ok) throw new KernelError(r.error);
      set(r.value);
    },
  );
}

/** `fault_create_debugfs_attr(name, NULL, attr)`: the directory with the common files. */
function faultAttrDir(debugfs: PseudoDir, attr: FaultAttr): PseudoDir {
  const dir = debugfs.dir(attr.name);
  dir.add(
    'probability',
    ulFile(
      () => attr.probability,
      (v) => {
        attr.probability = v;
      },
    ),
  );
  dir.add(
    'interval',
    ulFile(
      () => attr.interval,
      (v) => {
        attr.interval = v;
      },
    ),
  );
  dir.add(
    'times',
    atomicFile(
      () => attr.times,
      (v) => {
        attr.times = v;
      },
    ),
  );
  dir.add(
    'space',
    atomicFile(
      () => attr.space,
      (v) => {
        attr.space = v;
      },
    ),
  );
  dir.add(
    'verbose',
    ulFile(
      () => attr.verbose,
      (v) => {
        attr.verbose = v;
      },
    ),
  );
  return dir;
}

/** `failslab_debugfs_init` (late_initcall): `failslab/` with `ignore-gfp-wait`. */
export function failslabDebugfsInit(debugfs: PseudoDir, fs: Failslab): void {
  const dir = faultAttrDir(debugfs, fs.attr);
  dir.add(
    'ignore-gfp-wait',
    boolFile(
      () => fs.ignoreGfpReclaim,
      (v) => {
        fs.ignoreGfpReclaim = v;
      },
    ),
  );
}

/** `fail_page_alloc_debugfs` (late_initcall): `fail_page_alloc/` with its three extra files. */
export function failPageAllocDebugfsInit(debugfs: PseudoDir, fpa: FailPageAlloc): void {
  const dir = faultAttrDir(debugfs, fpa.attr);
  dir.add(
    'ignore-gfp-wait',
    boolFile(
      () => fpa.ignoreGfpReclaim,
      (v) => {
        fpa.ignoreGfpReclaim = v;
      },
    ),
  );
  dir.add(
    'ignore-gfp-highmem',
    boolFile(
      () => fpa.ignoreGfpHighmem,
      (v) => {
        fpa.ignoreGfpHighmem = v;
      },
    ),
  );
  dir.add(
    'min-order',
    ulFile(
      () => BigInt(fpa.minOrder),
      (v) => {
        fpa.minOrder = Number(BigInt.asUintN(32, v));
      },
    ),
  );
}
