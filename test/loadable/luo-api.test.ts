/**
 * The LUO registration API of loadable modules (include/linux/liveupdate.h): the kernel's
 * return values for each registration call, an FLB handed over and finished across a kexec, a
 * module's misc device, and handler operations that throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCheck } from '../../src/check/engine.ts';
import { moduleFile } from './helpers.ts';

function check(source: string, o: { generations?: number; cmdline?: string; params?: string[] } = {}) {
  return runCheck({
    file: moduleFile(source),
    generations: o.generations ?? 0,
    profile: 'kho-v4',
    mem: 2 * 2 ** 30,
    nodes: 1,
    seed: 1,
    cmdline: o.cmdline ?? 'console=ttyS0 kho=on',
    params: o.params ?? [],
  });
}

/** The JSON object a module printed with `result ` in generation `gen`. */
function printed(r: ReturnType<typeof check>, gen = 0): Record<string, unknown> {
  const line = r.generations[gen]!.dmesg.find((l) => l.includes(': result '));
  assert.ok(line !== undefined, JSON.stringify(r.generations[gen]?.dmesg ?? r.stopped));
  return JSON.parse(line.slice(line.indexOf(': result ') + 9)) as Record<string, unknown>;
}

/** A file handler, an FLB and a misc device whose files carry only a u64 (no memory). */
const DEVICE = `import * as K from 'kho';
const ops = (k: K.ModuleKernel, dev: K.MiscDevice): K.LiveupdateFileOps => ({
  canPreserve: (_h, f) => f.inode.rdev?.major === K.MISC_MAJOR && f.inode.rdev.minor === dev.minor,
  preserve(a) { a.serializedData = 0x1234n; return 0; },
  unpreserve() {},
  retrieve(a) {
    const f = K.filpOpen(k, '/dev/' + dev.name, K.O_RDWR);
    if (typeof f === 'number') return f;
    a.file = f;
    K.prInfo(k, 'retrieve data ' + a.serializedData.toString(16));
    return 0;
  },
  finish(a) { K.prInfo(k, 'finish status ' + a.retrieveStatus); },
});
`;

