/**
 * Long kernel-side work stops on Ctrl-C (machine.interrupt, raised from another thread as the
 * terminal's thread does) and leaves the machine consistent; long work reports progress.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { kexecExecute } from '../../src/kexec/execute.ts';
import { KexecError } from '../../src/kexec/errors.ts';
import { kexecFileLoad, loadedImage } from '../../src/kexec/file-load.ts';
import { mkImage } from '../../src/kexec/image.ts';
import { readPreservedMap } from '../../src/kexec/preserved-map.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { Machine } from '../../src/kernel/machine.ts';
import { ModuleError, modprobe } from '../../src/kernel/module.ts';
import { defaultModuleCatalog } from '../../src/kernel/modules/catalog.ts';
import { testKhoStatus } from '../../src/kernel/modules/test-kho.ts';
import { profileByName } from '../../src/kernel/profile.ts';
import { formatProgress, type ProgressEvent } from '../../src/util/long-work.ts';

const profile = profileByName('kho-v4')!;
const image = mkImage({ profile, size: 1 << 20 });
const CMDLINE = 'console=ttyS0 kho=on';
const catalog = defaultModuleCatalog();

/**
 * A worker thread (the terminal's thread) that waits until `started[0]` becomes 1, then
 * `delayMs`, then raises the interrupt in `buffer` and records when (ms since the epoch).
 */
