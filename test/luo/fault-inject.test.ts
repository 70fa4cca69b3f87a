/**
 * failslab at LUO's allocations (kernel/liveupdate/kho_block.c: kho_block_add(),
 * luo_session.c: luo_session_alloc()): the early-boot panic when tracking the incoming session
 * blocks fails, and the first open of /dev/liveupdate failing with EIO when a session cannot be
 * allocated during deserialization. LUO's kzalloc calls are GFP_KERNEL, which failslab leaves
 * alone while `ignore-gfp-wait` is Y (its boot default; no boot parameter changes it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KernelPanic } from '../../src/kernel/boot.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { Machine } from '../../src/kernel/machine.ts';
import { profileByName } from '../../src/kernel/profile.ts';
import { ERRNO } from '../../src/util/errno.ts';
import { CMDLINE, GiB } from '../user/helpers.ts';
import {
  createSession,
  holdSessions,
  kexec,
  openLuo,
  proc,
  restoreMemfdText,
  retrieveSession,
} from './helpers.ts';

/** A kernel of `profile` holding sessions `a` and `b`; `ignoreGfpWait` is the build's failslab default. */
function prepared(profile = 'kho-v4', ignoreGfpWait = true): Kernel {
  const m = Machine.create({ mem: GiB, nodes: 1, seed: 3 });
  return holdSessions(
    m.coldBoot({
      cmdline: CMDLINE,
      profile: profileByName(profile, { failslabIgnoreGfpWait: ignoreGfpWait })!,
    }),
  );
}

/** Arm the successor's failslab as `echo` into its debugfs files would. */
function arm(k: Kernel, o: { times?: number; space?: number; verbose?: bigint } = {}): void {
  const fs = k.kho.ctx.failslab;
  fs.ignoreGfpReclaim = false;
  fs.attr.probability = 100n;
  fs.attr.times = o.times ?? 1;
  fs.attr.space = o.space ?? 0;
  fs.attr.verbose = o.verbose ?? 2n;
}

const PANIC = 'The incoming tree failed to initialize properly [-ENOMEM], disabling live update';

describe('failslab at LUO early boot (kho_block_add while restoring the session blocks)', () => {
  it('failslab= alone does not reach LUO: its GFP_KERNEL allocations are skipped, the sessions come back', () => {
    const k2 = kexec(prepared(), undefined, `${CMDLINE} failslab=1,100,0,-1`);
    assert.equal(k2.kho.ctx.failslab.attr.probability, 100n);
    assert.ok(!k2.dmesg.has('FAULT_INJECTION'));
    const q = proc(k2);
    const luo = openLuo(q);
    assert.ok(luo >= 0);
    assert.equal(restoreMemfdText(q, retrieveSession(q, luo, 'a'), 1), 'one');
  });

  it('a kernel built with ignore-gfp-wait off panics with -ENOMEM after the notice and call trace', () => {
    const k = prepared('kho-v4', false);
    const m = k.machine;
    let panic: KernelPanic | null = null;
    try {
      kexec(k, undefined, `${CMDLINE} failslab=1,100,0,1`);
    } catch (e) {
      if (!(e instanceof KernelPanic)) throw e;
      panic = e;
    }
    assert.ok(panic !== null, 'the successor panicked');
    assert.equal(panic.reason, PANIC);
    assert.equal(m.kernel, null);
    const lines = panic.dmesg.records.map((r) => `${r.level} ${r.text}`);
    const at = lines.indexOf('notice FAULT_INJECTION: forcing a failure.');
    assert.ok(at > 0, panic.dmesg.text());
    assert.deepEqual(lines.slice(at, at + 14), [
      'notice FAULT_INJECTION: forcing a failure.',
      'notice name failslab, interval 1, probability 100, space 0, times 1',
      'warn Call Trace:',
      'warn  <TASK>',
      'warn  dump_stack_lvl',
      'warn  should_fail_ex',
      'warn  should_failslab',
      'warn  slab_pre_alloc_hook',
      'warn  __kmalloc_cache_noprof',
      'warn  kho_block_add',
      'warn  kho_block_set_restore',
      'warn  </TASK>',
      `emerg Kernel panic - not syncing: ${PANIC}`,
      'emerg Kernel Offset: disabled',
    ]);
  });

  it('a space budget larger than the one block lets the boot through; the first open gets the failure', () => {
    // kho_block_add asks kmalloc-32: 33 > 32 keeps the failure away from the only block, and
    // the 1 left is less than the first session's kmalloc-256.
    const k2 = kexec(prepared('kho-v4', false), undefined, `${CMDLINE} failslab=1,100,33,1`);
    assert.equal(k2.kho.ctx.failslab.attr.space, 1);
    assert.equal(k2.kho.ctx.failslab.attr.times, 1);
    assert.equal(openLuo(proc(k2)), -ERRNO.EIO);
    assert.ok(k2.dmesg.has('luo: Failed to allocate session [a] during deserialization -ENOMEM'));
  });
});

