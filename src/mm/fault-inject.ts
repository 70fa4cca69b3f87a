/**
 * The fault-injection core (lib/fault-inject.c, include/linux/fault-inject.h): one
 * `struct fault_attr` per capability (failslab, fail_page_alloc) decides, call by call, whether
 * an allocation is made to fail. `should_fail_ex()` applies the checks in the kernel's order:
 * probability 0 never fails, then `times` (0: no more failures), then the `space` budget (each
 * call's size is taken from it while it is larger than the size), then `interval` (only every
 * N-th call that got this far), then the probability against a random number below 100. A
 * failure logs `FAULT_INJECTION: forcing a failure.` at KERN_NOTICE unless the caller passed
 * FAULT_NOWARN (the allocation's __GFP_NOWARN), and uses up one of `times` unless it is -1.
 *
 * Before all that comes the task's own `fail_nth` (`/proc/<pid>/fail-nth`): while it is not 0,
 * each call that reaches `should_fail_ex()` of any attribute counts it down, and the call that
 * takes it to 0 fails whatever the attribute says. With `task-filter` Y, an armed attribute
 * only fails calls made by tasks with `make-it-fail` 1. The task is the kernel's `current`
 * ({@link CurrentTask}), set by the system-call layer.
 *
 * Randomness comes from a deterministic stream of the machine's seed, so a run replays. Not
 * modelled (docs/fault-injection.md): the stack-trace filter
 * (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER) and the notice's rate limit (disabled by default in
 * the kernel: `RATELIMIT_STATE_INIT_DISABLED`).
 */

/** `FAULT_NOWARN`: the caller asked for no message (__GFP_NOWARN). */
export const FAULT_NOWARN = 1;

const U64 = (1n << 64n) - 1n;

/** Where a fault attribute logs: a printk level name and the text. */
export type FaultLog = (level: 'warn' | 'notice', text: string) => void;

/** The fault-injection fields of a `struct task_struct`. */
export interface FaultTask {
  /** `fail_nth` (unsigned int): fail the N-th `should_fail_ex()` call of this task; 0 is off. */
  failNth: number;
  /** `make_it_fail` (0 or 1): the task's calls pass attributes whose `task-filter` is Y. */
  makeItFail: number;
}

/**
 * The kernel's `current` as fault injection sees it (include/asm-generic/current.h): the task a
 * system call runs for, set on entry and restored on exit by the system-call layer. Outside
 * system calls it is null: boot, initcalls, kexec's jump and work items run in the kernel's own
 * tasks (swapper, init before exec, kworkers), which are in task context in the kernel but never
 * have `fail_nth` or `make_it_fail` set, so null behaves as they do: no `fail_nth`, and
 * `task-filter` rejects the call.
 *
 * It also keeps {@link FaultAttr.armed} exact for the hot paths: an attribute is armed while its
 * probability is not 0 or the current task has a `fail_nth` pending, recomputed whenever either
 * changes, so a disarmed allocation still costs one field test.
 */
export class CurrentTask {
  private task: FaultTask | null = null;
  private readonly attrs: FaultAttr[] = [];

  /** `current`, or null outside system calls. */
  get current(): FaultTask | null {
    return this.task;
  }

  /** Track `attr`'s `armed` (done by its constructor). */
  register(attr: FaultAttr): void {
    this.attrs.push(attr);
    attr.rearm();
  }

  /** System-call entry: `task` becomes current; returns the previous one for {@link leave}. */
  enter(task: FaultTask): FaultTask | null {
    const prev = this.task;
    this.task = task;
    if (task.failNth !== 0 || (prev !== null && prev.failNth !== 0)) this.rearm();
    return prev;
  }

  /** System-call exit: `prev` (from {@link enter}) is current again. */
  leave(prev: FaultTask | null): void {
    const t = this.task;
    this.task = prev;
    if ((t !== null && t.failNth !== 0) || (prev !== null && prev.failNth !== 0)) this.rearm();
  }

