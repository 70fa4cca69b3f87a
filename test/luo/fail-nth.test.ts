/**
 * The classic fail-nth error-path sweep (Documentation/fault-injection/fault-injection.rst,
 * "Systematic faults using fail-nth") run by a user program against LUO: write N to
 * /proc/self/fail-nth, make the call, read fail-nth back (0: the N-th allocation was made to
 * fail), for N = 1, 2, … until the call succeeds. Every injected failure must return the
 * kernel's -ENOMEM and leave nothing behind: the same name or token works on the next try, and
 * what succeeded crosses the kexec.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE } from '../../src/abi/uapi-fcntl.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { Process } from '../../src/user/process.ts';
import { ERRNO } from '../../src/util/errno.ts';
import {
  boot,
  createSession,
  holdAndExit,
  kexec,
  openLuo,
  preserveFd,
  proc,
  restoreMemfdText,
  retrieveSession,
  text,
  utf8,
} from './helpers.ts';

/** `echo N > …/ignore-gfp-wait` for both capabilities, through their debugfs files. */
function countSleepingAllocations(k: Kernel): void {
  for (const d of ['failslab', 'fail_page_alloc']) {
    const f = k.debugfs.lookup(`${d}/ignore-gfp-wait`);
    assert.ok(f?.kind === 'file' && f.write !== undefined);
    f.write(utf8('N\n'));
  }
}

/** write(2) at the start of the file. */
function put(p: Process, fd: number, s: string): number {
  assert.equal(p.lseek(fd, 0, 0), 0);
  return p.write(fd, s);
}

/**
 * The sweep: `call` under fail-nth 1, 2, … until it succeeds. Returns its result and the
 * errors of the failed attempts.
 */
function sweep(p: Process, call: () => number): { result: number; errors: number[] } {
  const fd = p.open('/proc/self/fail-nth', O_RDWR);
  assert.ok(fd >= 0, `open /proc/self/fail-nth: ${fd}`);
  const errors: number[] = [];
  const buf = new Uint8Array(16);
  try {
    for (let n = 1; n <= 64; n++) {
      assert.equal(put(p, fd, String(n)), String(n).length);
      const r = call();
      const got = p.pread(fd, buf, buf.length, 0);
      const fired = text(buf.subarray(0, got)) === '0\n';
      if (!fired) {
        assert.ok(r >= 0, `fail-nth ${n} did not fire, yet the call failed with ${r}`);
        assert.equal(put(p, fd, '0'), 1);
        return { result: r, errors };
      }
      errors.push(r);
    }
    assert.fail('the call never succeeded');
  } finally {
    p.close(fd);
  }
}

/** A memfd holding `data` (one page), made before the sweep (its pages are order 0). */
function memfd(p: Process, data: string): number {
  const fd = p.memfdCreate('sweep', 0);
  assert.equal(p.ftruncate(fd, 4096), 0);
  const m = p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  assert.ok(typeof m !== 'number');
  m.write(0, utf8(`${data}\0`));
  m.unmap();
  return fd;
}

for (const profile of ['kho-v4', 'kho-v3']) {
  describe(`fail-nth sweep over LUO (${profile})`, () => {
    it('CREATE_SESSION and PRESERVE_FD fail with ENOMEM at each allocation, then succeed; the sessions cross the kexec', () => {
      const k = boot({ profile });
      countSleepingAllocations(k);
      const p = proc(k);
      const luo = openLuo(p);
      assert.ok(luo >= 0);

      const created = sweep(p, () => createSession(p, luo, 'vm'));
      assert.ok(created.errors.length >= 1, 'CREATE_SESSION allocates');
      assert.deepEqual(
        created.errors,
        created.errors.map(() => -ERRNO.ENOMEM),
      );
      const sfd = created.result;

      const m1 = memfd(p, 'first');
      const preserved = sweep(p, () => preserveFd(p, sfd, m1, 1));
      assert.ok(preserved.errors.length >= 1, 'PRESERVE_FD allocates');
      assert.deepEqual(
        preserved.errors,
        preserved.errors.map(() => -ERRNO.ENOMEM),
      );
      assert.equal(preserved.result, 0);
      // A second session and file the same way: the failed attempts left no half state.
      const created2 = sweep(p, () => createSession(p, luo, 'db'));
      const m2 = memfd(p, 'second');
      const preserved2 = sweep(p, () => preserveFd(p, created2.result, m2, 2));
      assert.equal(preserved2.result, 0);
      assert.equal(createSession(p, luo, 'vm'), -ERRNO.EEXIST, 'vm exists once');
      assert.equal(preserveFd(p, sfd, m1, 1), -ERRNO.EEXIST, 'token 1 is taken once');

      // One notice per injected failure, none else (the sweeps reset fail-nth after success).
      const injected = k.dmesg.records.filter((r) => r.text.startsWith('FAULT_INJECTION')).length;
      const failures = [created, preserved, created2, preserved2].map((x) => x.errors.length);
      assert.equal(
        injected,
        failures.reduce((a, b) => a + b),
      );
      assert.equal(p.failNth, 0);

      holdAndExit(p);
      const k2 = kexec(k);
      const q = proc(k2);
      const l2 = openLuo(q);
      assert.ok(l2 >= 0);
      assert.equal(restoreMemfdText(q, retrieveSession(q, l2, 'vm'), 1), 'first');
      assert.equal(restoreMemfdText(q, retrieveSession(q, l2, 'db'), 2), 'second');
    });
  });
}
