/**
 * Per-task fault injection (lib/fault-inject.c: should_fail_ex(), fail_task(); fs/proc/base.c:
 * proc_fail_nth_read/write(), proc_fault_inject_read/write(); kernel/fork.c:
 * dup_task_struct()): `fail-nth` fails exactly the task's N-th call of any attribute and reads
 * back 0 once it fired; `task-filter` lets only `make-it-fail` tasks fail; the system-call layer
 * makes the calling process the kernel's `current`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { O_RDONLY, O_RDWR, O_WRONLY } from '../../src/abi/uapi-fcntl.ts';
import { CurrentTask, FAULT_NOWARN, FaultAttr, type FaultTask } from '../../src/mm/fault-inject.ts';
import type { Process } from '../../src/user/process.ts';
import { ERRNO } from '../../src/util/errno.ts';
import { createSession, openLuo } from '../luo/helpers.ts';
import { boot, proc, text } from '../user/helpers.ts';

/** Two attributes of one kernel, drawing 0.5 (a probability of 50 or less passes), logging into `log`. */
function pair(log: string[] = []): { cur: CurrentTask; a: FaultAttr; b: FaultAttr } {
  const cur = new CurrentTask();
  const deps = { rand: () => 0.5, log: (_l: string, t: string) => log.push(t), current: cur };
  return { cur, a: new FaultAttr('failslab', deps), b: new FaultAttr('fail_page_alloc', deps) };
}

function task(failNth = 0, makeItFail = 0): FaultTask {
  return { failNth, makeItFail };
}

/** F for a failure, . for a pass, over `n` calls of `a`. */
function pattern(a: FaultAttr, n: number, flags = 0): string {
  let s = '';
  for (let i = 0; i < n; i++) s += a.shouldFailEx(1, flags) ? 'F' : '.';
  return s;
}

describe('fail_nth in should_fail_ex', () => {
  it('fails exactly the N-th call of the current task, whatever the attribute says, then is 0', () => {
    const log: string[] = [];
    const { cur, a } = pair(log);
    const t = task(3);
    assert.equal(a.armed, false, 'a task that is not current arms nothing');
    const prev = cur.enter(t);
    assert.equal(a.armed, true);
    assert.equal(pattern(a, 5), '..F..');
    assert.equal(t.failNth, 0);
    assert.equal(a.armed, false, 'disarmed again once the count ran out');
    assert.equal(
      log[0],
      'FAULT_INJECTION: forcing a failure.\nname failslab, interval 1, probability 0, space 0, times 1',
    );
    // The failure used up one of `times`, as any failure does (atomic_dec_not_zero).
    assert.equal(a.times, 0);
    cur.leave(prev);
  });

  it('is one count per task across attributes: the first should_fail of any attribute takes it', () => {
    const { cur, a, b } = pair();
    const t = task(2);
    cur.enter(t);
    assert.equal(a.shouldFailEx(1, 0), false);
    assert.equal(t.failNth, 1);
    assert.equal(b.shouldFailEx(1, 0), true);
    assert.equal(a.shouldFailEx(1, 0), false);
  });

  it('counts only while its task is current; another task and no task leave it alone', () => {
    const { cur, a } = pair();
    const mine = task(1);
    const other = task(0);
    const prev = cur.enter(other);
    assert.equal(a.armed, false);
    assert.equal(a.shouldFailEx(1, 0), false);
    cur.leave(prev);
    assert.equal(a.shouldFailEx(1, 0), false, 'no current task: boot, initcalls, kexec');
    assert.equal(mine.failNth, 1);
    cur.enter(mine);
    assert.equal(a.shouldFailEx(1, 0), true);
  });

  it('comes before the probability, times, space and interval checks, and obeys FAULT_NOWARN', () => {
    const log: string[] = [];
    const { cur, a } = pair(log);
    a.probability = 100n;
    a.times = 0; // no failure left for the attribute itself
    a.space = 1000;
    a.interval = 7n;
    cur.enter(task(1));
    assert.equal(a.shouldFailEx(1, FAULT_NOWARN), true);
    assert.equal(log.length, 0);
    assert.equal(a.space, 1000, 'space untouched');
    assert.equal(a.count, 0n, 'interval count untouched');
    assert.equal(a.times, 0);
    assert.equal(pattern(a, 3), '...', 'then the attribute decides: times 0');
  });

  it('a write of 0 by the task disarms what the count armed', () => {
    const { cur, a } = pair();
    const t = task(5);
    cur.enter(t);
    assert.equal(a.armed, true);
    t.failNth = 0;
    cur.failNthChanged(t);
    assert.equal(a.armed, false);
  });
});

describe('task-filter and make-it-fail', () => {
  it('with task-filter N every caller may fail; with Y only make-it-fail tasks, never no task', () => {
    const { cur, a } = pair();
    a.probability = 100n;
    a.times = -1;
    assert.equal(pattern(a, 2), 'FF', 'no task, no filter');
    a.taskFilter = true;
    assert.equal(pattern(a, 2), '..', 'no task: not a make-it-fail task');
    const plain = task();
    let prev = cur.enter(plain);
    assert.equal(pattern(a, 2), '..');
    cur.leave(prev);
    prev = cur.enter(task(0, 1));
    assert.equal(pattern(a, 2), 'FF');
    cur.leave(prev);
    a.taskFilter = false;
    cur.enter(plain);
    assert.equal(pattern(a, 2), 'FF');
  });

  it('filtered calls use up nothing (the filter comes before times, space and interval)', () => {
    const { cur, a } = pair();
    a.probability = 100n;
    a.taskFilter = true;
    a.space = 10;
    a.interval = 2n;
    cur.enter(task());
    assert.equal(pattern(a, 4), '....');
    assert.deepEqual([a.times, a.space, a.count], [1, 10, 0n]);
  });

  it('fail-nth fails a task even when task-filter would turn it away', () => {
    const { cur, a } = pair();
    a.probability = 100n;
    a.taskFilter = true;
    cur.enter(task(1, 0));
    assert.equal(a.shouldFailEx(1, 0), true);
  });
});