describe('registration calls return what the kernel returns', () => {
  it('handlers, FLBs and misc devices: 0, -EINVAL, -EEXIST, -EBUSY, -ENOENT', () => {
    const r = check(`${DEVICE}
export default K.defineModule({
  name: 'reg',
  init(k) {
    const dev: K.MiscDevice = { name: 'reg0', minor: K.MISC_DYNAMIC_MINOR, fops: {} };
    const fh: K.LiveupdateFileHandler = { compatible: 'reg-v1', ops: ops(k, dev) };
    const twin: K.LiveupdateFileHandler = { compatible: 'reg-v1', ops: ops(k, dev) };
    const { finish: _f, ...noFinish } = ops(k, dev);
    const half = { compatible: 'reg-half', ops: noFinish } as unknown as K.LiveupdateFileHandler;
    const flbOps = { preserve: () => 0, unpreserve() {}, retrieve: () => 0, finish() {} };
    const flb: K.LiveupdateFlb = { compatible: 'reg-flb', ops: flbOps };
    const flbHalf = { compatible: 'reg-flb2', ops: { preserve: () => 0 } } as unknown as K.LiveupdateFlb;
    const stranger: K.LiveupdateFileHandler = { compatible: 'reg-x', ops: ops(k, dev) };
    const out = {
      enabled: K.liveupdateEnabled(k),
      misc: K.miscRegister(k, dev),
      minor: dev.minor,
      miscAgain: K.miscRegister(k, { name: 'reg0', minor: K.MISC_DYNAMIC_MINOR, fops: {} }),
      half: K.liveupdateRegisterFileHandler(k, half),
      fh: K.liveupdateRegisterFileHandler(k, fh),
      fhAgain: K.liveupdateRegisterFileHandler(k, fh),
      twin: K.liveupdateRegisterFileHandler(k, twin),
      flbStranger: K.liveupdateRegisterFlb(k, stranger, flb),
      flbHalf: K.liveupdateRegisterFlb(k, fh, flbHalf),
      flb: K.liveupdateRegisterFlb(k, fh, flb),
      flbAgain: K.liveupdateRegisterFlb(k, fh, flb),
      outgoing: K.liveupdateFlbGetOutgoing(k, flb),
      incoming: K.liveupdateFlbGetIncoming(k, flb),
      busy: K.liveupdateUnregisterFileHandler(k, fh),
      unFlb: K.liveupdateUnregisterFlb(k, fh, flb),
      unFlbAgain: K.liveupdateUnregisterFlb(k, fh, flb),
      unFh: K.liveupdateUnregisterFileHandler(k, fh),
      unFhAgain: K.liveupdateUnregisterFileHandler(k, fh),
      open: K.filpOpen(k, '/dev/nothing', K.O_RDWR),
    };
    K.prInfo(k, 'result ' + JSON.stringify(out));
    return 0;
  },
});
`);
    const E = { EINVAL: -22, EEXIST: -17, EBUSY: -16, ENOENT: -2, ENODATA: -61 };
    assert.deepEqual(printed(r), {
      enabled: true,
      misc: 0,
      minor: 127,
      miscAgain: E.EBUSY,
      half: E.EINVAL,
      fh: 0,
      fhAgain: E.EEXIST,
      twin: E.EEXIST,
      flbStranger: E.EINVAL,
      flbHalf: E.EINVAL,
      flb: 0,
      flbAgain: E.EEXIST,
      outgoing: { err: 0, obj: null },
      incoming: { err: E.ENODATA, obj: null },
      busy: E.EBUSY,
      unFlb: 0,
      unFlbAgain: E.ENOENT,
      unFh: 0,
      unFhAgain: E.ENOENT,
      open: E.ENOENT,
    });
    assert.ok(
      r.generations[0]!.dmesg.some((l) =>
        l.endsWith("luo: File handler registration failed: Compatible string 'reg-v1' already registered."),
      ),
    );
  });

  it('with live update off every call is -EOPNOTSUPP', () => {
    const r = check(
      `${DEVICE}
export default K.defineModule({
  name: 'off',
  init(k) {
    const dev: K.MiscDevice = { name: 'off0', minor: K.MISC_DYNAMIC_MINOR, fops: {} };
    const fh: K.LiveupdateFileHandler = { compatible: 'off-v1', ops: ops(k, dev) };
    const flb: K.LiveupdateFlb = { compatible: 'off-flb', ops: { preserve: () => 0, unpreserve() {}, retrieve: () => 0, finish() {} } };
    K.prInfo(k, 'result ' + JSON.stringify({
      enabled: K.liveupdateEnabled(k),
      fh: K.liveupdateRegisterFileHandler(k, fh),
      unFh: K.liveupdateUnregisterFileHandler(k, fh),
      flb: K.liveupdateRegisterFlb(k, fh, flb),
      incoming: K.liveupdateFlbGetIncoming(k, flb).err,
      outgoing: K.liveupdateFlbGetOutgoing(k, flb).err,
    }));
    return 0;
  },
});
`,
      { cmdline: 'console=ttyS0 kho=on liveupdate=off' },
    );
    assert.deepEqual(printed(r), {
      enabled: false,
      fh: -95,
      unFh: -95,
      flb: -95,
      incoming: -95,
      outgoing: -95,
    });
  });
});