  /** A task's `fail_nth` changed (a write to its `/proc/<pid>/fail-nth`, or a count-down). */
  failNthChanged(task: FaultTask): void {
    if (task === this.task) this.rearm();
  }

  /** The current task's `fail_nth` is pending. */
  get nthPending(): boolean {
    return this.task !== null && this.task.failNth !== 0;
  }

  private rearm(): void {
    for (const a of this.attrs) a.rearm();
  }
}

/** What a fault attribute needs from the kernel it lives in. */
export interface FaultAttrDeps {
  /** A uniform random number in [0, 1) (`get_random_u32_below` draws from it). */
  rand: () => number;
  log: FaultLog;
  /** The kernel's `current`; absent: no task is ever current (no `fail_nth`, `task-filter` rejects). */
  current?: CurrentTask;
}

/** `struct fault_attr`. The `unsigned long` fields are BigInt (debugfs shows them as `%llu`). */
export class FaultAttr {
  /** The debugfs directory name (`attr->dname`, printed by the notice). */
  readonly name: string;
  private probabilityValue = 0n;
  /** `interval`: fail only every N-th call that passed the other checks (values ≤ 1: every call). */
  interval = 1n;
  /** `times` (atomic_t): failures left; -1 means no limit. */
  times = 1;
  /** `space` (atomic_t): a size budget used up before failures start. */
  space = 0;
  /** `verbose`: 0 no message, 1 the notice, 2 (default) the notice and a call trace. */
  verbose = 2n;
  /** `count`: calls that reached the interval check. */
  count = 0n;
  /** `task-filter`: fail only calls of tasks with `make-it-fail` 1. */
  taskFilter = false;
  /**
   * True when `probability` is not 0 or the current task has a `fail_nth` pending: the only
   * states in which `should_fail_ex` can fail or count. Hot paths test this one field before
   * calling in.
   */
  armed = false;
  private readonly deps: FaultAttrDeps;
  private readonly tasks: CurrentTask | null;

  constructor(name: string, deps: FaultAttrDeps) {
    this.name = name;
    this.deps = deps;
    this.tasks = deps.current ?? null;
    this.tasks?.register(this);
  }

  /** Recompute {@link armed} (the probability or the current task's `fail_nth` changed). */
  rearm(): void {
    this.armed = this.probabilityValue !== 0n || (this.tasks?.nthPending ?? false);
  }

  /** `probability`, in percent (100 or more: every call that gets to the draw fails). */
  get probability(): bigint {
    return this.probabilityValue;
  }

  set probability(v: bigint) {
    this.probabilityValue = BigInt.asUintN(64, v);
    this.rearm();
  }

  /**
   * `should_fail_ex(attr, size, flags)`: true when this call must fail. `trace` names the kernel
   * functions of the call site, innermost first, for the verbose-2 call trace.
   */
  shouldFailEx(size: number, flags: number, trace: readonly string[] = []): boolean {
    const task = this.tasks?.current ?? null;
    if (task !== null && task.failNth !== 0) {
      // The task's count comes first and, when it runs out, fails regardless of the rest.
      task.failNth--;
      if (task.failNth !== 0) return false;
      this.tasks!.failNthChanged(task);
      return this.fail(flags, trace);
    }
    if (this.probabilityValue === 0n) return false;
    if (this.taskFilter && (task === null || task.makeItFail === 0)) return false;
    if (this.times === 0) return false;
    if (this.space > size) {
      this.space = (this.space - size) | 0;
      return false;
    }
    if (this.interval > 1n) {
      this.count = (this.count + 1n) & U64;
      if (this.count % this.interval !== 0n) return false;
    }
    const draw = Math.floor(this.deps.rand() * 100);
    if (this.probabilityValue <= BigInt(draw)) return false;
    return this.fail(flags, trace);
  }

  /** The `fail:` label: the notice, then one of `times` used up unless it is -1 (or already 0). */
  private fail(flags: number, trace: readonly string[]): boolean {
    if ((flags & FAULT_NOWARN) === 0) this.failDump(trace);
    if (this.times !== -1 && this.times !== 0) this.times = (this.times - 1) | 0;
    return true;
  }

