/**
 * A module file reaches a kernel three ways (insmod, --module, /etc/modules-load.d), and each
 * way works across a kexec; hostile files loaded with insmod leave the machine usable.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { insertModule } from '../../src/kernel/module.ts';
import { openModuleFile } from '../../src/kernel/loadable/load.ts';
import { term } from '../shell/helpers.ts';
import { moduleDir, moduleFile } from './helpers.ts';

const CMD = 'console=ttyS0 kho=on kho_scratch=64M,64M,32M';
const KEXEC = 'kexec -l /boot/vmlinuz --reuse-cmdline -s && kexec -e > /dev/null';

/** A consumer that counts the kernels it ran in through a preserved page (and logs the count). */
const COUNTER = `import { ERRNO, addSubtree, allocPreserve, defineModule, physReadU32, physWriteU32, prInfo, restoreFree, retrieveSubtree } from 'kho';
export default defineModule({
  name: 'counter',
  params: { step: { type: 'uint', default: 1 } },
  init(k, p) {
    let n = 0;
    const t = retrieveSubtree(k, 'counter');
    if (t.err === 0) {
      n = physReadU32(k, t.phys);
      restoreFree(k, t.phys);
    } else if (t.err !== -ERRNO.ENOENT) return t.err;
    const page = allocPreserve(k, 4);
    if (page < 0) return page;
    physWriteU32(k, page, n + p.step);
    prInfo(k, \`count \${n + p.step}\`);
    return addSubtree(k, 'counter', page, 4);
  },
});
`;

async function counts(t: ReturnType<typeof term>): Promise<string[]> {
  const r = await t.run('dmesg');
  return [...r.out.matchAll(/counter: count (\d+)/g)].map((m) => m[1]!);
}

describe('three ways to load a module file, each across a kexec', () => {
  it('insmod (again after the kexec, as user space would)', async () => {
    const f = moduleFile(COUNTER);
    const t = term({ cmdline: CMD });
    assert.deepEqual(await t.run(`insmod ${f} step=5`), { status: 0, out: '', err: '' });
    assert.match((await t.run('lsmod')).out, /^counter +16384 +0$/m);
    assert.equal((await t.run(KEXEC)).status, 0);
    assert.deepEqual(await counts(t), [], 'a successor runs only what it is told to run');
    assert.equal((await t.run(`insmod ${f} step=5`)).status, 0);
    assert.deepEqual(await counts(t), ['10']);
    assert.equal(
      (await t.run('rmmod counter')).err,
      "rmmod: ERROR: could not remove 'counter': Device or resource busy\n",
    );
  });

  it('--module (built in: runs in every generation)', async () => {
    const f = moduleFile(COUNTER);
    const t = term({ cmdline: `${CMD} counter.step=2`, module: [f] });
    assert.deepEqual(await counts(t), ['2']);
    await t.run(KEXEC);
    assert.deepEqual(await counts(t), ['4']);
    await t.run(KEXEC);
    assert.deepEqual(await counts(t), ['6']);
  });

  it('/etc/modules-load.d on the machine disk (with options from /etc/modprobe.d)', async () => {
    const dir = moduleDir({ 'counter.ts': COUNTER });
    const t = term({ cmdline: CMD }, dir);
    assert.equal((await t.run('echo ~/counter.ts > /etc/modules-load.d/counter.conf')).status, 0);
    assert.equal((await t.run('echo options counter step=3 >> /etc/modprobe.d/counter.conf')).status, 0);
    assert.equal((await t.run('cat /etc/modules-load.d/counter.conf')).out, `${dir}/counter.ts\n`);
    assert.deepEqual(await counts(t), [], 'not loaded before the next boot');
    await t.run(KEXEC);
    assert.deepEqual(await counts(t), ['3']);
    await t.run(KEXEC);
    assert.deepEqual(await counts(t), ['6']);
    assert.equal((await t.run('reboot > /dev/null')).status, 0);
    assert.deepEqual(await counts(t), ['3'], 'the disk survives a reboot; memory does not');
    for (const p of ['~/missing.ts', '/nowhere/x.ts', '~/../x.ts'])
      await t.run(`echo ${p} >> /etc/modules-load.d/counter.conf`);
    await t.run(KEXEC);
    const dmesg = (await t.run('dmesg')).out;
    assert.match(
      dmesg,
      /systemd-modules-load: Failed to insert module '.*\/missing\.ts': No such file or directory\n/,
    );
    // Outside the host directory (docs/shell.md): the same check as `cat`'s.
    assert.match(
      dmesg,
      /systemd-modules-load: Failed to insert module '\/nowhere\/x\.ts': Permission denied\n/,
    );
    assert.match(
      dmesg,
      /systemd-modules-load: Failed to insert module '.*\/\.\.\/x\.ts': Permission denied\n/,
    );
    assert.deepEqual(await counts(t), ['6'], 'a bad entry does not stop the others');
  });

  it('kho run --module on the command line', () => {
    const f = moduleFile(COUNTER);
    const r = spawnSync(
      process.execPath,
      ['src/cli/main.ts', 'run', '-q', '--mem', '2G', '--nodes', '1', '--cmdline', CMD, '--module', f, '-'],
      { encoding: 'utf8', input: `${KEXEC}\ndmesg | grep counter:\n` },
    );
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /counter: count 2\n$/);
    const bad = spawnSync(
      process.execPath,
      ['src/cli/main.ts', 'run', '--module', join(moduleDir({}), 'no.ts'), '-'],
      {
        encoding: 'utf8',
        input: '',
      },
    );
    assert.equal(bad.status, 2);
    assert.match(
      bad.stderr,
      /^kho run: --module: could not load module .*no\.ts: No such file or directory\n$/,
    );
  });
});

