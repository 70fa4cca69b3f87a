/**
 * The terminal: tokenizing typical lines, `hexdump -C` of a whole never-touched 16 GiB
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
