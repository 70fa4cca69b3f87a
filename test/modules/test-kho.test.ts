import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readPreservedMap } from '../../src/kexec/preserved-map.ts';
import { ModuleError, modprobe, rmmod } from '../../src/kernel/module.ts';
import { defaultModuleCatalog } from '../../src/kernel/modules/catalog.ts';
import {
  TEST_KHO_DEFAULT_MAX_MEM,
  testKhoStatus,
  type TestKhoSaved,
} from '../../src/kernel/modules/test-kho.ts';
import { MAX_PAGE_ORDER } from '../../src/mm/buddy.ts';
import { csumPartial } from '../../src/util/csum.ts';
import { editRootFdt } from '../../src/kho/out-fdt.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { bootMachine, kexec, MiB } from './helpers.ts';

const catalog = defaultModuleCatalog();

/** The kernel's checksum recomputed from the folios' bytes (not from their description). */
function csumOfBytes(k: Kernel, s: TestKhoSaved): number {
  let h = 0;
  s.pfns.forEach((pfn, i) => {
    h = csumPartial(k.machine.mem.read(pfn * 4096, 4096 * 2 ** s.orders[i]!), h);
  });
  return h;
}

/** Names of the outgoing sub-trees. */
function outSubs(k: Kernel): string[] {
  return [...k.kho.ctx.subtrees.keys()];
}

function levelOf(k: Kernel, text: string): string | undefined {
  return k.dmesg.records.find((r) => r.text === text)?.level;
}

function thrown(f: () => void): ModuleError {
  try {
    f();
  } catch (e) {
    if (e instanceof ModuleError) return e;
    throw e;
  }
  assert.fail('expected a ModuleError');
}

test('lib/test_kho.c: save, restore, then (no sub-tree) save again: generations alternate', () => {
  let { k } = bootMachine({ builtin: ['test_kho'] });
  let prev = testKhoStatus(k)!;
  assert.equal(prev.path, 'save');
  assert.equal(prev.saved!.bytes, MiB);
  for (let gen = 1; gen <= 4; gen++) {
    const r = kexec(k);
    k = r.k;
    assert.deepEqual(r.started, [{ name: 'test_kho', builtin: true, result: 0 }]);
    assert.equal(k.generation, gen);
    const st = testKhoStatus(k)!;
    if (gen % 2 === 1) {
      assert.equal(st.path, 'restore');
      assert.equal(st.restore!.ok, true, st.restore!.error ?? '');
      assert.equal(st.restore!.folios, prev.saved!.pfns.length);
      assert.equal(st.restore!.bytes, prev.saved!.bytes);
      assert.equal(st.restore!.expectedCsum, prev.saved!.csum);
      assert.equal(st.restore!.csum, prev.saved!.csum);
      assert.equal(st.saved, null, 'the kernel does not save again after a restore');
      assert.equal(levelOf(k, 'test_kho: KHO restore succeeded'), 'info');
      assert.ok(!outSubs(k).includes('kho_test'));
    } else {
      // The predecessor restored and handed over no kho_test: -ENOENT, the save path.
      assert.equal(st.path, 'save');
      assert.notEqual(st.saved!.csum, prev.saved?.csum);
      assert.ok(outSubs(k).includes('kho_test'));
    }
    // The kernel prints nothing else of its own.
    assert.deepEqual(
      k.dmesg.records.filter((x) => x.text.startsWith('test_kho:')).map((x) => x.text),
      gen % 2 === 1 ? ['test_kho: KHO restore succeeded'] : [],
    );
    prev = st;
  }
});

test('the checksum is csum_partial() over the folio bytes, chained from 0', () => {
  const { k } = bootMachine({ cmdline: 'console=ttyS0 kho=on kho_scratch=128M,128M,64M' });
  modprobe(k, catalog, 'test_kho');
  const s = testKhoStatus(k)!.saved!;
  assert.equal(TEST_KHO_DEFAULT_MAX_MEM, 8 * MiB);
  assert.equal(s.bytes, 8 * MiB);
  assert.ok(s.orders.every((o) => o >= 0 && o <= MAX_PAGE_ORDER));
  assert.ok(new Set(s.orders).size > 3, 'random orders');
  assert.equal(csumOfBytes(k, s), s.csum);
  // The bytes look random: every value occurs, none dominates.
  const bytes = k.machine.mem.read(s.pfns[0]! * 4096, 4096);
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b]!++;
  assert.ok(Math.max(...counts) < 40);
  // Storage: the folios are descriptions, not pages.
  assert.ok(k.machine.mem.touchedCount < 2 * 1024, `${k.machine.mem.touchedCount} touched pages`);
});

