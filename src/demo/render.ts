/**
 * The demo's text: a narrative per generation (what the kernel did, what a user sees in debugfs,
 * the verdicts) and a summary table. Colour through `util.styleText`, plain when `color` is off.
 */
import { styleText } from 'node:util';
import type { DemoResult, GenerationReport, Verdict } from './run.ts';

type Style = Parameters<typeof styleText>[0];

/** Text rendering options. */
export interface RenderOptions {
  color: boolean;
}

const MiB = 1024 * 1024;

function hex(x: number): string {
  return `0x${x.toString(16)}`;
}

function size(bytes: number): string {
  if (bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0) return `${bytes / (1024 * MiB)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(bytes % MiB === 0 ? 0 : 1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

function ms(s: number): string {
  return `${Math.round(s * 1000)} ms`;
}

/** Render a run as text. */
export function renderDemo(r: DemoResult, o: RenderOptions): string {
  const st = (style: Style, t: string): string =>
    o.color ? styleText(style, t, { validateStream: false }) : t;
  const out: string[] = [];
  const say = (t = ''): void => {
    out.push(t);
  };
  const cmd = (t: string): void => {
    say(st('bold', `# ${t}`));
  };
  const indent = (text: string): void => {
    for (const l of text.replace(/\n$/, '').split('\n')) say(`  ${l}`);
  };
  const verdict = (v: Verdict): void => {
    say(`  ${v.ok ? st('green', 'PASS') : st('red', 'FAIL')}  ${v.name.padEnd(18)} ${v.detail}`);
  };

  say(st('bold', 'Kexec HandOver demo'));
  say(
    `machine: ${size(r.machine.mem)} RAM, ${r.machine.nodes} NUMA nodes, sanitizer ${r.machine.sanitize ? 'on' : 'off'}, seed ${r.seed}; kernel ${r.profile}`,
  );
  say(`cmdline: ${r.cmdline}`);
  say();
  for (const g of r.generations)
    renderGeneration(g, r.generations.length - 1, { say, cmd, indent, verdict, st });
  say(st('bold', 'Summary'));
  for (const l of table(r)) say(l);
  say();
  const fails = r.generations.flatMap((g) =>
    g.verdicts.filter((v) => !v.ok).map((v) => `gen ${g.generation}: ${v.name}`),
  );
  say(
    fails.length === 0
      ? st(
          'green',
          `All ${r.generations.length - 1} hand-overs verified in ${r.seconds.toFixed(2)} s (replay with --seed ${r.seed}).`,
        )
      : st('red', `${fails.length} verification(s) failed: ${fails.join(', ')}`),
  );
  return `${out.join('\n')}\n`;
}

interface Out {
  say: (t?: string) => void;
  cmd: (t: string) => void;
  indent: (t: string) => void;
  verdict: (v: Verdict) => void;
  st: (s: Style, t: string) => string;
}

