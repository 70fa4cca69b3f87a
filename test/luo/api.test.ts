/**
 * The registration API of kernel/liveupdate/luo_file.c and luo_flb.c, and an FLB's life across
 * a kexec with a handler of the test's own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LUO_FLB_HEADER_SIZE } from '../../src/abi/luo.ts';
import { O_RDWR } from '../../src/abi/uapi-fcntl.ts';
import { allocFile } from '../../src/kernel/fs/file.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { LiveupdateFlb } from '../../src/luo/luo-flb.ts';
import type { LiveupdateFileHandler } from '../../src/luo/luo-file.ts';
import { ERRNO } from '../../src/util/errno.ts';
import {
  boot,
  createSession,
  finishSession,
  kexec,
  openLuo,
  preserveFd,
  proc,
  retrieveFd,
  retrieveSession,
} from './helpers.ts';

/** A handler for /dev/zero files (a made-up device), with a log of its calls. */
function zeroHandler(k: Kernel, log: string[]): LiveupdateFileHandler {
  return {
    compatible: 'zero-dev-v1',
    ops: {
      canPreserve: (_h, f) => f.inode.rdev?.major === 1 && f.inode.rdev.minor === 5,
      preserve: (a) => {
        a.serializedData = 0xabcdn;
        log.push('preserve');
        return 0;
      },
      unpreserve: () => log.push('unpreserve'),
      retrieve: (a) => {
        log.push(`retrieve ${a.serializedData.toString(16)}`);
        const dev = k.fs.device('zero')!;
        a.file = allocFile(dev.inode, dev.fops, O_RDWR, 'zero', () => '/dev/zero');
        return 0;
      },
      finish: (a) => log.push(`finish ${a.retrieveStatus}`),
    },
  };
}

function flbOf(log: string[], name = 'zero-iommu-v1'): LiveupdateFlb {
  return {
    compatible: name,
    ops: {
      preserve: (a) => {
        a.data = 0x5151n;
        a.obj = { live: true };
        log.push('flb preserve');
        return 0;
      },
      unpreserve: () => log.push('flb unpreserve'),
      retrieve: (a) => {
        a.obj = { from: a.data };
        log.push(`flb retrieve ${a.data.toString(16)}`);
        return 0;
      },
      finish: () => log.push('flb finish'),
    },
  };
}

describe('liveupdate_register_file_handler', () => {
  it('rejects missing operations, duplicates, and everything with LUO off', () => {
    const k = boot();
    const log: string[] = [];
    const h = zeroHandler(k, log);
    assert.equal(k.luo.registerFileHandler(h), 0);
    assert.equal(k.luo.registerFileHandler({ ...h }), -ERRNO.EEXIST);
    assert.ok(
      k.dmesg.has(
        "luo: File handler registration failed: Compatible string 'zero-dev-v1' already registered.",
      ),
    );
    const noFinish = { ...h.ops, finish: undefined } as unknown as typeof h.ops;
    assert.equal(k.luo.registerFileHandler({ compatible: 'x', ops: noFinish }), -ERRNO.EINVAL);
    const off = boot({ cmdline: 'console=ttyS0 kho=on kho_scratch=64M,64M,32M' });
    assert.equal(off.luo.registerFileHandler(zeroHandler(off, log)), -ERRNO.EOPNOTSUPP);
    assert.equal(off.luo.registerFlb(h, flbOf(log)), -ERRNO.EOPNOTSUPP);
  });
});

