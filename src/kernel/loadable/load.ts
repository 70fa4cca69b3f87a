/**
 * Loading a module file (a TypeScript file that default-exports a module definition) into a
 * kernel, as `insmod FILE` (kernel/module/main.c: load_module, do_init_module) does with a .ko.
 *
 * Every kernel gets a fresh instance of the module's code: the file (and the files it imports
 * relatively) is evaluated again under a URL unique to that load (`name.ts.kho-instance-N.ts`),
 * so module-level variables start empty after each kexec, as a real successor's .data does.
 * Loading is synchronous (`require` of an ES module through in-thread module hooks), because
 * boot runs built-in initcalls synchronously. The bare specifier `kho` resolves to this
 * package's public API (src/index.ts) wherever the module file lives.
 *
 * A bad file never takes the machine down: a missing file, a syntax error, a failing import, a
 * wrong default export or a top-level throw is a `ModuleLoadError` with insmod's errno and a
 * one-line reason; a throw in `init` is reported like a kernel oops (dmesg, with the module's
 * functions as the call trace) and fails the load.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ERRNO, type ErrnoName } from '../../util/errno.ts';
import type { Kernel } from '../kernel.ts';
import { INITCALL, type KernelModule } from '../module.ts';
import { errorFrames, formatFrame, INSTANCE_MARK, oopsLines } from './caller.ts';
import { checkDefinition, parseParam, type ModuleDefinition, type ParamSpec } from './define.ts';
import { beginRun, ModuleKernel, moduleRuns, noteDmesg, type ModuleRun } from './handle.ts';
import { kernelSeq } from './history.ts';

/** Why a module file could not be loaded: insmod's errno and a reason for people. */
export class ModuleLoadError extends Error {
  /** `ENOEXEC` (not a valid module), `ENOENT` (a missing file or import), … */
  readonly code: ErrnoName;
  /** What is wrong, e.g. `my.ts:3:17: Unexpected token`. */
  readonly reason: string;
  /**
   * `open`: the file itself could not be read (insmod: "could not load module"); `insert`: its
   * content is not a loadable module (insmod: "could not insert module").
   */
  readonly stage: 'open' | 'insert';

  constructor(code: ErrnoName, reason: string, stage: 'open' | 'insert' = 'insert') {
    super(reason);
    this.name = 'ModuleLoadError';
    this.code = code;
    this.reason = reason;
    this.stage = stage;
  }
}

const API_URL = new URL('../../index.ts', import.meta.url).href;
let hooksInstalled = false;
let nextInstance = 1;

function instanceUrl(url: string, id: number): string {
  return `${url}.kho-instance-${id}.ts`;
}

/** Resolve `kho` to the public API and give a module's relative imports the module's instance. */
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  registerHooks({
    resolve(specifier, context, next) {
      if (specifier === 'kho') return { url: API_URL, shortCircuit: true, format: 'module-typescript' };
      if (specifier.startsWith('file:') && INSTANCE_MARK.test(specifier))
        return { url: specifier, shortCircuit: true };
      const parent = context.parentURL;
      const m = parent === undefined ? null : INSTANCE_MARK.exec(parent);
      if (parent === undefined || m === null) return next(specifier, context);
      const real = parent.replace(INSTANCE_MARK, '');
      const r = next(specifier, { ...context, parentURL: real });
      // Files next to the module (not packages, not the API) are part of its instance.
      if (
        r.url.startsWith('file:') &&
        !r.url.includes('/node_modules/') &&
        /\.(ts|mts|js|mjs)$/.test(r.url)
      ) {
        return { ...r, url: instanceUrl(r.url, Number(m[1])), shortCircuit: true };
      }
      return r;
    },
    load(url, context, next) {
      if (!INSTANCE_MARK.test(url)) return next(url, context);
      const real = url.replace(INSTANCE_MARK, '');
      const format = /\.(ts|mts)$/.test(real) ? 'module-typescript' : 'module';
      return { format, source: readFileSync(fileURLToPath(real), 'utf8'), shortCircuit: true };
    },
  });
}

const requireModule = createRequire(import.meta.url);