function renderGeneration(g: GenerationReport, last: number, o: Out): void {
  const { say, cmd, indent, verdict, st } = o;
  const title =
    g.generation === 0
      ? `Generation 0: cold boot (${g.release})`
      : `Generation ${g.generation}: KHO boot after kexec #${g.generation} (${g.release})`;
  say(st(['bold', 'cyan'], `== ${title} ==`));
  if (g.sanitizer !== null) {
    say(
      `The jump copied the image segments into scratch and poisoned ${g.sanitizer.poisonedPages} unpreserved pages; the new kernel learned everything from memory.`,
    );
    for (const f of g.sanitizer.findings) say(`  sanitizer: ${f}`);
  }
  for (const l of g.log) indent(`dmesg: ${l}`);
  if (g.luoRetrieve.length > 0) {
    say('User space takes the guest back from LUO:');
    luoSteps(g.luoRetrieve, o);
  }
  if (g.verdicts.length > 0) {
    say('Restore and verification in this kernel:');
    for (const v of g.verdicts) verdict(v);
  }
  if (g.luoPreserve.length > 0) {
    say(
      'User space preserves the guest for the next kernel in a LUO session (held by luoctl across the jump):',
    );
    luoSteps(g.luoPreserve, o);
  }
  say(
    `Preserved for the next kernel: ${g.preservedBlocks} blocks, ${size(g.preservedBytes)} (radix tracker: ${g.trackerPages} pages), sub-trees ${g.subtrees.join(', ')}.`,
  );
  cmd('cat /sys/kernel/debug/kho/out/scratch_phys');
  indent(g.debugfs.scratchPhys);
  cmd('cat /sys/kernel/debug/kho/out/scratch_len');
  indent(g.debugfs.scratchLen);
  cmd('ls /sys/kernel/debug/kho/out/sub_fdts');
  indent(g.debugfs.subFdts.join('  '));
  if (g.debugfs.inSubFdts.length > 0) {
    cmd('ls /sys/kernel/debug/kho/in/sub_fdts');
    indent(g.debugfs.inSubFdts.join('  '));
  }
  if (g.generation === 0 || g.generation === last) {
    cmd('dtc -I dtb -O dts /sys/kernel/debug/kho/out/fdt');
    if (g.debugfs.outFdtNote !== null) indent(st('yellow', g.debugfs.outFdtNote));
    if (g.debugfs.outFdtDts !== null) indent(g.debugfs.outFdtDts);
  }
  const rm = g.reserveMem[0];
  if (rm !== undefined) {
    cmd(`hexdump -C /dev/mem -s ${hex(rm.start)} -n 128   # reserve_mem '${rm.name}'`);
    indent(g.reserveMemHexdump);
  }
  if (g.segments.length > 0) {
    cmd('kexec -l -s /boot/vmlinuz --reuse-cmdline && kexec -e');
    for (const s of g.segments)
      indent(`segment ${s.role.padEnd(12)} ${hex(s.dest).padStart(12)} +${hex(s.memsz)}`);
  }
  say();
}

function luoSteps(steps: readonly { cmd: string; out: string }[], o: Out): void {
  for (const s of steps) {
    o.cmd(s.cmd);
    if (s.out !== '') o.indent(s.out);
  }
}

function table(r: DemoResult): string[] {
  const head = [
    'gen',
    'kind',
    'preserved',
    'blocks',
    'tracker',
    'FDT',
    'scratch',
    'verdicts',
    'boot',
    'load',
    'jump',
  ];
  const rows = r.generations.map((g) => {
    const pass = g.verdicts.filter((v) => v.ok).length;
    return [
      String(g.generation),
      g.generation === 0 ? 'cold' : 'KHO',
      size(g.preservedBytes),
      String(g.preservedBlocks),
      `${g.trackerPages} pg`,
      `${g.fdtSize} B`,
      `${g.scratch.length} (${size(g.scratch.reduce((a, s) => a + s.size, 0))})`,
      g.verdicts.length === 0
        ? '-'
        : `${pass}/${g.verdicts.length} ${pass === g.verdicts.length ? 'ok' : 'FAIL'}`,
      ms(g.times.boot),
      g.segments.length === 0 ? '-' : ms(g.times.load),
      g.generation === 0 ? '-' : ms(g.times.jump),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)];
}

/** The run as JSON (numbers as numbers, addresses as numbers). */
export function demoJson(r: DemoResult): unknown {
  return {
    ok: r.ok,
    seed: r.seed,
    seconds: r.seconds,
    machine: r.machine,
    cmdline: r.cmdline,
    profile: r.profile,
    generations: r.generations.map((g) => ({
      generation: g.generation,
      release: g.release,
      khoBoot: g.khoBoot,
      kexecCount: g.kexecCount,
      modules: g.modules,
      preservedBlocks: g.preservedBlocks,
      preservedBytes: g.preservedBytes,
      trackerPages: g.trackerPages,
      fdtSize: g.fdtSize,
      subtrees: g.subtrees,
      scratch: g.scratch,
      reserveMem: g.reserveMem,
      verdicts: g.verdicts,
      sanitizer: g.sanitizer,
      segments: g.segments,
      times: g.times,
      luo: { retrieve: g.luoRetrieve, preserve: g.luoPreserve },
    })),
  };
}
