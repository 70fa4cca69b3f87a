/**
 * Root writing KHO's debugfs files, as Linux answers: a show attribute (scratch_phys,
 * scratch_len) has no write method and the write fails with EINVAL (fs/read_write.c:
 * vfs_write()); a blob (out/fdt, sub_fdts/*) takes the bytes into its memory
 * (fs/debugfs/file.c: write_file_blob()), which is how root can break the hand-over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { term } from './helpers.ts';

const KHO = '/sys/kernel/debug/kho';

test('writing a read-only show attribute as root: write error: Invalid argument', async () => {
  const t = term();
  for (const f of ['scratch_phys', 'scratch_len']) {
    const before = (await t.run(`cat ${KHO}/out/${f}`)).out;
    assert.deepEqual(await t.run(`echo 0x1000 > ${KHO}/out/${f}`), {
      status: 1,
      out: '',
      err: '-bash: echo: write error: Invalid argument\n',
    });
    assert.equal((await t.run(`cat ${KHO}/out/${f}`)).out, before);
  }
});

test("a blob takes root's write: the FDT magic is gone and the successor refuses the hand-over", async () => {
  const t = term();
  const k = t.session.kernel;
  assert.equal(k.machine.mem.readU32(k.kho.fdtPhys), 0xedfe0dd0);
  assert.deepEqual(await t.run(`printf XXXX > ${KHO}/out/fdt`), { status: 0, out: '', err: '' });
  assert.equal(k.machine.mem.readU32(k.kho.fdtPhys), 0x58585858);
  await t.run('kexec -l /boot/vmlinuz --reuse-cmdline -s');
  await t.run('kexec -e');
  const log = (await t.run('dmesg')).out;
  assert.match(log, /KHO: setup: handover FDT \(0x[0-9a-f]+\) is invalid: -9\n/);
  assert.match(log, /KHO: disabling KHO revival\n/);
});

test('modprobe with an unknown parameter loads the module and logs the kernel line', async () => {
  const t = term();
  assert.deepEqual(await t.run('modprobe test_kho max_mem=65536 colour=blue'), {
    status: 0,
    out: '',
    err: '',
  });
  assert.match((await t.run('lsmod')).out, /^test_kho /m);
  assert.match((await t.run('dmesg')).out, /\] test_kho: unknown parameter 'colour' ignored\n/);
});
