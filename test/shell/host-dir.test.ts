/**
 * The shell's host directory (src/util/host-dir.ts, docs/shell.md): every tool that reads or
 * writes host files fails with `Permission denied` outside it, through `..` and through a
 * symlink that points out, and writes nothing there; `--no-host` reaches no host file; `kho
 * serve` uses none unless asked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { term } from './helpers.ts';

const KHO = '/sys/kernel/debug/kho';

/** A host directory `host` beside a directory `outside` with a file and an empty one. */
function layout(): { root: string; host: string; outside: string } {
  const root = mkdtempSync(join(tmpdir(), 'kho-hostdir-'));
  const host = join(root, 'host');
  const outside = join(root, 'outside');
  mkdirSync(host);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret\n');
  writeFileSync(join(outside, 'empty'), '');
  symlinkSync(join(outside, 'secret'), join(host, 'link'));
  symlinkSync(join(outside, 'empty'), join(host, 'empty-link'));
  symlinkSync(outside, join(host, 'dirlink'));
  symlinkSync(join(outside, 'new'), join(host, 'dangling'));
  return { root, host, outside };
}

/** What `outside` holds: names and contents (it must not change). */
function snapshot(dir: string): string {
  return readdirSync(dir)
    .sort()
    .map((n) => `${n}=${readFileSync(join(dir, n), 'utf8')}`)
    .join('|');
}

test('outside the host directory, through .. and through a symlink: Permission denied, nothing written', async (t) => {
  const { root, host, outside } = layout();
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const before = snapshot(outside);
  const sh = term({ mem: '1G', profile: 'kho-v1' }, host);
  assert.equal((await sh.run(`echo 1 > ${KHO}/out/finalize`)).status, 0);
  const targets = {
    absolute: `${outside}/new`,
    dotdot: '../outside/new',
    'dotdot inside a path': 'dirlink/../../outside/new',
    'file link': 'link',
    'empty file link': 'empty-link',
    'directory link': 'dirlink/new',
    'dangling link': 'dangling',
  };
  for (const [how, p] of Object.entries(targets)) {
    const cases: [string, string][] = [
      [
        `cp /proc/cmdline ${p}`,
        `cp: cannot ${how === 'dangling link' ? 'create regular file' : 'stat'} '${p}': Permission denied\n`,
      ],
      [
        `dtc -I dtb -O dts -o ${p} ${KHO}/out/fdt`,
        `FATAL ERROR: Couldn't open output file ${p}: Permission denied\n`,
      ],
      [`dump-memory ${p}`, `dump-memory: ${p}: Permission denied\n`],
      [`echo x > ${p}`, `-bash: ${p}: Permission denied\n`],
      [`echo x >> ${p}`, `-bash: ${p}: Permission denied\n`],
    ];
    if (how !== 'dangling link' && !p.endsWith('new')) {
      // Reads of files that exist outside.
      cases.push(
        [`cat ${p}`, `cat: ${p}: Permission denied\n`],
        [`kexec -l ${p} -s`, `Cannot open \`${p}': Permission denied\n`],
        [`insmod ${p}`, `insmod: ERROR: could not load module ${p}: Permission denied\n`],
        [`hexdump -C ${p}`, `hexdump: ${p}: Permission denied\nhexdump: all input file arguments failed\n`],
      );
    }
    for (const [cmd, err] of cases) {
      const r = await sh.run(cmd);
      assert.deepEqual(r, { status: 1, out: '', err }, `${how}: ${cmd}`);
    }
  }
  for (const p of [`${outside}/secret`, '../outside/secret', 'link', 'dirlink/secret']) {
    assert.equal((await sh.run(`cat ${p}`)).err, `cat: ${p}: Permission denied\n`, p);
    assert.equal((await sh.run(`kexec -l ${p} -s`)).err, `Cannot open \`${p}': Permission denied\n`, p);
  }
  assert.equal((await sh.run('cat /sys/kernel/kexec_loaded')).out, '0\n', 'nothing was loaded');
  assert.equal((await sh.run('ls dirlink')).err, "ls: cannot access 'dirlink': Permission denied\n");
  assert.equal((await sh.run('cd ../outside')).err, '-bash: cd: ../outside: Permission denied\n');
  // Above the host directory only the way down shows.
  assert.equal((await sh.run(`ls ${root}`)).out, 'host\n');
  assert.equal(snapshot(outside), before, 'nothing outside changed');
  assert.deepEqual(readdirSync(host).sort(), ['dangling', 'dirlink', 'empty-link', 'link']);
  assert.equal(lstatSync(join(host, 'link')).isSymbolicLink(), true);
});

