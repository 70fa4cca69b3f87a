/**
 * `kho check`'s engine: a machine with the module under test built in, booted with the
 * sanitizer on and taken through N kexecs; per generation what the module preserved (blocks in
 * the hand-over that it preserved), what it restored, the findings about its memory and the
 * dmesg lines it printed. Runs synchronously in the calling thread; supervise.ts runs it in a
 * worker thread so that a module that never returns can be stopped.
 */
import { kexecExecute } from '../kexec/execute.ts';
import { kexecFileLoad } from '../kexec/file-load.ts';
import { mkImage } from '../kexec/image.ts';
import { KernelPanic } from '../kernel/boot.ts';
import { formatStamp } from '../kernel/dmesg.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { Machine } from '../kernel/machine.ts';
import { moduleRuns, type ModuleRun } from '../kernel/loadable/handle.ts';
import { kernelSeq, pageHistory, type PageEvent } from '../kernel/loadable/history.ts';
import { formatFrame } from '../kernel/loadable/caller.ts';
import { ModuleLoadError, openModuleFile, type ModuleFile } from '../kernel/loadable/load.ts';
import { configureWithModuleFiles } from '../kernel/loadable/machine-modules.ts';
import { ModuleError } from '../kernel/module.ts';
import { profileByName } from '../kernel/profile.ts';
import { incomingFdt } from '../kho/subtree.ts';
import { checkCmdline } from './cmdline.ts';
import { runModuleUserspace } from './userspace.ts';
import { KexecError } from '../kexec/errors.ts';
import {
  freedAfterPreserve,
  freedBlocks,
  historyFindings,
  historyLines,
  moduleBlocks,
  overlaps,
  rangesOf,
  runFindings,
  trackedBlocks,
  type CheckFinding,
} from './findings.ts';

/** What to check. */
export interface CheckOptions {
  /** The module file under test. */
  file: string;
  /** Number of kexecs (the module runs in generations 0 … N). */
  generations: number;
  profile: string;
  mem: number;
  nodes: number;
  seed: number;
  /** Kernel command line (`kho=on` is added when missing). */
  cmdline: string;
  /** `param=value` for the module (passed as `name.param=value` on the command line). */
  params?: readonly string[];
  /** Other module files built in alongside. */
  modules?: readonly string[];
  /** Directory relative paths are resolved against. */
  cwd?: string;
}

/** Totals of pages. */
export interface PageTotals {
  blocks: number;
  pages: number;
  bytes: number;
}

/** One kernel of the run. */
export interface GenerationResult {
  gen: number;
  release: string;
  /** init's return value (null when it did not run). */
  init: number | null;
  /** Hand-over blocks the module preserved, as the jump found them (null for the last kernel: no jump). */
  preserved: PageTotals | null;
  /** Sub-trees it handed over. */
  subtrees: string[];
  /** Pages it restored from the previous kernel. */
  restored: PageTotals;
  /** Sub-trees it found (retrieved without error). */
  retrieved: string[];
  findings: CheckFinding[];
  /** Its dmesg lines with timestamps. */
  dmesg: string[];
  /** What the module's user space printed (empty without one; `ModuleDefinition.userspace`). */
  userspace: string[];
}

/** The whole check. */
export interface CheckReport {
  module: string | null;
  file: string;
  profile: string;
  machine: { mem: number; nodes: number; seed: number; cmdline: string };
  generationsWanted: number;
  generations: GenerationResult[];
  /** `pass`: no error finding; `fail`: errors; `hung`: a generation did not finish in time. */
  verdict: 'pass' | 'fail' | 'hung';
  errors: number;
  warnings: number;
  /** A problem that stopped the check (the module could not be loaded, the kernel panicked, …). */
  stopped: string | null;
  /** The soft-lockup report when the verdict is `hung`. */
  hung: string[] | null;
}

/** Progress the engine reports (the supervisor's watchdog listens). */
export type CheckEvent =
  { type: 'generation'; gen: number; step: 'boot' | 'kexec' } | { type: 'result'; result: GenerationResult };

const PAGE = 4096;

