import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BufferSink } from '../../src/shell/io.ts';
import { bootMachine, createSession, machineConfig } from '../../src/shell/machine-setup.ts';
import { runScript } from '../../src/shell/script.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** The KHO usage document's commands, verbatim (with the machine's own image and initrd). */
const USAGE_DOC = `# Documentation/admin-guide/mm/kho.rst, "Perform a KHO kexec"
echo 1 > /sys/kernel/debug/kho/out/finalize
cat /sys/kernel/debug/kho/out/fdt > /dev/null
ls /sys/kernel/debug/kho/out/sub_fdts/
# "Abort a KHO exec", then finalize again
echo 0 > /sys/kernel/debug/kho/out/active
cat /sys/kernel/debug/kho/out/finalize
echo 1 > /sys/kernel/debug/kho/out/finalize
cat /sys/kernel/debug/kho/out/scratch_len /sys/kernel/debug/kho/out/scratch_phys
kexec -l /boot/vmlinuz --initrd /boot/initrd.img -s
kexec -e
cat /sys/kernel/debug/kho/in/fdt > /dev/null
`;

async function run(script: string, profile?: string, cmdline?: string) {
  const cfg = machineConfig({
    mem: '2G',
    nodes: '1',
    ...(profile ? { profile } : {}),
    ...(cmdline ? { cmdline } : {}),
  });
  if (typeof cfg === 'string') throw new Error(cfg);
  const m = bootMachine(cfg);
  if (typeof m === 'string') throw new Error(m);
  const out = new BufferSink();
  const err = new BufferSink();
  const s = createSession(m, cfg, { stdout: out, stderr: err, home: '/tmp' });
  const r = await runScript(s, script, { transcript: out, errors: err, name: 'doc.sh' });
  return { ...r, out: out.text(), err: err.text(), session: s };
}

test('kho-v1: every command of the usage document works verbatim', async () => {
  // The document's kexec -l passes no command line: the successor boots without kho=on, so
  // give the machine KHO by default (as CONFIG_KEXEC_HANDOVER_ENABLE_DEFAULT would) by reusing it.
  const script = USAGE_DOC.replace('-s\n', '--reuse-cmdline -s\n');
  const r = await run(script, 'kho-v1');
  assert.equal(r.status, 0, r.err);
  assert.equal(r.failedLine, null);
  assert.match(r.out, /root@kho:~# echo 1 > \/sys\/kernel\/debug\/kho\/out\/finalize\n/);
  assert.match(r.out, /kexec_core: Starting new kernel/);
  assert.equal(r.session.kernel.kho.isKhoBoot(), true);
});

test('kho-v1: the verbatim document (no command line for the successor) still jumps', async () => {
  const r = await run(USAGE_DOC.replace(/cat \/sys\/kernel\/debug\/kho\/in\/fdt.*\n/, ''), 'kho-v1');
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /kexec_core: Starting new kernel/);
});

test('default profile (kho-v4): the document fails at finalize, with line and text on stderr', async () => {
  const r = await run(USAGE_DOC);
  assert.equal(r.status, 1);
  assert.equal(r.failedLine, 2);
  assert.equal(
    r.err,
    '-bash: line 2: /sys/kernel/debug/kho/out/finalize: Permission denied\n' +
      "kho run: doc.sh: line 2: `echo 1 > /sys/kernel/debug/kho/out/finalize' failed with status 1\n",
  );
  // Nothing after the failure ran.
  assert.doesNotMatch(r.out, /kexec/);
});

test('default profile: the document without the finalize/abort steps hands over', async () => {
  const script = USAGE_DOC.split('\n')
    .filter((l) => !/finalize|active/.test(l))
    .join('\n')
    .replace('-s\n', '--reuse-cmdline -s\n');
  const r = await run(script);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.session.kernel.kho.isKhoBoot(), true);
});

test('scripts: comments, continuation lines, || and && under set -e', async () => {
  const r = await run(
    "# c\n\nfalse || echo recovered\necho 'two\nlines' &&\n  echo next\nfalse && echo no\necho after\n",
  );
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /recovered\n/);
  assert.match(r.out, /two\nlines\nnext\n/);
  assert.match(r.out, /after\n/);
  const bad = await run('echo ok\ncat /nope\necho never\n');
  assert.equal(bad.failedLine, 2);
  assert.doesNotMatch(bad.out, /never/);
  const open = await run("echo 'unterminated\n");
  assert.equal(open.status, 2);
  assert.match(open.err, /unexpected EOF while looking for matching `''/);
});

test('kho run CLI: transcript, --quiet, stdin, exit statuses, bad options', () => {
  const node = process.execPath;
  const ok = spawnSync(node, [MAIN, 'run', '--mem', '2G', '--nodes', '1', '-'], {
    input: 'cat /proc/cmdline\nfoo\necho never\n',
    encoding: 'utf8',
  });
  assert.equal(ok.stdout, 'root@kho:~# cat /proc/cmdline\nkho=on\nroot@kho:~# foo\n');
  assert.equal(
    ok.stderr,
    "-bash: line 2: foo: command not found\nkho run: stdin: line 2: `foo' failed with status 127\n",
  );
  assert.equal(ok.status, 127);
  const q = spawnSync(
    node,
    [MAIN, 'run', '--quiet', '--mem', '2G', '--cmdline', 'kho=on kho_scratch=16M,64M,32M', '-'],
    {
      input: 'cat /proc/cmdline\n',
      encoding: 'utf8',
    },
  );
  assert.equal(q.stdout, 'kho=on kho_scratch=16M,64M,32M\n');
  assert.equal(q.status, 0);
  const badProfile = spawnSync(node, [MAIN, 'run', '--profile', 'kho-v9', '-'], {
    input: '',
    encoding: 'utf8',
  });
  assert.equal(badProfile.status, 2);
  assert.match(badProfile.stderr, /unknown profile "kho-v9"/);
  const missing = spawnSync(node, [MAIN, 'run', '/nonexistent.sh'], { encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.equal(missing.stderr, 'kho run: /nonexistent.sh: No such file or directory\n');
});

test('kho shell with piped stdin: output only, as bash reading a pipe; exit status', () => {
  const r = spawnSync(process.execPath, [MAIN, 'shell', '--mem', '2G', '--nodes', '1'], {
    input: "echo 'a\nb'\ncd /proc\nfalse\n",
    encoding: 'utf8',
  });
  assert.equal(r.stdout, 'a\nb\n');
  assert.equal(r.status, 1);
  // No final newline: the last line still runs (bash); the status is the last command's.
  const hi = spawnSync(process.execPath, [MAIN, 'shell', '--mem', '2G', '--nodes', '1'], {
    input: 'echo hi',
    encoding: 'utf8',
  });
  assert.deepEqual([hi.stdout, hi.stderr, hi.status], ['hi\n', '', 0]);
  // A syntax error ends a non-interactive shell with status 2, as bash reading a pipe does.
  const syn = spawnSync(process.execPath, [MAIN, 'shell', '--mem', '2G', '--nodes', '1'], {
    input: 'echo a\nfi\necho never',
    encoding: 'utf8',
  });
  assert.deepEqual(
    [syn.stdout, syn.stderr, syn.status],
    ['a\n', "-bash: line 2: syntax error near unexpected token `fi'\n-bash: line 2: `fi'\n", 2],
  );
  const bad = spawnSync(process.execPath, [MAIN, 'shell', '--mem', '3X'], { input: '', encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^kho shell: --mem: invalid size "3X"/);
});
