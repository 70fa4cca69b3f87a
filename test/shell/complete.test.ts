/**
 * Tab completion (src/shell/complete.ts) on a booted machine: commands, paths, module names,
 * and luoctl's verbs, options, sessions and tokens, which completion finds without changing
 * anything in the machine.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { complete } from '../../src/shell/complete.ts';
import { LUOCTL_USAGE } from '../../src/user/luoctl/luoctl.ts';
import { userspace } from '../../src/user/userspace.ts';
import { term, type TestTerm } from './helpers.ts';

const LUO = { cmdline: 'kho=on liveupdate=on' };

/** The candidates for `line`, as readline gets them. */
function tab(t: TestTerm, line: string): string[] {
  return complete(t.session, line)[0];
}

async function ok(t: TestTerm, line: string): Promise<string> {
  const r = await t.run(line);
  assert.equal(r.status, 0, `${line}: ${r.err}`);
  return r.out;
}

/** What a completion could disturb: processes, descriptors, /dev/shm, LUO's lists, the log, memory. */
function machineState(t: TestTerm): string {
  const k = t.session.kernel;
  const s = k.luo.sessions;
  return JSON.stringify({
    procs: userspace(k)
      .processes()
      .map((p) => [p.pid, p.state, p.argv, p.files.entries().length]),
    shm: [...k.fs.shm].map(([n, i]) => [n, i.ino, i.shmem?.size, i.openFiles]),
    outgoing: s.outgoing.list.map((x) => [x.name, x.fileSet.files.length]),
    incoming: s.incoming.list.map((x) => [x.name, x.retrieved]),
    deserialized: s.isDeserialized,
    dmesg: k.dmesg.text(),
    mem: k.machine.mem.stats(),
  });
}

