import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { term } from './helpers.ts';
import { columns, lsDate } from '../../src/shell/commands/ls.ts';
import { humanSize } from '../../src/shell/commands/free.ts';

const KHO = '/sys/kernel/debug/kho';

test('unknown command: bash text, status 127, $? expands', async () => {
  const t = term();
  const r = await t.run('foo');
  assert.deepEqual(r, { status: 127, out: '', err: '-bash: foo: command not found\n' });
  assert.equal((await t.run('echo $?')).out, '127\n');
  assert.equal((await t.run("false; echo $? '$?'")).out, '1 $?\n');
  assert.equal((await t.run('true && echo yes || echo no')).out, 'yes\n');
  assert.equal((await t.run('false && echo yes || echo no')).out, 'no\n');
});

test('$$ is the login shell process (a child of init, in /proc), renewed by a kexec', async () => {
  const t = term();
  const procs = (await t.run('ls /proc')).out.split(/\s+/).filter((n) => /^[0-9]+$/.test(n));
  assert.equal(procs[0], '1', 'init is there before anything ran');
  const pid = (await t.run('echo $$')).out.trim();
  assert.ok(procs.includes(pid), `the shell's pid ${pid} in ${procs.join(' ')}`);
  assert.match(pid, /^[0-9]+$/);
  assert.notEqual(pid, '1', 'not init');
  assert.equal((await t.run('cat /proc/$$/comm')).out, 'bash\n');
  assert.equal((await t.run('echo $$')).out.trim(), pid, 'stable');
  assert.match((await t.run('cat /proc/$$/status')).out, /^PPid:\s+1$/m, 'a child of init');
  await t.run('kexec -l -s --reuse-cmdline /boot/vmlinuz');
  await t.run('kexec -e > /dev/null');
  assert.equal((await t.run('cat /proc/$$/comm')).out, 'bash\n', 'the new kernel has its own login shell');
});

test("kexec -e jumps from a kexec process: an interrupted jump is kexec-tools' errno message, the process is reaped, the kernel goes on", async () => {
  const t = term({ cmdline: 'kho=on liveupdate=on' });
  await t.run('kexec -l -s --reuse-cmdline /boot/vmlinuz');
  const m = t.session.machine;
  const k = t.session.kernel;
  // Ctrl-C while the jump reads the memory map (the terminal thread raises it in real use).
  m.work.afterS = 0;
  m.work.everyS = 0;
  m.work.sink = (ev) => {
    if (ev.label.startsWith('kexec -e')) m.interrupt.raise();
  };
  const r = await t.run('kexec -e');
  assert.equal(r.err, 'kexec failed: Interrupted system call\n');
  assert.doesNotMatch(r.out, /Starting new kernel/);
  m.interrupt.clear();
  m.work.sink = () => undefined;
  assert.equal(t.session.kernel, k, 'the running kernel goes on');
  const pids = (await t.run('ls /proc')).out.split(/\s+/).filter((n) => /^[0-9]+$/.test(n));
  assert.deepEqual(pids, ['1', (await t.run('echo $$')).out.trim()], 'the kexec process was reaped');
  const ok = await t.run('kexec -e');
  assert.equal(ok.status, 0);
  assert.equal(ok.out.match(/kexec_core: Starting new kernel/g)?.length, 1);
  assert.notEqual(t.session.kernel, k);
});

test('echo: -n, -e escapes, quoting', async () => {
  const t = term();
  assert.equal((await t.run('echo -n a b')).out, 'a b');
  assert.equal((await t.run('echo -e "a\\tb\\x41\\c" more')).out, 'a\tbA');
  assert.equal((await t.run("echo 'a  b'   c")).out, 'a  b c\n');
  assert.equal((await t.run('echo -x')).out, '-x\n');
});

