/**
 * `kho demo`: the whole KHO story on the default machine (16 GiB, 2 nodes, sanitizer on).
 * Generation 0 cold-boots with `kho=on kho_scratch=… reserve_mem=…`; consumers preserve memory
 * (test_kho built in, a `reserve_mem` region written by "user space", a guest's memfds in a LUO
 * session preserved with `luoctl`); the loader places the next kernel in scratch (`kexec -l -s`); the
 * jump poisons everything unpreserved and boots the successor from memory alone, which restores
 * and verifies, preserves again, and so on for each generation.
 *
 * The demo keeps, outside the machine, only what a person watching would write down (expected
 * reserve_mem bytes, the scratch list, the counts); every verdict is computed by the successor
 * from its own memory.
 */
import { toDts } from '../fdt/dts.ts';
import { asComment, khoNotes } from '../abi/kho-annotate.ts';
import { readTree } from '../fdt/reader.ts';
import { hexdumpC } from '../inspect/hexdump.ts';
import { readPreservedMap } from '../kexec/preserved-map.ts';
import { kexecExecute } from '../kexec/execute.ts';
import { kexecFileLoad } from '../kexec/file-load.ts';
import { mkImage } from '../kexec/image.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { Machine } from '../kernel/machine.ts';
import { configureModules, moduleStarts, type ModuleStart } from '../kernel/module.ts';
import { defaultModuleCatalog } from '../kernel/modules/catalog.ts';
import { csumBytes } from '../kernel/modules/folio-data.ts';
import { testKhoStatus } from '../kernel/modules/test-kho.ts';
import { profileByName } from '../kernel/profile.ts';
import { PseudoDir, type PseudoNode } from '../kernel/pseudo-fs.ts';
import { GUEST_SESSION, preserveGuest, retrieveGuest, type GuestFile, type LuoStep } from './luo-guest.ts';

const GiB = 1024 * 1024 * 1024;

/** Options of a demo run. */
export interface DemoOptions {
  /** Number of kexecs (default 3). */
  generations?: number;
  /** Machine seed (default 1). */
  seed?: number;
  /** Progress lines for long steps (the CLI prints them on a TTY only). */
  progress?: (text: string) => void;
}

/** Default machine and command line. */
export const DEMO_MACHINE = { mem: 16 * GiB, nodes: 2 } as const;
/** Scratch as the kernel's usage document sizes it (16 MiB lowmem, 512 MiB global, 256 MiB per node); a 4 MiB reserve_mem region. */
export const DEMO_CMDLINE =
  'console=ttyS0 kho=on kho_scratch=16M,512M,256M reserve_mem=4M:4096:trace liveupdate=on';

/** One verification. */
export interface Verdict {
  name: string;
  ok: boolean;
  detail: string;
}

/** What the user would see with `cat`/`ls` in debugfs. */
export interface DebugfsView {
  scratchPhys: string;
  scratchLen: string;
  subFdts: string[];
  inSubFdts: string[];
  /** `out/fdt` through dtc (gen 0), or a note. */
  outFdtDts: string | null;
  outFdtNote: string | null;
}

/** Seconds per phase of one generation. */
export interface PhaseTimes {
  /** Boot incl. module initcalls and modules-load (generation 0 only; successors boot inside the jump). */
  boot: number;
  load: number;
  jump: number;
  verify: number;
}

/** One kernel's part of the story. */
export interface GenerationReport {
  generation: number;
  release: string;
  khoBoot: boolean;
  /** kexec_count from kexec-metadata. */
  kexecCount: number;
  modules: ModuleStart[];
  /** What the kernel hands over (read from memory as the successor will). */
  preservedBlocks: number;
  preservedBytes: number;
  trackerPages: number;
  fdtSize: number;
  subtrees: string[];
  scratch: { addr: number; size: number }[];
  reserveMem: { name: string; start: number; size: number }[];
  /** Verdicts of this kernel about its predecessor (empty for generation 0). */
  verdicts: Verdict[];
  debugfs: DebugfsView;
  /** dmesg lines of interest (KHO, modules, reserve_mem). */
  log: string[];
  /** Sanitizer at the jump that started this kernel. */
  sanitizer: { poisonedPages: number; findings: string[] } | null;
  /** Loaded image segments (placement inside scratch), absent for the last generation. */
  segments: { role: string; dest: number; memsz: number }[];
  times: PhaseTimes;
  /** First bytes of the reserve_mem region (hexdump -C /dev/mem -s ADDR -n 64). */
  reserveMemHexdump: string;
  /** luoctl in this kernel: taking the predecessor's guest back (successors only). */
  luoRetrieve: LuoStep[];
  /** luoctl in this kernel: preserving the guest for the next one (all but the last). */
  luoPreserve: LuoStep[];
}