function totals(blocks: readonly { pfn: number; order: number }[]): PageTotals {
  const pages = blocks.reduce((a, b) => a + 2 ** b.order, 0);
  return { blocks: blocks.length, pages, bytes: pages * PAGE };
}

function dmesgOf(k: Kernel, run: ModuleRun | undefined): string[] {
  if (run === undefined) return [];
  const out: string[] = [];
  for (const [a, b] of run.dmesg) {
    for (const r of k.dmesg.records.slice(a, b)) out.push(`${formatStamp(r.usec)} ${r.text}`);
  }
  return out;
}

function incomingNames(k: Kernel): Set<string> {
  const fdt = incomingFdt(k.kho.ctx);
  if (fdt === null) return new Set();
  return new Set(fdt.children(fdt.root()).map((c) => fdt.getName(c)));
}

/** The pre-jump facts of a generation: the module's hand-over blocks and those it freed. */
function beforeJump(
  k: Kernel,
  name: string,
): { blocks: { pfn: number; order: number }[]; findings: CheckFinding[] } {
  const h = pageHistory(k.machine);
  const mine = rangesOf(h.ofModule(name, kernelSeq(k)).filter((e) => e.op === 'preserve'));
  const blocks = moduleBlocks(trackedBlocks(k.kho.ctx.tracker), mine);
  const freed = freedBlocks(k.buddy, blocks);
  for (const b of freedAfterPreserve(h.ofModule(name, kernelSeq(k)), blocks))
    if (!freed.some((f) => f.pfn === b.pfn)) freed.push(b);
  const findings: CheckFinding[] = freed.map((b) => ({
    kind: 'preserved-freed',
    severity: 'error',
    gen: kernelSeq(k),
    phys: b.at * PAGE,
    function: freer(h.of(b.at)),
    message: `preserved page 0x${(b.at * PAGE).toString(16)} was freed before the kexec: the next kernel sees whatever reuses it`,
    history: historyLines(h, b.at),
  }));
  return { blocks, findings };
}

/** The function that last freed a page, from its history. */
function freer(events: readonly PageEvent[]): string | null {
  const c = events.filter((e) => e.op === 'free').at(-1)?.caller ?? null;
  return c === null ? null : formatFrame(c);
}

