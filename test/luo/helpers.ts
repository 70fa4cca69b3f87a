/**
 * LUO test helpers: the selftests' library calls (src/user/libliveupdate.ts, under the tests'
 * short names) and the memfd helpers of lu_utils.c, returning the fd or -errno.
 */
import assert from 'node:assert/strict';
import { encodeGetNameIoctl } from '../../src/abi/liveupdate-uapi.ts';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/abi/uapi-fcntl.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { Process } from '../../src/user/process.ts';
import {
  luoCreateSession as createSession,
  luoGetSessionName as getSessionName,
  luoOpenDevice as openLuo,
  luoRetrieveSession as retrieveSession,
  luoSessionFinish as finishSession,
  luoSessionPreserveFd as preserveFd,
  luoSessionRetrieveFd as retrieveFd,
} from '../../src/user/libliveupdate.ts';
import { proc, utf8 } from '../user/helpers.ts';

export { boot, kexec, proc, text, utf8 } from '../user/helpers.ts';
export { createSession, finishSession, getSessionName, openLuo, preserveFd, retrieveFd, retrieveSession };

/** `create_and_preserve_memfd`: a one-page memfd holding `data`+NUL, preserved, then closed. */
export function createAndPreserveMemfd(
  p: Process,
  sfd: number,
  token: bigint | number,
  data: string,
): number {
  const mfd = p.memfdCreate('test_mfd', 0);
  if (mfd < 0) return mfd;
  let r = p.ftruncate(mfd, 4096);
  if (r < 0) return r;
  const m = p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
  if (typeof m === 'number') return m;
  m.write(0, utf8(`${data}\0`));
  m.unmap();
  r = preserveFd(p, sfd, mfd, token);
  p.close(mfd);
  return r;
}

/**
 * Sessions `a` (a memfd holding `one`, token 1) and `b` (`two` and `three`, tokens 2 and 3)
 * on `k`, held across the next jump ({@link holdAndExit}); returns `k`.
 */
export function holdSessions(k: Kernel): Kernel {
  const p = proc(k);
  const luo = openLuo(p);
  const a = createSession(p, luo, 'a');
  assert.equal(createAndPreserveMemfd(p, a, 1, 'one'), 0);
  const b = createSession(p, luo, 'b');
  assert.equal(createAndPreserveMemfd(p, b, 2, 'two'), 0);
  assert.equal(createAndPreserveMemfd(p, b, 3, 'three'), 0);
  holdAndExit(p);
  return k;
}

/** `restore_and_verify_memfd`: the text in the retrieved memfd's first page, or -errno. */
export function restoreMemfdText(p: Process, sfd: number, token: bigint | number): string | number {
  const fd = retrieveFd(p, sfd, token);
  if (fd < 0) return fd;
  const m = p.mmap(4096, PROT_READ, MAP_SHARED, fd);
  if (typeof m === 'number') return m;
  const b = m.read(0, 4096);
  m.unmap();
  p.close(fd);
  const nul = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, nul < 0 ? b.length : nul));
}

/** Keep `p`'s descriptors alive across the kexec: a forked child holds them, `p` exits. */
export function holdAndExit(p: Process): void {
  const child = p.fork();
  if (typeof child === 'number') throw new Error(`fork: ${child}`);
  child.setsid();
  p.exit(0);
}

/** `GET_NAME` argument helper for size tests. */
export const getNameArg = encodeGetNameIoctl;
