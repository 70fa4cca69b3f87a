/**
 * Streaming pipelines (a finished reader stops its writer), grep's POSIX regular expressions
 * against GNU grep, wc/head/tail against coreutils, and the small system commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { term } from './helpers.ts';
import { compile } from '../../src/shell/posix-regex.ts';

const LINES = [
  'a',
  'ab',
  'abc',
  'aab',
  'ba',
  'xyz',
  'a.b',
  'a*b',
  'foo bar',
  'foobar',
  'bar foo',
  '',
  'AbC',
  '123',
  'a1b2',
  'hello world',
  'x(y)z',
  'a{1}b',
  '[x]',
  'tab\there',
  'aaaa',
  'abab',
  'KHO: x',
  'kho: y',
];

/** [pattern, grep flags] pairs, each compared with GNU grep on LINES. */
const GREP_CASES: [string, string[]][] = [
  ['a', []],
  ['^a', []],
  ['b$', []],
  ['a.b', []],
  ['a\\.b', []],
  ['a*b', []],
  ['^a*$', []],
  ['ab*c', []],
  ['a\\+b', []],
  ['a\\?b', []],
  ['a\\|x', []],
  ['\\(ab\\)*', []],
  ['\\(ab\\)\\{2\\}', []],
  ['a\\{2,\\}', []],
  ['[abc]', []],
  ['[^abc]', []],
  ['[a-c]\\{3\\}', []],
  ['[[:digit:]]', []],
  ['[[:upper:]]', []],
  ['\\<foo', []],
  ['bar\\>', []],
  ['\\bfoo\\b', []],
  ['\\Bo', []],
  ['\\w\\+', ['-o']],
  ['x\\W', []],
  ['*a', []],
  ['a\\{1\\}b', []],
  ['a{1}b', []],
  ['(y)', []],
  ['^$', []],
  ['(ab)+', ['-E']],
  ['a|x', ['-E']],
  ['a{2}', ['-E']],
  ['a{2,3}', ['-E']],
  ['^(a|b)*$', ['-E']],
  ['[a-z]+', ['-E', '-o']],
  ['a+', ['-E', '-o', '-n']],
  ['(a|ab)(c|bcd)', ['-E', '-o']],
  ['kho', ['-i']],
  ['ABC', ['-i']],
  ['foo', ['-w']],
  ['a', ['-x']],
  ['ab', ['-c']],
  ['a', ['-v']],
  ['o', ['-on']],
  ['x(y', ['-E']],
  ['a)', ['-E']],
  ['a{1', ['-E']],
  ['[]x]', []],
  ['[^]x]', []],
  ['\\s', []],
  ['\\S\\+', ['-o']],
  ['a\\|b\\|c', ['-c']],
  ['.', ['-c']],
  ['', ['-c']],
  ['(a|)b', ['-E', '-o']],
  ['a.b', ['-F']],
  ['*', ['-F', '-n']],
  ['(', ['-E']],
  ['\\(', []],
  ['a\\{1,0\\}', []],
  ['[[:nope:]]', []],
  ['[b-a]', []],
  ['x\\', []],
  ['a\\{99999\\}', []],
  ['+a', ['-E']],
];

test('grep matches as GNU grep 3.8 does, messages and statuses included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kho-grep-'));
  const file = join(dir, 'lines');
  writeFileSync(file, `${LINES.join('\n')}\n`);
  const t = term({}, dir);
  const diffs: string[] = [];
  for (const [pat, flags] of GREP_CASES) {
    const real = spawnSync('grep', [...flags, '--', pat, 'lines'], {
      cwd: dir,
      encoding: 'utf8',
      env: { LC_ALL: 'C' },
    });
    const quoted = `'${pat.replace(/'/g, "'\\''")}'`;
    const ours = await t.run(`grep ${flags.join(' ')} -- ${quoted} lines`);
    const want = { status: real.status, out: real.stdout, err: real.stderr };
    if (JSON.stringify(ours) !== JSON.stringify(want))
      diffs.push(
        `grep ${flags.join(' ')} ${pat}\n  kho:  ${JSON.stringify(ours)}\n  grep: ${JSON.stringify(want)}`,
      );
  }
  assert.deepEqual(diffs, []);
  // Several files, -H/-h/-l/-q/-s, a missing file.
  for (const cmd of [
    'grep -H ab lines',
    'grep ab lines lines',
    'grep -h ab lines lines',
    'grep -l ab lines nope',
    'grep -qs ab nope lines',
    'grep -c zzz lines nope',
  ]) {
    const real = spawnSync('bash', ['--norc', '-c', cmd], {
      cwd: dir,
      encoding: 'utf8',
      env: { LC_ALL: 'C', PATH: process.env['PATH'] },
    });
    assert.deepEqual(await t.run(cmd), { status: real.status, out: real.stdout, err: real.stderr }, cmd);
  }
});

test('grep runs in linear time: nested quantifiers on a long line return at once', () => {
  // A backtracking engine needs about 2^40 steps for this line; the NFA needs 40 × |pattern|.
  const re = compile(['(a+)+$'], { extended: true, ignoreCase: false });
  assert.equal(re.test(`${'a'.repeat(40)}!`), false);
  assert.equal(re.test('a'.repeat(40)), true);
  const re2 = compile(['\\(a*\\)*b'], { extended: false, ignoreCase: false });
  assert.equal(re2.test('a'.repeat(5000)), false);
  assert.deepEqual(re2.exec(`${'a'.repeat(50)}b`), [0, 51]);
});