  /** `fail_dump`: the notice (verbose ≥ 1) and, for verbose ≥ 2, the call trace of `dump_stack()`. */
  private failDump(trace: readonly string[]): void {
    if (this.verbose === 0n) return;
    this.deps.log(
      'notice',
      'FAULT_INJECTION: forcing a failure.\n' +
        `name ${this.name}, interval ${this.interval}, probability ${this.probabilityValue}, ` +
        `space ${this.space}, times ${this.times}`,
    );
    if (this.verbose <= 1n) return;
    // dump_stack() prints at KERN_DEFAULT (the default message level, 4). The model has no
    // addresses and no current task: function names only, no `CPU: … Comm:` header.
    const frames = ['dump_stack_lvl', 'should_fail_ex', ...trace];
    this.deps.log('warn', ['Call Trace:', ' <TASK>', ...frames.map((f) => ` ${f}`), ' </TASK>'].join('\n'));
  }
}

/** The four numbers of a `<interval>,<probability>,<space>,<times>` boot parameter. */
export interface FaultAttrSetup {
  interval: bigint;
  probability: bigint;
  space: number;
  times: number;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** `simple_strntoull(s + pos, &next, 10, INT_MAX)`: decimal digits, wrapping modulo 2^64. */
function decimal(s: string, pos: number): { value: bigint; end: number } {
  let v = 0n;
  let i = pos;
  while (i < s.length && isDigit(s.charCodeAt(i))) {
    v = (v * 10n + BigInt(s.charCodeAt(i) - 0x30)) & U64;
    i++;
  }
  return { value: v, end: i };
}

/** The kernel's `isspace()` for the ASCII range. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * `sscanf(str, "%lu,%lu,%d,%d", …)` as lib/vsprintf.c: vsscanf() runs it: each conversion skips
 * leading white space and needs a digit (a `-` first only for `%d`), the commas must match
 * exactly, text after the fourth number is ignored, values wrap (`%d` keeps the low 32 bits).
 * Returns the values converted before the first mismatch.
 */
function scanFourNumbers(str: string): bigint[] {
  const out: bigint[] = [];
  let pos = 0;
  for (let n = 0; n < 4; n++) {
    if (n > 0) {
      if (str.charCodeAt(pos) !== 0x2c) break;
      pos++;
    }
    if (pos >= str.length) break;
    const signed = n >= 2;
    while (pos < str.length && isSpace(str.charCodeAt(pos))) pos++;
    const neg = signed && str.charCodeAt(pos) === 0x2d;
    if (!isDigit(str.charCodeAt(neg ? pos + 1 : pos))) break;
    const r = decimal(str, neg ? pos + 1 : pos);
    out.push(neg ? BigInt.asUintN(64, -r.value) : r.value);
    pos = r.end;
  }
  return out;
}

/**
 * Parse a `failslab=` / `fail_page_alloc=` value the way `setup_fault_attr()` does:
 * `<interval>,<probability>,<space>,<times>`; null when fewer than four numbers convert (the
 * kernel then logs `FAULT_INJECTION: failed to parse arguments` and the parameter counts as
 * unknown).
 */
export function parseFaultAttrSetup(str: string): FaultAttrSetup | null {
  const v = scanFourNumbers(str);
  if (v.length < 4) return null;
  return {
    interval: v[0]!,
    probability: v[1]!,
    space: Number(BigInt.asIntN(32, v[2]!)),
    times: Number(BigInt.asIntN(32, v[3]!)),
  };
}

/** `setup_fault_attr()`'s assignments: arm `attr` from a parsed boot parameter. */
export function applyFaultAttrSetup(attr: FaultAttr, s: FaultAttrSetup): void {
  attr.probability = s.probability;
  attr.interval = s.interval;
  attr.times = s.times;
  attr.space = s.space;
}
