import assert from 'node:assert/strict';
import { it } from 'node:test';
import { userspace } from '../../src/user/userspace.ts';
import {
  boot,
  createAndPreserveMemfd,
  createSession,
  finishSession,
  kexec,
  openLuo,
  proc,
  restoreMemfdText,
  retrieveSession,
} from './helpers.ts';

it('a memfd in a session held by a child survives kexec', () => {
  const k = boot();
  const p = proc(k, 'luo_kexec_simple');
  const luo = openLuo(p);
  assert.ok(luo >= 0, `open: ${luo}`);
  const s = createSession(p, luo, 'test-session');
  assert.ok(s >= 0, `create: ${s}`);
  assert.equal(createAndPreserveMemfd(p, s, 0x1a, 'hello kexec world'), 0);
  p.close(luo);
  const child = p.fork();
  assert.ok(typeof child !== 'number');
  child.setsid();
  p.exit(0);
  assert.equal(userspace(k).process(child.pid)?.state, 'running');
  const k2 = kexec(k);
  assert.ok(k2.dmesg.has('luo: Retrieved live update data, liveupdate number: 1'), k2.dmesg.text());
  const q = proc(k2);
  const luo2 = openLuo(q);
  assert.ok(luo2 >= 0);
  const s2 = retrieveSession(q, luo2, 'test-session');
  assert.ok(s2 >= 0, `retrieve: ${s2}`);
  assert.equal(restoreMemfdText(q, s2, 0x1a), 'hello kexec world');
  assert.equal(finishSession(q, s2), 0);
});
