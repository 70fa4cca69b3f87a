/**
 * Fault injection from the machine's shell: /sys/kernel/debug/failslab/ and
 * /sys/kernel/debug/fail_page_alloc/ (lib/fault-inject.c: fault_create_debugfs_attr(),
 * fs/libfs.c: simple_attr_write(), fs/debugfs/file.c: the bool, u32 and atomic_t files), and
 * what an armed attribute does to `modprobe test_kho` and to luoctl after a kexec.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { userspace } from '../../src/user/userspace.ts';
import { term } from '../shell/helpers.ts';

const FS = '/sys/kernel/debug/failslab';
const FPA = '/sys/kernel/debug/fail_page_alloc';

/** dmesg lines without their timestamps. */
const bare = (out: string): string => out.replace(/^\[[ 0-9.]+\] /gm, '');

describe('fault-injection debugfs', () => {
  it('lists the files the model honours, mode 0600, with the kernel defaults', async () => {
    const t = term();
    assert.equal(
      (await t.run(`ls ${FS}`)).out,
      'ignore-gfp-wait\ninterval\nprobability\nspace\ntask-filter\ntimes\nverbose\n',
    );
    assert.equal(
      (await t.run(`ls ${FPA}`)).out,
      'ignore-gfp-highmem\nignore-gfp-wait\ninterval\nmin-order\nprobability\nspace\ntask-filter\ntimes\nverbose\n',
    );
    assert.match((await t.run(`ls -l ${FS}/times`)).out, /^-rw------- 1 root root 0 /);
    const show =
      'for f in probability interval times space verbose ignore-gfp-wait task-filter; do cat $D/$f; done';
    assert.equal((await t.run(`D=${FS}; ${show}`)).out, '0\n1\n1\n0\n2\nY\nN\n');
    assert.equal((await t.run(`cat ${FPA}/min-order ${FPA}/ignore-gfp-highmem`)).out, '1\nY\n');
  });

  it('the boot parameter shows in the files; writes change the live attribute', async () => {
    const t = term({ cmdline: 'failslab=10,25,4096,-1' });
    assert.equal(
      (await t.run(`cat ${FS}/interval ${FS}/probability ${FS}/space ${FS}/times`)).out,
      '10\n25\n4096\n-1\n',
    );
    const k = t.session.machine.kernel!;
    assert.equal((await t.run(`echo 0x64 > ${FS}/probability; echo 0 > ${FS}/interval`)).status, 0);
    assert.equal(k.kho.ctx.failslab.attr.probability, 100n);
    assert.equal(k.kho.ctx.failslab.attr.interval, 0n);
    assert.equal((await t.run(`echo N > ${FS}/ignore-gfp-wait; cat ${FS}/ignore-gfp-wait`)).out, 'N\n');
    assert.equal(k.kho.ctx.failslab.ignoreGfpReclaim, false);
    assert.equal(
      (await t.run(`echo off > ${FPA}/ignore-gfp-highmem; cat ${FPA}/ignore-gfp-highmem`)).out,
      'N\n',
    );
    assert.equal((await t.run(`echo 0 > ${FPA}/min-order; cat ${FPA}/min-order`)).out, '0\n');
    assert.equal(k.buddy.failPageAlloc.minOrder, 0);
    // The attribute files are 32-bit where the kernel's are: atomic_t and u32 keep the low bits.
    assert.equal((await t.run(`echo 4294967295 > ${FS}/times; cat ${FS}/times`)).out, '-1\n');
    assert.equal((await t.run(`echo 4294967298 > ${FPA}/min-order; cat ${FPA}/min-order`)).out, '2\n');
  });

  it('bad values are write errors as bash reports them, and change nothing', async () => {
    const t = term();
    const err = (v: string, f: string) => t.run(`echo ${v} > ${f}`);
    const inval = '-bash: echo: write error: Invalid argument\n';
    assert.deepEqual(await err('-1', `${FS}/probability`), { status: 1, out: '', err: inval });
    assert.equal((await err('12abc', `${FS}/interval`)).err, inval);
    assert.equal((await err('x', `${FS}/ignore-gfp-wait`)).err, inval);
    assert.equal((await err('""', `${FS}/times`)).err, inval);
    assert.equal(
      (await err('18446744073709551616', `${FS}/verbose`)).err,
      '-bash: echo: write error: Numerical result out of range\n',
    );
    assert.equal(
      (await err('9223372036854775808', `${FS}/space`)).err,
      '-bash: echo: write error: Numerical result out of range\n',
    );
    assert.equal(
      (await t.run(`cat ${FS}/probability ${FS}/interval ${FS}/times ${FS}/space ${FS}/verbose`)).out,
      '0\n1\n1\n0\n2\n',
    );
    // A write keeps its first 23 bytes (simple_attr's buffer): 23 digits parse, more are cut.
    assert.equal(
      (await t.run(`echo 00000000000000000000007123 > ${FS}/interval; cat ${FS}/interval`)).out,
      '7\n',
    );
  });

  it('fail_page_alloc makes modprobe test_kho fail cleanly; the machine still kexecs', async () => {
    const t = term({ cmdline: 'kho=on kho_scratch=16M,64M,32M' });
    const free = (await t.run('grep MemFree /proc/meminfo')).out;
    // test_kho's folios are GFP_KERNEL: ignore-gfp-wait must be N for them.
    await t.run(`echo N > ${FPA}/ignore-gfp-wait; echo 100 > ${FPA}/probability; echo -1 > ${FPA}/times`);
    assert.deepEqual(await t.run(`echo 1 > ${FPA}/verbose; modprobe test_kho`), {
      status: 1,
      out: '',
      err: "modprobe: ERROR: could not insert 'test_kho': Cannot allocate memory\n",
    });
    assert.equal((await t.run('grep MemFree /proc/meminfo')).out, free);
    // One notice: the folios array's kvmalloc attempt fails quietly (__GFP_NOWARN) and falls
    // back to vmalloc; the first folio of order 1 or more fails with the notice.
    assert.equal(
      bare((await t.run('dmesg | grep -e FAULT_INJECTION -e "name fail_page_alloc"')).out),
      'FAULT_INJECTION: forcing a failure.\nname fail_page_alloc, interval 1, probability 100, space 0, times -1\n',
    );
    assert.ok(!(await t.run('dmesg')).out.includes('page allocation failure'));
    assert.equal((await t.run('lsmod | grep -c test_kho')).out, '0\n');
    await t.run(`echo 0 > ${FPA}/probability`);
    assert.equal((await t.run('kexec -l /boot/vmlinuz --reuse-cmdline -s && kexec -e')).status, 0);
    assert.equal((await t.run('modprobe test_kho && dmesg | grep -c "KHO: exec from"')).out, '1\n');
    // The successor's attribute is the boot default again: nothing crosses a kexec but memory.
    assert.equal((await t.run(`cat ${FPA}/probability ${FPA}/ignore-gfp-wait`)).out, '0\nY\n');
  });

  it('failslab armed after a LUO kexec: luoctl cannot open /dev/liveupdate (EIO), the log names the session', async () => {
    const t = term({ cmdline: 'kho=on liveupdate=on' });
    assert.equal((await t.run('luoctl create vm && luoctl preserve vm 1 --data hello')).status, 0);
    assert.equal((await t.run('kexec -l /boot/vmlinuz --reuse-cmdline -s && kexec -e')).status, 0);
    await t.run(`echo N > ${FS}/ignore-gfp-wait; echo 100 > ${FS}/probability; echo 1 > ${FS}/verbose`);
    const r = await t.run('luoctl retrieve vm');
    assert.equal(r.status, 1);
    assert.match(r.err, /^luoctl: \/dev\/liveupdate: Input\/output error\n/);
    assert.equal(
      bare((await t.run('dmesg | grep -e FAULT_INJECTION -e "name failslab" -e "luo: Failed"')).out),
      'FAULT_INJECTION: forcing a failure.\n' +
        'name failslab, interval 1, probability 100, space 0, times 1\n' +
        'luo: Failed to allocate session [vm] during deserialization -ENOMEM\n',
    );
    // times is used up, but the deserialization error stays: every open fails.
    assert.equal((await t.run(`cat ${FS}/times`)).out, '0\n');
    assert.match(
      (await t.run('luoctl retrieve vm')).err,
      /^luoctl: \/dev\/liveupdate: Input\/output error\n/,
    );
  });

  it('task-filter: only commands of a make-it-fail shell fail; its children inherit the flag', async () => {
    const t = term({ cmdline: 'kho=on liveupdate=on' });
    assert.equal((await t.run('luoctl create warm')).status, 0);
    const sh = userspace(t.session.machine.kernel!).login().pid;
    assert.equal((await t.run(`cat /proc/${sh}/make-it-fail /proc/${sh}/fail-nth`)).out, '0\n0\n');
    await t.run(`echo N > ${FS}/ignore-gfp-wait; echo 100 > ${FS}/probability; echo -1 > ${FS}/times`);
    await t.run(`echo Y > ${FS}/task-filter`);
    assert.equal((await t.run('luoctl create a')).status, 0, 'no make-it-fail task: filtered out');
    assert.equal(
      (await t.run(`echo 2 > /proc/${sh}/make-it-fail`)).err,
      '-bash: echo: write error: Invalid argument\n',
    );
    const r = await t.run(`echo 1 > /proc/${sh}/make-it-fail; luoctl create b`);
    assert.equal(r.err, "luoctl: create session 'b': Cannot allocate memory\n");
    assert.equal((await t.run('dmesg | grep -c FAULT_INJECTION')).out, '1\n');
    assert.equal((await t.run(`echo 0 > /proc/${sh}/make-it-fail; luoctl create b`)).status, 0);
    // Without the filter every task fails again.
    assert.equal((await t.run(`echo N > ${FS}/task-filter; luoctl create c`)).status, 1);
  });
});