/** Write `s` to the open file `fd` from the start; the result of write(2). */
function put(p: Process, fd: number, s: string): number {
  p.lseek(fd, 0, 0);
  return p.write(fd, s);
}

/** The whole text of the open file `fd`. */
function get(p: Process, fd: number): string | number {
  p.lseek(fd, 0, 0);
  const b = new Uint8Array(64);
  const n = p.read(fd, b);
  return n < 0 ? n : text(b.subarray(0, n));
}

describe('/proc/<pid>/fail-nth and /proc/<pid>/make-it-fail', () => {
  it('are 0644 files reading 0 at first', () => {
    const k = boot();
    const p = proc(k);
    for (const f of ['fail-nth', 'make-it-fail']) {
      const node = k.procfs.lookup(`${p.pid}/${f}`);
      assert.ok(node?.kind === 'file');
      assert.equal(node.mode, 0o644);
      const fd = p.open(`/proc/self/${f}`, O_RDONLY);
      assert.ok(fd >= 0);
      assert.equal(get(p, fd), '0\n');
    }
  });

  it('fail-nth takes kstrtouint in C notation with one trailing newline; bad writes change nothing', () => {
    const k = boot();
    const p = proc(k);
    const fd = p.open('/proc/self/fail-nth', O_RDWR);
    assert.equal(put(p, fd, '3\n'), 2);
    assert.equal(get(p, fd), '3\n');
    assert.equal(put(p, fd, '0x10'), 4);
    assert.equal(get(p, fd), '16\n');
    assert.equal(put(p, fd, '010'), 3);
    assert.equal(get(p, fd), '8\n');
    for (const bad of ['-1', ' 3', '3 ', '3\n\n', 'abc', '', '+-1', '1.5'])
      assert.equal(put(p, fd, bad), -ERRNO.EINVAL, JSON.stringify(bad));
    assert.equal(put(p, fd, '4294967296'), -ERRNO.ERANGE);
    assert.equal(put(p, fd, '4294967295'), 10);
    assert.equal(get(p, fd), '4294967295\n');
    // kstrtouint_from_user copies at most 34 bytes: 34 zeros and a 1 parse as 0.
    assert.equal(put(p, fd, `${'0'.repeat(34)}1`), 35);
    assert.equal(get(p, fd), '0\n');
    assert.equal(p.failNth, 0);
  });

  it('make-it-fail takes 0 or 1 (kstrtoint of the stripped first 12 bytes); EINVAL/ERANGE otherwise', () => {
    const k = boot();
    const p = proc(k);
    const fd = p.open(`/proc/${p.pid}/make-it-fail`, O_RDWR);
    assert.equal(put(p, fd, ' 1 \n'), 4);
    assert.equal(get(p, fd), '1\n');
    for (const bad of ['2', '-1', 'y', '', '0x2'])
      assert.equal(put(p, fd, bad), -ERRNO.EINVAL, JSON.stringify(bad));
    assert.equal(put(p, fd, '99999999999'), -ERRNO.ERANGE);
    assert.equal(get(p, fd), '1\n');
    assert.equal(put(p, fd, '0000000000000'), 13, 'the 13th byte is cut: twelve zeros are 0');
    assert.equal(p.makeItFail, 0);
  });

  it('write the task the directory belongs to, from any process; a fork inherits make-it-fail only', () => {
    const k = boot();
    const p = proc(k);
    const q = proc(k);
    const fd = p.open(`/proc/${q.pid}/fail-nth`, O_RDWR);
    assert.equal(put(p, fd, '7'), 1);
    assert.equal([p.failNth, q.failNth].join(), '0,7');
    const mfd = p.open(`/proc/${q.pid}/make-it-fail`, O_WRONLY);
    assert.equal(put(p, mfd, '1'), 1);
    const child = q.fork();
    assert.ok(typeof child !== 'number');
    assert.deepEqual([child.failNth, child.makeItFail], [0, 1]);
    // A task that is gone answers ESRCH through a descriptor opened before.
    q.exit(0);
    child.exit(0);
    assert.equal(get(p, fd), -ERRNO.ESRCH);
    assert.equal(put(p, fd, '1'), -ERRNO.ESRCH);
  });

  it("the system call's process is current: another process's count waits for its own calls", () => {
    const k = boot();
    k.kho.ctx.failslab.ignoreGfpReclaim = false;
    const a = proc(k);
    const luo = openLuo(a);
    assert.ok(luo >= 0);
    const c = a.fork();
    assert.ok(typeof c !== 'number');
    a.failNth = 1;
    assert.equal(k.kho.ctx.failslab.attr.armed, false, 'disarmed outside system calls');
    assert.ok(createSession(c, luo, 'c') >= 0, "the child's CREATE_SESSION is not a's");
    assert.equal(a.failNth, 1);
    assert.equal(createSession(a, luo, 'a'), -ERRNO.ENOMEM);
    assert.equal(a.failNth, 0);
    assert.equal(k.dmesg.records.filter((r) => r.text.startsWith('FAULT_INJECTION')).length, 1);
    assert.ok(createSession(a, luo, 'a') >= 0);
  });
});
