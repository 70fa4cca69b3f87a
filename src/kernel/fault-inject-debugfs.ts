/**
 * The fault-injection debugfs directories (lib/fault-inject.c: fault_create_debugfs_attr(),
 * mm/failslab.c: failslab_debugfs_init(), mm/fail_page_alloc.c: fail_page_alloc_debugfs()):
 * `/sys/kernel/debug/failslab/` and `/sys/kernel/debug/fail_page_alloc/`, mode 0600 files that
 * read and write the live attributes as the kernel's debugfs helpers do:
 *
 * - `probability`, `interval`, `verbose` (`debugfs_create_ul`): `%llu`; a write is `kstrtoull`
 *   in C notation of at most 23 bytes (`simple_attr_write`), EINVAL/ERANGE otherwise;
 * - `times`, `space` (`debugfs_create_atomic_t`): `%lld`; a write is `kstrtoll`, kept to 32 bits;
 * - `task-filter`, `ignore-gfp-wait`, `ignore-gfp-highmem` (`debugfs_create_bool`): `Y`/`N`; a
 *   write is `kstrtobool`;
 * - `min-order` (`debugfs_create_u32`): `%llu`, a write kept to 32 bits.
 *
 * Files of the kernel's directories the model does not honour are absent (docs/fault-injection.md):
 * `verbose_ratelimit_interval_ms`, `verbose_ratelimit_burst`, the stack-trace filter files and
 * failslab's `cache-filter`.
 */
import type { FailPageAlloc } from '../mm/fail-page-alloc.ts';
import type { Failslab } from '../mm/failslab.ts';
import type { FaultAttr } from '../mm/fault-inject.ts';
import { KernelError } from '../util/errno.ts';
import { kstrtobool, kstrtol, kstrtoull } from './params-kstrtox.ts';
import { rwFile, type PseudoDir, type PseudoFile } from './pseudo-fs.ts';

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

/** The keys of `T` whose values are of type `V`. */
type KeysOf<T, V> = { [K in keyof T]: T[K] extends V ? K : never }[keyof T];

/** An unsigned attribute file over `o[k]` (`DEFINE_SIMPLE_ATTRIBUTE(…, "%llu\n")`). */
function ulFile<T>(o: T, k: KeysOf<T, bigint>): PseudoFile {
  return rwFile(
    () => enc.encode(`${o[k] as bigint}\n`),
    (d) => {
      o[k] = writeUnsigned(d) as T[typeof k];
    },
  );
}

/** `debugfs_create_atomic_t` over `o[k]`: signed, `%lld`, stored in an `int`. */
function atomicFile<T>(o: T, k: KeysOf<T, number>): PseudoFile {
  return rwFile(
    () => enc.encode(`${o[k] as number}\n`),
    (d) => {
      o[k] = Number(BigInt.asIntN(32, writeSigned(d))) as T[typeof k];
    },
  );
}

/** `debugfs_create_u32` over `o[k]`: `%llu`, a write kept to 32 bits. */
function u32File<T>(o: T, k: KeysOf<T, number>): PseudoFile {
  return rwFile(
    () => enc.encode(`${o[k] as number}\n`),
    (d) => {
      o[k] = Number(BigInt.asUintN(32, writeUnsigned(d))) as T[typeof k];
    },
  );
}

/** `debugfs_create_bool` over `o[k]`: `Y`/`N`; a write is `kstrtobool_from_user` (3 bytes). */
function boolFile<T>(o: T, k: KeysOf<T, boolean>): PseudoFile {
  return rwFile(
    () => enc.encode(o[k] ? 'Y\n' : 'N\n'),
    (d) => {
      const r = kstrtobool(text(d.subarray(0, 3)));
      if (!r.ok) throw new KernelError(r.error);
      o[k] = r.value as T[typeof k];
    },
  );
}

/** `fault_create_debugfs_attr(name, NULL, attr)`: the directory with the common files. */
function faultAttrDir(debugfs: PseudoDir, attr: FaultAttr): PseudoDir {
  const dir = debugfs.dir(attr.name);
  dir.add('probability', ulFile(attr, 'probability'));
  dir.add('interval', ulFile(attr, 'interval'));
  dir.add('times', atomicFile(attr, 'times'));
  dir.add('space', atomicFile(attr, 'space'));
  dir.add('verbose', ulFile(attr, 'verbose'));
  dir.add('task-filter', boolFile(attr, 'taskFilter'));
  return dir;
}

/** `failslab_debugfs_init` (late_initcall): `failslab/` with `ignore-gfp-wait`. */
export function failslabDebugfsInit(debugfs: PseudoDir, fs: Failslab): void {
  faultAttrDir(debugfs, fs.attr).add('ignore-gfp-wait', boolFile(fs, 'ignoreGfpReclaim'));
}

/** `fail_page_alloc_debugfs` (late_initcall): `fail_page_alloc/` with its three extra files. */
export function failPageAllocDebugfsInit(debugfs: PseudoDir, fpa: FailPageAlloc): void {
  const dir = faultAttrDir(debugfs, fpa.attr);
  dir.add('ignore-gfp-wait', boolFile(fpa, 'ignoreGfpReclaim'));
  dir.add('ignore-gfp-highmem', boolFile(fpa, 'ignoreGfpHighmem'));
  dir.add('min-order', u32File(fpa, 'minOrder'));
}