describe('insmod of hostile files: a clear message, the machine goes on', () => {
  const cases: [string, string, RegExp][] = [
    [
      'a syntax error',
      'export default { name: "x", init() { return 0 }\n',
      /^insmod: ERROR: could not insert module \S+: Invalid module format \(mod\.ts:\d+(:\d+)?: .+\)\n$/,
    ],
    [
      'a wrong export',
      'export default function init() { return 0; }\n',
      /^insmod: ERROR: could not insert module \S+: Invalid module format \(mod\.ts: the default export is function; export default defineModule\(\{ name, init \}\)\)\n$/,
    ],
    [
      'a throw in init',
      'function setup(): number { throw new RangeError("too big"); }\nexport default { name: "thrower", init: () => setup() };\n',
      /^insmod: ERROR: could not insert module \S+: init threw RangeError: too big in setup \(mod\.ts:1\)\n$/,
    ],
    ['a bad parameter value', COUNTER, /^insmod: ERROR: could not insert module \S+: Invalid parameters\n$/],
  ];
  for (const [what, src, msg] of cases) {
    it(what, async () => {
      const t = term({ cmdline: CMD });
      const f = moduleFile(src);
      const arg = what === 'a bad parameter value' ? ' step=x' : '';
      const r = await t.run(`insmod ${f}${arg}`);
      assert.equal(r.status, 1);
      assert.match(r.err, msg);
      assert.doesNotMatch(r.err, /ERR_| {4}at |file:\/\//);
      assert.equal((await t.run('lsmod')).out, 'Module                  Size  Used by\n');
      assert.equal((await t.run(KEXEC)).status, 0, 'the machine still kexecs');
    });
  }

  it('an unknown parameter is ignored with the kernel line (unknown_module_param_cb)', async () => {
    const t = term({ cmdline: CMD });
    const r = await t.run(`insmod ${moduleFile(COUNTER)} bogus=1`);
    assert.equal(r.status, 0, r.err);
    assert.match((await t.run('dmesg')).out, /\] \S+: unknown parameter 'bogus' ignored\n/);
    assert.notEqual((await t.run('lsmod')).out, 'Module                  Size  Used by\n');
  });

  it('usage errors are kmod’s', async () => {
    const t = term({ cmdline: CMD });
    assert.equal((await t.run('insmod')).err, 'insmod: ERROR: missing filename.\n');
    assert.equal(
      (await t.run('insmod -')).err,
      'insmod: ERROR: this tool does not support loading from stdin!\n',
    );
    assert.equal(
      (await t.run('insmod /tmp/kho-nope/x.ts')).err,
      'insmod: ERROR: could not load module /tmp/kho-nope/x.ts: No such file or directory\n',
    );
    assert.equal((await t.run('insmod -z x.ts')).err, "insmod: invalid option -- 'z'\n");
  });

  it('a long init that polls signalPending stops on Ctrl-C with -EINTR', () => {
    const f = openModuleFile(
      moduleFile(`import { ERRNO, defineModule, signalPending } from 'kho';
export default defineModule({ name: 'poller', init(k) { for (;;) if (signalPending(k)) return -ERRNO.EINTR; } });
`),
    );
    const t = term({ cmdline: CMD });
    const k = t.session.kernel;
    k.machine.interrupt.raise();
    assert.equal(insertModule(k, f.module), -4);
    k.machine.interrupt.clear();
  });
});
