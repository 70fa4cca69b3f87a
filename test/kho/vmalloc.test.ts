/** vmalloc preservation details (kho_preserve_vmalloc(), kho_restore_vmalloc()) and the other ABI versions' successor paths. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeKhoVmallocChunk } from '../../src/abi/kho-vmalloc.ts';
import { walkRadixTree } from '../../src/kho/radix-walk.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { boot, jump } from './kho-helpers.ts';

const PAGE = 4096;

function preserved(k: Kernel): Set<string> {
  const s = new Set<string>();
  walkRadixTree(k.machine.mem, k.kho.rootPhys, (p, o) => {
    s.add(`${p / PAGE}:${o}`);
    return 0;
  });
  return s;
}

test('not a vmalloc address: -EINVAL; vmalloc_user area: -EOPNOTSUPP', () => {
  const k = boot();
  const desc = k.kho.allocPreserve(16);
  assert.equal(k.kho.preserveVmalloc(0x1234, desc), -22);
  const u = k.vmalloc.vmallocUser(PAGE)!;
  assert.equal(k.kho.preserveVmalloc(u, desc), -95);
});

test('chunk layout: 511 pieces fill one chunk and a full chunk always gets an (empty) successor', () => {
  const k = boot();
  const before = preserved(k);
  const va = k.vmalloc.vmalloc(511 * PAGE)!;
  const desc = k.kho.allocPreserve(16);
  assert.equal(k.kho.preserveVmalloc(va, desc), 0);
  const mem = k.machine.mem;
  assert.equal(mem.readU32(desc + 8), 511);
  assert.equal(mem.readU16(desc + 12), 1); // KHO_VMALLOC_ALLOC
  assert.equal(mem.readU16(desc + 14), 0);
  const c1 = decodeKhoVmallocChunk(mem.read(mem.readU64(desc), PAGE));
  assert.ok(c1.ok);
  assert.equal(c1.value.phys.length, 511);
  assert.notEqual(c1.value.next, 0);
  const c2 = decodeKhoVmallocChunk(mem.read(c1.value.next, PAGE));
  assert.ok(c2.ok);
  assert.deepEqual(c2.value, { next: 0, phys: [] });
  const area = k.vmalloc.findVmArea(va)!;
  const now = preserved(k);
  for (const pfn of area.pages) assert.ok(now.has(`${pfn}:0`));
  assert.ok(now.has(`${mem.readU64(desc) / PAGE}:0`) && now.has(`${c1.value.next / PAGE}:0`));
  // Unpreserve removes pieces and chunks and frees the chunk pages.
  k.kho.unpreserveVmalloc(desc);
  const descKey = `${desc / PAGE}:0`;
  assert.deepEqual([...preserved(k)].sort(), [...before, descKey].sort());
  assert.equal(k.buddy.isFree(c1.value.next / PAGE), true);
});

test('huge mappings are preserved in order-9 pieces and restored with the same order', () => {
  const k = boot({ mem: 4 * 1024 ** 3 });
  const va = k.vmalloc.vmallocHuge(4 * 1024 * 1024)!;
  const area = k.vmalloc.findVmArea(va)!;
  assert.equal(area.pageOrder, 9);
  const desc = k.kho.allocPreserve(16);
  assert.equal(k.kho.preserveVmalloc(va, desc), 0);
  assert.equal(k.machine.mem.readU16(desc + 12), 3);
  assert.equal(k.machine.mem.readU16(desc + 14), 9);
  k.vmalloc.write(va + 3 * 1024 * 1024, new TextEncoder().encode('huge'));
  const k2 = jump(k);
  const va2 = k2.kho.restoreVmalloc(desc);
  assert.ok(va2 !== null);
  assert.equal(k2.vmalloc.findVmArea(va2)!.pageOrder, 9);
  assert.equal(new TextDecoder().decode(k2.vmalloc.read(va2 + 3 * 1024 * 1024, 4)), 'huge');
});

test('unpreserve uses the order stored in the descriptor (the error-path QUIRK relies on it)', () => {
  const k = boot({ mem: 4 * 1024 ** 3 });
  const va = k.vmalloc.vmallocHuge(2 * 1024 * 1024)!;
  const desc = k.kho.allocPreserve(16);
  assert.equal(k.kho.preserveVmalloc(va, desc), 0);
  const first = k.vmalloc.findVmArea(va)!.pages[0]!;
  k.machine.mem.writeU16(desc + 14, 0); // what a caller's zeroed descriptor holds before success
  k.kho.unpreserveVmalloc(desc);
  // Deleting order-0 keys leaves the order-9 piece preserved.
  assert.ok(preserved(k).has(`${first}:9`));
});

test('kho-v2 and kho-v3 successors: v2 has no blob-size and no kexec-metadata', () => {
  for (const profile of ['kho-v2', 'kho-v3'] as const) {
    const k = boot({ profile });
    const blob = k.kho.allocPreserve(PAGE);
    k.machine.mem.write(blob, new TextEncoder().encode('data'));
    assert.equal(k.kho.addSubtree('t', blob, 4), 0);
    const pfn = k.buddy.alloc(0, 0xcc0)!;
    k.kho.preserveFolio(pfn, 0);
    const k2 = jump(k);
    assert.equal(k2.profile.name, profile);
    assert.equal(k2.kho.isKhoBoot(), true);
    assert.equal(k2.kho.restoreFolio(pfn * PAGE), pfn);
    const r = k2.kho.retrieveSubtree('t');
    assert.ok('size' in r);
    assert.equal(r.phys, blob);
    assert.equal(r.size, profile === 'kho-v2' ? 0 : 4);
    assert.equal(k2.generation, profile === 'kho-v2' ? 0 : 1);
    assert.equal(k2.dmesg.has('KHO: exec from:'), profile === 'kho-v3');
  }
});
