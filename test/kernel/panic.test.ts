/**
 * kernel/panic.c: the console lines of a panic, the halted machine, `panic=N` restarts after N
 * seconds of model time, `panic=-1` at once, and the shell's view of it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine } from '../../src/kernel/machine.ts';
import { KernelPanic } from '../../src/kernel/panic.ts';
import { profileByName } from '../../src/kernel/profile.ts';
import { parseKernelCmdline } from '../../src/kernel/cmdline.ts';
import { BufferSink } from '../../src/shell/io.ts';
import { COMMANDS } from '../../src/shell/commands/index.ts';
import { Session } from '../../src/shell/session.ts';

const GiB = 1024 ** 3;
const v4 = profileByName('kho-v4')!;

function booted(cmdline: string): Machine {
  const m = Machine.create({ mem: GiB, nodes: 1 });
  m.coldBoot({ cmdline, profile: v4 });
  return m;
}

/** The records from the panic line on, as `level: text`. */
function panicLines(p: KernelPanic): string[] {
  const recs = p.dmesg.records;
  const at = recs.findIndex((r) => r.text.startsWith('Kernel panic - not syncing:'));
  return recs.slice(at).map((r) => `${r.level}: ${r.text}`);
}

test('a forced panic prints what Linux prints and halts the machine (panic=0, the default)', () => {
  const m = booted('kho=on');
  const k = m.kernel!;
  assert.throws(
    () => k.panic('forced by the test\n'),
    (e: unknown) =>
      e instanceof KernelPanic && e.message === 'Kernel panic - not syncing: forced by the test',
  );
  assert.equal(m.kernel, null);
  assert.ok(m.halted instanceof KernelPanic);
  assert.deepEqual(panicLines(m.halted), [
    'emerg: Kernel panic - not syncing: forced by the test',
    'emerg: Kernel Offset: disabled',
    'emerg: ---[ end Kernel panic - not syncing: forced by the test ]---',
  ]);
});

test('panic=1 reboots cold after one second of model time', () => {
  const m = booted('kho=on panic=1');
  const k = m.kernel!;
  const t0 = k.dmesg.nowUsec;
  assert.throws(() => k.panic('boom'), KernelPanic);
  const p = m.lastPanic!;
  assert.deepEqual(panicLines(p), [
    'emerg: Kernel panic - not syncing: boom',
    'emerg: Kernel Offset: disabled',
    'emerg: Rebooting in 1 seconds..',
  ]);
  assert.ok(p.dmesg.nowUsec - t0 >= 1_000_000);
  // A new kernel from power-on: the same command line, a fresh log, a cold boot.
  assert.equal(m.halted, null);
  assert.notEqual(m.kernel, null);
  assert.notEqual(m.kernel, k);
  assert.equal(m.kernel!.cmdline.raw, 'kho=on panic=1');
  assert.equal(m.kernel!.kho.isKhoBoot(), false);
  assert.ok(!m.kernel!.dmesg.has('Kernel panic'));
});

test('panic=-1 restarts at once; a bad value is reported and ignored', () => {
  const m = booted('kho=on panic=-1');
  assert.throws(() => m.kernel!.panic('now'), KernelPanic);
  assert.deepEqual(panicLines(m.lastPanic!), [
    'emerg: Kernel panic - not syncing: now',
    'emerg: Kernel Offset: disabled',
  ]);
  assert.notEqual(m.kernel, null);
  const c = parseKernelCmdline('panic=abc kho=on');
  assert.equal(c.panicTimeout, 0);
  assert.ok(
    c.dmesg.some(
      (l) => l.level === 'err' && l.text === "Booting kernel: `abc' invalid for parameter `panic'",
    ),
  );
  assert.equal(parseKernelCmdline('panic=0x10').panicTimeout, 16);
  assert.equal(parseKernelCmdline('panic=5 panic=-3').panicTimeout, -3);
});

test('the shell shows the panic, says the machine halted, and reboot brings it back', async () => {
  const m = booted('kho=on');
  const out = new BufferSink();
  const err = new BufferSink();
  const crash = {
    name: 'crash',
    usage: 'crash',
    summary: 'panic the kernel',
    run(): number {
      return m.kernel!.panic('sysrq triggered crash');
    },
  };
  const s = new Session(
    {
      machine: m,
      boot: { cmdline: 'kho=on', profile: v4 },
      home: '/tmp',
      stdout: out,
      stderr: err,
      extraCommands: [crash],
    },
    COMMANDS,
  );
  let r = await s.runText('crash');
  assert.equal(r.status, 1);
  assert.match(out.text(), /\] Kernel panic - not syncing: sysrq triggered crash\n/);
  assert.match(out.text(), /\] ---\[ end Kernel panic - not syncing: sysrq triggered crash \]---\n/);
  assert.equal(err.text(), "The machine has halted after a kernel panic. Type 'reboot' to cold-boot it.\n");
  r = await s.runText('cat /proc/cmdline');
  assert.equal(r.status, 1);
  assert.match(
    err.text(),
    /-bash: cat: the machine has halted after a kernel panic; 'reboot' cold-boots it\n$/,
  );
  assert.doesNotMatch(err.text(), /internal error/);
  r = await s.runText('reboot');
  assert.equal(r.status, 0);
  r = await s.runText('cat /proc/cmdline');
  assert.equal(r.status, 0);
  assert.match(out.text(), /kho=on\n$/);
});