test('cat of procfs files and coreutils errors', async () => {
  const t = term({ cmdline: 'kho=on kho_scratch=16M,64M,32M' });
  assert.equal((await t.run('cat /proc/cmdline')).out, 'kho=on kho_scratch=16M,64M,32M\n');
  const mi = await t.run('cat /proc/meminfo');
  assert.match(mi.out, /^MemTotal: +[0-9]+ kB\n/);
  assert.match((await t.run('cat /proc/iomem')).out, /System RAM/);
  assert.deepEqual(await t.run('cat /tmp/kho-nonexistent'), {
    status: 1,
    out: '',
    err: 'cat: /tmp/kho-nonexistent: No such file or directory\n',
  });
  assert.deepEqual(await t.run('cat /proc'), { status: 1, out: '', err: 'cat: /proc: Is a directory\n' });
  assert.deepEqual(await t.run('cat /proc/cmdline/x'), {
    status: 1,
    out: '',
    err: 'cat: /proc/cmdline/x: Not a directory\n',
  });
  assert.equal(
    (await t.run('cat -z')).err,
    "cat: invalid option -- 'z'\nTry 'cat --help' for more information.\n",
  );
});

test('scratch files show the scratch array; writes to read-only or missing files fail as bash reports', async () => {
  const t = term();
  const phys = await t.run(`cat ${KHO}/out/scratch_phys`);
  assert.match(phys.out, /^(0x[0-9a-f]+\n)+$/);
  const before = phys.out;
  // kho-v4 (default profile): no finalize file; debugfs has no create op → EACCES.
  assert.deepEqual(await t.run(`echo 1 > ${KHO}/out/finalize`), {
    status: 1,
    out: '',
    err: `-bash: ${KHO}/out/finalize: Permission denied\n`,
  });
  assert.deepEqual(await t.run(`cat ${KHO}/out/finalize`), {
    status: 1,
    out: '',
    err: `cat: ${KHO}/out/finalize: No such file or directory\n`,
  });
  // Root opens a 0400 debugfs file (CAP_DAC_OVERRIDE); a show attribute has no write method,
  // so vfs_write() fails with EINVAL, as bash reports it on Linux.
  assert.deepEqual(await t.run(`echo 1 > ${KHO}/out/scratch_phys`), {
    status: 1,
    out: '',
    err: '-bash: echo: write error: Invalid argument\n',
  });
  // /proc files open for writing as root and fail the write (verified on Linux).
  assert.deepEqual(await t.run('echo 1 > /proc/cmdline'), {
    status: 1,
    out: '',
    err: '-bash: echo: write error: Input/output error\n',
  });
  assert.equal((await t.run('echo 1 > /proc/nope')).err, '-bash: /proc/nope: No such file or directory\n');
  assert.equal((await t.run(`echo 1 > ${KHO}/out`)).err, `-bash: ${KHO}/out: Is a directory\n`);
  assert.equal(
    (await t.run('echo 1 > /kho-shell-host-file')).err,
    '-bash: /kho-shell-host-file: Permission denied\n',
  );
  assert.equal(
    (await t.run('echo 1 > /tmp/kho-nonexistent-dir/x')).err,
    '-bash: /tmp/kho-nonexistent-dir/x: No such file or directory\n',
  );
  assert.equal((await t.run(`cat ${KHO}/out/scratch_phys`)).out, before);
  assert.equal((await t.run('echo hidden 2>/dev/null >/dev/null; cat /dev/null')).out, '');
});