describe('Tab completion', () => {
  it('completes commands, paths after commands and redirections, and module names', async () => {
    const t = term();
    assert.deepEqual(tab(t, 'luoc'), ['luoctl ']);
    assert.deepEqual(tab(t, 'echo x; luoc'), ['luoctl ']);
    assert.deepEqual(tab(t, 'ls /sys/kernel/debug/kho/out/s'), ['scratch_len', 'scratch_phys', 'sub_fdts/']);
    assert.deepEqual(tab(t, 'cat < /sys/kernel/debug/kho/out/sub'), ['sub_fdts/']);
    assert.deepEqual(tab(t, 'help mod'), ['modprobe ']);
    assert.deepEqual(tab(t, 'modprobe '), ['test_kho ']);
    assert.deepEqual(tab(t, 'rmmod '), [], 'nothing loaded');
    assert.deepEqual(tab(t, 'modprobe -r '), []);
    await ok(t, 'modprobe test_kho');
    assert.deepEqual(tab(t, 'rmmod '), ['test_kho ']);
    assert.deepEqual(tab(t, 'modprobe -r t'), ['test_kho ']);
    assert.deepEqual(tab(t, 'rmmod test_kho /sys/kernel/debug/kho/out/sub'), ['sub_fdts/']);
  });

  it("completes luoctl's verbs and options, and paths only after --path or a redirection", () => {
    const t = term();
    const verbs = [...LUOCTL_USAGE.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).sort();
    assert.deepEqual(tab(t, 'luoctl '), verbs);
    assert.deepEqual(verbs, ['close', 'create', 'finish', 'help', 'list', 'preserve', 'read', 'retrieve']);
    assert.deepEqual(tab(t, 'luoctl pr'), ['preserve ']);
    assert.deepEqual(tab(t, 'luoctl re'), ['read', 'retrieve']);
    assert.deepEqual(tab(t, 'if true; then /usr/sbin/luoctl fi'), ['finish ']);
    assert.deepEqual(tab(t, 'luoctl -'), ['--help', '-h']);
    assert.deepEqual(tab(t, 'luoctl list '), ['--json ']);
    assert.deepEqual(tab(t, 'luoctl list -'), ['--json ']);
    assert.deepEqual(tab(t, 'luoctl list --json '), []);
    assert.deepEqual(tab(t, 'luoctl preserve vm 1 -'), ['--data', '--path', '--size']);
    assert.deepEqual(tab(t, 'luoctl preserve vm 1 --s'), ['--size ']);
    assert.deepEqual(tab(t, 'luoctl preserve vm 1 --size '), []);
    assert.deepEqual(tab(t, 'luoctl preserve vm 1 --data x -'), [], 'one fill option at most');
    assert.deepEqual(tab(t, 'luoctl preserve vm 1 --path /dev/n'), ['null ']);
    assert.deepEqual(tab(t, 'luoctl preserve vm 1 < /sys/kernel/debug/kho/out/sub'), ['sub_fdts/']);
    assert.deepEqual(tab(t, 'luoctl read vm 1 > /sys/kernel/debug/kho/out/sub'), ['sub_fdts/']);
    assert.deepEqual(tab(t, 'luoctl preserve vm '), [], 'TOKEN is a new one');
    assert.deepEqual(tab(t, 'luoctl preserve -'), [], 'options come after NAME TOKEN');
    assert.deepEqual(tab(t, 'luoctl create '), [], 'a new name');
    assert.deepEqual(tab(t, 'luoctl help '), []);
    assert.deepEqual(tab(t, 'luoctl close vm '), []);
    assert.deepEqual(tab(t, 'luoctl bogus '), []);
  });

  it('offers the sessions each luoctl verb accepts, before and after kexec -e, without touching the machine', async () => {
    const t = term(LUO);
    const before = machineState(t);
    for (const v of ['preserve', 'close', 'retrieve', 'read', 'finish'])
      assert.deepEqual(tab(t, `luoctl ${v} `), [], `${v} with no sessions`);
    assert.equal(machineState(t), before);
    await ok(t, 'luoctl create vm-1');
    await ok(t, 'luoctl preserve vm-1 0x1A --data "hello kexec world"');
    await ok(t, 'luoctl preserve vm-1 2 --size 4K');
    await ok(t, 'luoctl create vm-2');
    await ok(t, 'luoctl preserve vm-2 7 --data x');
    await ok(t, "luoctl create 'my vm'");
    await ok(t, "luoctl preserve 'my vm' 5 --data y");
    const state = machineState(t);
    assert.deepEqual(tab(t, 'luoctl preserve '), ['my\\ vm', 'vm-1', 'vm-2']);
    assert.deepEqual(tab(t, 'luoctl close vm-'), ['vm-1', 'vm-2']);
    assert.deepEqual(tab(t, 'luoctl close my'), ['my\\ vm ']);
    assert.deepEqual(tab(t, 'luoctl read '), ['my\\ vm', 'vm-1', 'vm-2']);
    assert.deepEqual(tab(t, 'luoctl read vm-1 '), ['0x1a', '0x2']);
    assert.deepEqual(tab(t, 'luoctl read vm-2 '), ['0x7 ']);
    // The session word as the shell reads it: escaped or quoted; redirections are no words.
    for (const w of ['my\\ vm', "'my vm'", '"my vm"', 'my" "vm'])
      assert.deepEqual(tab(t, `luoctl read ${w} `), ['0x5 '], w);
    assert.deepEqual(tab(t, 'luoctl read vm-2 > out.bin '), ['0x7 ']);
    assert.deepEqual(tab(t, 'luoctl 2>/dev/null read >>out.bin vm-2 '), ['0x7 ']);
    assert.deepEqual(tab(t, 'echo "a;b" | luoctl read vm-2 '), ['0x7 ']);
    // A directory of the machine's own: the working directory may be a busy host directory.
    assert.deepEqual(
      tab(t, 'echo "; luoctl read" /sys/kernel/debug/kho/out/'),
      tab(t, 'ls /sys/kernel/debug/kho/out/'),
      'not luoctl: paths',
    );
    assert.deepEqual(tab(t, 'luoctl preserve vm-1 3 < in.bin -'), ['--data', '--path', '--size']);
    assert.deepEqual(tab(t, 'luoctl read vm-1 0x1a '), []);
    assert.deepEqual(tab(t, 'luoctl retrieve '), [], 'nothing incoming on a cold boot');
    assert.deepEqual(tab(t, 'luoctl finish '), [], 'outgoing sessions are never finished');
    assert.equal(machineState(t), state, 'completing changed nothing');
    await ok(t, "luoctl close 'my vm'");
    assert.deepEqual(tab(t, 'luoctl close '), ['vm-1', 'vm-2']);

    await ok(t, 'kexec -l -s --reuse-cmdline /boot/vmlinuz');
    await ok(t, 'kexec -e > /dev/null');
    // Before anything opened /dev/liveupdate: the names come from the hand-over in memory, and
    // looking does not deserialize them (the first open does); luoctl's own session is not offered.
    const fresh = machineState(t);
    assert.equal(t.session.kernel.luo.sessions.isDeserialized, false);
    assert.deepEqual(tab(t, 'luoctl retrieve '), ['vm-1', 'vm-2']);
    assert.deepEqual(tab(t, 'luoctl retrieve vm-2'), ['vm-2 ']);
    for (const v of ['preserve', 'close', 'read', 'finish'])
      assert.deepEqual(tab(t, `luoctl ${v} `), [], `${v} before any retrieve`);
    assert.equal(machineState(t), fresh, 'completing changed nothing');
    assert.equal(t.session.kernel.luo.sessions.isDeserialized, false);

    await ok(t, 'luoctl retrieve vm-1');
    const retrieved = machineState(t);
    assert.deepEqual(tab(t, 'luoctl retrieve '), ['vm-2 ']);
    assert.deepEqual(tab(t, 'luoctl finish '), ['vm-1 ']);
    assert.deepEqual(tab(t, 'luoctl read '), ['vm-1 ']);
    assert.deepEqual(tab(t, 'luoctl read vm-1 '), ['0x1a', '0x2']);
    assert.deepEqual(tab(t, 'luoctl read vm-1 0x1'), ['0x1a ']);
    assert.deepEqual(tab(t, 'luoctl read vm-2 '), [], 'not retrieved');
    assert.deepEqual(tab(t, 'luoctl preserve '), [], 'incoming sessions take no files');
    assert.deepEqual(tab(t, 'luoctl close '), []);
    assert.equal(machineState(t), retrieved, 'completing changed nothing');
    await ok(t, 'luoctl finish vm-1');
    assert.deepEqual(tab(t, 'luoctl finish '), []);
    assert.deepEqual(tab(t, 'luoctl read '), []);
    assert.deepEqual(tab(t, 'luoctl retrieve '), ['vm-2 ']);
  });

  it('offers nothing a lost holder held', async () => {
    const t = term(LUO);
    await ok(t, 'luoctl create vm');
    assert.deepEqual(tab(t, 'luoctl close '), ['vm ']);
    const holder = Number(/pid (\d+)/.exec(await ok(t, 'luoctl list'))?.[1]);
    userspace(t.session.kernel).process(holder)!.exit(0);
    assert.deepEqual(tab(t, 'luoctl close '), []);
    assert.deepEqual(tab(t, 'luoctl read '), []);
  });

  it('reads the incoming names of the FDT-era hand-over (luo-v1) too', async () => {
    const t = term({ ...LUO, profile: 'kho-v3' });
    await ok(t, 'luoctl create a; luoctl create b');
    await ok(t, 'kexec -l -s --reuse-cmdline /boot/vmlinuz');
    await ok(t, 'kexec -e > /dev/null');
    const fresh = machineState(t);
    assert.deepEqual(tab(t, 'luoctl retrieve '), ['a', 'b']);
    assert.equal(machineState(t), fresh);
    await ok(t, 'luoctl retrieve b');
    assert.deepEqual(tab(t, 'luoctl retrieve '), ['a ']);
  });

  it('offers no session with LUO off, even when the previous kernel handed sessions over', async () => {
    const t = term(LUO);
    await ok(t, 'luoctl create vm');
    await ok(t, 'kexec -l -s --command-line="kho=on" /boot/vmlinuz');
    await ok(t, 'kexec -e > /dev/null');
    assert.equal(t.session.kernel.luo.sessions.incomingNames().length, 2, 'vm and the catalog are in memory');
    const fresh = machineState(t);
    for (const v of ['preserve', 'close', 'retrieve', 'read', 'finish'])
      assert.deepEqual(tab(t, `luoctl ${v} `), [], v);
    assert.deepEqual(tab(t, 'luoctl read vm '), []);
    assert.deepEqual(tab(t, 'luoctl l'), ['list '], 'verbs still complete');
    assert.equal(machineState(t), fresh);
  });
});
