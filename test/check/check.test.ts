import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runCheck, type CheckOptions } from '../../src/check/engine.ts';
import { superviseCheck } from '../../src/check/supervise.ts';
import { PROFILE_NAMES } from '../../src/kernel/profile.ts';
import { EXAMPLES, lineOf, moduleFile } from '../loadable/helpers.ts';

const FORGETFUL = `${EXAMPLES}kho-forgetful.ts`;
const READ_AT = lineOf(FORGETFUL, 'physRead(k, phys,');
const ALLOC_AT = lineOf(FORGETFUL, 'allocPages(k,');

const BASE: Omit<CheckOptions, 'file'> = {
  generations: 2,
  profile: 'kho-v4',
  mem: 2 * 2 ** 30,
  nodes: 1,
  seed: 1,
  cmdline: 'console=ttyS0 kho=on kho_scratch=64M,64M,32M',
};

function check(file: string, o: Partial<CheckOptions> = {}) {
  return runCheck({ ...BASE, file, ...o });
}

describe('kho check on the examples', () => {
  for (const profile of PROFILE_NAMES) {
    it(`kho-table passes 10 generations on ${profile}`, () => {
      const r = check(`${EXAMPLES}kho-table.ts`, { generations: 10, profile });
      assert.equal(r.verdict, 'pass', JSON.stringify(r.generations.flatMap((g) => g.findings)));
      assert.equal(r.generations.length, 11);
      for (const g of r.generations.slice(1)) {
        assert.equal(g.init, 0);
        assert.deepEqual(g.retrieved, ['kho_table']);
        assert.equal(g.restored.pages, 18, 'four order-2 folios, the table page and the header');
        assert.ok(g.dmesg.some((l) => l.endsWith('kho_table: restored 4 folios, checksum ok')));
      }
      assert.deepEqual(r.generations[0]!.preserved, { blocks: 6, pages: 18, bytes: 18 * 4096 });
    });
  }

  it('kho-forgetful fails: the unpreserved page, the function that read it, its history', () => {
    const r = check(FORGETFUL);
    assert.equal(r.verdict, 'fail');
    const f = r.generations[1]!.findings;
    assert.equal(f.length, 1);
    assert.equal(f[0]!.kind, 'unpreserved-read');
    assert.equal(f[0]!.function, `read_message (kho-forgetful.ts:${READ_AT})`);
    assert.ok(f[0]!.phys > 0);
    assert.match(
      f[0]!.message,
      new RegExp(`read 0x${f[0]!.phys.toString(16)}, a page the previous kernel did not preserve`),
    );
    assert.equal(
      f[0]!.history[0],
      `gen 0: allocated by save_message (kho-forgetful.ts:${ALLOC_AT}) [kho_forgetful]`,
    );
    assert.equal(r.errors, 2);
  });

  for (const profile of PROFILE_NAMES) {
    it(`luo-device passes 10 generations on ${profile}: the registers and the position cross`, () => {
      const r = check(`${EXAMPLES}luo-device.ts`, { generations: 10, profile });
      assert.equal(r.verdict, 'pass', JSON.stringify(r.generations.flatMap((g) => g.findings)));
      assert.match(r.machine.cmdline, / liveupdate=on$/);
      for (const g of r.generations) {
        const n = g.gen + 1;
        assert.deepEqual(g.userspace, [`boot ${n}: the device's registers crossed ${g.gen} kexec(s)`]);
        if (g.gen === 0) continue;
        assert.deepEqual(g.restored, { blocks: 2, pages: 2, bytes: 8192 }, 'the registers and the ser page');
        assert.ok(g.dmesg.some((l) => l.endsWith('luo_device: retrieved a file, position 8')));
      }
      assert.deepEqual(r.generations[0]!.preserved, { blocks: 2, pages: 2, bytes: 8192 });
    });
  }

  it('luo-device without preserving its registers fails where retrieve restores them', () => {
    const src = readFileSync(`${EXAMPLES}luo-device.ts`, 'utf8');
    const broken = src.replace('const rc = preserveFolio(k, folio);', 'const rc = 0;');
    assert.notEqual(broken, src);
    const file = moduleFile(broken, 'luo-device.ts');
    const r = check(file);
    assert.equal(r.verdict, 'fail');
    const f = r.generations[1]!.findings;
    const lost = f.find((x) => x.kind === 'restore-failed');
    assert.equal(
      lost?.function,
      `retrieve (luo-device.ts:${lineOf(file, 'restoreFolio(k, physReadU64(k, ser))')})`,
    );
    assert.equal(
      lost.history[0],
      `gen 0: allocated by regs (luo-device.ts:${lineOf(file, 'folioAlloc(')}) [luo_device]`,
    );
    assert.ok(f.some((x) => x.kind === 'userspace-failed' && /exited with status 1$/.test(x.message)));
  });
});

