/**
 * `reserve_mem=size:align:name` (mm/memblock.c: reserve_mem()), a `__setup` parameter that may
 * repeat: each valid occurrence adds one named memblock reservation. The checks, in the
 * kernel's order: at most 8 entries; `size` via `memparse`, non-zero and at least one character;
 * `:`; `align` via `memparse` (may be empty), then `:`; an `align` below SMP_CACHE_BYTES becomes
 * SMP_CACHE_BYTES (it is not checked to be a power of two); `name` is the rest of the value,
 * 1..15 characters, not all whitespace, not used before.
 *
 * The kernel allocates inside the handler; here parsing and the table checks are separated so
 * that boot code can allocate (and fail with `reserve_mem: memblock allocation failed`) itself.
 */
import { isKernelSpace } from './cmdline-args.ts';
import { memparse } from './params-kstrtox.ts';
import type { ParamLog, ParamResult } from './params-kho.ts';

/** `RESERVE_MEM_MAX_ENTRIES`: the table holds 8 reservations. */
export const RESERVE_MEM_MAX_ENTRIES = 8;
/** `RESERVE_MEM_NAME_SIZE`: names are stored in 16 bytes including the NUL, so ≤ 15 characters. */
export const RESERVE_MEM_NAME_SIZE = 16;
/** `SMP_CACHE_BYTES` on x86-64 and arm64: the smallest alignment `reserve_mem` uses. */
export const SMP_CACHE_BYTES = 64;

/** One `reserve_mem=` request. */
export interface ReserveMemParam {
  /** Reservation name (up to 15 characters). */
  name: string;
  /** Size in bytes (non-zero; exact below 2^53). */
  size: number;
  /** Alignment in bytes after the SMP_CACHE_BYTES floor (not necessarily a power of two). */
  align: number;
}

/** Log line of every syntax error (`err_param:` in the kernel). */
export const RESERVE_MEM_MALFORMED = 'reserve_mem: empty or malformed parameter';
/** Log line when the table is full. */
export const RESERVE_MEM_NO_ROOM = 'reserve_mem: no more room for reserved memory';

/** Syntax of one value, without the table checks: the request, or null when malformed. */
export function parseReserveMemValue(value: string | null): ReserveMemParam | null {
  if (value === null) return null;
  const size = memparse(value, 0);
  if (size.value === 0n || size.consumed === 0) return null;
  if (value.charAt(size.end) !== ':') return null;
  const align = memparse(value, size.end + 1);
  if (value.charAt(align.end) !== ':') return null;
  const name = value.slice(align.end + 1);
  if (name.length === 0 || name.length >= RESERVE_MEM_NAME_SIZE) return null;
  let hasText = false;
  for (let i = 0; i < name.length; i++) {
    if (!isKernelSpace(name.charCodeAt(i))) {
      hasText = true;
      break;
    }
  }
  if (!hasText) return null;
  const alignNum = align.value < BigInt(SMP_CACHE_BYTES) ? SMP_CACHE_BYTES : align.num;
  return { name, size: size.num, align: alignNum };
}

/**
 * The handler's checks against the current table (`reserve_mem()` up to the allocation): table
 * full → EBUSY, malformed → EINVAL, name in use → EBUSY, each with the kernel's log line.
 * On success returns the request; the caller allocates and appends it to `table`.
 */
export function reserveMemSetup(
  value: string | null,
  table: readonly ReserveMemParam[],
  log: ParamLog,
): { result: ParamResult; request: ReserveMemParam | null } {
  if (value === null) {
    log('err', RESERVE_MEM_MALFORMED);
    return { result: { ok: false, error: 'EINVAL' }, request: null };
  }
  if (table.length >= RESERVE_MEM_MAX_ENTRIES) {
    log('err', RESERVE_MEM_NO_ROOM);
    return { result: { ok: false, error: 'EBUSY' }, request: null };
  }
  const req = parseReserveMemValue(value);
  if (req === null) {
    log('err', RESERVE_MEM_MALFORMED);
    return { result: { ok: false, error: 'EINVAL' }, request: null };
  }
  if (table.some((t) => t.name === req.name)) {
    log('err', `reserve_mem: name "${req.name}" was already used`);
    return { result: { ok: false, error: 'EBUSY' }, request: null };
  }
  return { result: { ok: true }, request: req };
}