function raiseLater(
  buffer: SharedArrayBuffer,
  delayMs: number,
): { worker: Worker; started: Int32Array; raisedAt: Float64Array } {
  const raisedAt = new Float64Array(new SharedArrayBuffer(8));
  const started = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const word = new Int32Array(workerData.buffer);
     Atomics.wait(workerData.started, 0, 0);
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.delayMs);
     workerData.raisedAt[0] = performance.timeOrigin + performance.now();
     Atomics.store(word, 0, 1);`,
    { eval: true, workerData: { buffer, delayMs, raisedAt, started } },
  );
  return { worker, started, raisedAt };
}

function thrown(f: () => void): Error {
  try {
    f();
  } catch (e) {
    if (e instanceof Error) return e;
    throw e;
  }
  assert.fail('expected an error');
}

function preservedBytes(k: Kernel): number {
  return readPreservedMap(k.machine.mem, k.kho.fdtPhys).bytes;
}

test('Ctrl-C from another thread stops modprobe test_kho on a 4 TiB machine within a second; the next kexec -e hands over a consistent state', async () => {
  const m = Machine.create({ mem: 2 ** 42, nodes: 4, sanitize: true, seed: 3 });
  const k = m.coldBoot({ cmdline: CMDLINE, profile });
  const free = k.buddy.meminfo().MemFree;
  const before = preservedBytes(k);
  const { worker, started, raisedAt } = raiseLater(m.interrupt.buffer, 100);
  await new Promise((resolve) => worker.once('online', resolve));
  // The worker starts its clock once the folio loop runs (the first progress poll).
  m.work.afterS = 0;
  m.work.sink = (ev) => {
    if (ev.label === 'test_kho: generating data' && Atomics.load(started, 0) === 0) {
      Atomics.store(started, 0, 1);
      Atomics.notify(started, 0);
    }
  };
  const e = thrown(() => {
    modprobe(k, catalog, 'test_kho', [`max_mem=${2 ** 38}`]); // 256 GiB: seconds of folio work
  });
  const returnedAt = performance.timeOrigin + performance.now();
  await new Promise((resolve) => worker.once('exit', resolve));
  assert.ok(e instanceof ModuleError);
  assert.equal(e.message, "modprobe: ERROR: could not insert 'test_kho': Interrupted system call");
  assert.ok(raisedAt[0]! > 0);
  const latency = returnedAt - raisedAt[0]!;
  assert.ok(latency < 1000, `returned ${latency.toFixed(0)} ms after the interrupt`);
  // The generating loop unwound as on an allocation failure: every folio went back.
  assert.equal(k.buddy.meminfo().MemFree, free);
  assert.equal(preservedBytes(k), before);
  assert.equal(testKhoStatus(k)!.saved, null);
  assert.ok(![...k.kho.ctx.subtrees.keys()].includes('kho_test'));

  // The front end clears the flag before the next command; the jump is clean.
  m.interrupt.clear();
  kexecFileLoad(k, { image, cmdline: CMDLINE });
  const r = kexecExecute(m);
  assert.deepEqual(r.report.findings, []);
  assert.ok(r.successor.kho.isKhoBoot());
  assert.equal(r.report.preservedBytes, before);
});

test('an interrupt while folios are preserved unwinds along the kernel error path (the data folios leak, as in lib/test_kho.c)', () => {
  const m = Machine.create({ mem: 16 * 2 ** 30, nodes: 1, seed: 5 });
  const k = m.coldBoot({ cmdline: CMDLINE, profile });
  const free = k.buddy.meminfo().MemFree;
  const before = readPreservedMap(m.mem, k.kho.fdtPhys);
  let calls = 0;
  const preserve = k.kho.preserveFolio.bind(k.kho);
  k.kho.preserveFolio = (pfn, order) => {
    if (++calls === 1000) m.interrupt.raise();
    return preserve(pfn, order);
  };
  const e = thrown(() => {
    modprobe(k, catalog, 'test_kho', [`max_mem=${2 ** 31}`]);
  });
  assert.match(e.message, /Interrupted system call$/);
  const after = readPreservedMap(m.mem, k.kho.fdtPhys);
  assert.equal(after.bytes, before.bytes, 'everything preserved was unpreserved');
  assert.ok(![...k.kho.ctx.subtrees.keys()].includes('kho_test'));
  // The 2 GiB of data folios stay allocated; the rest (array, FDT, folios_info) came back,
  // except the tracker's new node pages (radix nodes are never freed).
  const nodeKiB = (after.trackerPfns.length - before.trackerPfns.length) * 4;
  assert.equal(k.buddy.meminfo().MemFree, free - 2 * 1024 * 1024 - nodeKiB);
  m.interrupt.clear();
});

test('Ctrl-C before kexec -e has read the memory map aborts the jump: the running kernel goes on', () => {
  const m = Machine.create({ mem: 4 * 2 ** 30, nodes: 1, sanitize: true, seed: 2 });
  const k = m.coldBoot({ cmdline: CMDLINE, profile });
  modprobe(k, catalog, 'test_kho');
  kexecFileLoad(k, { image, cmdline: CMDLINE });
  const touched = m.mem.touchedCount;
  m.interrupt.raise();
  const e = thrown(() => {
    kexecExecute(m);
  });
  assert.ok(e instanceof KexecError && e.code === 'EINTR');
  assert.equal(m.kernel, k);
  assert.notEqual(loadedImage(k), null);
  assert.equal(m.mem.poisonedRanges().length, 0, 'nothing was poisoned');
  assert.equal(m.mem.touchedCount, touched);
  m.interrupt.clear();
  assert.ok(kexecExecute(m).successor.kho.isKhoBoot());
});

test('long work reports progress to the machine sink, then a final event', () => {
  const m = Machine.create({ mem: 4 * 2 ** 30, nodes: 1, seed: 2 });
  const k = m.coldBoot({ cmdline: CMDLINE, profile });
  const events: ProgressEvent[] = [];
  m.work.afterS = 0;
  m.work.everyS = 0;
  m.work.sink = (ev) => events.push(ev);
  modprobe(k, catalog, 'test_kho', [`max_mem=${2 ** 30}`]);
  const gen = events.filter((ev) => ev.label === 'test_kho: generating data');
  assert.ok(gen.length >= 2);
  assert.equal(gen[gen.length - 1]!.final, true);
  assert.equal(gen[gen.length - 1]!.done, 2 ** 30);
  assert.ok(gen.every((ev, i) => i === 0 || ev.done >= gen[i - 1]!.done));
  assert.match(
    formatProgress(gen[0]!),
    /^test_kho: generating data: [\d.]+ [KMG]iB \/ 1\.0 GiB \(\d+%\) [\d.]+ s$/,
  );
  assert.ok(events.some((ev) => ev.label === 'test_kho: preserving folios'));
});

test('a fatal signal stops vmalloc: test_kho gets no folios array and fails with -ENOMEM, quietly (mm/vmalloc.c)', () => {
  const m = Machine.create({ mem: 2 ** 42, nodes: 4, seed: 3 });
  const k = m.coldBoot({ cmdline: CMDLINE, profile });
  const free = k.buddy.meminfo().MemFree;
  m.interrupt.raise();
  const e = thrown(() => {
    modprobe(k, catalog, 'test_kho', [`max_mem=${2 ** 41}`]); // a 4 GiB kvmalloc'd array: vmalloc
  });
  assert.equal(e.message, "modprobe: ERROR: could not insert 'test_kho': Cannot allocate memory");
  assert.ok(!k.dmesg.records.some((r) => r.text.startsWith('vmalloc error')));
  assert.equal(k.buddy.meminfo().MemFree, free);
  m.interrupt.clear();
  assert.notEqual(k.vmalloc.vmalloc(1 << 20), null);
});