describe('liveupdate_register_flb', () => {
  it('checks in the kernel order', () => {
    const k = boot();
    const log: string[] = [];
    const h = zeroHandler(k, log);
    const flb = flbOf(log);
    assert.equal(k.luo.registerFlb(h, flb), -ERRNO.EINVAL, 'the handler is not registered');
    assert.ok(k.dmesg.has('WARNING: liveupdate_register_flb'));
    k.luo.registerFileHandler(h);
    assert.equal(
      k.luo.registerFlb(h, { compatible: 'x', ops: { ...flb.ops, finish: undefined } as never }),
      -ERRNO.EINVAL,
    );
    assert.equal(k.luo.registerFlb(h, flb), 0);
    assert.equal(k.luo.registerFlb(h, flb), -ERRNO.EEXIST);
    assert.equal(k.luo.registerFlb(h, flbOf(log)), -ERRNO.EEXIST, 'same name, another FLB');
    for (let i = 1; i < 63; i++) assert.equal(k.luo.registerFlb(h, flbOf(log, `flb-${i}`)), 0);
    assert.equal(k.luo.registerFlb(h, flbOf(log, 'flb-63')), -ERRNO.ENOSPC);
    assert.equal(k.luo.unregisterFileHandler(h), -ERRNO.EBUSY, 'FLBs are still linked');
    assert.equal(k.luo.unregisterFlb(h, flbOf(log, 'other')), -ERRNO.ENOENT);
    assert.equal(k.luo.unregisterFlb(h, flb), 0);
  });

  it('is preserved with its first file, handed over with its count, and finished with the last file', () => {
    const k = boot();
    const log: string[] = [];
    const h = zeroHandler(k, log);
    const flb = flbOf(log);
    k.luo.registerFileHandler(h);
    k.luo.registerFlb(h, flb);
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'dev');
    assert.equal(preserveFd(p, s, p.open('/dev/zero', O_RDWR), 1), 0);
    assert.equal(preserveFd(p, s, p.open('/dev/zero', O_RDWR), 2), 0);
    assert.equal(preserveFd(p, s, p.open('/dev/zero', O_RDWR), 3), 0);
    assert.deepEqual(log, ['flb preserve', 'preserve', 'preserve', 'preserve']);
    const gone = createSession(p, luo, 'gone');
    assert.equal(preserveFd(p, gone, p.open('/dev/zero', O_RDWR), 9), 0);
    p.close(gone);
    assert.ok(!log.includes('flb unpreserve'), 'three files still depend on it');
    const child = p.fork();
    assert.ok(typeof child !== 'number');
    p.exit(0);
    const k2 = kexec(k, (old) => {
      assert.equal(old.luo.reboot(), 0);
      const page = old.luo.flbs.pagePhys;
      const mem = old.machine.mem;
      assert.equal(mem.readU64(page), 1, 'pgcnt');
      assert.equal(mem.readU64(page + 8), 1, 'one FLB in use');
      const e = page + LUO_FLB_HEADER_SIZE;
      assert.equal(new TextDecoder().decode(mem.read(e, 13)), 'zero-iommu-v1');
      assert.equal(mem.readU64(e + 48), 0x5151);
      assert.equal(mem.readU64(e + 56), 3);
    });
    log.length = 0;
    const h2 = zeroHandler(k2, log);
    const flb2 = flbOf(log);
    k2.luo.registerFileHandler(h2);
    k2.luo.registerFlb(h2, flb2);
    const got = k2.luo.flbs.getIncoming(flb2);
    assert.deepEqual(got, { obj: { from: 0x5151n } });
    const q = proc(k2);
    const l2 = openLuo(q);
    const s2 = retrieveSession(q, l2, 'dev');
    assert.ok(retrieveFd(q, s2, 2) >= 0);
    assert.equal(finishSession(q, s2), 0);
    assert.deepEqual(log, [
      'flb retrieve 5151',
      'retrieve abcd',
      'finish 0',
      'finish 1',
      'finish 0',
      'flb finish',
    ]);
    assert.equal(k2.luo.flbs.getIncoming(flb2), -ERRNO.ENODATA, 'finished');
  });

  it('without a get before the files finish, the count wraps and finish never runs (kernel quirk)', () => {
    const k = boot();
    const log: string[] = [];
    const h = zeroHandler(k, log);
    k.luo.registerFileHandler(h);
    k.luo.registerFlb(h, flbOf(log));
    const p = proc(k);
    const s = createSession(p, openLuo(p), 'dev');
    preserveFd(p, s, p.open('/dev/zero', O_RDWR), 1);
    p.fork();
    p.exit(0);
    const k2 = kexec(k);
    log.length = 0;
    const h2 = zeroHandler(k2, log);
    k2.luo.registerFileHandler(h2);
    k2.luo.registerFlb(h2, flbOf(log));
    const q = proc(k2);
    const s2 = retrieveSession(q, openLuo(q), 'dev');
    assert.equal(finishSession(q, s2), 0);
    assert.deepEqual(log, ['finish 0']);
  });
});