/** Node's error code, if any. */
function codeOf(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** `file.ts:LINE[:COL]` of a syntax error, from the first line of its stack text. */
function syntaxPosition(e: Error, path: string): string {
  const first = String(e.stack).split('\n', 1)[0] ?? '';
  const m = /:(\d+)(?::(\d+))?\s*$/.exec(first);
  return m === null ? baseName(path) : `${baseName(path)}:${m[1]}${m[2] === undefined ? '' : `:${m[2]}`}`;
}

/** The reason a load failed, in words (never a Node error code or a raw stack). */
function loadFailure(e: unknown, path: string): ModuleLoadError {
  const code = codeOf(e);
  const msg = e instanceof Error ? e.message.split('\n', 1)[0]! : String(e);
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
    return new ModuleLoadError(code, `${path}: cannot read the file`, 'open');
  }
  if (code === 'ERR_REQUIRE_ASYNC_MODULE') {
    return new ModuleLoadError(
      'ENOEXEC',
      `${baseName(path)}: top-level await is not allowed (modules load synchronously)`,
    );
  }
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT') {
    const what = /Cannot find (?:module|package) '([^']+)'/.exec(msg)?.[1] ?? 'an import';
    return new ModuleLoadError('ENOENT', `${baseName(path)}: cannot find ${what.replace(INSTANCE_MARK, '')}`);
  }
  if (
    e instanceof SyntaxError ||
    code === 'ERR_INVALID_TYPESCRIPT_SYNTAX' ||
    code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX'
  ) {
    const where = e instanceof Error ? syntaxPosition(e, path) : baseName(path);
    return new ModuleLoadError('ENOEXEC', `${where}: ${msg.replace(INSTANCE_MARK, '')}`);
  }
  const frames = errorFrames(e, 1);
  const at = frames[0] === undefined ? baseName(path) : formatFrame(frames[0]);
  const name = e instanceof Error ? e.name : 'exception';
  return new ModuleLoadError('ENOEXEC', `${at}: module code threw ${name}: ${msg} while loading`);
}

/** A fresh instance of the module file at `path` (absolute): its checked definition. */
function instantiate(path: string): ModuleDefinition {
  installHooks();
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = codeOf(e);
    throw new ModuleLoadError(
      code === 'EACCES' ? 'EACCES' : code === 'ENOTDIR' ? 'ENOTDIR' : 'ENOENT',
      path,
      'open',
    );
  }
  if (st.isDirectory()) throw new ModuleLoadError('EISDIR', path, 'open');
  const url = instanceUrl(pathToFileURL(path).href, nextInstance++);
  let ns: unknown;
  try {
    ns = requireModule(url);
  } catch (e) {
    throw loadFailure(e, path);
  }
  const def = (ns as { default?: unknown } | null)?.default;
  const bad = checkDefinition(def);
  if (bad !== null) throw new ModuleLoadError('ENOEXEC', `${baseName(path)}: ${bad}`);
  return def as ModuleDefinition;
}

/** Observer of module init/exit and its user space (the `kho check` watchdog listens). */
export type ModulePhaseListener = (e: {
  phase: 'init' | 'exit' | 'userspace';
  state: 'start' | 'end';
  module: string;
  gen: number;
}) => void;
let phaseListener: ModulePhaseListener | null = null;

/** Be told when a file module's init or exit starts and ends (one listener; null removes it). */
export function onModulePhase(l: ModulePhaseListener | null): void {
  phaseListener = l;
}

/** Tell the listener that a module's user space (run by `kho check`) starts or ends. */
export function userspacePhase(k: Kernel, module: string, state: 'start' | 'end'): void {
  phaseListener?.({ phase: 'userspace', state, module, gen: kernelSeq(k) });
}

/** A module file as the machine knows it: the path and what its definition says. */
export interface ModuleFile {
  /** Absolute host path. */
  readonly path: string;
  /** The module's name. */
  readonly name: string;
  /** The module as the kernel's module code runs it (a fresh instance per kernel). */
  readonly module: KernelModule;
}

const INSTANCES = new WeakMap<Kernel, Map<string, ModuleDefinition>>();

function globalNames(): Set<string> {
  return new Set(Object.getOwnPropertyNames(globalThis));
}

function typedParams(
  k: Kernel,
  name: string,
  specs: Readonly<Record<string, ParamSpec>>,
  given: ReadonlyMap<string, string>,
): Record<string, unknown> | number {
  const out: Record<string, unknown> = {};
  for (const [p, spec] of Object.entries(specs)) {
    const text = given.get(p);
    if (text === undefined) {
      out[p] = spec.default;
      continue;
    }
    const r = parseParam(spec.type, spec.type === 'bool' && text === '' ? null : text);
    if (!r.ok) {
      const why = r.errno === 'ENOSPC' ? 'too large for' : 'invalid for';
      k.dmesg.err(`${name}: \`${text}' ${why} parameter \`${p}'`);
      return -ERRNO[r.errno];
    }
    out[p] = r.value;
  }
  return out;
}

