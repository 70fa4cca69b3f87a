import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FD_CLOEXEC,
  F_DUPFD_CLOEXEC,
  F_GETFD,
  F_SETFD,
  LINUX_REBOOT_CMD_KEXEC,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  RLIMIT_NOFILE,
} from '../../src/abi/uapi-fcntl.ts';
import { kexecFileLoad } from '../../src/kexec/file-load.ts';
import { mkImage } from '../../src/kexec/image.ts';
import type { PseudoDir, PseudoLink } from '../../src/kernel/pseudo-fs.ts';
import { programDirEntries, registerProgram, runProgram } from '../../src/user/programs.ts';
import { userspace } from '../../src/user/userspace.ts';
import { ERRNO } from '../../src/util/errno.ts';
import { createSession, openLuo, preserveFd } from '../luo/helpers.ts';
import { boot, MiB, proc } from './helpers.ts';

/** `ls -l /proc/PID/fd` as name → link target. */
function fdLinks(dir: PseudoDir | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of dir?.names() ?? []) out[n] = (dir!.get(n) as PseudoLink).target();
  return out;
}

describe('processes and descriptor tables', () => {
  const k = boot();

  it('allocates the lowest free descriptor below RLIMIT_NOFILE, then EMFILE', () => {
    const p = proc(k);
    assert.equal(p.open('/dev/null', O_RDWR), 0);
    assert.equal(p.open('/dev/null', O_RDWR), 1);
    assert.equal(p.open('/dev/null', O_RDWR), 2);
    assert.equal(p.close(1), 0);
    assert.equal(p.open('/dev/zero', O_RDONLY), 1);
    assert.equal(p.setrlimit(RLIMIT_NOFILE, { cur: 3, max: 4096 }), 0);
    assert.equal(p.open('/dev/null', O_RDWR), -ERRNO.EMFILE);
    assert.equal(p.memfdCreate('x', 0), -ERRNO.EMFILE);
    assert.equal(p.dup(0), -ERRNO.EMFILE);
    assert.equal(p.setrlimit(RLIMIT_NOFILE, { cur: 5000, max: 4096 }), -ERRNO.EINVAL);
    assert.equal(p.setrlimit(RLIMIT_NOFILE, { cur: 10, max: 2 * 1024 * 1024 }), -ERRNO.EPERM);
    assert.equal(
      p.open('/nonexistent', O_RDONLY),
      -ERRNO.EMFILE,
      'the descriptor is reserved before the lookup',
    );
    assert.equal(p.read(99, new Uint8Array(1)), -ERRNO.EBADF);
    assert.equal(p.close(2), 0);
    assert.equal(p.open('/nonexistent', O_RDONLY), -ERRNO.ENOENT);
  });

  it('close-on-exec bits: O_CLOEXEC, F_SETFD, F_DUPFD_CLOEXEC, and exec closes them', () => {
    const p = proc(k);
    const a = p.open('/dev/null', O_RDWR | O_CLOEXEC);
    const b = p.open('/dev/null', O_RDWR);
    assert.equal(p.fcntl(a, F_GETFD), FD_CLOEXEC);
    assert.equal(p.fcntl(b, F_GETFD), 0);
    const c = p.fcntl(b, F_DUPFD_CLOEXEC, 10);
    assert.equal(c, 10);
    assert.equal(p.fcntl(c, F_GETFD), FD_CLOEXEC);
    assert.equal(p.fcntl(b, F_SETFD, FD_CLOEXEC), 0);
    const d = p.dup(a);
    assert.equal(p.fcntl(d, F_GETFD), 0, 'dup clears the flag');
    p.exec(['/bin/true']);
    assert.deepEqual(
      p.files.entries().map((e) => e.fd),
      [d],
    );
  });

  it('fork shares every open file; exit closes them and init adopts orphans', () => {
    const p = proc(k);
    const luo = openLuo(p);
    assert.ok(luo >= 0);
    const child = p.fork();
    assert.ok(typeof child !== 'number');
    assert.equal(child.ppid, p.pid);
    assert.equal(openLuo(proc(k)), -ERRNO.EBUSY);
    p.exit(3);
    assert.equal(child.ppid, 1);
    assert.equal(openLuo(proc(k)), -ERRNO.EBUSY, 'the child still holds the device');
    assert.equal(child.setsid(), child.pid);
    assert.equal(child.setsid(), -ERRNO.EPERM, 'a session leader cannot setsid');
    child.exit(0);
    const q = proc(k);
    const fd = openLuo(q);
    assert.ok(fd >= 0, 'the last holder is gone');
    q.close(fd);
    assert.equal(userspace(k).process(child.pid), undefined, 'init reaped it');
  });

  it("pidfd_open + pidfd_getfd copy another process's descriptor (close-on-exec); kill ends a process", () => {
    const holder = proc(k, 'holder');
    const luo = openLuo(holder);
    assert.ok(luo >= 0);
    const p = proc(k);
    assert.equal(p.pidfdOpen(holder.pid, 1), -ERRNO.EINVAL);
    assert.equal(p.pidfdOpen(0), -ERRNO.EINVAL);
    assert.equal(p.pidfdOpen(999999), -ERRNO.ESRCH);
    const pidfd = p.pidfdOpen(holder.pid);
    assert.ok(pidfd >= 0);
    assert.equal(p.fcntl(pidfd, F_GETFD), FD_CLOEXEC);
    assert.equal(p.pidfdGetfd(pidfd, luo, 1), -ERRNO.EINVAL);
    assert.equal(p.pidfdGetfd(pidfd, 77), -ERRNO.EBADF, 'target fd not open');
    const devnull = p.open('/dev/null', O_RDONLY);
    assert.equal(p.pidfdGetfd(devnull, luo), -ERRNO.EBADF, 'not a pidfd');
    const copy = p.pidfdGetfd(pidfd, luo);
    assert.ok(copy >= 0);
    assert.equal(p.fcntl(copy, F_GETFD), FD_CLOEXEC);
    assert.equal(createSession(p, copy, 'via-copy') >= 0, true, 'the same open /dev/liveupdate');
    assert.equal(p.kill(holder.pid, 2), -ERRNO.EINVAL);
    assert.equal(p.kill(holder.pid, 0), 0);
    assert.equal(p.kill(holder.pid, 15), 0);
    assert.equal(holder.state, 'dead');
    assert.equal(p.kill(holder.pid, 15), -ERRNO.ESRCH);
    assert.equal(p.pidfdGetfd(pidfd, luo), -ERRNO.ESRCH, 'the process is gone');
    assert.equal(openLuo(proc(k)), -ERRNO.EBUSY, 'the copy still holds the device');
    p.exit(0);
    const q = proc(k);
    const fd = openLuo(q);
    assert.ok(fd >= 0);
    q.close(fd);
  });

  it('a parent reaps its child with waitpid', () => {
    const p = proc(k);
    const c = p.fork();
    assert.ok(typeof c !== 'number');
    assert.equal(p.waitpid(c.pid), -ERRNO.EAGAIN, 'still running');
    c.exit(7);
    assert.equal(c.state, 'zombie');
    assert.equal(p.waitpid(c.pid), 7);
    assert.equal(p.waitpid(c.pid), -ERRNO.ECHILD);
  });

  it('/proc/PID/fd shows the targets Linux prints', () => {
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'test-session');
    const m = p.memfdCreate('test_mfd', 0);
    const shm = p.open('/dev/shm/x', O_RDWR | O_CREAT | O_EXCL);
    assert.equal(p.open('/dev/shm/x', O_RDWR | O_CREAT | O_EXCL), -ERRNO.EEXIST);
    const links = fdLinks(k.procfs.lookup(`${p.pid}/fd`) as PseudoDir);
    assert.equal(links[String(luo)], '/dev/liveupdate');
    assert.equal(links[String(s)], 'anon_inode:[luo_session] test-session');
    assert.equal(links[String(m)], '/memfd:test_mfd (deleted)');
    assert.equal(links[String(shm)], '/dev/shm/x');
    assert.equal(p.unlink('/dev/shm/x'), 0);
    assert.equal(fdLinks(k.procfs.lookup(`${p.pid}/fd`) as PseudoDir)[String(shm)], '/dev/shm/x (deleted)');
    p.exit(0);
    assert.equal(k.procfs.lookup(String(p.pid)), undefined, 'the /proc entry goes with the process');
  });

  it('a linked tmpfs file is not preservable; once unlinked it is (memfd_luo can_preserve)', () => {
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'tmpfs');
    const fd = p.open('/dev/shm/y', O_RDWR | O_CREAT);
    assert.equal(preserveFd(p, s, fd, 1), -ERRNO.ENOENT);
    assert.equal(p.unlink('/dev/shm/y'), 0);
    assert.equal(preserveFd(p, s, fd, 1), 0);
    p.exit(0);
  });
});