/** Run the check; `emit` gets progress (for a watchdog). Never throws for a bad module. */
export function runCheck(o: CheckOptions, emit: (e: CheckEvent) => void = () => undefined): CheckReport {
  const cmdline0 = checkCmdline(o.cmdline);
  const report: CheckReport = {
    module: null,
    file: o.file,
    profile: o.profile,
    machine: { mem: o.mem, nodes: o.nodes, seed: o.seed, cmdline: cmdline0 },
    generationsWanted: o.generations,
    generations: [],
    verdict: 'fail',
    errors: 0,
    warnings: 0,
    stopped: null,
    hung: null,
  };
  const finish = (): CheckReport => {
    for (const g of report.generations) {
      for (const f of g.findings) {
        if (f.severity === 'error') report.errors++;
        else report.warnings++;
      }
    }
    report.verdict = report.errors === 0 && report.stopped === null ? 'pass' : 'fail';
    return report;
  };
  const profile = profileByName(o.profile);
  if (profile === null) {
    report.stopped = `unknown profile '${o.profile}'`;
    return finish();
  }
  let file: ModuleFile;
  let machine: Machine;
  try {
    file = openModuleFile(o.file, o.cwd);
    const others = (o.modules ?? []).map((f) => openModuleFile(f, o.cwd));
    machine = Machine.create({ mem: o.mem, nodes: o.nodes, seed: o.seed, sanitize: true });
    configureWithModuleFiles(machine, [file, ...others]);
  } catch (e) {
    if (e instanceof ModuleLoadError) {
      report.stopped = `could not load module ${o.file}: ${e.reason}`;
      return finish();
    }
    if (e instanceof ModuleError) {
      report.stopped = e.message;
      return finish();
    }
    throw e;
  }
  const name = file.name;
  report.module = name;
  const params = (o.params ?? []).map((p) => `${name}.${p}`).join(' ');
  const cmdline = `${cmdline0}${params === '' ? '' : ` ${params}`}`;
  report.machine.cmdline = cmdline;
  const image = mkImage({ profile, size: 1024 * 1024 });
  const h = pageHistory(machine);

  let prevRun: ModuleRun | null = null;
  let prevBlocks: { pfn: number; order: number }[] = [];
  for (let gen = 0; gen <= o.generations; gen++) {
    emit({ type: 'generation', gen, step: gen === 0 ? 'boot' : 'kexec' });
    let k: Kernel;
    const pending: CheckFinding[] = [];
    try {
      if (gen === 0) k = machine.coldBoot({ cmdline, profile });
      else {
        const old = machine.kernel!;
        old.kho.finalize(); // kho-v1: only a finalized tracker is handed over
        kexecFileLoad(old, { image, cmdline: old.cmdline.raw });
        const before = beforeJump(old, name);
        const last = report.generations.at(-1)!;
        last.preserved = totals(before.blocks);
        last.findings.push(...before.findings);
        prevBlocks = before.blocks;
        const r = kexecExecute(machine);
        k = r.successor;
        // Sanitizer findings of the jump that involve the module's pages and are not already reported.
        for (const f of r.report.findings) {
          if (f.kind === 'unpreserved-read' || f.phys < 0) continue;
          if (!h.touches(name, Math.floor(f.phys / PAGE))) continue;
          if (f.kind === 'preserved-freed' && before.findings.length > 0) continue;
          pending.push({
            kind: 'sanitizer',
            severity: f.severity === 'error' ? 'error' : 'warning',
            gen,
            phys: f.phys,
            function: null,
            message: `${f.kind}: ${f.message}`,
            history: historyLines(h, Math.floor(f.phys / PAGE)),
          });
        }
      }
    } catch (e) {
      if (e instanceof KernelPanic || e instanceof KexecError) {
        report.stopped = `generation ${gen}: ${e.message}`;
        return finish();
      }
      throw e;
    }
    if (kernelSeq(k) !== gen) throw new Error(`kho check: kernel ${kernelSeq(k)} where ${gen} was expected`);
    const us = runModuleUserspace(k, name);
    if (us?.failure != null) {
      pending.push({
        kind: 'userspace-failed',
        severity: 'error',
        gen,
        phys: -1,
        function: null,
        message: [us.failure, ...us.output.slice(-3)].join(': '),
        history: [],
      });
    }
    const run = moduleRuns(k).get(name);
    const mine = h.ofModule(name, gen);
    const restoredEv = mine.filter((e) => e.op === 'restore');
    const restoredPages = restoredEv.reduce((a, e) => a + e.nr, 0);
    const result: GenerationResult = {
      gen,
      release: k.release,
      init: run?.initResult ?? null,
      preserved: null,
      subtrees: (run?.added ?? [])
        .filter((a) => a.err === 0 && !(run?.removed ?? []).includes(a.name))
        .map((a) => a.name),
      restored: { blocks: restoredEv.length, pages: restoredPages, bytes: restoredPages * PAGE },
      retrieved: (run?.retrieved ?? []).filter((r) => r.err === 0).map((r) => r.name),
      findings: [
        ...pending,
        ...(run === undefined ? [] : runFindings(run, prevRun, incomingNames(k))),
        ...historyFindings(h, name, gen),
      ],
      dmesg: dmesgOf(k, run),
      userspace: us?.output ?? [],
    };
    if (gen > 0 && prevBlocks.length > 0) {
      const back = rangesOf(h.events.filter((e) => e.gen === gen && e.op === 'restore'));
      const left = prevBlocks.filter((b) => !overlaps(back, b.pfn, 2 ** b.order));
      if (left.length > 0) {
        result.findings.push({
          kind: 'not-restored',
          severity: 'warning',
          gen,
          phys: left[0]!.pfn * PAGE,
          function: null,
          message: `${left.length} block(s) preserved by generation ${gen - 1} were not restored: they stay reserved for good`,
          history: historyLines(h, left[0]!.pfn),
        });
      }
    }
    report.generations.push(result);
    emit({ type: 'result', result });
    prevRun = run ?? null;
  }
  return finish();
}