/** A whole run. */
export interface DemoResult {
  seed: number;
  machine: { mem: number; nodes: number; sanitize: boolean };
  cmdline: string;
  profile: string;
  generations: GenerationReport[];
  ok: boolean;
  seconds: number;
}

function now(): number {
  return performance.now() / 1000;
}

const dec = new TextDecoder();

function readText(node: PseudoNode | undefined): string {
  if (node === undefined || node.kind !== 'file') return '';
  return dec.decode(node.read());
}

function names(node: PseudoNode | undefined): string[] {
  return node instanceof PseudoDir ? node.names() : [];
}

/** The dmesg lines a reader of the demo cares about. */
function interesting(k: Kernel): string[] {
  return k.dmesg.records
    .filter(
      (r) =>
        !/^(Kernel c|C)ommand line/.test(r.text) &&
        (/KHO|test_kho|luo|reserve|Revived|kexec|WARNING/.test(r.text) || r.level === 'err'),
    )
    .map((r) => r.text);
}

/** The reserve_mem "user" line written in each generation. */
function reserveMemLine(gen: number, release: string): Uint8Array {
  return new TextEncoder().encode(`kho demo: generation ${gen} (${release}) was here\n`.padEnd(64, ' '));
}

/** Run the demo. */
export function runDemo(opts: DemoOptions = {}): DemoResult {
  const t0 = now();
  const gens = opts.generations ?? 3;
  const seed = opts.seed ?? 1;
  const progress = opts.progress ?? ((): void => undefined);
  const profile = profileByName('kho-v4')!;
  const machine = Machine.create({ ...DEMO_MACHINE, seed, sanitize: true });
  configureModules(machine, {
    catalog: defaultModuleCatalog(),
    builtin: ['test_kho'],
  });
  progress('building the kernel image (12 MiB bzImage)');
  const image = mkImage({ profile, seed });

  const reports: GenerationReport[] = [];
  let ok = true;
  // What the watcher writes down before each jump, to compare after it.
  let expect: {
    scratch: string;
    reserve: { name: string; start: number; size: number; csum: number }[];
    count: number;
    /** test_kho saved in the predecessor (it restores, or saves when it finds nothing). */
    testKho: boolean;
    /** The guest's memfds preserved in LUO session guest-vm. */
    guest: GuestFile[];
  } | null = null;

  let tBoot = now();
  progress('generation 0: cold boot');
  let k = machine.coldBoot({ cmdline: DEMO_CMDLINE, profile });
  let bootSeconds = now() - tBoot;
  let sanitizer: GenerationReport['sanitizer'] = null;
  let jumpSeconds = 0;

  for (let gen = 0; ; gen++) {
    // Boot ran the built-in initcalls and user space's modules-load (both timed with the boot).
    const started = [...moduleStarts(k)];

    const tVer = now();
    const verdicts: Verdict[] = [];
    if (expect !== null) verdicts.push(...verify(k, expect));
    let luoRetrieve: LuoStep[] = [];
    if (expect !== null) {
      const g = retrieveGuest(k, expect.guest);
      luoRetrieve = g.steps;
      verdicts.push({ name: `LUO ${GUEST_SESSION}`, ok: g.ok, detail: g.detail });
    }
    if (verdicts.some((v) => !v.ok)) ok = false;
    for (const s of started) {
      if (s.result !== 0) {
        ok = false;
        verdicts.push({ name: `module ${s.name}`, ok: false, detail: `init returned ${s.result}` });
      }
    }
    // User space leaves its mark in the reserve_mem region (like a trace buffer).
    for (const r of k.reserveMem) {
      machine.mem.write(
        r.start + Math.min(gen, Math.floor(r.size / 64) - 1) * 64,
        reserveMemLine(gen, k.release),
      );
    }
    const verifySeconds = now() - tVer;

    // User space preserves the guest in a LUO session before the numbers below are taken.
    const guest = gen < gens ? preserveGuest(k, seed, gen) : { steps: [], files: [] };
    if (guest.steps.some((st) => st.status !== 0)) ok = false;
    const kho = k.kho;
    const map = readPreservedMap(machine.mem, kho.fdtPhys);
    const fdt = kho.outFdt();
    const outDir = k.debugfs.lookup('kho/out');
    let outFdtDts: string | null;
    let outFdtNote: string | null = null;
    const outFdtNode = k.debugfs.lookup('kho/out/fdt');
    if (outFdtNode?.kind === 'file') {
      const blob = outFdtNode.read();
      try {
        outFdtDts = dtsOf(blob);
      } catch {
        outFdtNote = `out/fdt shows the ${blob.length} bytes the FDT had at kho_init (kernel quirk, docs/quirks.md); the current FDT is ${fdt?.length ?? 0} bytes:`;
        outFdtDts = fdt === null ? null : dtsOf(fdt);
      }
    } else {
      outFdtNote = 'out/fdt exists on cold boots only (kernel quirk, docs/quirks.md); the current FDT:';
      outFdtDts = fdt === null ? null : dtsOf(fdt);
    }
    const rm = k.reserveMem[0];
    const report: GenerationReport = {
      generation: gen,
      release: k.release,
      khoBoot: kho.isKhoBoot(),
      kexecCount: k.generation,
      modules: started,
      preservedBlocks: map.count,
      preservedBytes: map.bytes,
      trackerPages: map.trackerPfns.length,
      fdtSize: fdt?.length ?? 0,
      subtrees: names(outDir instanceof PseudoDir ? outDir.get('sub_fdts') : undefined),
      scratch: kho.scratch.map((a) => ({ addr: a.addr, size: a.size })),
      reserveMem: k.reserveMem.map((r) => ({ name: r.name, start: r.start, size: r.size })),
      verdicts,
      debugfs: {
        scratchPhys: readText(k.debugfs.lookup('kho/out/scratch_phys')),
        scratchLen: readText(k.debugfs.lookup('kho/out/scratch_len')),
        subFdts: names(k.debugfs.lookup('kho/out/sub_fdts')),
        inSubFdts: names(k.debugfs.lookup('kho/in/sub_fdts')),
        outFdtDts,
        outFdtNote,
      },
      log: interesting(k),
      sanitizer,
      segments: [],
      times: { boot: bootSeconds, load: 0, jump: jumpSeconds, verify: verifySeconds },
      reserveMemHexdump: rm === undefined ? '' : hexdump(machine.mem.read(rm.start, 128), rm.start),
      luoRetrieve,
      luoPreserve: guest.steps,
    };
    reports.push(report);
    if (gen >= gens) break;

    // Write down what must survive, then kexec -l -s and kexec -e.
    expect = {
      scratch: JSON.stringify(report.scratch),
      reserve: k.reserveMem.map((r) => ({ ...r, csum: csumBytes(machine.mem.read(r.start, r.size)) })),
      count: k.generation + 1,
      testKho: (testKhoStatus(k)?.saved ?? null) !== null,
      guest: guest.files,
    };
    progress(`generation ${gen}: kexec -l -s (file load into scratch)`);
    const tLoad = now();
    const loaded = kexecFileLoad(k, { image, imageName: '/boot/vmlinuz', cmdline: DEMO_CMDLINE });
    report.times.load = now() - tLoad;
    report.segments = loaded.image.segments.map((s) => ({ role: s.role, dest: s.dest, memsz: s.memsz }));
    progress(`generation ${gen}: kexec -e (sanitizer poisons unpreserved memory, successor boots)`);
    tBoot = now();
    const r = kexecExecute(machine);
    jumpSeconds = now() - tBoot - r.timings.boot;
    bootSeconds = r.timings.boot;
    sanitizer = { poisonedPages: r.report.poisonedPages, findings: r.report.findings.map((f) => f.message) };
    k = r.successor;
  }
  return {
    seed,
    machine: { ...DEMO_MACHINE, sanitize: true },
    cmdline: DEMO_CMDLINE,
    profile: profile.name,
    generations: reports,
    ok,
    seconds: now() - t0,
  };
}