describe('programs', () => {
  registerProgram('/usr/lib/test-progs/daemon', ({ proc: self, out }) => {
    const luo = openLuo(self);
    createSession(self, luo, 'held');
    self.close(luo);
    const child = self.fork();
    if (typeof child === 'number') return 1;
    child.setsid();
    for (let fd = 0; fd <= 2; fd++) child.close(fd);
    out(`[STAGE 1] Child PID: ${child.pid}. Resources are pinned.\n`);
    return 0;
  });
  registerProgram('/usr/lib/test-progs/kexec', ({ proc: self }) =>
    self.reboot(LINUX_REBOOT_CMD_KEXEC) === 0 ? 0 : 1,
  );

  it('run as processes with a terminal; a forked child keeps the session fds', async () => {
    const k = boot();
    let out = '';
    const io = {
      stdout: (t: string | Uint8Array) => (out += typeof t === 'string' ? t : new TextDecoder().decode(t)),
      stderr: () => undefined,
    };
    const r = await runProgram(k, ['/usr/lib/test-progs/daemon'], io);
    assert.ok(r !== null);
    assert.equal(r.status, 0);
    const pid = Number(/Child PID: (\d+)/.exec(out)?.[1]);
    const daemon = userspace(k).process(pid);
    assert.equal(daemon?.state, 'running');
    assert.equal(userspace(k).process(r.pid), undefined, 'the program process exited and was reaped');
    assert.deepEqual(Object.values(fdLinks(k.procfs.lookup(`${pid}/fd`) as PseudoDir)), [
      'anon_inode:[luo_session] held',
    ]);
    assert.deepEqual(programDirEntries('/usr/lib/test-progs'), ['daemon', 'kexec']);
    assert.equal(await runProgram(k, ['/usr/lib/test-progs/none'], io), null);
  });

  it('reboot(LINUX_REBOOT_CMD_KEXEC) from a program jumps; without an image it is EINVAL', async () => {
    const k = boot();
    const io = { stdout: () => undefined, stderr: () => undefined };
    const r0 = await runProgram(k, ['/usr/lib/test-progs/kexec'], io);
    assert.equal(r0?.status, 1);
    kexecFileLoad(k, { image: mkImage({ profile: k.profile, size: MiB }), cmdline: k.cmdline.raw });
    const r = await runProgram(k, ['/usr/lib/test-progs/kexec'], io);
    assert.equal(r?.rebooted, true);
    assert.notEqual(k.machine.kernel, k);
    assert.equal(k.machine.kernel?.generation, 1);
  });
});
