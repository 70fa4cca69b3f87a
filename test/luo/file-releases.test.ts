/**
 * The file layer per release (kernel/liveupdate/luo_file.c, mm/memfd_luo.c):
 * - a failed RETRIEVE_FD is remembered in every modelled release ("liveupdate: luo_file:
 *   remember retrieve() status", f85b1c6af5bc, merged for v7.0): luo_retrieve_file() returns the
 *   error again without calling the handler, and memfd_luo_finish() leaves the file alone;
 * - memfd_luo_retrieve() restores and frees its `memfd_luo_ser` page on every failure
 *   (`free_ser`, memfd-v1 and memfd-v2 alike);
 * - the duplicate-file check (`luo_preserved_files`, "liveupdate: prevent double management of
 *   files") arrived in v7.1: kho-v3 and kho-v4 answer -EBUSY, the v7.0 profiles preserve the
 *   same file again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memfdFoliosDescOffset } from '../../src/abi/memfd-luo.ts';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/abi/uapi-fcntl.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { PROFILE_NAMES } from '../../src/kernel/profile.ts';
import { ERRNO } from '../../src/util/errno.ts';
import {
  boot,
  createAndPreserveMemfd,
  createSession,
  finishSession,
  holdAndExit,
  kexec,
  openLuo,
  preserveFd,
  proc,
  restoreMemfdText,
  retrieveFd,
  retrieveSession,
  utf8,
} from './helpers.ts';

const { EBUSY, EIO, ENOENT } = ERRNO;

/** kho-v3 (v7.1) and kho-v4 refuse a file that is already managed; the v7.0 profiles do not. */
const DUPLICATE_CHECK: Record<string, boolean> = {
  'kho-v1': false,
  'kho-v2': false,
  'kho-v3': true,
  'kho-v4': true,
};

/** The `memfd_luo_ser` page of each file of outgoing session `name`, in preservation order. */
function serPages(k: Kernel, name: string): number[] {
  return k.luo.sessions.outgoing.byKey.get(name)!.fileSet.files.map((f) => Number(f.serializedData));
}

/** Dmesg lines containing `needle`. */
function lines(k: Kernel, needle: string): number {
  return k.dmesg
    .text()
    .split('\n')
    .filter((l) => l.includes(needle)).length;
}

describe('the file layer per release', () => {
  it('every profile has a row', () => {
    assert.deepEqual(Object.keys(DUPLICATE_CHECK), [...PROFILE_NAMES]);
  });

  for (const profile of PROFILE_NAMES) {
    const checked = DUPLICATE_CHECK[profile]!;

    it(`${profile}: a failed RETRIEVE_FD frees memfd_luo_ser, is remembered, and FINISH leaves it alone`, () => {
      const k = boot({ profile });
      const p = proc(k);
      const s = createSession(p, openLuo(p), 'a');
      assert.equal(createAndPreserveMemfd(p, s, 1, 'one'), 0);
      assert.equal(createAndPreserveMemfd(p, s, 2, 'two'), 0);
      const [ser] = serPages(k, 'a');
      // Point token 1's first folio entry at a page KHO never preserved.
      const mem = k.machine.mem;
      const chunk = mem.readU64(ser! + memfdFoliosDescOffset(k.profile.luo.memfd));
      mem.writeU64(mem.readU64(chunk + 8), k.kernelImage.base / 4096 + 1);
      holdAndExit(p);

      const k2 = kexec(k);
      const q = proc(k2);
      const r = retrieveSession(q, openLuo(q), 'a');
      assert.ok(r >= 0);
      const pfn = ser! / 4096;
      assert.equal(k2.buddy.isFree(pfn), false, 'memfd_luo_ser is still handed over');
      assert.equal(retrieveFd(q, r, 1), -EIO);
      assert.equal(lines(k2, 'memfd_luo: Unable to restore folio at physical address:'), 1);
      assert.ok(k2.buddy.isFree(pfn), 'memfd_luo_retrieve() restore-freed memfd_luo_ser');
      const warnings = lines(k2, 'WARNING');
      // The second attempt returns the remembered error; the handler is not called again.
      assert.equal(retrieveFd(q, r, 1), -EIO);
      assert.equal(lines(k2, 'memfd_luo: Unable to restore folio at physical address:'), 1);
      assert.equal(restoreMemfdText(q, r, 2), 'two');
      assert.equal(finishSession(q, r), 0);
      assert.equal(lines(k2, 'WARNING'), warnings, 'finish did not touch the failed file');
      assert.ok(!k2.dmesg.has('kho_restore_free'));
      assert.ok(k2.buddy.isFree(pfn));
    });

    it(`${profile}: the same memfd preserved twice, and a retrieved one preserved again before FINISH`, () => {
      const k = boot({ profile });
      const p = proc(k);
      const luo = openLuo(p);
      const one = createSession(p, luo, 'one');
      const two = createSession(p, luo, 'two');
      const mfd = p.memfdCreate('twice', 0);
      assert.equal(p.ftruncate(mfd, 4096), 0);
      const m = p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
      assert.ok(typeof m !== 'number');
      m.write(0, utf8('shared\0'));
      m.unmap();
      assert.equal(preserveFd(p, one, mfd, 1), 0);
      assert.equal(preserveFd(p, one, mfd, 2), checked ? -EBUSY : 0);
      assert.equal(preserveFd(p, two, mfd, 3), checked ? -EBUSY : 0);
      const sers = [...serPages(k, 'one'), ...serPages(k, 'two')];
      assert.equal(sers.length, checked ? 1 : 3, 'a memfd_luo_ser page per preservation');
      holdAndExit(p);

      const k2 = kexec(k);
      const q = proc(k2);
      const l2 = openLuo(q);
      const r1 = retrieveSession(q, l2, 'one');
      const r2 = retrieveSession(q, l2, 'two');
      assert.ok(r1 >= 0 && r2 >= 0);
      const f = retrieveFd(q, r1, 1);
      assert.ok(f >= 0, `RETRIEVE_FD gave ${f}`);
      if (checked) {
        assert.equal(retrieveFd(q, r1, 2), -ENOENT);
        assert.equal(retrieveFd(q, r2, 3), -ENOENT);
      } else {
        // Both copies name the folios token 1 took over: kho_restore_folio() refuses them.
        assert.equal(retrieveFd(q, r1, 2), -EIO);
        assert.equal(retrieveFd(q, r2, 3), -EIO);
        assert.ok(k2.dmesg.has('has no KHO magic'));
        for (const ser of sers) assert.ok(k2.buddy.isFree(ser / 4096));
      }
      assert.equal(restoreMemfdText(q, r1, 1), 'shared');
      // v7.1 also records retrieved files until FINISH.
      const out = createSession(q, l2, 'out');
      assert.equal(preserveFd(q, out, f, 9), checked ? -EBUSY : 0);
      assert.equal(finishSession(q, r1), 0);
      assert.equal(finishSession(q, r2), 0);
      // Free again after FINISH (v7.1), or never tracked (v7.0, where token 9 holds it too).
      assert.equal(preserveFd(q, out, f, 10), 0);
    });
  }
});