/**
 * lib/test_kho.c restores what its predecessor saved and then stops; a kernel that finds no
 * `kho_test` sub-tree saves. So generations alternate: restore where the predecessor saved,
 * save where it restored.
 */
function testKhoVerdict(k: Kernel, handedOver: boolean): Verdict {
  const t = testKhoStatus(k);
  const hex = (x: number): string => `0x${x.toString(16).padStart(8, '0')}`;
  if (!handedOver) {
    const sv = t?.saved ?? null;
    return {
      name: 'test_kho',
      ok: sv !== null,
      detail:
        sv === null
          ? 'nothing handed over, and test_kho did not save'
          : `nothing handed over (the predecessor restored): saved ${sv.pfns.length} folios, ${sv.bytes} bytes, checksum ${hex(sv.csum)}`,
    };
  }
  const tr = t?.restore ?? null;
  return {
    name: 'test_kho',
    ok: tr?.ok === true,
    detail:
      tr === null
        ? 'test_kho did not run its restore path'
        : tr.ok
          ? `KHO restore succeeded: ${tr.folios} folios, ${tr.bytes} bytes, checksum ${hex(tr.csum)}`
          : `KHO restore failed: ${tr.error ?? ''}`,
  };
}

/** The successor's checks of what its predecessor handed over. */
function verify(
  k: Kernel,
  e: {
    scratch: string;
    reserve: { name: string; start: number; size: number; csum: number }[];
    count: number;
    testKho: boolean;
  },
): Verdict[] {
  const out: Verdict[] = [];
  out.push({
    name: 'KHO boot',
    ok: k.kho.isKhoBoot(),
    detail: k.kho.isKhoBoot()
      ? 'incoming FDT accepted, preserved memory reserved'
      : 'no hand-over data accepted',
  });
  out.push({
    name: 'kexec-metadata',
    ok: k.generation === e.count,
    detail: `kexec_count ${k.generation} (expected ${e.count})`,
  });
  const scratch = JSON.stringify(k.kho.scratch.map((a) => ({ addr: a.addr, size: a.size })));
  out.push({
    name: 'scratch',
    ok: scratch === e.scratch,
    detail: scratch === e.scratch ? `${k.kho.scratch.length} areas, unchanged` : 'scratch areas changed',
  });
  out.push(testKhoVerdict(k, e.testKho));
  for (const r of e.reserve) {
    const cur = k.reserveMem.find((x) => x.name === r.name);
    const csum = cur === undefined ? 0 : csumBytes(k.machine.mem.read(cur.start, cur.size));
    const revived = k.dmesg.has(`Revived memory reservation '${r.name}' from KHO`);
    const okr =
      cur !== undefined && cur.start === r.start && cur.size === r.size && csum === r.csum && revived;
    out.push({
      name: `reserve_mem ${r.name}`,
      ok: okr,
      detail:
        cur === undefined
          ? 'region missing'
          : `0x${cur.start.toString(16)}+0x${cur.size.toString(16)} ${cur.start === r.start ? 'same address' : `moved from 0x${r.start.toString(16)}`}, ${csum === r.csum ? 'same bytes' : 'bytes differ'}${revived ? ', revived from KHO' : ''}`,
    });
  }
  return out;
}

/** dtc's text of a blob with the `kho fdt dump --kho` notes as comments. */
function dtsOf(blob: Uint8Array): string {
  const tree = readTree(blob);
  const { note } = khoNotes(tree);
  return toDts(tree, (path, prop) => {
    const n = note(path, prop);
    return n === undefined ? undefined : asComment(n);
  });
}

function hexdump(b: Uint8Array, base: number): string {
  return hexdumpC(b, base);
}