test('kho-v1: finalize and abort through debugfs; a bad value is a write error', async () => {
  const t = term({ profile: 'kho-v1' });
  assert.equal((await t.run(`cat ${KHO}/out/finalize`)).out, '0\n');
  assert.deepEqual(await t.run(`echo foo > ${KHO}/out/finalize`), {
    status: 1,
    out: '',
    err: '-bash: echo: write error: Invalid argument\n',
  });
  assert.equal((await t.run(`cat ${KHO}/out/finalize`)).out, '0\n');
  assert.equal((await t.run(`echo 1 > ${KHO}/out/finalize`)).status, 0);
  assert.equal((await t.run(`cat ${KHO}/out/finalize`)).out, '1\n');
  // A second finalize is EEXIST, as the kernel answers.
  assert.equal((await t.run(`echo 1 > ${KHO}/out/finalize`)).err, '-bash: echo: write error: File exists\n');
  const dts = await t.run(`dtc -I dtb -O dts ${KHO}/out/fdt`);
  assert.equal(dts.status, 0);
  assert.match(dts.out, /^\/dts-v1\/;\n\n\/ \{\n\tcompatible = "kho-v1";/);
  assert.equal((await t.run(`echo 0 > ${KHO}/out/active`)).status, 0);
  assert.equal((await t.run(`cat ${KHO}/out/finalize`)).out, '0\n');
});

test('ls: sorted names, -a, -l in coreutils format, errors with status 2, columns', async () => {
  const t = term();
  assert.equal((await t.run(`ls ${KHO}/out`)).out, 'fdt\nscratch_len\nscratch_phys\nsub_fdts\n');
  assert.equal((await t.run(`ls -a ${KHO}`)).out, '.\n..\nout\n');
  const l = await t.run(`ls -l ${KHO}/out`);
  assert.equal(
    l.out,
    'total 0\n' +
      '-r-------- 1 root root 0 Jan  1 00:00 fdt\n' +
      '-r-------- 1 root root 0 Jan  1 00:00 scratch_len\n' +
      '-r-------- 1 root root 0 Jan  1 00:00 scratch_phys\n' +
      'drwxr-xr-x 2 root root 0 Jan  1 00:00 sub_fdts\n',
  );
  assert.equal(
    (await t.run('ls -l /dev')).out.split('\n')[1],
    'crw-r----- 1 root kmem 1, 1 Jan  1 00:00 mem',
  );
  assert.deepEqual(await t.run('ls /tmp/kho-nope'), {
    status: 2,
    out: '',
    err: "ls: cannot access '/tmp/kho-nope': No such file or directory\n",
  });
  assert.equal((await t.run('ls -z')).status, 2);
  assert.equal((await t.run('ls /boot /proc/cmdline')).out, '/proc/cmdline\n\n/boot:\ninitrd.img\nvmlinuz\n');
  // Column layout as coreutils computes it (checked against `ls -C -w`).
  const names = ['X11', 'apt', 'bfd-plugins', 'binfmt.d', 'compat-ld', 'gnupg', 'gnupg2', 'gold-ld', 'groff'];
  const d = mkdtempSync(join(tmpdir(), 'kho-ls-'));
  for (const n of names) writeFileSync(join(d, n), '');
  const want = spawnSync('ls', ['-C', '-w', '40', d], { encoding: 'utf8', env: { LC_ALL: 'C' } }).stdout;
  assert.equal(columns([...names].sort(), 40), want);
  assert.equal(lsDate(new Date(Date.UTC(2026, 0, 1)), Date.UTC(2026, 0, 2), true), 'Jan  1 00:00');
  assert.equal(lsDate(new Date(Date.UTC(2025, 0, 1)), Date.UTC(2026, 0, 2), true), 'Jan  1  2025');
});

test('cd, pwd and the prompt follow bash', async () => {
  const t = term({}, '/tmp');
  assert.equal(t.session.prompt(), 'root@kho:~# ');
  assert.equal((await t.run(`cd ${KHO}; pwd`)).out, `${KHO}\n`);
  assert.equal(t.session.prompt(), `root@kho:${KHO}# `);
  assert.equal((await t.run('cd out && cat scratch_len')).status, 0);
  assert.equal((await t.run('cd ..; pwd')).out, `${KHO}\n`);
  assert.equal(
    (await t.run('cd /tmp/kho-nope')).err,
    '-bash: cd: /tmp/kho-nope: No such file or directory\n',
  );
  assert.equal((await t.run('cd /proc/cmdline')).err, '-bash: cd: /proc/cmdline: Not a directory\n');
  assert.equal((await t.run('cd a b')).err, '-bash: cd: too many arguments\n');
  assert.equal((await t.run('cd; pwd')).out, '/tmp\n');
  assert.equal((await t.run('cd -')).out, `${KHO}\n`);
});

test('free from /proc/meminfo in procps layout', async () => {
  const t = term();
  const r = await t.run('free');
  const lines = r.out.split('\n');
  assert.equal(lines[0], '               total        used        free      shared  buff/cache   available');
  assert.match(lines[1]!, /^Mem: {4}( +[0-9]+){6}$/);
  assert.equal(lines[2], 'Swap:              0           0           0');
  assert.equal((await t.run('free -x')).status, 1);
  assert.equal(humanSize(24682416 * 1024, false), '23Gi');
  assert.equal(humanSize(1206288 * 1024, false), '1.2Gi');
  assert.equal(humanSize(12776 * 1024, false), '12Mi');
  assert.equal(humanSize(0, false), '0B');
});

test('devmem: busybox widths and formats, writes, bad input', async () => {
  const t = term();
  assert.equal((await t.run('devmem 0x200000 64 0x1122334455667788')).status, 0);
  assert.equal((await t.run('devmem 0x200000')).out, '0x55667788\n');
  assert.equal((await t.run('devmem 0x200000 8')).out, '0x88\n');
  assert.equal((await t.run('devmem 0x200000 16')).out, '0x7788\n');
  assert.equal((await t.run('devmem 0x200000 64')).out, '0x1122334455667788\n');
  assert.equal((await t.run('devmem 0x200000 b')).out, '0x88\n');
  assert.equal((await t.run('devmem 0x200000 12')).err, 'devmem: bad width\n');
  assert.equal((await t.run('devmem zz')).status, 1);
  assert.equal((await t.run('devmem 0xffffffffffff')).err, 'devmem: mmap: Invalid argument\n');
});

test("dtc on bad input prints dtc's FATAL ERROR texts", async () => {
  const t = term();
  const d = mkdtempSync(join(tmpdir(), 'kho-dtc-'));
  writeFileSync(join(d, 'text'), 'not a devicetree blob at all\n');
  writeFileSync(join(d, 'short'), 'abc');
  for (const f of [join(d, 'text'), join(d, 'short'), '/tmp/kho-nonexistent', d]) {
    const r = await t.run(`dtc -I dtb -O dts ${f}`);
    const want = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', f], { encoding: 'utf8' });
    assert.equal(r.err, want.stderr, f);
    assert.equal(r.status, want.status, f);
  }
});

test('cp out of the machine to the host; machine targets refused', async () => {
  const d = mkdtempSync(join(tmpdir(), 'kho-cp-'));
  const t = term({ profile: 'kho-v1' }, d);
  assert.equal((await t.run(`cp ${KHO}/out/fdt fdt.dtb`)).status, 0);
  const blob = readFileSync(join(d, 'fdt.dtb'));
  assert.equal(blob.readUInt32BE(0), 0xd00dfeed);
  assert.equal((await t.run('cp /proc/cmdline ~')).status, 0);
  assert.equal(readFileSync(join(d, 'cmdline'), 'utf8'), 'kho=on\n');
  assert.equal(
    (await t.run('cp /proc/cmdline /proc/x')).err,
    "cp: cannot create regular file '/proc/x': Permission denied\n",
  );
  assert.equal((await t.run('cp nope x')).err, "cp: cannot stat 'nope': No such file or directory\n");
  assert.equal((await t.run('cp /proc x')).err, "cp: -r not specified; omitting directory '/proc'\n");
  assert.equal((await t.run('cp')).err, "cp: missing file operand\nTry 'cp --help' for more information.\n");
  assert.equal(existsSync(join(d, 'x')), false);
});

test('dump-memory writes an ELF core the inspector reads', async () => {
  const d = mkdtempSync(join(tmpdir(), 'kho-dump-'));
  const t = term({}, d);
  const r = await t.run('dump-memory mem.elf');
  assert.equal(r.status, 0, r.err);
  const head = readFileSync(join(d, 'mem.elf')).subarray(0, 4);
  assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46]);
  assert.equal((await t.run('dump-memory /proc/x')).status, 1);
});