test('pipelines stream: a finished reader stops the writer', async () => {
  const t = term({ mem: '16G', nodes: '2' });
  const h = await t.run('hexdump -v /dev/mem | head -n 2');
  assert.deepEqual(h, {
    status: 0,
    out: '0000000 0000 0000 0000 0000 0000 0000 0000 0000\n0000010 0000 0000 0000 0000 0000 0000 0000 0000\n',
    err: '',
  });
  assert.equal((await t.run('cat /dev/mem | head -c 20 | wc -c')).out, '20\n');
  assert.equal((await t.run('while true; do echo y; done | head -n 3')).out, 'y\ny\ny\n');
  // The writer's status is SIGPIPE's (141), as bash reports it; the pipeline's is the last one's.
  assert.equal((await t.run('hexdump -C /dev/mem | true; echo $?')).out, '0\n');
  assert.equal((await t.run('dmesg | grep -m1 x 2>&1 | head -n 1')).status, 0);
});

test('wc, head and tail read streams as coreutils does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kho-wc-'));
  writeFileSync(join(dir, 'f'), 'one two\nthree\n\nfour five six');
  writeFileSync(join(dir, 'g'), 'x\n');
  const t = term({}, dir);
  for (const cmd of [
    'wc f',
    'wc -l f',
    'wc -w f g',
    'wc -lc f g',
    'cat f | wc',
    'cat f | wc -l',
    'wc f nope',
    'tail -n 2 f',
    'cat f | tail -n 1',
    'cat f | tail -c 5',
    'head -n 1 f g',
    'cat f | head -c 3',
    'tail -n 0 f',
  ]) {
    const real = spawnSync('bash', ['--norc', '-c', cmd], {
      cwd: dir,
      encoding: 'utf8',
      env: { LC_ALL: 'C', PATH: process.env['PATH'] },
    });
    assert.deepEqual(await t.run(cmd), { status: real.status, out: real.stdout, err: real.stderr }, cmd);
  }
});

test('uname, /proc/version, /sys/kernel/kexec_loaded, help NAME, clear, sleep', async () => {
  const t = term();
  const rel = t.session.kernel.release;
  const version = '#1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2026';
  assert.equal((await t.run('uname')).out, 'Linux\n');
  assert.equal((await t.run('uname -r')).out, `${rel}\n`);
  assert.equal((await t.run('uname -a')).out, `Linux kho ${rel} ${version} x86_64 GNU/Linux\n`);
  assert.equal(
    (await t.run('uname -snrvmpio')).out,
    `Linux kho ${rel} ${version} x86_64 unknown unknown GNU/Linux\n`,
  );
  assert.equal(
    (await t.run('cat /proc/version')).out,
    `Linux version ${rel} (kho@sim) (gcc (GCC) 14.2.0, GNU ld 2.43) ${version}\n`,
  );
  assert.equal((await t.run('cat /sys/kernel/kexec_loaded /sys/kernel/kexec_crash_loaded')).out, '0\n0\n');
  assert.equal((await t.run('kexec -l /boot/vmlinuz --reuse-cmdline -s')).status, 0);
  assert.equal((await t.run('cat /sys/kernel/kexec_loaded')).out, '1\n');
  assert.equal((await t.run('kexec -u; cat /sys/kernel/kexec_loaded')).out, '0\n');
  assert.equal(
    (await t.run('echo 1 > /sys/kernel/kexec_loaded')).err,
    '-bash: /sys/kernel/kexec_loaded: Permission denied\n',
  );
  const h = await t.run('help kexec');
  assert.match(h.out, /^kexec: kexec \[-l IMAGE/);
  assert.deepEqual(await t.run('help nosuch'), {
    status: 1,
    out: '',
    err: "-bash: help: no help topics match `nosuch'.  Try `help help' or `man -k nosuch' or `info nosuch'.\n",
  });
  assert.equal((await t.run('clear')).out, '\x1b[H\x1b[2J\x1b[3J');
  assert.deepEqual(await t.run('sleep 0.01 0.01s; echo $?'), { status: 0, out: '0\n', err: '' });
  assert.deepEqual(await t.run('sleep'), {
    status: 1,
    out: '',
    err: "sleep: missing operand\nTry 'sleep --help' for more information.\n",
  });
  assert.equal(
    (await t.run('sleep 1x')).err,
    "sleep: invalid time interval '1x'\nTry 'sleep --help' for more information.\n",
  );
});

test('Ctrl-C (the machine interrupt flag) stops sleep and the rest of the line with status 130', async () => {
  const t = term();
  const timer = setTimeout(() => {
    t.session.machine.interrupt.raise();
  }, 100);
  const r = await t.run('sleep 30; echo never');
  clearTimeout(timer);
  t.session.machine.interrupt.clear();
  assert.deepEqual(r, { status: 130, out: '', err: '' });
  assert.equal((await t.run('echo $?')).out, '130\n');
});