describe('failslab at the first open of /dev/liveupdate (luo_session_deserialize)', () => {
  it('luo-v5: a session allocation failure fails this open and every later one with EIO', () => {
    const k2 = kexec(prepared());
    arm(k2, { verbose: 1n });
    const q = proc(k2);
    assert.equal(openLuo(q), -ERRNO.EIO);
    assert.ok(
      k2.dmesg.has('luo: Failed to allocate session [a] during deserialization -ENOMEM'),
      k2.dmesg.text(),
    );
    assert.equal(k2.kho.ctx.failslab.attr.times, 0);
    // saved_err: the failure sticks although failslab would not fail again.
    assert.equal(openLuo(q), -ERRNO.EIO);
    assert.equal(k2.dmesg.records.filter((r) => r.text.startsWith('FAULT_INJECTION')).length, 1);
  });

  it("luo-v5: the session's file blocks failing is a file deserialization error, EIO as well", () => {
    const k2 = kexec(prepared());
    // luo_session_alloc takes 256 (kmalloc-256) of 257, then kho_block_add's 32 fails.
    arm(k2, { space: 257, verbose: 0n });
    const q = proc(k2);
    assert.equal(openLuo(q), -ERRNO.EIO);
    assert.ok(k2.dmesg.has('luo: Failed to deserialize files for session [a] -ENOMEM'), k2.dmesg.text());
    assert.equal(openLuo(q), -ERRNO.EIO);
  });

  it('luo-v1: only the failing open gets EIO; the next one sees the sessions inserted before', () => {
    const k2 = kexec(prepared('kho-v3'));
    arm(k2, { space: 257, verbose: 0n });
    const q = proc(k2);
    assert.equal(openLuo(q), -ERRNO.EIO);
    assert.ok(
      k2.dmesg.has('luo: Failed to allocate session [b] during deserialization -ENOMEM'),
      k2.dmesg.text(),
    );
    const luo = openLuo(q);
    assert.ok(luo >= 0, `second open: ${luo}`);
    assert.equal(restoreMemfdText(q, retrieveSession(q, luo, 'a'), 1), 'one');
    assert.equal(retrieveSession(q, luo, 'b'), -ERRNO.ENOENT);
  });

  it('CREATE_SESSION fails with ENOMEM while armed, and works once the failures are used up', () => {
    const m = Machine.create({ mem: GiB, nodes: 1, seed: 3 });
    const k = m.coldBoot({ cmdline: CMDLINE, profile: profileByName('kho-v4')! });
    arm(k, { verbose: 0n });
    const p = proc(k);
    const luo = openLuo(p);
    assert.equal(createSession(p, luo, 'x'), -ERRNO.ENOMEM);
    assert.ok(createSession(p, luo, 'x') >= 0);
  });
});
