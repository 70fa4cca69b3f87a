/** Misuse and edge cases of the kernel/liveupdate/kexec_handover.c API, plus its errno results. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fdt } from '../../src/fdt/reader.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { KHO_PAGE_MAGIC } from '../../src/abi/kho-page.ts';
import { walkRadixTree } from '../../src/kho/radix-walk.ts';
import type { KhoRadixTree } from '../../src/kho/radix-tree.ts';
import { boot, jump } from './kho-helpers.ts';

const PAGE = 4096;

function blocks(k: ReturnType<typeof boot>): string[] {
  const out: string[] = [];
  walkRadixTree(k.machine.mem, k.kho.rootPhys, (phys, order) => {
    out.push(`${phys / PAGE}:${order}`);
    return 0;
  });
  return out;
}

test('preserve the same folio twice: 0 both times, one bit, one unpreserve clears it', () => {
  const k = boot();
  const pfn = k.buddy.allocFolio(1, GFP_KERNEL)!;
  const before = blocks(k).length;
  assert.equal(k.kho.preserveFolio(pfn, 1), 0);
  assert.equal(k.kho.preserveFolio(pfn, 1), 0);
  assert.equal(blocks(k).length, before + 1);
  k.kho.unpreserveFolio(pfn, 1);
  assert.equal(blocks(k).length, before);
});

test('overlapping blocks of different orders: two keys, both reserved, tail restorable on its own', () => {
  const k = boot();
  const pfn = k.buddy.alloc(2, GFP_KERNEL)!;
  assert.equal(k.kho.preserveFolio(pfn, 2), 0);
  assert.equal(k.kho.preserveFolio(pfn + 1, 0), 0);
  const k2 = jump(k);
  assert.equal(k2.buddy.meta.privateLo(pfn), 2);
  assert.equal(k2.buddy.meta.privateLo(pfn + 1), 0);
  assert.equal(k2.buddy.meta.privateHi(pfn + 1), KHO_PAGE_MAGIC);
  assert.equal(k2.kho.restoreFolio((pfn + 1) * PAGE), pfn + 1);
  assert.equal(k2.kho.restoreFolio(pfn * PAGE), pfn);
});

test('preserve inside scratch: refused with khoDebug (WARN, -EINVAL), accepted silently without', () => {
  const dbg = boot();
  const s = dbg.kho.scratch[0]!;
  assert.equal(dbg.kho.preserveFolio(s.addr / PAGE, 0), -22);
  assert.equal(dbg.kho.preservePages(s.addr / PAGE - 1, 2), -22);
  assert.ok(dbg.dmesg.has('overlaps a scratch area'));
  const plain = boot({ options: { khoDebug: false } });
  const s2 = plain.kho.scratch[0]!;
  assert.equal(plain.kho.preserveFolio(s2.addr / PAGE, 0), 0);
  assert.ok(!plain.dmesg.has('overlaps a scratch area'));
  // Half-open test: the page right after the area is fine.
  assert.equal(dbg.kho.preserveFolio((s.addr + s.size) / PAGE, 0), 0);
});

test('unpreserve something never preserved: WARN when a node is missing, else a silent no-op', () => {
  const k = boot();
  k.kho.unpreserveFolio(0x12345, 3); // order-3 path does not exist yet
  assert.ok(k.dmesg.has('kho_radix_del_page'));
  const pfn = k.buddy.alloc(0, GFP_KERNEL)!;
  k.kho.preserveFolio(pfn, 0);
  const n = k.dmesg.records.length;
  k.kho.unpreserveFolio(pfn + 2, 0); // same leaf: no warning
  assert.equal(k.dmesg.records.length, n);
  assert.deepEqual(blocks(k).includes(`${pfn}:0`), true);
});

test('preserve with kho=off or before kho_init: WARN_ON_ONCE and -EINVAL', () => {
  const k = boot({ cmdline: 'console=ttyS0' });
  assert.equal(k.kho.isEnabled(), false);
  assert.equal(k.kho.preserveFolio(0x1000, 0), -22);
  assert.equal(k.kho.preservePages(0x1000, 4), -22);
  assert.equal(k.kho.allocPreserve(4096), -22);
  assert.equal(k.dmesg.records.filter((r) => r.text.includes('kho_preserve_folio')).length, 1);
  assert.equal(k.kho.preserveFolio(0x1000, 0), -22);
  assert.equal(k.dmesg.records.filter((r) => r.text.includes('kho_preserve_folio')).length, 1);
  assert.equal(k.kho.addSubtree('x', 0x1000, 1), -22);
  assert.equal(k.debugfs.lookup('kho'), undefined);
});

test('kho_add_subtree with an existing name: -EEXIST, FDT unchanged', () => {
  const k = boot();
  const a = k.kho.allocPreserve(PAGE);
  assert.equal(k.kho.addSubtree('dup', a, 1), 0);
  const before = k.kho.outFdt();
  assert.equal(k.kho.addSubtree('dup', a + PAGE, 2), -17);
  assert.deepEqual(k.kho.outFdt(), before);
});

test('more sub-trees than fit in one page of FDT: -ENOMEM, no half-built node, newest first', () => {
  const k = boot();
  const blob = k.kho.allocPreserve(PAGE);
  let n = 0;
  let err = 0;
  while (err === 0 && n < 200) {
    err = k.kho.addSubtree(`sub${String(n).padStart(3, '0')}`, blob, n);
    if (err === 0) n++;
  }
  assert.equal(err, -12);
  assert.ok(n > 40 && n < 100, `${n} sub-trees fit`);
  const fdt = new Fdt(k.kho.outFdt()!);
  assert.ok(fdt.totalsize <= 4096);
  const names = fdt.children(fdt.root()).map((c) => fdt.getName(c));
  assert.equal(names.length, n + 1);
  assert.equal(names[0], `sub${String(n - 1).padStart(3, '0')}`);
  assert.equal(names.at(-1), 'kexec-metadata');
  assert.equal(k.debugfs.lookup(`kho/out/sub_fdts/sub${String(n).padStart(3, '0')}`), undefined);
  // Removing one makes room again.
  k.kho.removeSubtree(blob);
  assert.equal(new Fdt(k.kho.outFdt()!).children(0).length, n);
});

test('restore a phys that is not a preserved block head: WARN_ON_ONCE + null; restore twice: null', () => {
  const k = boot();
  const pfn = k.buddy.allocFolio(1, GFP_KERNEL)!;
  k.kho.preserveFolio(pfn, 1);
  const k2 = jump(k);
  assert.equal(k2.kho.restoreFolio((pfn + 1) * PAGE), null);
  assert.ok(k2.dmesg.has('WARNING: kho_restore_page'));
  assert.equal(k2.kho.restoreFolio(pfn * PAGE), pfn);
  assert.equal(k2.kho.restoreFolio(pfn * PAGE), null);
});

test('restore a pfn that is not online RAM: null, no warning', () => {
  const k2 = jump(boot());
  const n = k2.dmesg.records.length;
  assert.equal(k2.kho.restoreFolio(0x10_0000_0000_0), null);
  assert.equal(k2.kho.restorePages(0x10_0000_0000_0, 4), null);
  assert.equal(k2.dmesg.records.length, n);
});

test('preservePages decomposition, pfn 0 and nr 0; kho_alloc_preserve errors', () => {
  const k = boot();
  const tree = k.kho.ctx.tracker as KhoRadixTree;
  assert.equal(k.kho.preservePages(3, 8), 0); // 3..10 → (3,0) (4,2) (8,1) (10,0)
  for (const [p, o] of [
    [3, 0],
    [4, 2],
    [8, 1],
    [10, 0],
  ] as const)
    assert.ok(tree.has(p, o));
  assert.equal(k.kho.preservePages(0, 5), 0); // ctz(0) is -1 unsigned: order ilog2(5) = 2
  assert.ok(tree.has(0, 2) && tree.has(4, 0));
  assert.equal(k.kho.preservePages(77, 0), 0);
  assert.equal(k.kho.allocPreserve(0), -22);
  assert.equal(k.kho.allocPreserve(4096 * 1024 + 1), -7);
  assert.equal(k.kho.preserveFolio(-1, 0), -22);
  assert.equal(k.kho.preservePages(Number.NaN, 1), -22);
  k.kho.unpreserveFree(0); // no-op
});

test('NUMA split: preserve splits at the node boundary, unpreserve misses those keys (QUIRK)', () => {
  const k = boot({ mem: 16 * 1024 ** 3, nodes: 2, options: { khoDebug: false } }); // node 1 at 9 GiB
  const n1 = k.machine.topology.nodes[1]!.ranges[0]!.start / PAGE;
  const t = 31 - Math.clz32(n1 & -n1); // n1 = 2^t × odd, so [n1 - 2^t, n1 + 2^t) is one aligned block
  const start = n1 - 2 ** t;
  const stats = { blocks: 0 };
  assert.equal(k.kho.preservePages(start, 2 ** (t + 1), stats), 0);
  const tree = k.kho.ctx.tracker as KhoRadixTree;
  assert.ok(tree.has(start, t) && tree.has(n1, t));
  assert.ok(!tree.has(start, t + 1));
  assert.equal(stats.blocks, 2);
  k.kho.unpreservePages(start, 2 ** (t + 1));
  // Without the node check the decomposition is one order-(t+1) block: the order-t keys stay.
  assert.ok(tree.has(start, t) && tree.has(n1, t));
});

test('a property that no longer fits: the new node is deleted again and -ENOMEM (April 2026 fix)', () => {
  const k = boot();
  const blob = k.kho.allocPreserve(PAGE);
  let i = 0;
  // Fill until fewer than 128 bytes are left.
  while (4096 - k.kho.outFdt()!.length >= 128) assert.equal(k.kho.addSubtree(`fill${i++}`, blob, 1), 0);
  const free = 4096 - k.kho.outFdt()!.length;
  // A node of 8 + align4(len + 1) bytes fits, its two 20-byte properties do not.
  const len = Math.max(1, free - 8 - 20 - 3);
  const nodeCost = 8 + Math.ceil((len + 1) / 4) * 4;
  assert.ok(nodeCost <= free && nodeCost + 40 > free, `free ${free}, node ${nodeCost}`);
  const before = k.kho.outFdt();
  assert.equal(k.kho.addSubtree('n'.repeat(len), blob, 1), -12);
  assert.deepEqual(k.kho.outFdt(), before);
  assert.equal(k.debugfs.lookup(`kho/out/sub_fdts/${'n'.repeat(len)}`), undefined);
});
