/**
 * The errno rows of the LUO ioctls that need a kernel in a corner: allocation failures
 * (CREATE_SESSION and PRESERVE_FD with no memory left, the 10000-block cap of a block set), a
 * handler's or an FLB's preserve error, a memfd too large to preserve (-EFBIG), and FINISH with
 * a file that cannot finish yet (-EBUSY). Each failure loses nothing: the same call succeeds once
 * the cause is gone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KHO_BLOCK_MAX_BLOCKS } from '../../src/abi/kho-block.ts';
import { LUO_SESSION_SER_SIZE } from '../../src/abi/luo.ts';
import { O_RDWR } from '../../src/abi/uapi-fcntl.ts';
import { allocFile } from '../../src/kernel/fs/file.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { KhoBlockSet } from '../../src/kho/block-set.ts';
import type { LiveupdateFileHandler } from '../../src/luo/luo-file.ts';
import type { LiveupdateFlb } from '../../src/luo/luo-flb.ts';
import { MAX_PAGE_ORDER } from '../../src/mm/buddy.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { ERRNO } from '../../src/util/errno.ts';
import {
  boot,
  createSession,
  finishSession,
  kexec,
  openLuo,
  preserveFd,
  proc,
  restoreMemfdText,
  retrieveFd,
  retrieveSession,
  createAndPreserveMemfd,
} from './helpers.ts';

/** Take every free page of the buddy allocator; the returned function gives them back. */
function exhaustMemory(k: Kernel): () => void {
  const taken: [number, number][] = [];
  for (let order = MAX_PAGE_ORDER; order >= 0; order--) {
    for (;;) {
      const pfn = k.buddy.alloc(order, GFP_KERNEL);
      if (pfn === null) break;
      taken.push([pfn, order]);
    }
  }
  return () => {
    for (const [pfn, order] of taken) k.buddy.freePages(pfn, order);
  };
}

/** A handler for /dev/zero files with settable preserve and can_finish results. */
function zeroHandler(
  k: Kernel,
  o: { preserveErr?: number; canFinish?: () => boolean },
): LiveupdateFileHandler {
  return {
    compatible: 'zero-dev-v1',
    ops: {
      canPreserve: (_h, f) => f.inode.rdev?.major === 1 && f.inode.rdev.minor === 5,
      preserve: (a) => {
        a.serializedData = 0x2222n;
        return o.preserveErr ?? 0;
      },
      unpreserve: () => undefined,
      retrieve: (a) => {
        const dev = k.fs.device('zero')!;
        a.file = allocFile(dev.inode, dev.fops, O_RDWR, 'zero', () => '/dev/zero');
        return 0;
      },
      ...(o.canFinish === undefined ? {} : { canFinish: o.canFinish }),
      finish: () => undefined,
    },
  };
}

describe('allocation failures', () => {
  it('CREATE_SESSION with no page left for a session block is ENOMEM; it works once memory is back', () => {
    const k = boot();
    const p = proc(k);
    const luo = openLuo(p);
    const release = exhaustMemory(k);
    assert.equal(createSession(p, luo, 'no-memory'), -ERRNO.ENOMEM);
    release();
    assert.ok(createSession(p, luo, 'no-memory') >= 0, 'the name was not taken by the failed call');
  });

  it('PRESERVE_FD with no page left for a file block or the memfd record is ENOMEM, undone completely', () => {
    const k = boot();
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 's');
    const m = p.memfdCreate('m', 0);
    assert.equal(p.write(m, 'kept'), 4);
    const release = exhaustMemory(k);
    assert.equal(preserveFd(p, s, m, 1), -ERRNO.ENOMEM);
    release();
    assert.equal(preserveFd(p, s, m, 1), 0, 'token and file are free again');
  });

  it('a block set stops at 10000 blocks with ENOSPC and releases the blocks that call added', () => {
    const k = boot();
    const set = new KhoBlockSet(k.kho, LUO_SESSION_SER_SIZE, () => undefined);
    const free = k.buddy.nrFreePages;
    assert.equal(set.grow(51 * 3), 0);
    assert.equal(set.nblocks, 3);
    assert.equal(set.grow(51 * KHO_BLOCK_MAX_BLOCKS + 1), -ERRNO.ENOSPC);
    assert.equal(set.nblocks, 3, 'back to what it was');
    assert.equal(k.buddy.nrFreePages, free - 3);
    assert.equal(set.grow(51 * KHO_BLOCK_MAX_BLOCKS), 0, 'exactly 10000 blocks fit');
    assert.equal(set.nblocks, KHO_BLOCK_MAX_BLOCKS);
  });
});