test('kexec: nothing loaded, garbage images, missing files leave the machine unchanged', async () => {
  const t = term();
  const k0 = t.session.kernel;
  assert.deepEqual(await t.run('kexec -e'), { status: 1, out: '', err: 'Nothing has been loaded!\n' });
  assert.equal(
    (await t.run('kexec -l /tmp/kho-nonexistent -s')).err,
    "Cannot open `/tmp/kho-nonexistent': No such file or directory\n",
  );
  const bad = await t.run('kexec -l /proc/cmdline -s');
  assert.notEqual(bad.status, 0);
  assert.match(bad.err, /Cannot determine the file type of \/proc\/cmdline/);
  assert.equal(
    (await t.run('kexec -l /boot/vmlinuz --initrd=/tmp/kho-nope -s')).err,
    "Cannot open `/tmp/kho-nope': No such file or directory\n",
  );
  const u = await t.run('kexec --bogus');
  assert.equal(u.status, 1);
  assert.equal(u.err, "kexec: unrecognized option '--bogus'\n");
  assert.equal((await t.run('kexec -e')).err, 'Nothing has been loaded!\n');
  assert.equal(t.session.kernel, k0);
  // Load, unload, and exec with nothing loaded again.
  assert.equal((await t.run('kexec -l /boot/vmlinuz -s')).status, 0);
  assert.equal((await t.run('kexec -u')).status, 0);
  assert.equal((await t.run('kexec -e')).status, 1);
  assert.equal(t.session.kernel, k0);
});