test('one flipped byte in a preserved folio before the jump makes the restore fail with -EINVAL', () => {
  const { k } = bootMachine({ builtin: ['test_kho'] });
  const s = testKhoStatus(k)!.saved!;
  const r = kexec(k, (old) => {
    const at = s.pfns[0]! * 4096 + 123;
    old.machine.mem.writeU8(at, old.machine.mem.readU8(at) ^ 0x01);
  });
  assert.deepEqual(r.started, [{ name: 'test_kho', builtin: true, result: -22 }]);
  const st = testKhoStatus(r.k)!;
  assert.equal(st.restore!.ok, false);
  assert.match(st.restore!.error!, /checksum/);
  assert.equal(levelOf(r.k, 'test_kho: KHO restore failed'), 'err');
  assert.ok(!r.k.dmesg.has('test_kho: KHO restore succeeded'));
});

test('no sub-tree saves; a sub-tree it cannot parse fails the restore; a broken sub-tree node fails retrieval', () => {
  // A garbage blob behind kho_test: the restore path, `KHO restore failed`, -EINVAL.
  const { k } = bootMachine();
  const pfn = k.buddy.allocFolio(0, 0)!;
  k.machine.mem.fill(pfn * 4096, 4096, 0x5a);
  assert.equal(k.kho.preserveFolio(pfn, 0), 0);
  assert.equal(k.kho.addSubtree('kho_test', pfn * 4096, 64), 0);
  const { k: k2 } = kexec(k);
  const e = thrown(() => {
    modprobe(k2, catalog, 'test_kho');
  });
  assert.equal(e.message, "modprobe: ERROR: could not insert 'test_kho': Invalid argument");
  assert.equal(testKhoStatus(k2)!.path, 'restore');
  assert.equal(levelOf(k2, 'test_kho: KHO restore failed'), 'err');
  // With no kho_test at all the next kernel saves.
  const { k: k3 } = kexec(k2);
  modprobe(k3, catalog, 'test_kho', ['max_mem=0x100000']);
  assert.equal(testKhoStatus(k3)!.path, 'save');
  assert.equal(testKhoStatus(k3)!.saved!.bytes, MiB);
});

test('a kho_test node whose blob property is not 8 bytes: the retrieve warning, the error, no save', () => {
  // lib/test_kho.c: kho_test_init(): kho_retrieve_subtree() answers -EINVAL (not -ENOENT) for a
  // node whose blob property has the wrong length, and the module fails with that error.
  const { k } = bootMachine({ builtin: ['test_kho'] });
  const { k: k2, started } = kexec(k, (old) => {
    editRootFdt(old.machine.mem, old.kho.fdtPhys, (rw) => {
      const node = rw.subnode(rw.root(), 'kho_test');
      const name = ['preserved-data', 'fdt'].find((p) => rw.getprop(node, p) !== null)!;
      rw.setprop(node, name, new Uint8Array(4));
    });
  });
  assert.deepEqual(started, [{ name: 'test_kho', builtin: true, result: -22 }]);
  const st = testKhoStatus(k2)!;
  assert.notEqual(st.path, 'save');
  assert.notEqual(st.path, 'restore');
  assert.equal(levelOf(k2, 'test_kho: failed to retrieve kho_test FDT: -22'), 'warn');
  assert.ok(!k2.dmesg.has('test_kho: KHO restore'));
  assert.ok(!outSubs(k2).includes('kho_test'), 'nothing saved in its place');
});

