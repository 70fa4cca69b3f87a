import assert from 'node:assert/strict';
import { it } from 'node:test';
import { LINUX_REBOOT_CMD_KEXEC } from '../../src/abi/uapi-fcntl.ts';
import { registerProgram } from '../../src/user/programs.ts';
import { createSession, openLuo } from '../luo/helpers.ts';
import { term } from '../shell/helpers.ts';

registerProgram('/usr/lib/kho-test/holder', ({ proc, out, err, argv }) => {
  if (argv.length !== 2) {
    err('usage: holder NAME\n');
    return 2;
  }
  const luo = openLuo(proc);
  const s = createSession(proc, luo, argv[1]!);
  if (s < 0) return 1;
  proc.close(luo);
  const child = proc.fork();
  if (typeof child === 'number') return 1;
  child.setsid();
  out(`holder ${child.pid}\n`);
  return 0;
});
registerProgram('/usr/sbin/kho-test-kexec', ({ proc }) =>
  proc.reboot(LINUX_REBOOT_CMD_KEXEC) === 0 ? 0 : 1,
);

it('the shell runs installed programs by path or PATH; ls -l /proc/PID/fd shows what they hold', async () => {
  const t = term({ cmdline: 'kho=on liveupdate=on' });
  assert.equal((await t.run('/usr/lib/kho-test/holder')).err, 'usage: holder NAME\n');
  assert.equal((await t.run('/usr/lib/kho-test/holder; echo $?')).out, '2\n');
  const r = await t.run('cd /usr/lib/kho-test && ./holder vm-1');
  assert.equal(r.status, 0);
  const pid = /holder (\d+)/.exec(r.out)?.[1];
  assert.ok(pid !== undefined);
  const ls = await t.run(`ls -l /proc/${pid}/fd`);
  assert.match(ls.out, /^lrwx------ 1 root root 64 .* 0 -> \/dev\/pts\/0$/m);
  assert.match(ls.out, /^lrwx------ 1 root root 64 .* 4 -> anon_inode:\[luo_session\] vm-1$/m);
  assert.match((await t.run('ls -l /dev/liveupdate')).out, /^crw------- 1 root root 10, 127 /);
  assert.equal((await t.run('kho-test-kexec')).status, 1, 'no image loaded: reboot() is EINVAL');
  assert.equal((await t.run('kexec -l -s --reuse-cmdline /boot/vmlinuz')).status, 0);
  const k = await t.run('kho-test-kexec');
  assert.equal(k.status, 0);
  assert.match(k.out, /Linux kho /);
  assert.match(
    (await t.run('dmesg | grep "liveupdate number"')).out,
    /luo: Retrieved live update data, liveupdate number: 1/,
  );
  assert.equal((await t.run('nonexistent-program')).status, 127);
});