describe('kho check findings', () => {
  const mod = (name: string, body: string): string =>
    moduleFile(`import * as K from 'kho';
import { defineModule, type ModuleKernel } from 'kho';
${body}
export default defineModule({ name: '${name}', init });
`);

  it('a preserved page freed before the jump, with who preserved and who freed it', () => {
    const r = check(
      mod(
        'freer',
        `function drop(k: ModuleKernel, f: K.Folio) { K.folioPut(k, f); }
function init(k: ModuleKernel): number {
  const f = K.folioAlloc(k, K.GFP_KERNEL, 0)!;
  K.preserveFolio(k, f);
  drop(k, f);
  return 0;
}`,
      ),
      { generations: 1 },
    );
    const f = r.generations[0]!.findings.find((x) => x.kind === 'preserved-freed')!;
    assert.equal(f.function, 'drop (mod.ts:3)');
    assert.deepEqual(
      f.history.map((h) => h.replace(/ \(mod\.ts:\d+\)/, '')),
      [
        'gen 0: allocated by init [freer]',
        'gen 0: preserved by init [freer]',
        'gen 0: freed by drop [freer]',
      ],
    );
    assert.equal(r.verdict, 'fail');
  });

  it('a page restored twice and a page that was never preserved', () => {
    const r = check(
      mod(
        'twice',
        `function init(k: ModuleKernel): number {
  const t = K.retrieveSubtree(k, 'twice');
  if (t.err === 0) {
    const p = K.physReadU64(k, t.phys);
    K.restoreFolio(k, p);
    K.restoreFolio(k, p);
    K.restoreFolio(k, p + 4096 * 64);
  }
  const f = K.folioAlloc(k, K.GFP_KERNEL, 0)!;
  K.preserveFolio(k, f);
  const h = K.allocPreserve(k, 8);
  K.physWriteU64(k, h, K.folioPhys(f));
  return K.addSubtree(k, 'twice', h, 8);
}`,
      ),
      { generations: 1 },
    );
    const kinds = r.generations[1]!.findings.map((x) => [x.kind, x.function]);
    assert.deepEqual(kinds.slice(0, 2), [
      ['restored-twice', 'init (mod.ts:8)'],
      ['restore-failed', 'init (mod.ts:9)'],
    ]);
  });

  it('a sub-tree name that changed between generations', () => {
    const r = check(
      mod(
        'renamer',
        `function init(k: ModuleKernel): number {
  const name = \`renamer-v\${k.generation + 1}\`;
  K.retrieveSubtree(k, name);
  const h = K.allocPreserve(k, 8);
  return K.addSubtree(k, name, h, 8);
}`,
      ),
      { generations: 1 },
    );
    const f = r.generations[1]!.findings.find((x) => x.kind === 'subtree-missing')!;
    assert.equal(
      f.message,
      "init (mod.ts:5) looked for sub-tree 'renamer-v2' (ENOENT); generation 0 handed over 'renamer-v1'",
    );
  });

  it('an init that fails, and a module file that cannot be loaded', () => {
    const r = check(mod('failing', 'function init(): number { return -K.ERRNO.ENOMEM; }'), {
      generations: 1,
    });
    assert.deepEqual(
      r.generations[0]!.findings.map((f) => f.message),
      ['init returned -12 (-ENOMEM)'],
    );
    const bad = check(moduleFile('export default 3;\n'));
    assert.equal(bad.verdict, 'fail');
    assert.match(bad.stopped!, /^could not load module .*mod\.ts: mod\.ts: the default export is number/);
    assert.equal(bad.generations.length, 0);
  });
});

describe('kho check in a worker under the watchdog', () => {
  it('a clean module passes through the worker', async () => {
    const r = await superviseCheck({ ...BASE, file: `${EXAMPLES}kho-table.ts`, generations: 1, timeout: 60 });
    assert.equal(r.verdict, 'pass');
    assert.equal(r.generations.length, 2);
  });

  it('a module that never returns is a soft lockup within the timeout', async () => {
    const f = moduleFile(`import { defineModule, prInfo } from 'kho';
export default defineModule({
  name: 'spinner',
  init(k) {
    if (k.generation === 1) for (;;) {}
    prInfo(k, 'first boot is fine');
    return 0;
  },
});
`);
    const t0 = performance.now();
    const r = await superviseCheck({ ...BASE, file: f, generations: 3, timeout: 2 });
    const secs = (performance.now() - t0) / 1000;
    assert.equal(r.verdict, 'hung');
    assert.deepEqual(r.hung, [
      'watchdog: BUG: soft lockup - CPU#0 stuck for 2s! [swapper/0:1]',
      'Modules linked in: spinner',
      'spinner: init did not return in generation 1',
    ]);
    assert.equal(r.generations.length, 1, 'generation 0 finished');
    assert.ok(secs < 20, `took ${secs} s`);
  });

  it('user space that never returns is hung too, without a soft lockup (a spinning process locks no CPU up)', async () => {
    const f = moduleFile(`import { defineModule } from 'kho';
export default defineModule({ name: 'spinuser', init: () => 0, userspace: () => { for (;;) {} } });
`);
    const r = await superviseCheck({ ...BASE, file: f, generations: 1, timeout: 2 });
    assert.equal(r.verdict, 'hung');
    assert.deepEqual(r.hung, ['spinuser: userspace did not return in generation 0']);
    assert.equal(r.machine.cmdline, `${BASE.cmdline} liveupdate=on`);
  });
});