function runInit(k: Kernel, file: string, def: ModuleDefinition, given: ReadonlyMap<string, string>): number {
  const run: ModuleRun = beginRun(k, def.name, file);
  const first = k.dmesg.records.length;
  phaseListener?.({ phase: 'init', state: 'start', module: def.name, gen: kernelSeq(k) });
  try {
    const params = typedParams(k, def.name, def.params ?? {}, given);
    if (typeof params === 'number') return (run.initResult = params);
    const handle = new ModuleKernel(k, run);
    const before = globalNames();
    let rc: unknown;
    try {
      rc = (def.init as (k: ModuleKernel, p: Record<string, unknown>) => unknown)(handle, params);
    } catch (e) {
      const frames = errorFrames(e);
      run.threw = {
        message: e instanceof Error ? `${e.name}: ${e.message.split('\n', 1)[0]!}` : String(e),
        frames,
      };
      for (const l of oopsLines(def.name, 'init', e, frames)) k.dmesg.log('alert', l);
      return (run.initResult = -ERRNO.EFAULT);
    }
    for (const g of globalNames()) {
      if (before.has(g)) continue;
      const msg = `${def.name}: init left '${g}' on globalThis: JavaScript state must not cross a kexec (hand it over through KHO)`;
      k.dmesg.warn(msg);
      run.stateLeaks.push(msg);
    }
    if (typeof rc !== 'number' || !Number.isInteger(rc) || rc > 0) {
      k.dmesg.warn(`${def.name}: init returned ${String(rc)}, not 0 or -errno; taken as -EINVAL`);
      return (run.initResult = -ERRNO.EINVAL);
    }
    return (run.initResult = rc);
  } finally {
    noteDmesg(run, first, k.dmesg.records.length);
    phaseListener?.({ phase: 'init', state: 'end', module: def.name, gen: kernelSeq(k) });
  }
}

/** The errno of a load error as init's return value. */
function loadErrno(e: ModuleLoadError): number {
  return -ERRNO[e.code];
}

/** The definition (this kernel's instance) of the module file `name` loaded in `k`, if any. */
export function loadedDefinition(k: Kernel, name: string): ModuleDefinition | undefined {
  return INSTANCES.get(k)?.get(name);
}

/**
 * Open the module file at `path` (relative paths against `cwd`): loads one instance to learn the
 * module's name and parameters and checks its shape. Throws ModuleLoadError.
 */
export function openModuleFile(path: string, cwd = process.cwd()): ModuleFile {
  const abs = isAbsolute(path) ? path : resolvePath(cwd, path);
  const probe = instantiate(abs);
  const name = probe.name;
  const specs = probe.params ?? {};
  let probeUnused: ModuleDefinition | null = probe;
  const module: KernelModule = {
    name,
    description: probe.description ?? '',
    params: Object.keys(specs),
    paramSpecs: Object.entries(specs).map(([p, s]) => ({
      name: p,
      description: s.description ?? '',
      default: String(s.default),
    })),
    initcall: INITCALL.device,
    init(k, given) {
      // The first kernel may use the probe instance (never run); every other gets a new one.
      let def: ModuleDefinition;
      if (probeUnused !== null) {
        def = probeUnused;
        probeUnused = null;
      } else {
        try {
          def = instantiate(abs);
        } catch (e) {
          if (!(e instanceof ModuleLoadError)) throw e;
          k.dmesg.err(`${name}: ${e.reason}`);
          return loadErrno(e);
        }
        if (def.name !== name) {
          k.dmesg.err(`${name}: the file now defines module '${def.name}'`);
          return -ERRNO.ENOEXEC;
        }
      }
      let map = INSTANCES.get(k);
      if (map === undefined) {
        map = new Map();
        INSTANCES.set(k, map);
      }
      const rc = runInit(k, abs, def, given);
      if (rc === 0) map.set(name, def);
      return rc;
    },
  };
  if (probe.exit !== undefined) {
    (module as { exit?: (k: Kernel) => void }).exit = (k) => {
      const def = INSTANCES.get(k)?.get(name);
      if (def?.exit === undefined) return;
      // exit continues the run init started in this kernel, so its lines add up.
      const run = moduleRuns(k).get(name) ?? beginRun(k, name, abs);
      const first = k.dmesg.records.length;
      phaseListener?.({ phase: 'exit', state: 'start', module: name, gen: kernelSeq(k) });
      try {
        def.exit(new ModuleKernel(k, run));
      } catch (e) {
        for (const l of oopsLines(name, 'exit', e, errorFrames(e))) k.dmesg.log('alert', l);
      } finally {
        noteDmesg(run, first, k.dmesg.records.length);
        INSTANCES.get(k)?.delete(name);
        phaseListener?.({ phase: 'exit', state: 'end', module: name, gen: kernelSeq(k) });
      }
    };
  }
  return { path: abs, name, module };
}
