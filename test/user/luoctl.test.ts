import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { O_TRUNC, O_WRONLY } from '../../src/abi/uapi-fcntl.ts';
import { userspace } from '../../src/user/userspace.ts';
import { term, type TestTerm } from '../shell/helpers.ts';

const LUO = { cmdline: 'kho=on liveupdate=on' };

async function ok(t: TestTerm, line: string): Promise<string> {
  const r = await t.run(line);
  assert.equal(r.status, 0, `${line}: ${r.err}`);
  assert.equal(r.err, '', line);
  return r.out;
}

async function fails(t: TestTerm, line: string, err: string, status = 1): Promise<void> {
  const r = await t.run(line);
  assert.equal(r.err, err, line);
  assert.equal(r.status, status, line);
}

describe('luoctl', () => {
  it('creates sessions, preserves memfds from a host file and a string, and carries them across kexec -e', async () => {
    const home = mkdtempSync(join(tmpdir(), 'luoctl-'));
    const blob = new Uint8Array(10000).map((_, i) => (i * 7 + 3) & 0xff);
    writeFileSync(join(home, 'guest.bin'), blob);
    const t = term(LUO, home);
    assert.equal(await ok(t, 'luoctl create vm-1'), "created session 'vm-1'\n");
    assert.equal(
      await ok(t, 'luoctl preserve vm-1 0x1A --data "hello kexec world"'),
      "preserved token 0x1a in session 'vm-1' (17 bytes)\n",
    );
    assert.equal(
      await ok(t, 'luoctl preserve vm-1 2 < guest.bin'),
      "preserved token 0x2 in session 'vm-1' (10000 bytes)\n",
    );
    await ok(t, 'luoctl create vm-2');
    await ok(t, 'luoctl preserve vm-2 7 --size 8K');
    await ok(t, 'luoctl create gone');
    assert.equal(await ok(t, 'luoctl close gone'), "closed session 'gone' (0 files unpreserved)\n");
    // Before the jump the outgoing memfds read back from the holder.
    assert.equal(await ok(t, 'luoctl read vm-1 26'), 'hello kexec world');
    assert.equal(await ok(t, 'luoctl read vm-1 2 | wc -c'), '10000\n');
    const list = await ok(t, 'luoctl list');
    const holder = /held by luoctl pid (\d+)/.exec(list)?.[1];
    assert.ok(holder !== undefined, list);
    assert.equal(
      list,
      `outgoing (held by luoctl pid ${holder}):\n` +
        '  session vm-1  2 files\n    token 0x1a  17 bytes\n    token 0x2  10000 bytes\n' +
        '  session vm-2  1 file\n    token 0x7  8192 bytes\n' +
        'incoming: none\n',
    );
    // The holder is a daemon: its own session, no terminal, the session and memfd descriptors.
    assert.equal(await ok(t, `cat /proc/${holder}/cmdline`), 'luoctl\0hold\0');
    const fds = await ok(t, `ls -l /proc/${holder}/fd`);
    assert.doesNotMatch(fds, /pts/);
    assert.match(fds, /anon_inode:\[luo_session\] vm-1$/m);
    assert.match(fds, /anon_inode:\[luo_session\] luoctl$/m);
    assert.match(fds, /\/memfd:luoctl:vm-1:0x2 \(deleted\)$/m);
    assert.equal(userspace(t.session.kernel).process(Number(holder))?.sid, Number(holder));

    await ok(t, 'kexec -l -s --reuse-cmdline /boot/vmlinuz');
    await ok(t, 'kexec -e > /dev/null');
    assert.match(await ok(t, 'dmesg | grep "liveupdate number"'), /liveupdate number: 1/);
    assert.equal(
      await ok(t, 'luoctl list'),
      'outgoing: none\nincoming (from the previous kernel):\n' +
        '  session vm-1  available\n    token 0x1a  17 bytes  not read\n    token 0x2  10000 bytes  not read\n' +
        '  session vm-2  available\n    token 0x7  8192 bytes  not read\n',
    );
    assert.equal(await ok(t, 'luoctl retrieve vm-1'), "retrieved session 'vm-1' (2 files: 0x1a 0x2)\n");
    assert.equal(await ok(t, 'luoctl read vm-1 0x1a'), 'hello kexec world');
    const host = await ok(t, 'hexdump -C guest.bin');
    assert.equal(await ok(t, 'luoctl read vm-1 2 | hexdump -C'), host, 'identical bytes');
    // Read back into a host file: through the shell's host directory, nowhere else.
    assert.equal(await ok(t, 'luoctl read vm-1 2 > back.bin'), '');
    assert.deepEqual(new Uint8Array(readFileSync(join(home, 'back.bin'))), blob);
    const outside = await t.run('luoctl read vm-1 2 > ../outside.bin');
    assert.equal(outside.status, 1);
    assert.match(outside.err, /Permission denied/);
    assert.equal(await ok(t, 'luoctl finish vm-1'), "finished session 'vm-1'\n");
    const json = JSON.parse(await ok(t, 'luoctl list --json')) as {
      outgoing: unknown[];
      incoming: {
        name: string;
        state: string;
        files: { token: string; size: number; retrieved: boolean }[];
      }[];
    };
    assert.deepEqual(json.outgoing, []);
    assert.deepEqual(json.incoming, [
      {
        name: 'vm-1',
        state: 'finished',
        files: [
          { token: '0x1a', size: 17, retrieved: true },
          { token: '0x2', size: 10000, retrieved: true },
        ],
      },
      { name: 'vm-2', state: 'available', files: [{ token: '0x7', size: 8192, retrieved: false }] },
    ]);
  });

  it('prints the kernel errno text for bad use and keeps what it held', async () => {
    const t = term(LUO);
    await fails(t, 'luoctl', (await t.run('luoctl help')).out, 2);
    await fails(t, 'luoctl frob', "luoctl: unknown command 'frob'\nTry 'luoctl help'.\n", 2);
    await fails(t, 'luoctl preserve vm 1x', "luoctl: invalid token '1x'\nTry 'luoctl help'.\n", 2);
    await fails(
      t,
      'luoctl preserve vm 0x10000000000000000',
      "luoctl: token '0x10000000000000000' does not fit in 64 bits\nTry 'luoctl help'.\n",
      2,
    );
    await ok(t, 'luoctl create vm');
    await fails(t, 'luoctl create vm', "luoctl: create session 'vm': File exists\n");
    await fails(
      t,
      `luoctl create ${'x'.repeat(64)}`,
      `luoctl: create session '${'x'.repeat(64)}': File name too long\n`,
    );
    await fails(t, 'luoctl create luoctl', "luoctl: session name 'luoctl' is luoctl's own (its catalog)\n");
    await fails(
      t,
      'luoctl preserve nosuch 1 --data x',
      "luoctl: preserve token 0x1 in session 'nosuch': no such session held by luoctl\n",
    );
    await ok(t, 'luoctl preserve vm 1 --data one');
    await fails(
      t,
      'luoctl preserve vm 1 --data two',
      "luoctl: preserve token 0x1 in session 'vm': File exists\n",
    );
    // Not a memfd: no handler takes /dev/null (luo_preserve_file: -ENOENT).
    await fails(
      t,
      'luoctl preserve vm 2 --path /dev/null',
      "luoctl: preserve token 0x2 in session 'vm': No such file or directory\n",
    );
    // FINISH belongs to retrieved sessions; RETRIEVE looks in the incoming list only.
    await fails(
      t,
      'luoctl finish vm',
      "luoctl: finish session 'vm': an outgoing session (finish is for sessions retrieved after kexec)\n",
    );
    await fails(t, 'luoctl retrieve vm', "luoctl: retrieve session 'vm': No such file or directory\n");
    await fails(t, 'luoctl read vm 5', "luoctl: read token 0x5 of session 'vm': No such file or directory\n");
    await fails(t, 'luoctl close nosuch', "luoctl: close session 'nosuch': no such outgoing session\n");
    assert.equal(await ok(t, 'luoctl read vm 1'), 'one', 'the failures lost nothing');

    await ok(t, 'kexec -l -s --reuse-cmdline /boot/vmlinuz');
    await ok(t, 'kexec -e > /dev/null');
    await fails(
      t,
      'luoctl finish vm',
      "luoctl: finish session 'vm': session not retrieved (luoctl retrieve vm)\n",
    );
    await fails(
      t,
      'luoctl read vm 1',
      "luoctl: read token 0x1 of session 'vm': session not retrieved (luoctl retrieve vm)\n",
    );
    await fails(
      t,
      'luoctl retrieve nosuch',
      "luoctl: retrieve session 'nosuch': No such file or directory\n",
    );
    await ok(t, 'luoctl retrieve vm');
    await fails(t, 'luoctl retrieve vm', "luoctl: retrieve session 'vm': Invalid argument\n");
    await fails(
      t,
      'luoctl preserve vm 3 --data x',
      "luoctl: preserve token 0x3 in session 'vm': an incoming session (preserve into a session created in this kernel)\n",
    );
    // Finishing before reading the file discards it.
    assert.equal(await ok(t, 'luoctl finish vm'), "finished session 'vm' (1 unread file discarded)\n");
    await fails(t, 'luoctl read vm 1', "luoctl: read token 0x1 of session 'vm': session already finished\n");
    await fails(t, 'luoctl finish vm', "luoctl: finish session 'vm': session already finished\n");
  });

  it('without the holder nothing survives: closing every fd before kexec -e leaves nothing to retrieve', async () => {
    const t = term(LUO);
    await ok(t, 'luoctl create vm');
    await ok(t, 'luoctl preserve vm 1 --data x');
    await ok(t, 'luoctl close vm');
    await ok(t, 'kexec -l -s --reuse-cmdline /boot/vmlinuz');
    await ok(t, 'kexec -e > /dev/null');
    assert.equal(await ok(t, 'luoctl list'), 'outgoing: none\nincoming: none\n');
    await fails(t, 'luoctl retrieve vm', "luoctl: retrieve session 'vm': No such file or directory\n");
  });

  it('a lost holder or a foreign record is reported, and luoctl starts afresh', async () => {
    const t = term(LUO);
    await ok(t, 'luoctl create vm');
    const holder = Number(/pid (\d+)/.exec(await ok(t, 'luoctl list'))?.[1]);
    userspace(t.session.kernel).process(holder)!.exit(0);
    await fails(
      t,
      'luoctl list',
      `luoctl: holder process ${holder} is gone; the sessions it held were closed\n`,
      0,
    );
    assert.equal(await ok(t, 'luoctl list'), 'outgoing: none\nincoming: none\n');
    await ok(t, 'luoctl create vm');
    const p = userspace(t.session.kernel).spawn(userspace(t.session.kernel).init, ['writer']);
    assert.ok(typeof p !== 'number');
    const fd = p.open('/dev/shm/luoctl.state', O_WRONLY | O_TRUNC);
    assert.ok(fd >= 0);
    p.write(fd, '{"holder": "x"}');
    p.exit(0);
    await fails(
      t,
      'luoctl list',
      "luoctl: /dev/shm/luoctl.state is not luoctl's record; starting afresh\n",
      0,
    );
  });

  it('works the same on the FDT-era profiles (luo-v1, no direction checks in the kernel)', async () => {
    for (const profile of ['kho-v1', 'kho-v3']) {
      const t = term({ ...LUO, profile });
      await ok(t, 'luoctl create vm');
      await ok(t, 'luoctl preserve vm 1 --data kept');
      await fails(
        t,
        'luoctl finish vm',
        "luoctl: finish session 'vm': an outgoing session (finish is for sessions retrieved after kexec)\n",
      );
      await ok(t, 'kexec -l -s --reuse-cmdline /boot/vmlinuz');
      await ok(t, 'kexec -e > /dev/null');
      await ok(t, 'luoctl retrieve vm');
      assert.equal(await ok(t, 'luoctl read vm 1'), 'kept', profile);
      await ok(t, 'luoctl finish vm');
    }
  });

  it('without liveupdate=on there is no /dev/liveupdate', async () => {
    const t = term({ cmdline: 'kho=on' });
    await fails(t, 'luoctl create vm', 'luoctl: /dev/liveupdate: No such file or directory\n');
  });
});