test('kexec without -s warns that KHO data is not carried; the successor cold-boots', async () => {
  const t = term();
  const r = await t.run('kexec -l /boot/vmlinuz --reuse-cmdline');
  assert.equal(r.status, 0);
  assert.match(r.err, /KHO/);
  const e = await t.run('kexec -e');
  assert.equal(e.status, 0);
  assert.match(e.out, /kexec_core: Starting new kernel/);
  assert.equal(t.session.kernel.kho.isKhoBoot(), false);
  assert.equal((await t.run('ls /sys/kernel/debug/kho/in')).status, 2);
});

test('kexec -s hands over: the new kernel has kho/in, mounts follow it; reboot loses memory', async () => {
  const t = term();
  await t.run('cd /sys/kernel/debug/kho/out');
  assert.equal(
    (await t.run('kexec -l /boot/vmlinuz --initrd /boot/initrd.img --reuse-cmdline -s')).status,
    0,
  );
  const before = t.session.kernel;
  const e = await t.run('kexec -e');
  assert.equal(e.status, 0, e.err);
  assert.notEqual(t.session.kernel, before);
  assert.equal(t.session.kernel.kho.isKhoBoot(), true);
  assert.equal(t.session.cwd, '/tmp');
  assert.equal((await t.run('ls /sys/kernel/debug/kho/in')).out, 'fdt\nsub_fdts\n');
  assert.equal((await t.run('cat /proc/cmdline')).out, 'kho=on\n');
  const dts = await t.run('dtc -I dtb -O dts /sys/kernel/debug/kho/in/fdt');
  assert.equal(dts.status, 0);
  assert.match(dts.out, /compatible = "kho-v4";/);
  await t.run('devmem 0x300000 32 0xdeadbeef');
  const rb = await t.run('reboot');
  assert.equal(rb.status, 0);
  assert.equal(t.session.kernel.kho.isKhoBoot(), false);
  assert.equal((await t.run('devmem 0x300000')).out, '0x00000000\n');
});

test('modprobe/rmmod of unknown or unloaded modules print kmod messages', async () => {
  const t = term();
  const r = await t.run('modprobe nosuchmod');
  assert.equal(r.status, 1);
  assert.equal(
    r.err,
    `modprobe: FATAL: Module nosuchmod not found in directory /lib/modules/${t.session.kernel.release}\n`,
  );
  assert.equal(
    (await t.run('rmmod test_kho')).err,
    'rmmod: ERROR: Module test_kho is not currently loaded\n',
  );
  assert.equal((await t.run('lsmod')).out, 'Module                  Size  Used by\n');
});

test('pipes and grep; help lists the commands', async () => {
  const t = term();
  const g = await t.run('dmesg | grep -c "Linux version"');
  assert.equal(g.out, '1\n');
  assert.equal(
    (await t.run('cat /proc/cmdline | hexdump -C')).out,
    '00000000  6b 68 6f 3d 6f 6e 0a                              |kho=on.|\n00000007\n',
  );
  const h = await t.run('help');
  for (const c of ['kexec', 'hexdump', 'dtc', 'devmem', 'modprobe', 'dump-memory'])
    assert.match(h.out, new RegExp(`\\b${c}\\b`));
});