test('max_mem is a long (kstrtol): decimal, 0x hex, octal; a size suffix is invalid, as in the kernel', () => {
  const { k } = bootMachine();
  const e = thrown(() => {
    modprobe(k, catalog, 'test_kho', ['max_mem=1M']);
  });
  assert.equal(e.message, "modprobe: ERROR: could not insert 'test_kho': Invalid argument");
  assert.equal(levelOf(k, "test_kho: `1M' invalid for parameter `max_mem'"), 'err');
  modprobe(k, catalog, 'test_kho', ['max_mem=04000000']); // octal 1 MiB
  assert.equal(testKhoStatus(k)!.saved!.bytes, MiB);
  rmmod(k, 'test_kho');
  // max_mem=0: no folios, then vmalloc_array(0) fails: -ENOMEM, nothing left behind.
  const free = k.buddy.meminfo().MemFree;
  const e0 = thrown(() => {
    modprobe(k, catalog, 'test_kho', ['max_mem=0']);
  });
  assert.equal(e0.message, "modprobe: ERROR: could not insert 'test_kho': Cannot allocate memory");
  assert.equal(k.buddy.meminfo().MemFree, free);
});

test('restored folios cannot be restored twice; the unrestored test FDT folio stays reserved', () => {
  const { k } = bootMachine({ builtin: ['test_kho'] });
  const saved = testKhoStatus(k)!.saved!;
  const { k: k2 } = kexec(k);
  assert.equal(k2.kho.restoreFolio(saved.pfns[0]! * 4096), null);
  assert.equal(k2.buddy.isFree(saved.fdtPhys / 4096), false);
  assert.equal(k2.kho.restoreFolio(saved.fdtPhys), saved.fdtPhys / 4096);
});

test('rmmod test_kho removes the sub-tree and unpreserves and frees everything it took', () => {
  const { k } = bootMachine();
  const map = (): { bytes: number; trackerPages: number } => {
    const m = readPreservedMap(k.machine.mem, k.kho.fdtPhys);
    return { bytes: m.bytes, trackerPages: m.trackerPfns.length };
  };
  const before = map();
  const free = k.buddy.meminfo().MemFree;
  modprobe(k, catalog, 'test_kho', ['max_mem=2097152']);
  assert.ok(map().bytes >= before.bytes + 2 * MiB);
  rmmod(k, 'test_kho');
  const after = map();
  assert.equal(after.bytes, before.bytes);
  assert.ok(!outSubs(k).includes('kho_test'));
  // Everything comes back but the tracker's new node pages (radix nodes are never freed).
  assert.equal(k.buddy.meminfo().MemFree, free - (after.trackerPages - before.trackerPages) * 4);
});

test('with KHO off test_kho does nothing; the same seed replays the same folios', () => {
  const { k, started } = bootMachine({ builtin: ['test_kho'], cmdline: 'console=ttyS0 kho=off' });
  assert.equal(started[0]!.result, 0);
  assert.equal(testKhoStatus(k)!.path, 'disabled');
  const a = testKhoStatus(bootMachine({ builtin: ['test_kho'], seed: 5 }).k)!.saved!;
  const b = testKhoStatus(bootMachine({ builtin: ['test_kho'], seed: 5 }).k)!.saved!;
  const c = testKhoStatus(bootMachine({ builtin: ['test_kho'], seed: 6 }).k)!.saved!;
  assert.equal(a.csum, b.csum);
  assert.deepEqual([a.pfns, a.orders], [b.pfns, b.orders]);
  assert.notEqual(a.csum, c.csum);
});

test('a max_mem whose bookkeeping does not fit in host memory is refused before it starts', () => {
  const { k } = bootMachine();
  const saved = process.env['KHO_HOST_MEMORY'];
  // The RSS may grow before the check (a busy machine, a GC): 0 B available is a refusal too.
  process.env['KHO_HOST_MEMORY'] = String(process.memoryUsage.rss() + 64 * 1024);
  try {
    const e = thrown(() => {
      modprobe(k, catalog, 'test_kho', [`max_mem=${2 ** 40}`]);
    });
    assert.match(
      e.message,
      /^modprobe: ERROR: could not insert 'test_kho': test_kho max_mem=1099511627776 would need about [\d.]+ KiB of host memory to simulate; [\d.]+ (?:B|KiB) available$/,
    );
    assert.equal(testKhoStatus(k)!.saved, null);
    assert.ok(!outSubs(k).includes('kho_test'));
  } finally {
    if (saved === undefined) delete process.env['KHO_HOST_MEMORY'];
    else process.env['KHO_HOST_MEMORY'] = saved;
  }
});
