/**
 * The recursive-kexec soak (issue 5): a small machine runs N generations of the `kho_soak`
 * consumer; every generation file-loads the same image into scratch, jumps (sanitizer on), and
 * the successor restores and verifies every preserved byte from its own memory. The harness
 * checks, per generation: nothing lost or corrupted (against the counts the predecessor handed
 * over), scratch areas unchanged, kexec-metadata count +1.
 */
import { kexecExecute } from '../kexec/execute.ts';
import { kexecFileLoad } from '../kexec/file-load.ts';
import { mkImage } from '../kexec/image.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { Machine } from '../kernel/machine.ts';
import { configureModules, ModuleCatalog } from '../kernel/module.ts';
import { profileByName } from '../kernel/profile.ts';
import { DEFAULT_WORKLOAD, soakModule, soakStats, type SoakWorkload } from './consumer.ts';

const GiB = 1024 * 1024 * 1024;

/** Soak options. */
export interface SoakOptions {
  generations: number;
  seed?: number;
  mem?: number;
  nodes?: number;
  sanitize?: boolean;
  workload?: Partial<SoakWorkload>;
  /** Edit memory after the load, just before jump `gen` (tests: prove corruption is caught). */
  tamper?: (k: Kernel, gen: number) => void;
  /** Called after each generation (progress). */
  onGeneration?: (gen: number, total: number) => void;
}

/** The JSON summary. */
export interface SoakSummary {
  ok: boolean;
  generations: number;
  seed: number;
  machine: { mem: number; nodes: number; sanitize: boolean };
  cmdline: string;
  blocksVerified: number;
  bytesVerified: number;
  subtreesVerified: number;
  lostBytes: number;
  corruptedBytes: number;
  /** Blocks and bytes the last kernel holds preserved (not verified: no successor). */
  finalHandedBlocks: number;
  finalHandedBytes: number;
  maxHandedBlocks: number;
  scratch: { addr: number; size: number }[];
  scratchChanged: number;
  metadataMismatches: number;
  failures: string[];
  seconds: number;
  secondsPerGeneration: number;
}

/** Default soak command line: KHO with the default scratch sizing (200% of early allocations). */
export const SOAK_CMDLINE = 'console=ttyS0 kho=on';

/** Run the soak. */
export function runSoak(o: SoakOptions): SoakSummary {
  const t0 = performance.now();
  const seed = o.seed ?? 1;
  const mem = o.mem ?? 4 * GiB;
  const nodes = o.nodes ?? 1;
  const sanitize = o.sanitize ?? true;
  const profile = profileByName('kho-v4')!;
  const m = Machine.create({ mem, nodes, seed, sanitize });
  configureModules(m, {
    catalog: new ModuleCatalog([soakModule({ ...DEFAULT_WORKLOAD, ...o.workload })]),
    modulesLoad: [{ name: 'kho_soak', args: [`seed=${seed}`] }],
  });
  const image = mkImage({ profile, size: 1024 * 1024, seed });
  let k: Kernel = m.coldBoot({ cmdline: SOAK_CMDLINE, profile });
  const scratch = k.kho.scratch.map((a) => ({ addr: a.addr, size: a.size }));
  const scratchKey = JSON.stringify(scratch);
  const sum: SoakSummary = {
    ok: true,
    generations: 0,
    seed,
    machine: { mem, nodes, sanitize },
    cmdline: SOAK_CMDLINE,
    blocksVerified: 0,
    bytesVerified: 0,
    subtreesVerified: 0,
    lostBytes: 0,
    corruptedBytes: 0,
    finalHandedBlocks: 0,
    finalHandedBytes: 0,
    maxHandedBlocks: 0,
    scratch,
    scratchChanged: 0,
    metadataMismatches: 0,
    failures: [],
    seconds: 0,
    secondsPerGeneration: 0,
  };
  const fail = (text: string): void => {
    sum.ok = false;
    if (sum.failures.length < 50) sum.failures.push(text);
  };
  for (let g = 1; g <= o.generations; g++) {
    const before = soakStats(k);
    if (before === null) {
      fail(`generation ${g - 1}: the soak consumer did not run`);
      break;
    }
    for (const e of before.errors) fail(`generation ${g - 1}: ${e}`);
    sum.maxHandedBlocks = Math.max(sum.maxHandedBlocks, before.handedBlocks);
    const count = k.generation;
    try {
      kexecFileLoad(k, { image, cmdline: SOAK_CMDLINE });
      o.tamper?.(k, g);
      k = kexecExecute(m).successor;
    } catch (e) {
      fail(`generation ${g}: kexec failed: ${e instanceof Error ? e.message : String(e)}`);
      break;
    }
    const s = soakStats(k);
    sum.generations = g;
    if (s === null) {
      fail(`generation ${g}: the soak consumer did not run`);
      break;
    }
    sum.blocksVerified += s.blocksVerified;
    sum.bytesVerified += s.bytesVerified;
    sum.subtreesVerified += s.subtreesVerified;
    sum.corruptedBytes += s.bytesCorrupted;
    // Lost: what the predecessor handed over and this kernel could not verify intact.
    const lost = before.handedBytes - s.bytesVerified - s.bytesCorrupted + s.bytesLost;
    sum.lostBytes += lost;
    if (lost !== 0 || s.bytesCorrupted !== 0 || s.blocksVerified !== before.handedBlocks) {
      fail(
        `generation ${g}: handed ${before.handedBlocks} blocks/${before.handedBytes} bytes, verified ${s.blocksVerified}/${s.bytesVerified}, corrupted ${s.bytesCorrupted}, lost ${lost}`,
      );
    }
    if (s.subtreesVerified !== before.handedSubtrees.length || s.subtreesBad !== 0) {
      fail(`generation ${g}: extra sub-trees ${s.subtreesVerified}/${before.handedSubtrees.length} verified`);
    }
    if (JSON.stringify(k.kho.scratch.map((a) => ({ addr: a.addr, size: a.size }))) !== scratchKey) {
      sum.scratchChanged++;
      fail(`generation ${g}: scratch areas changed`);
    }
    if (k.generation !== count + 1 || !k.kho.isKhoBoot()) {
      sum.metadataMismatches++;
      fail(`generation ${g}: kexec_count ${k.generation}, expected ${count + 1}`);
    }
    o.onGeneration?.(g, o.generations);
  }
  const last = soakStats(k);
  sum.finalHandedBlocks = last?.handedBlocks ?? 0;
  sum.finalHandedBytes = last?.handedBytes ?? 0;
  sum.seconds = (performance.now() - t0) / 1000;
  sum.secondsPerGeneration = sum.generations === 0 ? 0 : sum.seconds / sum.generations;
  return sum;
}
