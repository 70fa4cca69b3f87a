/**
 * The kernel as one loadable module sees it: a `ModuleKernel` handle passed to `init` and
 * `exit` (and to the callbacks the module registers), and the first argument of every function
 * of the public kernel API (src/index.ts). It ties each call to the module and to one running
 * kernel, so that
 *
 * - page operations land in the machine's page history with the module's calling function;
 * - reads of memory the previous kernel did not preserve (sanitizer poison) are attributed;
 * - the lines a module's calls print are known to be its own (for `kho check`);
 * - a handle kept beyond its kernel's life is refused: a module's JavaScript state must not
 *   cross a kexec (docs/consumers.md, "Nothing but memory crosses"). Its loader also gives
 *   every kernel a fresh instance of the module's code (load.ts).
 */
import type { Kernel } from '../kernel.ts';
import type { Machine } from '../machine.ts';
import { moduleFrames, type CallerFrame } from './caller.ts';
import { kernelSeq, pageHistory, type PageHistory, type PageOp } from './history.ts';

/** A sub-tree operation of a module. */
export interface SubtreeRecord {
  name: string;
  /** 0 or -errno. */
  err: number;
  caller: CallerFrame | null;
}

/** What one module did in one kernel (for reports). */
export interface ModuleRun {
  module: string;
  /** The module's file (null for modules compiled into the model). */
  file: string | null;
  /** The kernel's boot number on the machine (`kernelSeq`). */
  gen: number;
  /** What init returned; null while it runs or when it never ran. */
  initResult: number | null;
  /** init threw: the message and the module's frames. */
  threw: { message: string; frames: CallerFrame[] } | null;
  /** dmesg record index ranges `[start, end)` printed while the module ran. */
  dmesg: [number, number][];
  added: SubtreeRecord[];
  removed: string[];
  retrieved: SubtreeRecord[];
  /** Problems found with how the module keeps its state (stale handles, globals). */
  stateLeaks: string[];
}

/** A module used a kernel handle after that kernel was gone. */
export class StaleHandleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleHandleError';
  }
}

/** What a handle stands for (internal to the API files). */
export interface HandleState {
  readonly kernel: Kernel;
  readonly history: PageHistory;
  readonly run: ModuleRun;
}

const STATE = new WeakMap<ModuleKernel, HandleState>();
const RUNS = new WeakMap<Kernel, Map<string, ModuleRun>>();
/** The kernel being booted or running on each machine, as module inits saw it. */
const CURRENT = new WeakMap<Machine, Kernel>();

/**
 * The kernel as a loadable module sees it. Pass it to the kernel API functions
 * (`preserveFolio(k, folio)`, `printk(k, 'info', text)`, …). A handle is valid only while its
 * kernel runs: after a kexec the successor gives the module a new one.
 */
export class ModuleKernel {
  /** The module's name (`KBUILD_MODNAME`). */
  readonly name: string;
  /** This kernel's generation: the kexec count (0 on a cold boot). */
  readonly generation: number;
  /** `uname -r` of the running kernel. */
  readonly release: string;
  /** The release profile (`kho-v1` … `kho-v4`): the KHO ABI this kernel speaks. */
  readonly profile: string;

  /** @internal Made by the module loader; modules receive it in `init`. */
  constructor(kernel: Kernel, run: ModuleRun) {
    this.name = run.module;
    this.generation = kernel.generation;
    this.release = kernel.release;
    this.profile = kernel.profile.name;
    STATE.set(this, { kernel, history: pageHistory(kernel.machine), run });
  }
}

/** Start a module's run in `kernel` (the loader calls this before init). */
export function beginRun(kernel: Kernel, module: string, file: string | null): ModuleRun {
  CURRENT.set(kernel.machine, kernel);
  let runs = RUNS.get(kernel);
  if (runs === undefined) {
    runs = new Map();
    RUNS.set(kernel, runs);
  }
  const run: ModuleRun = {
    module,
    file,
    gen: kernelSeq(kernel),
    initResult: null,
    threw: null,
    dmesg: [],
    added: [],
    removed: [],
    retrieved: [],
    stateLeaks: [],
  };
  runs.set(module, run);
  return run;
}

/** What loadable modules did in `kernel`, by module name. */
export function moduleRuns(kernel: Kernel): ReadonlyMap<string, ModuleRun> {
  return RUNS.get(kernel) ?? new Map();
}

function isCurrent(kernel: Kernel): boolean {
  const m = kernel.machine;
  return (m.kernel ?? CURRENT.get(m)) === kernel;
}

/**
 * The state behind a handle, checked to belong to the running kernel. Throws
 * StaleHandleError for a handle of a kernel that is gone, and TypeError for anything that is
 * not a handle (a module passing the wrong first argument).
 */
export function stateOf(k: ModuleKernel): HandleState {
  const s = STATE.get(k);
  if (s === undefined)
    throw new TypeError('the first argument must be the ModuleKernel handle given to init');
  if (!isCurrent(s.kernel)) {
    const now = s.kernel.machine.kernel ?? CURRENT.get(s.kernel.machine);
    const msg = `${s.run.module}: kernel handle of boot ${s.run.gen} used in boot ${now === undefined ? '?' : kernelSeq(now)}: module state must cross a kexec through KHO or LUO, not in JavaScript`;
    now?.dmesg.err(msg);
    if (now !== undefined) moduleRuns(now).get(s.run.module)?.stateLeaks.push(msg);
    throw new StaleHandleError(msg);
  }
  return s;
}

/** The kernel behind a handle (checked). */
export function kernelOf(k: ModuleKernel): Kernel {
  return stateOf(k).kernel;
}

/**
 * Run one API call of a module: reads of poisoned (never preserved) memory during the call are
 * recorded with the module's calling function, and the dmesg lines it prints are the module's.
 * `site` is the API function (frames from it inwards are not the module's).
 */
export function within<T>(
  k: ModuleKernel,
  site: (...args: never[]) => unknown,
  body: (s: HandleState) => T,
): T {
  const s = stateOf(k);
  const mem = s.kernel.machine.mem;
  const prev = mem.onPoisonRead;
  if (prev !== null) {
    mem.onPoisonRead = (pfn) => {
      s.history.record({
        gen: s.run.gen,
        op: 'read-unpreserved',
        pfn,
        nr: 1,
        module: s.run.module,
        caller: moduleFrames(1, site)[0] ?? null,
      });
      prev(pfn);
    };
  }
  const first = s.kernel.dmesg.records.length;
  try {
    return body(s);
  } finally {
    if (prev !== null) mem.onPoisonRead = prev;
    noteDmesg(s.run, first, s.kernel.dmesg.records.length);
  }
}

/** Attribute dmesg records `[first, end)` to a run (merging with the previous range). */
export function noteDmesg(run: ModuleRun, first: number, end: number): void {
  if (end <= first) return;
  const last = run.dmesg.at(-1);
  if (last !== undefined && last[1] >= first) last[1] = Math.max(last[1], end);
  else run.dmesg.push([first, end]);
}

/** Record a page operation of the module behind `s`, with its calling function. */
export function recordPages(
  s: HandleState,
  site: (...args: never[]) => unknown,
  op: PageOp,
  pfn: number,
  nr: number,
): void {
  s.history.record({
    gen: s.run.gen,
    op,
    pfn,
    nr,
    module: s.run.module,
    caller: moduleFrames(1, site)[0] ?? null,
  });
}

/** The module's calling function for `site` (null outside module code). */
export function callerOf(site: (...args: never[]) => unknown): CallerFrame | null {
  return moduleFrames(1, site)[0] ?? null;
}