test('inside the host directory: regular files only, links that stay inside, no hard-linked files', async (t) => {
  const { root, host } = layout();
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  writeFileSync(join(host, 'mine'), 'mine\n');
  symlinkSync('mine', join(host, 'inner-link'));
  mkdirSync(join(host, 'sub'));
  const sh = term({ mem: '1G' }, host);
  assert.equal((await sh.run('cp /proc/cmdline sub/')).status, 0);
  assert.equal(readFileSync(join(host, 'sub', 'cmdline'), 'utf8'), 'kho=on\n');
  assert.deepEqual(await sh.run('echo a > inner-link; echo b >> sub/../inner-link; cat mine'), {
    status: 0,
    out: 'a\nb\n',
    err: '',
  });
  assert.equal(lstatSync(join(host, 'inner-link')).isSymbolicLink(), true, 'the link stays a link');
  assert.equal((await sh.run('echo x > sub')).err, '-bash: sub: Is a directory\n');
  linkSync(join(host, 'mine'), join(host, 'hard'));
  assert.equal((await sh.run('echo x > hard')).err, '-bash: hard: Permission denied\n');
  assert.equal(readFileSync(join(host, 'mine'), 'utf8'), 'a\nb\n');
  if (spawnSync('mkfifo', [join(host, 'fifo')]).status === 0) {
    // A FIFO would block the machine: neither read nor written.
    assert.equal((await sh.run('cat fifo')).err, 'cat: fifo: Permission denied\n');
    assert.equal((await sh.run('echo x > fifo')).err, '-bash: fifo: Permission denied\n');
  }
});

test('--no-host: home is an empty /root and no host file is reached', async () => {
  const sh = term({ mem: '1G' }, null);
  assert.deepEqual(await sh.run('pwd; ls -A ~'), { status: 0, out: '/root\n', err: '' });
  assert.equal((await sh.run('cat /etc/hostname /tmp')).err.split('\n').length, 3);
  assert.equal(
    (await sh.run(`cat ${process.cwd()}/package.json`)).err,
    `cat: ${process.cwd()}/package.json: Permission denied\n`,
  );
  assert.equal(
    (await sh.run('cp /proc/cmdline ~/x')).err,
    "cp: cannot create regular file '/root/x': Permission denied\n",
  );
  assert.equal((await sh.run('echo x > ~/x')).err, '-bash: /root/x: Permission denied\n');
  assert.equal((await sh.run('dump-memory ~/m')).err, 'dump-memory: /root/m: Permission denied\n');
  assert.equal(
    (await sh.run('insmod /tmp/m.ts')).err,
    'insmod: ERROR: could not load module /tmp/m.ts: Permission denied\n',
  );
  // The machine's own files are all there.
  assert.equal((await sh.run('cat /proc/cmdline')).out, 'kho=on\n');
});

const kho = (args: string[], input = '') =>
  spawnSync(process.execPath, ['src/cli/main.ts', ...args], { encoding: 'utf8', input });

test('kho run and kho shell take --host-dir and --no-host; kho serve uses no host directory unless asked', (t) => {
  const { root, host, outside } = layout();
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const machine = ['--mem', '1G', '--nodes', '1'];
  let r = kho(['run', '-q', ...machine, '--host-dir', host, '-'], 'pwd\ncp /proc/cmdline x\n');
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, `${host}\n`, '']);
  assert.equal(readFileSync(join(host, 'x'), 'utf8'), 'kho=on\n');
  r = kho(['run', '-q', ...machine, '--host-dir', host, '-'], 'cat ../outside/secret\n');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^cat: \.\.\/outside\/secret: Permission denied\n/);
  r = kho(['run', '-q', ...machine, '--no-host', '-'], 'pwd\n');
  assert.deepEqual([r.status, r.stdout], [0, '/root\n']);
  r = kho(['shell', ...machine, '--host-dir', outside], 'pwd\n');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${outside}\n`);
  r = kho(['run', '--host-dir', join(root, 'nope'), '-']);
  assert.deepEqual(
    [r.status, r.stderr],
    [2, `kho run: --host-dir: ${join(root, 'nope')}: No such file or directory\n`],
  );
  r = kho(['shell', '--host-dir', join(outside, 'secret')]);
  assert.deepEqual(
    [r.status, r.stderr],
    [2, `kho shell: --host-dir: ${join(outside, 'secret')}: Not a directory\n`],
  );
  r = kho(['run', '--host-dir', host, '--no-host', '-']);
  assert.deepEqual([r.status, r.stderr], [2, 'kho run: --host-dir and --no-host exclude each other\n']);
  // kho serve says in its non-loopback warning what the terminal reaches (the address fails).
  const serve = ['serve', '--host', '192.0.2.1', '--port', '0', ...machine];
  r = kho(serve);
  assert.match(r.stderr, /use the terminal, which reaches no host files \(--no-host\)\n/);
  r = kho([...serve, '--host-dir', host]);
  assert.match(r.stderr, new RegExp(`use the terminal, which reads and writes the files in ${host} as `));
});