describe("PRESERVE_FD returns the handler's and the FLB's errors and undoes the earlier steps", () => {
  it("the handler's preserve error", () => {
    const k = boot();
    const o: { preserveErr?: number } = { preserveErr: -ERRNO.EIO };
    k.luo.registerFileHandler(zeroHandler(k, o));
    const p = proc(k);
    const s = createSession(p, openLuo(p), 's');
    const z = p.open('/dev/zero', O_RDWR);
    assert.equal(preserveFd(p, s, z, 7), -ERRNO.EIO);
    delete o.preserveErr;
    assert.equal(preserveFd(p, s, z, 7), 0, 'the token and the file identity were released');
  });

  it("the FLB's preserve error", () => {
    const k = boot();
    const h = zeroHandler(k, {});
    let err = -ERRNO.ENODEV;
    const flb: LiveupdateFlb = {
      compatible: 'zero-iommu-v1',
      ops: {
        preserve: (a) => {
          a.data = 1n;
          return err;
        },
        unpreserve: () => undefined,
        retrieve: () => 0,
        finish: () => undefined,
      },
    };
    assert.equal(k.luo.registerFileHandler(h), 0);
    assert.equal(k.luo.registerFlb(h, flb), 0);
    const p = proc(k);
    const s = createSession(p, openLuo(p), 's');
    const z = p.open('/dev/zero', O_RDWR);
    assert.equal(preserveFd(p, s, z, 7), -ERRNO.ENODEV);
    err = 0;
    assert.equal(preserveFd(p, s, z, 7), 0);
  });

  it('memfd: more than UINT_MAX pages is EFBIG', () => {
    const k = boot();
    const p = proc(k);
    const s = createSession(p, openLuo(p), 's');
    const m = p.memfdCreate('huge', 0);
    assert.equal(p.ftruncate(m, 2 ** 32 * 4096 + 4096), 0);
    assert.equal(preserveFd(p, s, m, 1), -ERRNO.EFBIG);
    assert.equal(p.ftruncate(m, 4096), 0, 'the mapping is not left frozen');
    assert.equal(preserveFd(p, s, m, 1), 0);
  });
});

describe('FINISH', () => {
  it('a file whose can_finish says no makes FINISH EBUSY and nothing is finished', () => {
    const k = boot();
    k.luo.registerFileHandler(zeroHandler(k, {}));
    const p = proc(k);
    const luo = openLuo(p);
    const s = createSession(p, luo, 'busy');
    assert.equal(createAndPreserveMemfd(p, s, 1, 'memfd first'), 0);
    assert.equal(preserveFd(p, s, p.open('/dev/zero', O_RDWR), 2), 0);
    const holder = p.fork();
    assert.ok(typeof holder !== 'number');
    p.exit(0);
    const k2 = kexec(k);
    let ready = false;
    k2.luo.registerFileHandler(zeroHandler(k2, { canFinish: () => ready }));
    const q = proc(k2);
    const s2 = retrieveSession(q, openLuo(q), 'busy');
    assert.ok(s2 >= 0);
    assert.equal(finishSession(q, s2), -ERRNO.EBUSY);
    assert.equal(restoreMemfdText(q, s2, 1), 'memfd first', 'the memfd was not finished');
    ready = true;
    assert.equal(finishSession(q, s2), 0);
    assert.equal(retrieveFd(q, s2, 2), -ERRNO.ENOENT, 'finished: nothing left');
  });
});
