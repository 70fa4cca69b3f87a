/**
 * The terminal: 40,000 continuation lines, grep's worst case for a backtracking engine, a
 * pipeline whose reader stops its writer (`hexdump -v /dev/mem | head`), tokenizing typical lines, `hexdump -C` of a whole never-touched 16 GiB
 * `/dev/mem` (the zero-run fast path), `hexdump -C` of 4 MiB of touched memory, and the KHO
 * usage document as a `kho run` script on a 16 GiB, 2-node kho-v1 machine (boot, finalize, dtc,
 * load, jump, successor boot).
 */
import type { BenchEntry, BenchResult } from './harness.ts';
import { peakRssMiB, round, secondsSince } from './harness.ts';
import { BufferSink } from '../src/shell/io.ts';
import { bootMachine, createSession, machineConfig } from '../src/shell/machine-setup.ts';
import { runScript } from '../src/shell/script.ts';
import { parseNext } from '../src/shell/parser.ts';
import type { Session } from '../src/shell/session.ts';

function session(profile = 'kho-v4'): { s: Session; out: BufferSink } {
  const cfg = machineConfig({ mem: '16G', nodes: '2', profile });
  if (typeof cfg === 'string') throw new Error(cfg);
  const m = bootMachine(cfg);
  if (typeof m === 'string') throw new Error(m);
  const out = new BufferSink();
  return { s: createSession(m, cfg, { stdout: out, stderr: out, home: '/tmp' }), out };
}

const DOC = `echo 1 > /sys/kernel/debug/kho/out/finalize
dtc -I dtb -O dts /sys/kernel/debug/kho/out/fdt > /dev/null
kexec -l /boot/vmlinuz --initrd /boot/initrd.img --reuse-cmdline -s
kexec -e
cat /sys/kernel/debug/kho/in/fdt > /dev/null
`;

export const entries: BenchEntry[] = [
  {
    name: 'shell.continuation-40k',
    description: 'kho run of one command over 40,000 continuation lines (parse + run): seconds',
    async run(): Promise<BenchResult> {
      const { s, out } = session();
      const script = `echo ${Array.from({ length: 40_000 }, (_, i) => `a${i} \\\n`).join('')}end\n`;
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      const r = await runScript(s, script, { transcript: out, errors: out, quiet: true });
      const secs = secondsSince(t0);
      const cpu = process.cpuUsage(c0);
      if (r.status !== 0) throw new Error(out.text().slice(-200));
      return { seconds: round(secs), cpuSeconds: round((cpu.user + cpu.system) / 1e6), bytes: script.length };
    },
  },
  {
    name: 'shell.grep-pathological',
    description: 'grep -E "(a+)+$" on a 40-character line, and on 1 MiB of such lines: seconds',
    async run(): Promise<BenchResult> {
      const { s } = session();
      const t0 = process.hrtime.bigint();
      await s.runText(`echo ${'a'.repeat(40)}b | grep -E '(a+)+$'`);
      const one = secondsSince(t0);
      const t1 = process.hrtime.bigint();
      await s.runText(`for i in {1..25000}; do echo ${'a'.repeat(40)}b; done | grep -cE '(a+)+$'`);
      const many = secondsSince(t1);
      return { oneLineSeconds: round(one, 4), megabyteSeconds: round(many) };
    },
  },
  {
    name: 'shell.hexdump-head',
    description: 'hexdump -v /dev/mem | head -n 5 on a 16 GiB machine (the pipe stops the writer): seconds',
    async run(): Promise<BenchResult> {
      const { s, out } = session();
      const t0 = process.hrtime.bigint();
      await s.runText('hexdump -v /dev/mem | head -n 5');
      const secs = secondsSince(t0);
      if (out.text().split('\n').length !== 6) throw new Error(out.text());
      return { seconds: round(secs, 4) };
    },
  },
  {
    name: 'shell.tokenize',
    description: 'parseNext on typical command lines: lines per second',
    run(): BenchResult {
      const lines = [
        'echo 1 > /sys/kernel/debug/kho/out/finalize',
        'kexec -l /boot/vmlinuz --initrd /boot/initrd.img -s && kexec -e',
        `hexdump -C -s 0x1000 -n 64 /dev/mem | grep -v '^\\*' ; echo "status $?"`,
      ];
      const n = 200_000;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) parseNext(lines[i % 3]!);
      return { linesPerSecond: Math.round(n / secondsSince(t0)) };
    },
  },
  {
    name: 'shell.hexdump-devmem',
    description:
      'hexdump -C of all of /dev/mem on a fresh 16 GiB machine, and of 4 MiB of touched pages: seconds',
    async run(): Promise<BenchResult> {
      const { s, out } = session();
      const t0 = process.hrtime.bigint();
      await s.runText('hexdump -C /dev/mem > /dev/null');
      const whole = secondsSince(t0);
      s.machine.mem.fill(0x4000_0000, 4 * 1024 * 1024, 0x5a);
      for (let a = 0x4000_0000; a < 0x4040_0000; a += 4096) s.machine.mem.writeU32(a, a);
      const t1 = process.hrtime.bigint();
      await s.runText('hexdump -C -s 0x40000000 -n 4M /dev/mem > /dev/null');
      const touched = secondsSince(t1);
      return {
        wholeDevMemSeconds: round(whole),
        touched4MiBSeconds: round(touched),
        touchedMiBPerSecond: round(4 / touched, 1),
        output: out.text().length,
        peakRssMiB: round(peakRssMiB(), 1),
      };
    },
  },
  {
    name: 'shell.usage-doc',
    description: 'kho run of the usage document (kho-v1, 16 GiB, 2 nodes): boot + script seconds',
    async run(): Promise<BenchResult> {
      const t0 = process.hrtime.bigint();
      const { s, out } = session('kho-v1');
      const boot = secondsSince(t0);
      const t1 = process.hrtime.bigint();
      const r = await runScript(s, DOC, { transcript: out, errors: out, quiet: true });
      const script = secondsSince(t1);
      if (r.status !== 0) throw new Error(`usage doc failed: ${out.text()}`);
      return { bootSeconds: round(boot), scriptSeconds: round(script), peakRssMiB: round(peakRssMiB(), 1) };
    },
  },
];
