/**
 * What a loadable module file default-exports: its name, typed parameters (`module_param`
 * with `MODULE_PARM_DESC`), `init` (`module_init`, 0 or -errno) and optional `exit`
 * (`module_exit`). `defineModule` only gives the object its types. The loader checks the shape
 * (`checkDefinition`) and parses parameter values as kernel/params.c does (`param_set_int`,
 * `param_set_bool`, …).
 */
import { kstrtobool, kstrtoull } from '../params-kstrtox.ts';
import type { ModuleKernel } from './handle.ts';

/** A parameter type (`module_param(name, type, perm)`): `bool`, `int`, `uint`, `long`, `ulong`, `charp`. */
export type ParamType = 'bool' | 'int' | 'uint' | 'long' | 'ulong' | 'charp';

/** The JavaScript value of a parameter type. */
export type ParamValue<T extends ParamType> = T extends 'bool'
  ? boolean
  : T extends 'charp'
    ? string
    : number;

/** One parameter: its type, its value when not given, and `MODULE_PARM_DESC`. */
export interface ParamSpec<T extends ParamType = ParamType> {
  readonly type: T;
  readonly default: ParamValue<T>;
  readonly description?: string;
}

/** The parameters of a module, by name. */
export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

/** The values `init` receives: every parameter, given or default. */
export type ParamValues<P extends ParamSpecs> = { readonly [K in keyof P]: ParamValue<P[K]['type']> };

/**
 * A loadable module: what a module file default-exports. `U` is the process type its optional
 * user space receives (the public entry src/index.ts fixes it to the machine's `Process`).
 */
export interface ModuleDefinition<P extends ParamSpecs = ParamSpecs, U = unknown> {
  /** Module name (`KBUILD_MODNAME`): letters, digits, `_` and `-`, at most 55 characters. */
  readonly name: string;
  /** `MODULE_DESCRIPTION`. */
  readonly description?: string;
  /** Parameters (`name=value` on the insmod line, `name.param=value` on the kernel command line). */
  readonly params?: P;
  /**
   * `module_init`: runs in every kernel that loads the module, the successors of a kexec
   * included; returns 0 or -errno. Whatever it wants to find after a kexec it must hand over
   * through KHO (or LUO): the next kernel runs a fresh copy of this code.
   */
  init(k: ModuleKernel, params: ParamValues<P>): number;
  /** `module_exit` (rmmod); without it the module cannot be removed. */
  exit?(k: ModuleKernel): void;
  /**
   * The user space that goes with the module, such as the daemon that keeps a LUO file handler's
   * files in a session: `kho check` runs it after every boot as a process of the machine, which
   * lives on, holding the descriptors it leaves open, until the next kexec. Returns 0, or an exit
   * status that fails the check. It gets only the process (system calls), never the kernel.
   */
  userspace?(proc: U): number;
}

/**
 * Give a module definition its types (parameter values in `init` are typed from `params`).
 * Returns the definition unchanged.
 */
export function defineModule<const P extends ParamSpecs = Readonly<Record<string, never>>, U = unknown>(
  def: ModuleDefinition<P, U>,
): ModuleDefinition<P, U> {
  return def;
}

/** `MODULE_NAME_LEN - 1`. */
const NAME = /^[A-Za-z0-9_-]{1,55}$/;
const TYPES: ReadonlySet<string> = new Set(['bool', 'int', 'uint', 'long', 'ulong', 'charp']);

function defaultOk(spec: ParamSpec): boolean {
  const v: unknown = spec.default;
  switch (spec.type) {
    case 'bool':
      return typeof v === 'boolean';
    case 'charp':
      return typeof v === 'string';
    default:
      return typeof v === 'number' && parseParam(spec.type, String(v)).ok;
  }
}

/**
 * Check that `value` (a module file's default export) is a module definition. Returns null when
 * it is, else what is wrong, in words for the person who wrote the file.
 */
export function checkDefinition(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) {
    return `the default export is ${value === undefined ? 'missing' : typeof value}; export default defineModule({ name, init })`;
  }
  const d = value as Record<string, unknown>;
  if (typeof d['name'] !== 'string') return 'the module definition has no name';
  if (!NAME.test(d['name'])) return `module name '${d['name']}' is not 1-55 letters, digits, '_' or '-'`;
  if (typeof d['init'] !== 'function') return 'the module definition has no init function';
  if (d['exit'] !== undefined && typeof d['exit'] !== 'function') return 'exit is not a function';
  if (d['userspace'] !== undefined && typeof d['userspace'] !== 'function')
    return 'userspace is not a function';
  if (d['description'] !== undefined && typeof d['description'] !== 'string')
    return 'description is not a string';
  const params = d['params'];
  if (params === undefined) return null;
  if (typeof params !== 'object' || params === null) return 'params is not an object';
  for (const [name, raw] of Object.entries(params)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `parameter name '${name}' is not a C identifier`;
    const spec = raw as Partial<ParamSpec> | null;
    if (typeof spec !== 'object' || spec === null || typeof spec.type !== 'string' || !TYPES.has(spec.type)) {
      return `parameter '${name}' has no type (one of bool, int, uint, long, ulong, charp)`;
    }
    if (!defaultOk(spec as ParamSpec))
      return `parameter '${name}': default ${String(spec.default)} is not a ${spec.type}`;
  }
  return null;
}

/** A parsed parameter value, or the errno kernel/params.c fails with. */
export type ParamParse =
  { ok: true; value: boolean | number | string } | { ok: false; errno: 'EINVAL' | 'ERANGE' | 'ENOSPC' };

/** `kstrtoll(s, 0)` within JavaScript's safe integers. */
function kstrtoll(s: string): { ok: true; value: bigint } | { ok: false; error: 'EINVAL' | 'ERANGE' } {
  const neg = s.startsWith('-');
  const r = kstrtoull(neg ? s.slice(1) : s, 0);
  if (!r.ok) return r;
  return { ok: true, value: neg ? -r.value : r.value };
}

const RANGES: Record<'int' | 'uint' | 'long' | 'ulong', [bigint, bigint]> = {
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  uint: [0n, 2n ** 32n - 1n],
  // 64-bit in the kernel; JavaScript numbers hold 53 bits exactly (docs/consumers.md).
  long: [-(2n ** 53n - 1n), 2n ** 53n - 1n],
  ulong: [0n, 2n ** 53n - 1n],
};

/** Parse a parameter value as `param_set_<type>` does (integers: base 0, so `0x10` and `010` work). */
export function parseParam(type: ParamType, text: string | null): ParamParse {
  if (type === 'bool') {
    if (text === null) return { ok: true, value: true }; // `name` alone sets a bool
    const r = kstrtobool(text);
    return r.ok ? { ok: true, value: r.value } : { ok: false, errno: 'EINVAL' };
  }
  if (type === 'charp') {
    const v = text ?? '';
    return v.length > 1024 ? { ok: false, errno: 'ENOSPC' } : { ok: true, value: v };
  }
  if (text === null) return { ok: false, errno: 'EINVAL' };
  const r = type === 'uint' || type === 'ulong' ? kstrtoull(text, 0) : kstrtoll(text);
  if (!r.ok) return { ok: false, errno: r.error };
  const [lo, hi] = RANGES[type];
  if (r.value < lo || r.value > hi) return { ok: false, errno: 'ERANGE' };
  return { ok: true, value: Number(r.value) };
}
