import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as api from '../../src/index.ts';
import { beginRun, ModuleKernel } from '../../src/kernel/loadable/handle.ts';
import { pageHistory } from '../../src/kernel/loadable/history.ts';
import { moduleFile } from './helpers.ts';

const { ERRNO } = api;
const CMD = 'console=ttyS0 kho=on kho_scratch=64M,64M,32M';

/** A booted machine and a handle for a test "module" (calls are not attributed to a function). */
function handle(): { m: api.Machine; k: ModuleKernel } {
  const m = api.createMachine({ mem: '2G', cmdline: CMD });
  api.boot(m);
  const kernel = m.kernel!;
  return { m, k: new ModuleKernel(kernel, beginRun(kernel, 'tester', null)) };
}

describe('the KHO API returns what the kernel returns', () => {
  it('errno results for bad calls, null for failed restores', () => {
    const { k } = handle();
    assert.equal(api.khoIsEnabled(k), true);
    assert.equal(api.isKhoBoot(k), false);
    assert.equal(api.preserveFolio(k, { pfn: -1, order: 0 }), -ERRNO.EINVAL);
    assert.equal(api.allocPreserve(k, 0), -ERRNO.EINVAL);
    assert.deepEqual(api.retrieveSubtree(k, 'nothing'), { err: -ERRNO.ENOENT, phys: 0, size: 0 });
    const blob = api.allocPreserve(k, 64);
    assert.ok(blob > 0);
    assert.equal(api.addSubtree(k, 'twice', blob, 64), 0);
    assert.equal(api.addSubtree(k, 'twice', blob, 64), -ERRNO.EEXIST);
    assert.equal(api.restoreFolio(k, blob), null, 'nothing to restore on a cold boot');
    assert.equal(api.preserveVmalloc(k, 12345, blob), -ERRNO.EINVAL, 'not a vmalloc address');
  });

  it('a folio preserved, handed over and restored; a second restore fails', () => {
    const { m, k } = handle();
    const f = api.folioAlloc(k, api.GFP_KERNEL, 3)!;
    api.physWriteU64(k, api.folioPhys(f) + 8, 0xdead_beef_cafe);
    assert.equal(api.preserveFolio(k, f), 0);
    const hdr = api.allocPreserve(k, 16);
    api.physWriteU64(k, hdr, api.folioPhys(f));
    assert.equal(api.addSubtree(k, 'one', hdr, 16), 0);
    api.kexec(m);
    const s = m.kernel!;
    const k2 = new ModuleKernel(s, beginRun(s, 'tester', null));
    assert.throws(() => api.khoIsEnabled(k), api.StaleHandleError, 'the old handle is stale');
    const found = api.retrieveSubtree(k2, 'one');
    assert.equal(found.err, 0);
    assert.equal(found.size, 16);
    const phys = api.physReadU64(k2, found.phys);
    const back = api.restoreFolio(k2, phys)!;
    assert.deepEqual(back, f);
    assert.equal(api.physReadU64(k2, phys + 8), 0xdead_beef_cafe);
    assert.equal(api.restoreFolio(k2, phys), null);
    const ops = pageHistory(m)
      .of(f.pfn)
      .map((e) => `${e.gen}:${e.op}`);
    assert.deepEqual(ops, ['0:alloc', '0:preserve', '1:restore', '1:restore-failed']);
    api.folioPut(k2, back);
    api.restoreFree(k2, found.phys);
  });

  it('freeing a page that is not in use is a Bad page state report, not an exception', () => {
    const { m, k } = handle();
    const pfn = api.allocPages(k, api.GFP_KERNEL, 0)!;
    api.freePages(k, pfn, 0);
    api.freePages(k, pfn, 0);
    assert.match(api.dmesg(m), new RegExp(`BUG: Bad page state in process insmod  pfn:${pfn.toString(16)}`));
  });

  it('printk levels, the module prefix, and signalPending', () => {
    const { m, k } = handle();
    api.printk(k, 'err', 'raw line');
    api.prWarn(k, 'prefixed');
    const recs = m.kernel!.dmesg.records.slice(-2);
    assert.deepEqual(
      recs.map((r) => [r.level, r.text]),
      [
        ['err', 'raw line'],
        ['warn', 'tester: prefixed'],
      ],
    );
    assert.equal(api.signalPending(k), false);
    m.interrupt.raise();
    assert.equal(api.signalPending(k), true);
    m.interrupt.clear();
  });

  it('anything but a handle as the first argument is a TypeError', () => {
    assert.throws(() => api.khoIsEnabled(Object.create(null) as ModuleKernel), TypeError);
  });
});

describe('page history names the module function behind each operation', () => {
  it('allocation, preservation and free carry the calling function and line', () => {
    const f =
      moduleFile(`import { defineModule, folioAlloc, folioPut, preserveFolio, unpreserveFolio, GFP_KERNEL, prInfo } from 'kho';
function grab(k: Parameters<typeof preserveFolio>[0]) {
  return folioAlloc(k, GFP_KERNEL, 1)!;
}
function keep(k: Parameters<typeof preserveFolio>[0], f: ReturnType<typeof grab>) {
  return preserveFolio(k, f);
}
export default defineModule({
  name: 'hist',
  init(k) {
    const f = grab(k);
    keep(k, f);
    unpreserveFolio(k, f);
    folioPut(k, f);
    prInfo(k, \`pfn=\${f.pfn}\`);
    return 0;
  },
});
`);
    const m = api.createMachine({ mem: '2G', cmdline: CMD, modules: [f] });
    api.boot(m);
    const pfn = Number(/hist: pfn=(\d+)/.exec(api.dmesg(m))![1]);
    const ev = pageHistory(m).of(pfn);
    assert.deepEqual(
      ev.map((e) => [e.op, e.nr, e.caller?.fn, e.caller?.line]),
      [
        ['alloc', 2, 'grab', 3],
        ['preserve', 2, 'keep', 6],
        ['unpreserve', 2, 'init', 13],
        ['free', 2, 'init', 14],
      ],
    );
    assert.equal(ev[0]!.caller!.file, f);
  });
});
