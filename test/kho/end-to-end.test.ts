/**
 * The acceptance scenario of lib/test_kho.c and tools/testing/selftests/kho/ through the real loader: preserve folios, a vmalloc
 * array and a sub-tree; kexec_file_load the same kernel; kexec -e with the sanitizer poisoning
 * everything unpreserved; the successor restores with identical contents; three generations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kexecFileLoad } from '../../src/kexec/file-load.ts';
import { kexecExecute } from '../../src/kexec/execute.ts';
import { mkImage } from '../../src/kexec/image.ts';
import { Machine } from '../../src/kernel/machine.ts';
import { profileByName } from '../../src/kernel/profile.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';

const PAGE = 4096;
const MiB = 1024 * 1024;

function checksum(k: Kernel, phys: number, len: number): number {
  const b = k.machine.mem.read(phys, len);
  let s = 0;
  for (let i = 0; i < b.length; i += 64) s = (Math.imul(s, 31) + b[i]!) | 0;
  return s >>> 0;
}

test('save, kexec with the sanitizer, restore: three generations through kexec_file_load', () => {
  const profile = profileByName('kho-v4', { khoDebug: true })!;
  const m = Machine.create({ mem: 2 * 1024 ** 3, nodes: 1, sanitize: true, seed: 5 });
  let k = m.coldBoot({ cmdline: 'console=ttyS0 kho=on', profile });
  const image = mkImage({ profile, size: MiB });
  const rnd = m.rng('test');
  for (let gen = 1; gen <= 3; gen++) {
    // Save: random folios, their list in a vmalloc area, a sub-tree pointing at the descriptor.
    const folios: { pfn: number; order: number; sum: number }[] = [];
    for (let i = 0; i < 40; i++) {
      const order = Math.floor(rnd() * 6);
      const pfn = k.buddy.allocFolio(order, GFP_KERNEL)!;
      const bytes = new Uint8Array(PAGE << order);
      for (let j = 0; j < bytes.length; j += 64) bytes[j] = Math.floor(rnd() * 256);
      k.machine.mem.write(pfn * PAGE, bytes);
      assert.equal(k.kho.preserveFolio(pfn, order), 0);
      folios.push({ pfn, order, sum: checksum(k, pfn * PAGE, PAGE << order) });
    }
    const va = k.vmalloc.vmalloc(folios.length * 8)!;
    folios.forEach((f, i) => {
      k.vmalloc.write(va + i * 8, new Uint8Array(new Float64Array([f.pfn * PAGE + f.order]).buffer));
    });
    const blob = k.kho.allocPreserve(PAGE);
    assert.equal(k.kho.preserveVmalloc(va, blob), 0);
    assert.equal(k.kho.addSubtree('kho_test', blob, 16), 0);
    const unkept = k.buddy.alloc(0, GFP_KERNEL)!;

    const load = kexecFileLoad(k, { image, cmdline: 'console=ttyS0 kho=on' });
    assert.deepEqual(load.warnings, []);
    const { successor } = kexecExecute(m);
    k = successor;
    assert.equal(k.generation, gen);
    assert.ok(k.dmesg.has(`(count ${gen})`));
    assert.equal(k.machine.mem.isPoisoned(unkept), true);

    // Restore.
    const r = k.kho.retrieveSubtree('kho_test');
    assert.ok('size' in r && r.size === 16);
    const va2 = k.kho.restoreVmalloc(r.phys);
    assert.ok(va2 !== null);
    const list = new Float64Array(k.vmalloc.read(va2, folios.length * 8).slice().buffer);
    folios.forEach((f, i) => {
      const order = list[i]! % PAGE;
      const phys = list[i]! - order;
      assert.equal(order, f.order);
      assert.equal(k.kho.restoreFolio(phys), f.pfn);
      assert.equal(checksum(k, phys, PAGE << order), f.sum);
      assert.equal(k.kho.restoreFolio(phys), null);
      k.buddy.putPage(f.pfn);
    });
    k.vmalloc.vfree(va2);
  }
});