/** A module whose user space preserves one device file per boot, with an FLB on its handler. */
const FLB_MODULE = `${DEVICE}
export default K.defineModule({
  name: 'flbmod',
  params: { throw_in: { type: 'charp', default: '' } },
  init(k, p) {
    const dev: K.MiscDevice = { name: 'flbdev', minor: K.MISC_DYNAMIC_MINOR, fops: {} };
    const o = ops(k, dev);
    if (p.throw_in === 'preserve') o.preserve = () => { throw new Error('boom'); };
    const fh: K.LiveupdateFileHandler = { compatible: 'flbdev-v1', ops: o };
    const flb: K.LiveupdateFlb = {
      compatible: 'flbdev-domain-v1',
      ops: {
        preserve(a) {
          const page = K.allocPreserve(k, 8);
          if (page < 0) return page;
          K.physWriteU64(k, page, 0xd0d0 + k.generation);
          a.data = BigInt(page);
          a.obj = 'live domain';
          return 0;
        },
        unpreserve(a) { K.unpreserveFree(k, Number(a.data)); },
        retrieve(a) {
          a.obj = 'domain ' + K.physReadU64(k, Number(a.data)).toString(16);
          K.restoreFree(k, Number(a.data));
          return 0;
        },
        finish(a) { K.prInfo(k, 'flb finish ' + String(a.obj)); },
      },
    };
    const rc = K.miscRegister(k, dev) || K.liveupdateRegisterFileHandler(k, fh) || K.liveupdateRegisterFlb(k, fh, flb);
    if (rc !== 0) return rc;
    K.prInfo(k, 'incoming ' + JSON.stringify(K.liveupdateFlbGetIncoming(k, flb)));
    return 0;
  },
  userspace(p) {
    const luo = K.luoOpenDevice(p);
    const old = K.luoRetrieveSession(p, luo, 'flb');
    if (old >= 0) {
      const fd = K.luoSessionRetrieveFd(p, old, 7);
      if (fd < 0 || K.luoSessionFinish(p, old) !== 0) return 1;
      p.close(fd);
    }
    const s = K.luoCreateSession(p, luo, 'flb');
    const fd = p.open('/dev/flbdev', K.O_RDWR);
    const rc = K.luoSessionPreserveFd(p, s, fd, 7);
    if (rc !== 0) {
      p.write(2, 'PRESERVE_FD: ' + K.strerror(-rc) + '\\n');
      return 2;
    }
    return 0;
  },
});
`;

describe('an FLB and a file handler across a kexec', () => {
  it('the FLB is preserved with the first file, retrieved on first get, finished with the last file', () => {
    const r = check(FLB_MODULE, { generations: 2 });
    assert.equal(r.verdict, 'pass', JSON.stringify(r.generations.flatMap((g) => g.findings)));
    const text = (g: number) => r.generations[g]!.dmesg.map((l) => l.replace(/^\[[ \d.]+\] /, ''));
    assert.deepEqual(text(0), ['flbmod: incoming {"err":-61,"obj":null}']);
    for (const g of [1, 2]) {
      assert.deepEqual(text(g), [
        `flbmod: incoming {"err":0,"obj":"domain ${(0xd0d0 + g - 1).toString(16)}"}`,
        'flbmod: retrieve data 1234',
        'flbmod: finish status 1',
        `flbmod: flb finish domain ${(0xd0d0 + g - 1).toString(16)}`,
      ]);
      assert.equal(r.generations[g]!.restored.pages, 1, 'the FLB page');
    }
  });

  it('a handler operation that throws is an oops: PRESERVE_FD fails with EFAULT, the kernel runs on', () => {
    const r = check(FLB_MODULE, { generations: 1, params: ['throw_in=preserve'] });
    assert.equal(r.verdict, 'fail');
    assert.equal(r.stopped, null);
    assert.equal(r.generations.length, 2, 'the kexec still happens');
    const g0 = r.generations[0]!;
    assert.ok(
      g0.dmesg.some((l) => l.endsWith('Oops: flbmod: preserve threw Error: boom')),
      g0.dmesg.join('\n'),
    );
    assert.ok(
      g0.dmesg.some((l) => /\] {3}o\.preserve \(mod\.ts:\d+\)$/.test(l)),
      'the call trace names the function',
    );
    assert.deepEqual(g0.userspace, ['PRESERVE_FD: Bad address']);
    const f = g0.findings.find((x) => x.kind === 'userspace-failed');
    assert.equal(f?.message, "flbmod's user space exited with status 2: PRESERVE_FD: Bad address");
  });
});
