import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readPreservedMap } from '../../src/kexec/preserved-map.ts';
import { modprobe, rmmod } from '../../src/kernel/module.ts';
import { defaultModuleCatalog } from '../../src/kernel/modules/catalog.ts';
import { csumPages } from '../../src/kernel/modules/folio-data.ts';
import { TEST_KHO_DEFAULT_MAX_MEM, testKhoStatus } from '../../src/kernel/modules/test-kho.ts';
import { MAX_PAGE_ORDER } from '../../src/mm/buddy.ts';
import { bootMachine, kexec, MiB } from './helpers.ts';

test('spec §10: test_kho saves, and three successors in a row restore and verify the checksums', () => {
  let { k } = bootMachine({ builtin: ['test_kho'] });
  let prev = testKhoStatus(k)!;
  assert.equal(prev.path, 'save');
  assert.ok(prev.saved!.bytes >= MiB);
  for (let gen = 1; gen <= 3; gen++) {
    const r = kexec(k);
    k = r.k;
    assert.deepEqual(r.started, [{ name: 'test_kho', builtin: true, result: 0 }]);
    assert.equal(k.generation, gen);
    const st = testKhoStatus(k)!;
    assert.equal(st.path, 'restore');
    assert.equal(st.restore!.ok, true, st.restore!.error ?? '');
    assert.equal(st.restore!.folios, prev.saved!.folios.length);
    assert.equal(st.restore!.bytes, prev.saved!.bytes);
    assert.equal(st.restore!.expectedCsum, prev.saved!.csum);
    assert.equal(st.restore!.csum, prev.saved!.csum);
    assert.ok(k.dmesg.has('test_kho: KHO restore succeeded'));
    // Fresh data for the next generation, at least partly elsewhere.
    assert.notEqual(st.saved!.csum, prev.saved!.csum);
    prev = st;
  }
});

test('one flipped byte in a preserved folio before the jump makes the successor fail', () => {
  const { k } = bootMachine({ builtin: ['test_kho'] });
  const f = testKhoStatus(k)!.saved!.folios[0]!;
  const r = kexec(k, (old) => {
    const at = f.pfn * 4096 + 123;
    old.machine.mem.writeU8(at, old.machine.mem.readU8(at) ^ 0x01);
  });
  assert.deepEqual(r.started, [{ name: 'test_kho', builtin: true, result: -22 }]);
  const st = testKhoStatus(r.k)!;
  assert.equal(st.restore!.ok, false);
  assert.match(st.restore!.error!, /checksum/);
  assert.ok(r.k.dmesg.has('test_kho: KHO restore failed'));
  assert.ok(!r.k.dmesg.has('test_kho: KHO restore succeeded'));
});

test('restored folios cannot be restored twice; the unrestored test FDT folio stays reserved', () => {
  const { k } = bootMachine({ builtin: ['test_kho'] });
  const saved = testKhoStatus(k)!.saved!;
  const { k: k2 } = kexec(k);
  const f = saved.folios[0]!;
  assert.equal(k2.kho.restoreFolio(f.pfn * 4096), null);
  assert.equal(k2.buddy.isFree(saved.fdtPhys / 4096), false);
  assert.equal(k2.kho.restoreFolio(saved.fdtPhys), saved.fdtPhys / 4096);
});

test('folios use orders 0..MAX_PAGE_ORDER up to the default 8 MiB; the checksum matches the memory', () => {
  const { k } = bootMachine({ cmdline: 'console=ttyS0 kho=on kho_scratch=128M,128M,64M' });
  modprobe(k, defaultModuleCatalog(), 'test_kho');
  const s = testKhoStatus(k)!.saved!;
  assert.equal(TEST_KHO_DEFAULT_MAX_MEM, 8 * MiB);
  assert.equal(s.bytes, 8 * MiB);
  assert.ok(s.folios.every((f) => f.order >= 0 && f.order <= MAX_PAGE_ORDER));
  let h: number | undefined;
  for (const f of s.folios) h = csumPages(k.machine.mem, f.pfn, 1 << f.order, h);
  assert.equal(h, s.csum);
});

test('rmmod test_kho removes the sub-tree and unpreserves everything it preserved', () => {
  const { k } = bootMachine();
  const before = readPreservedMap(k.machine.mem, k.kho.fdtPhys).bytes;
  modprobe(k, defaultModuleCatalog(), 'test_kho', ['max_mem=2M']);
  const during = readPreservedMap(k.machine.mem, k.kho.fdtPhys).bytes;
  assert.ok(during >= before + 2 * MiB);
  rmmod(k, 'test_kho');
  assert.equal(readPreservedMap(k.machine.mem, k.kho.fdtPhys).bytes, before);
  assert.ok(!(k.debugfs.lookup('kho/out/sub_fdts') as { names(): string[] }).names().includes('kho_test'));
});

test('with KHO off test_kho does nothing', () => {
  const { k, started } = bootMachine({ builtin: ['test_kho'], cmdline: 'console=ttyS0 kho=off' });
  assert.equal(started[0]!.result, 0);
  assert.equal(testKhoStatus(k)!.path, 'disabled');
});

test('the same seed replays the same folios', () => {
  const a = testKhoStatus(bootMachine({ builtin: ['test_kho'], seed: 5 }).k)!.saved!;
  const b = testKhoStatus(bootMachine({ builtin: ['test_kho'], seed: 5 }).k)!.saved!;
  const c = testKhoStatus(bootMachine({ builtin: ['test_kho'], seed: 6 }).k)!.saved!;
  assert.equal(a.csum, b.csum);
  assert.deepEqual(a.folios, b.folios);
  assert.notEqual(a.csum, c.csum);
});
