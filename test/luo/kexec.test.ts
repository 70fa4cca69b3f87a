/**
 * LUO across kexec: what survives (memfd contents, size, position, seals), what does not
 * (sessions nobody holds), the reboot path's rollback, the block chains, the legacy format,
 * and the hand-over bytes of the luo_kexec_simple example.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LUO_KHO_ENTRY_NAME } from '../../src/abi/luo.ts';
import {
  F_ADD_SEALS,
  F_GET_SEALS,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  MFD_ALLOW_SEALING,
  RLIMIT_NOFILE,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from '../../src/abi/uapi-fcntl.ts';
import { KexecError } from '../../src/kexec/errors.ts';
import type { LiveupdateFileHandler } from '../../src/luo/luo-file.ts';
import { ERRNO } from '../../src/util/errno.ts';
import {
  boot,
  createAndPreserveMemfd,
  createSession,
  finishSession,
  kexec,
  openLuo,
  preserveFd,
  proc,
  restoreMemfdText,
  retrieveFd,
  retrieveSession,
  holdAndExit,
  text,
  utf8,
} from './helpers.ts';

describe('memfd contents, size, position and seals survive kexec byte for byte', () => {
  for (const profile of ['kho-v4', 'kho-v3', 'kho-v2', 'kho-v1']) {
    it(profile, () => {
      const k = boot({ profile });
      const p = proc(k);
      const luo = openLuo(p);
      const s = createSession(p, luo, 'data');
      const fd = p.memfdCreate('payload', MFD_ALLOW_SEALING);
      // Page 0 data, pages 1-2 a hole, page 3 data, a partial last page.
      const a = new Uint8Array(4096).map((_, i) => (i * 7 + 3) & 0xff);
      assert.equal(p.write(fd, a), 4096);
      assert.equal(p.lseek(fd, 3 * 4096, SEEK_SET), 3 * 4096);
      assert.equal(p.write(fd, utf8('page three')), 10);
      assert.equal(p.ftruncate(fd, 5 * 4096 + 123), 0);
      assert.equal(p.lseek(fd, 777, SEEK_SET), 777);
      assert.equal(p.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
      assert.equal(preserveFd(p, s, fd, 42n), 0);
      assert.equal(p.ftruncate(fd, 4096 * 9), -ERRNO.EPERM, 'a preserved memfd cannot change size');
      // The position at reboot is what freeze records.
      assert.equal(p.lseek(fd, 1000, SEEK_SET), 1000);
      holdAndExit(p);
      const k2 = kexec(k);
      const q = proc(k2);
      const l2 = openLuo(q);
      const s2 = retrieveSession(q, l2, 'data');
      assert.ok(s2 >= 0, `retrieve session: ${s2}`);
      const f = retrieveFd(q, s2, 42n);
      assert.ok(f >= 0, `retrieve fd: ${f}`);
      assert.equal(q.lseek(f, 0, SEEK_CUR), 1000);
      assert.equal(q.lseek(f, 0, SEEK_END), 5 * 4096 + 123);
      const all = new Uint8Array(5 * 4096 + 123);
      assert.equal(q.pread(f, all, all.length, 0), all.length);
      assert.deepEqual(all.subarray(0, 4096), a);
      assert.ok(all.subarray(4096, 3 * 4096).every((x) => x === 0));
      assert.equal(text(all.subarray(3 * 4096, 3 * 4096 + 10)), 'page three');
      const seals = q.fcntl(f, F_GET_SEALS);
      if (k2.profile.luo.memfd === 'memfd-v2') assert.equal(seals, F_SEAL_SHRINK | F_SEAL_GROW);
      else assert.equal(seals, 1, 'memfd-v1 hands over no seals: the new memfd is F_SEAL_SEAL only');
      assert.equal(finishSession(q, s2), 0);
      // The file stays usable after FINISH (the fd holds it).
      assert.equal(q.pread(f, all, 10, 3 * 4096), 10);
    });
  }
});

describe('what the kernel hands over and frees', () => {
  it('closing every fd of a session before kexec -e leaves nothing to retrieve', () => {
    const k = boot();
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'gone');
    assert.equal(createAndPreserveMemfd(p, s, 1, 'lost'), 0);
    p.exit(0);
    const k2 = kexec(k);
    const q = proc(k2);
    const l2 = openLuo(q);
    assert.equal(retrieveSession(q, l2, 'gone'), -ERRNO.ENOENT);
    assert.equal(k2.luo.sessions.incoming.count, 0);
  });

  it('FINISH frees the folios of files that were never retrieved', () => {
    const k = boot();
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'unretrieved');
    const fd = p.memfdCreate('big', 0);
    p.write(fd, new Uint8Array(64 * 4096).fill(9));
    assert.equal(preserveFd(p, s, fd, 1), 0);
    holdAndExit(p);
    const k2 = kexec(k);
    const q = proc(k2);
    const l2 = openLuo(q);
    const s2 = retrieveSession(q, l2, 'unretrieved');
    const before = k2.buddy.nrFreePages;
    assert.equal(finishSession(q, s2), 0);
    // 64 data folios, the folio array (1 page) and its vmalloc chunk page, the memfd_luo_ser
    // page, the file block.
    assert.equal(k2.buddy.nrFreePages - before, 64 + 1 + 1 + 1 + 1);
  });

  it('a retrieved memfd can be preserved again only after FINISH (its identity is tracked)', () => {
    const k = boot();
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'again');
    assert.equal(createAndPreserveMemfd(p, s, 3, 'round trip'), 0);
    holdAndExit(p);
    const k2 = kexec(k);
    const q = proc(k2);
    const l2 = openLuo(q);
    const s2 = retrieveSession(q, l2, 'again');
    const f = retrieveFd(q, s2, 3);
    const out = createSession(q, l2, 'again');
    assert.ok(out >= 0, 'incoming and outgoing names are separate');
    assert.equal(preserveFd(q, out, f, 3), -ERRNO.EBUSY);
    assert.equal(finishSession(q, s2), 0);
    assert.equal(preserveFd(q, out, f, 3), 0);
    holdAndExit(q);
    const k3 = kexec(k2);
    const r = proc(k3);
    const l3 = openLuo(r);
    const s3 = retrieveSession(r, l3, 'again');
    assert.equal(restoreMemfdText(r, s3, 3), 'round trip');
    assert.ok(k3.dmesg.has('luo: Retrieved live update data, liveupdate number: 2'));
  });
});

describe('reboot path', () => {
  it('a failing freeze unfreezes what was frozen, aborts the kexec, and the sessions stay usable', () => {
    const k = boot();
    const calls: string[] = [];
    const mk = (name: string, failFreeze: boolean): LiveupdateFileHandler => ({
      compatible: name,
      ops: {
        canPreserve: (_h, f) => f.name === `memfd:${name}`,
        preserve: (a) => {
          a.serializedData = 0x1234n;
          calls.push(`preserve ${name}`);
          return 0;
        },
        unpreserve: () => {
          calls.push(`unpreserve ${name}`);
        },
        freeze: () => {
          calls.push(`freeze ${name}`);
          return failFreeze ? -ERRNO.EBUSY : 0;
        },
        unfreeze: () => {
          calls.push(`unfreeze ${name}`);
        },
        retrieve: () => -ERRNO.EIO,
        finish: () => undefined,
      },
    });
    const good = mk('good-v1', false);
    const bad = mk('bad-v1', true);
    // Registered before memfd's handler would take the files: first come, first served.
    k.luo.handlers.unshift(bad, good);
    const p = proc(k);
    const luo = openLuo(p);
    const s1 = createSession(p, luo, 'first');
    const s2 = createSession(p, luo, 'second');
    assert.equal(preserveFd(p, s1, p.memfdCreate('good-v1', 0), 1), 0);
    assert.equal(preserveFd(p, s2, p.memfdCreate('good-v1', 0), 2), 0);
    assert.equal(preserveFd(p, s2, p.memfdCreate('bad-v1', 0), 0x1a), 0);
    calls.length = 0;
    assert.throws(
      () => kexec(k),
      (e: unknown) =>
        e instanceof KexecError && e.code === 'EBUSY' && e.message === 'Device or resource busy',
    );
    assert.equal(k.machine.kernel, k, 'the old kernel keeps running');
    assert.deepEqual(calls, [
      'freeze good-v1',
      'freeze good-v1',
      'freeze bad-v1',
      'unfreeze good-v1',
      'unfreeze good-v1',
    ]);
    assert.ok(k.dmesg.has('luo: Freeze failed for token[0x1a] handler[bad-v1] err[-EBUSY]'));
    // Sessions are usable again: the bad session goes, and the next kexec works.
    assert.ok(createSession(p, luo, 'third') >= 0);
    calls.length = 0;
    p.close(s2);
    assert.deepEqual(calls, ['unpreserve bad-v1', 'unpreserve good-v1']);
    const k2 = kexec(k);
    assert.ok(k2.dmesg.has('luo: Retrieved live update data, liveupdate number: 1'));
  });

  it('after a successful serialization session calls block for good (the lock is kept)', () => {
    const k = boot();
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'late');
    assert.equal(k.luo.reboot(), 0);
    assert.throws(() => createSession(p, luo, 'too-late'), /blocked for more than 120 seconds/);
    assert.throws(() => preserveFd(p, s, p.memfdCreate('m', 0), 1), /blocked/);
    assert.equal(finishSession(p, s), -ERRNO.EINVAL, 'the direction check comes before the lock');
  });
});

describe('KHO block chains', () => {
  it('2000 sessions and a 500-file session chain across blocks and come back in order', () => {
    const k = boot({ mem: 2 * 1024 ** 3 });
    const p = proc(k);
    assert.equal(p.setrlimit(RLIMIT_NOFILE, { cur: 4096, max: 4096 }), 0);
    const luo = openLuo(p);
    for (let i = 0; i < 2000; i++) assert.ok(createSession(p, luo, `many-test-${i}`) >= 0);
    const files = createSession(p, luo, 'many_files_session');
    for (let i = 0; i < 500; i++) {
      const r = createAndPreserveMemfd(p, files, i, `file-data-${i}`);
      if (r !== 0) assert.fail(`file ${i}: ${r}`);
    }
    assert.equal(k.luo.sessions.outgoing.blocks.nblocks, Math.ceil(2001 / 51));
    holdAndExit(p);
    const k2 = kexec(k);
    const q = proc(k2);
    assert.equal(q.setrlimit(RLIMIT_NOFILE, { cur: 4096, max: 4096 }), 0);
    const l2 = openLuo(q);
    assert.deepEqual(
      k2.luo.sessions.incoming.list.slice(0, 3).map((x) => x.name),
      ['many-test-0', 'many-test-1', 'many-test-2'],
    );
    assert.equal(k2.luo.sessions.incoming.count, 2001);
    const fs = retrieveSession(q, l2, 'many_files_session');
    assert.equal(k2.luo.sessions.incoming.list[2000]!.fileSet.blocks.nblocks, Math.ceil(500 / 63));
    for (const i of [0, 62, 63, 499]) assert.equal(restoreMemfdText(q, fs, i), `file-data-${i}`);
    assert.equal(finishSession(q, fs), 0);
    for (let i = 0; i < 2000; i++) {
      const s = retrieveSession(q, l2, `many-test-${i}`);
      assert.ok(s >= 0);
      assert.equal(finishSession(q, s), 0);
      q.close(s);
    }
    assert.equal(k2.luo.sessions.incoming.count, 1);
  });

  it('a duplicate name at a block boundary leaves an empty block: the successor panics (kernel quirk)', () => {
    const k = boot();
    const p = proc(k);
    const luo = openLuo(p);
    for (let i = 0; i < 51; i++) createSession(p, luo, `s${i}`);
    assert.equal(createSession(p, luo, 's0'), -ERRNO.EEXIST);
    assert.equal(k.luo.sessions.outgoing.blocks.nblocks, 2);
    holdAndExit(p);
    assert.throws(
      () => kexec(k),
      /Kernel panic - not syncing: The incoming tree failed to initialize properly \[-EINVAL\], disabling live update/,
    );
    assert.ok(k.machine.kernel === null);
  });
});

describe('luo-v1 hand-over (FDT era)', () => {
  it('kho-v1 finalizes KHO from the reboot path', () => {
    const k = boot({ profile: 'kho-v1' });
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'v1');
    assert.equal(createAndPreserveMemfd(p, s, 5, 'finalized'), 0);
    holdAndExit(p);
    const k2 = kexec(k);
    const q = proc(k2);
    const l2 = openLuo(q);
    assert.equal(restoreMemfdText(q, retrieveSession(q, l2, 'v1'), 5), 'finalized');
  });

  it('the 129th file of a session is ENOSPC', () => {
    const k = boot({ profile: 'kho-v3' });
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'full');
    for (let i = 0; i < 128; i++) assert.equal(preserveFd(p, s, p.memfdCreate('f', 0), i), 0);
    assert.equal(preserveFd(p, s, p.memfdCreate('f', 0), 128), -ERRNO.ENOSPC);
  });
});

describe('the luo_kexec_simple hand-over, byte for byte', () => {
  it('luo_ser, the session block, the file blocks, memfd_luo_ser and its folio entry', () => {
    const k = boot();
    const p = proc(k);
    const luo = openLuo(p);
    const state = createSession(p, luo, 'kexec_simple_state');
    assert.equal(createAndPreserveMemfd(p, state, 999, '2'), 0);
    const s = createSession(p, luo, 'test-session');
    assert.equal(createAndPreserveMemfd(p, s, 0x1a, 'hello kexec world'), 0);
    holdAndExit(p);
    assert.equal(k.luo.reboot(), 0);
    const mem = k.machine.mem;
    const ser = k.luo.outPhys;
    assert.equal(k.kho.ctx.subtrees.get(LUO_KHO_ENTRY_NAME)?.size, 32);
    assert.deepEqual([...mem.read(ser, 8)], [0x6c, 0x75, 0x6f, 0x2d, 0x76, 0x35, 0, 0]);
    assert.equal(mem.readU64(ser + 8), 1);
    const S = mem.readU64(ser + 16);
    assert.equal(mem.readU64(ser + 24), k.luo.flbs.pagePhys);
    assert.equal(mem.readU64(S), 0, 'one block');
    assert.equal(mem.readU64(S + 8), 2);
    const entry = (i: number): { name: string; files: number; count: number } => {
      const at = S + 16 + i * 80;
      const raw = mem.read(at, 64);
      return {
        name: text(raw.subarray(0, raw.indexOf(0))),
        files: mem.readU64(at + 64),
        count: mem.readU64(at + 72),
      };
    };
    const e0 = entry(0);
    const e1 = entry(1);
    assert.equal(e0.name, 'kexec_simple_state');
    assert.equal(e1.name, 'test-session');
    assert.equal(e0.count, 1);
    assert.equal(e1.count, 1);
    for (const [blk, token] of [
      [e0.files, 999],
      [e1.files, 0x1a],
    ] as const) {
      assert.equal(mem.readU64(blk), 0);
      assert.equal(mem.readU64(blk + 8), 1);
      const compat = mem.read(blk + 16, 48);
      assert.equal(text(compat.subarray(0, compat.indexOf(0))), 'memfd-v2');
      assert.ok(compat.subarray(8).every((b) => b === 0));
      assert.equal(mem.readU64(blk + 16 + 56), token);
      const m = mem.readU64(blk + 16 + 48);
      assert.equal(mem.readU64(m), 0, 'pos');
      assert.equal(mem.readU64(m + 8), 4096, 'size');
      assert.equal(mem.readU32(m + 16), 1, 'seals: F_SEAL_SEAL (no MFD_ALLOW_SEALING)');
      assert.equal(mem.readU32(m + 20), 0, 'flags');
      assert.equal(mem.readU64(m + 24), 1, 'nr_folios');
      const chunk = mem.readU64(m + 32);
      assert.equal(mem.readU32(m + 40), 1, 'total_pages');
      assert.equal(mem.readU16(m + 44), 1, 'VM_ALLOC');
      assert.equal(mem.readU16(m + 46), 0, 'order');
      const arr = mem.readU64(chunk + 8);
      const w0 = mem.readU64Big(arr);
      assert.equal(w0 >> 52n, 3n, 'DIRTY | UPTODATE');
      const pfn = Number(w0 & ((1n << 52n) - 1n));
      assert.equal(mem.readU64(arr + 8), 0, 'index');
      const data = mem.read(pfn * 4096, 32);
      assert.ok(text(data).startsWith(token === 999 ? '2\0' : 'hello kexec world\0'));
    }
  });
});
