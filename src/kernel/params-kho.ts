/**
 * The KHO early parameters (kernel/liveupdate/kexec_handover.c: kho_parse_enable(),
 * kho_parse_scratch_size()): `kho=<bool>` and `kho_scratch=N%` | `kho_scratch=LOW,GLOBAL,PERNODE`. Each
 * handler works like the kernel's: it returns 0 or an errno, changes the settings only on success and logs
 * what the kernel logs (prefixed `KHO: `). A failing early handler makes `do_early_param()` print
 * `Malformed early option '<name>'`; that is the caller's job (see cmdline.ts).
 */
import { kstrtobool, kstrtouint, memparse } from './params-kstrtox.ts';
import type { KstrtoboolOptions } from './params-kstrtox.ts';

/** The settings the KHO parameters control (the kernel's `__initdata` variables). */
export interface KhoParamState {
  /** `kho_enable`: the outgoing side is on. */
  enabled: boolean;
  /** `scratch_scale` in percent; 0 means the explicit sizes apply. Default 200. */
  scratchScale: number;
  /** `scratch_size_lowmem` in bytes (u64, wraps like C). */
  scratchLowmem: bigint;
  /** `scratch_size_global` in bytes. */
  scratchGlobal: bigint;
  /** `scratch_size_pernode` in bytes. */
  scratchPernode: bigint;
}

/** The default scratch scale: 200% of memblock kernel allocations. */
export const KHO_DEFAULT_SCRATCH_SCALE = 200;

/**
 * `kho_scratch=N%` is copied into an 11-byte buffer (10 digits of a u32 plus NUL), so the whole
 * value including `%` may be at most 11 characters.
 */
export const KHO_SCRATCH_SCALE_MAX_LEN = 11;

/** Fresh KHO settings: enabled per `CONFIG_KEXEC_HANDOVER_ENABLE_DEFAULT`, scale 200%. */
export function defaultKhoParamState(enabledByDefault: boolean): KhoParamState {
  return {
    enabled: enabledByDefault,
    scratchScale: KHO_DEFAULT_SCRATCH_SCALE,
    scratchLowmem: 0n,
    scratchGlobal: 0n,
    scratchPernode: 0n,
  };
}

/** A log sink: printk level and text. */
export type ParamLog = (level: 'err' | 'warn' | 'notice' | 'info', text: string) => void;

/** What a parameter handler returns: success, or the errno name it returned (negated in C). */
export type ParamResult = { ok: true } | { ok: false; error: 'EINVAL' | 'ERANGE' | 'EBUSY' };

const OK: ParamResult = { ok: true };
const EINVAL: ParamResult = { ok: false, error: 'EINVAL' };

/** `kho=<bool>` (`kho_parse_enable`): no value or a non-boolean is EINVAL, setting unchanged. */
export function khoParseEnable(
  value: string | null,
  state: KhoParamState,
  opts: KstrtoboolOptions = {},
): ParamResult {
  if (value === null) return EINVAL;
  const r = kstrtobool(value, opts);
  if (!r.ok) return r;
  state.enabled = r.value;
  return OK;
}

/** `%d` of a u32: the kernel prints `scratch_scale` signed, so 4294967295% reads as -1%. */
function printSigned32(n: number): string {
  return String(n | 0);
}

/**
 * `kho_scratch=` (`kho_parse_scratch_size`). Scale form when the last character is `%`: at most
 * 11 characters, the digits before `%` through `kstrtouint(…, 10)`. Otherwise exactly three
 * `memparse` fields separated by `,`, each consuming at least one character, nothing after the
 * third, and a non-zero u64 sum; then the scale becomes 0. Failure changes nothing.
 */
export function khoParseScratchSize(value: string | null, state: KhoParamState, log: ParamLog): ParamResult {
  if (value === null || value.length === 0) return EINVAL;
  if (value.endsWith('%')) {
    if (value.length > KHO_SCRATCH_SCALE_MAX_LEN) return EINVAL;
    const r = kstrtouint(value.slice(0, -1), 10);
    if (!r.ok) return r;
    state.scratchScale = r.value;
    log('notice', `KHO: scratch scale is ${printSigned32(r.value)}%`);
    return OK;
  }
  const sizes: bigint[] = [];
  let pos = 0;
  let total = 0n;
  for (let i = 0; i < 3; i++) {
    if (i > 0) {
      if (value.charAt(pos) !== ',') return EINVAL;
      pos++;
    }
    const m = memparse(value, pos);
    if (m.consumed === 0) return EINVAL;
    pos = m.end;
    sizes.push(m.value);
    total = (total + m.value) & 0xffff_ffff_ffff_ffffn;
  }
  if (total === 0n) return EINVAL;
  if (pos !== value.length) return EINVAL;
  const [low, global, pernode] = sizes as [bigint, bigint, bigint];
  state.scratchLowmem = low;
  state.scratchGlobal = global;
  state.scratchPernode = pernode;
  state.scratchScale = 0;
  log(
    'notice',
    `KHO: scratch areas: lowmem: ${low >> 20n}MiB global: ${global >> 20n}MiB pernode: ${pernode >> 20n}MiB`,
  );
  return OK;
}