test('exit sets the status; bad arguments are bash errors', async () => {
  const t = term();
  await t.run('exit 3');
  assert.equal(t.session.exitStatus, 3);
  const u = term();
  const r = await u.run('exit abc');
  assert.equal(r.err, '-bash: exit: abc: numeric argument required\n');
  assert.equal(u.session.exitStatus, 2);
});

test('head and tail: lines, bytes, several files, bad counts', async () => {
  const t = term();
  const d = mkdtempSync(join(tmpdir(), 'kho-head-'));
  writeFileSync(join(d, 'f'), 'a\nb\nc\n');
  const f = join(d, 'f');
  assert.equal((await t.run(`head -n 2 ${f}`)).out, 'a\nb\n');
  assert.equal((await t.run(`tail -n 1 ${f}`)).out, 'c\n');
  assert.equal((await t.run(`head -c 3 ${f}`)).out, 'a\nb');
  for (const args of [
    ['-n', '1', f, f],
    ['-c', '2', f],
  ]) {
    const want = spawnSync('head', args, { encoding: 'utf8' });
    assert.equal((await t.run(`head ${args.join(' ')}`)).out, want.stdout);
  }
  assert.equal((await t.run(`head -n x ${f}`)).err, "head: invalid number of lines: 'x'\n");
  assert.equal((await t.run('dmesg | head -n 1')).out.split('\n').length, 2);
});

test('modules across a kexec: test_kho restores', async () => {
  const t = term({ mem: '4G' });
  assert.equal((await t.run('modprobe test_kho max_mem=1048576')).status, 0);
  assert.match((await t.run('lsmod')).out, /^test_kho +16384 +0$/m);
  assert.equal((await t.run('ls /sys/kernel/debug/kho/out/sub_fdts')).status, 0);
  assert.equal((await t.run('kexec -l /boot/vmlinuz --reuse-cmdline -s')).status, 0);
  assert.equal((await t.run('kexec -e')).status, 0);
  assert.equal((await t.run('lsmod')).out, 'Module                  Size  Used by\n');
  assert.equal((await t.run('modprobe test_kho')).status, 0);
  assert.equal((await t.run('dmesg | grep -c "test_kho: KHO restore succeeded"')).out, '1\n');
  const r = await t.run('rmmod test_kho; rmmod test_kho');
  assert.equal(r.err, 'rmmod: ERROR: Module test_kho is not currently loaded\n');
});

test('pathname expansion over machine and host paths, bash rules', async () => {
  const d = mkdtempSync(join(tmpdir(), 'kho-glob-'));
  for (const n of ['b.txt', 'a.txt', '.hidden', 'c.bin']) writeFileSync(join(d, n), '');
  const t = term({}, d);
  assert.equal(
    (await t.run('echo /sys/kernel/debug/kho/out/scratch_*')).out,
    '/sys/kernel/debug/kho/out/scratch_len /sys/kernel/debug/kho/out/scratch_phys\n',
  );
  assert.equal((await t.run('echo *.txt')).out, 'a.txt b.txt\n');
  assert.equal((await t.run('echo ?.bin .h*')).out, 'c.bin .hidden\n');
  assert.equal((await t.run('echo *')).out, 'a.txt b.txt c.bin\n');
  assert.equal((await t.run('echo /nope/* "*" x\\*')).out, '/nope/* * x*\n');
  const want = spawnSync('bash', ['-c', `cd ${d}; echo * ?.bin .h* /nope/*`], { encoding: 'utf8' }).stdout;
  assert.equal((await t.run('echo * ?.bin .h* /nope/*')).out, want);
  assert.equal((await t.run('cat /proc/cmd*')).out, 'kho=on\n');
});

test('ls -l / -la of a host directory matches coreutils', async () => {
  const d = mkdtempSync(join(tmpdir(), 'kho-lsl-'));
  writeFileSync(join(d, 'file'), 'x'.repeat(1234));
  writeFileSync(join(d, '.dot'), '');
  spawnSync('mkdir', [join(d, 'sub')]);
  spawnSync('ln', ['-s', 'file', join(d, 'link')]);
  const t = term();
  for (const flags of ['-l', '-la', '-1', '-a']) {
    const want = spawnSync('ls', [flags, d], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
    }).stdout;
    assert.equal((await t.run(`ls ${flags} ${d}`)).out, want, flags);
  }
});
