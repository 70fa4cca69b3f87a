/**
 * Successor side (kernel/liveupdate/kexec_handover.c: kho_populate(), kho_memory_init(), kho_restore_*();
 * kexec-metadata; mm/memblock.c reserve_mem): hand-made jumps, the populate
 * validation matrix falling back to a cold boot, memory init, restore, recursion.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeLe64Prop } from '../../src/abi/kho-fdt.ts';
import { KHO_PAGE_MAGIC } from '../../src/abi/kho-page.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { MEMBLOCK_RSRV_NOINIT } from '../../src/mm/memblock.ts';
import { editRootFdt } from '../../src/kho/out-fdt.ts';
import { reserveSizeOf } from '../../src/kho/memory-init.ts';
import { KernelPanic } from '../../src/kernel/boot.ts';
import { boot, dec, GiB, jump, type JumpOptions } from './kho-helpers.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';

const PAGE = 4096;

test('a KHO boot accepts the data, logs it and counts kexecs', () => {
  const k = boot();
  assert.equal(k.generation, 0);
  const k2 = jump(k);
  assert.ok(k2.dmesg.has('KHO: found kexec handover data.'));
  assert.ok(k2.dmesg.has(`KHO: exec from: ${k.release} (count 1)`));
  assert.equal(k2.kho.isKhoBoot(), true);
  assert.equal(k2.generation, 1);
  assert.deepEqual(k2.kho.scratch, k.kho.scratch);
  // Scratch pageblocks are CMA in the successor.
  assert.ok(k2.buddy.meminfo().CmaTotal > 0);
});

function corrupt(edit: (k: Kernel, fdt: number) => void, record?: JumpOptions['record']): Kernel {
  const k = boot();
  const pfn = k.buddy.alloc(0, GFP_KERNEL)!;
  assert.equal(k.kho.preserveFolio(pfn, 0), 0);
  const k2 = jump(k, {
    tamper: (kk, at) => {
      edit(kk, at.fdt);
    },
    ...(record ? { record } : {}),
  });
  // Rejected data: cold boot, nothing reserved, fresh scratch, no sub-trees.
  assert.ok(k2.dmesg.has('KHO: disabling KHO revival'), k2.dmesg.text());
  assert.equal(k2.kho.isKhoBoot(), false);
  assert.deepEqual(k2.kho.retrieveSubtree('kexec-metadata'), { errno: -2 });
  assert.equal(k2.generation, 0);
  assert.equal(k2.kho.isEnabled(), true);
  assert.equal(k2.buddy.meta.privateHi(pfn), 0);
  assert.equal(k2.kho.restoreFolio(pfn * PAGE), null);
  assert.ok(k2.debugfs.lookup('kho/out/fdt') !== undefined);
  assert.equal(k2.debugfs.lookup('kho/in'), undefined);
  return k2;
}

test('populate: bad FDT magic → invalid, cold boot', () => {
  const k2 = corrupt((k, fdt) => {
    k.machine.mem.writeU32(fdt, 0x12345678);
  });
  assert.ok(k2.dmesg.has('is invalid: -9'), k2.dmesg.text());
});

test('populate: wrong compatible → incompatible, cold boot', () => {
  const k2 = corrupt((k, fdt) => {
    editRootFdt(k.machine.mem, fdt, (rw) => {
      rw.setprop(0, 'compatible', new TextEncoder().encode('kho-v3\0'));
    });
  });
  assert.ok(k2.dmesg.has("is incompatible with 'kho-v4': 1"), k2.dmesg.text());
});

test('populate: missing or zero preserved-memory-map → cold boot', () => {
  const a = corrupt((k, fdt) => {
    editRootFdt(k.machine.mem, fdt, (rw) => {
      rw.delprop(0, 'preserved-memory-map');
    });
  });
  // kho_get_mem_map_phys(): pr_err for a missing or short property, silence for a zero value;
  // kho_populate() then says `disabling KHO revival` (warn, no error code since kho-v2).
  const revival = (k: Kernel): string[] =>
    k.dmesg.records
      .filter((r) => /preserved memory map|KHO revival/.test(r.text))
      .map((r) => `${r.level}: ${r.text}`);
  assert.deepEqual(revival(a), [
    'err: KHO: failed to get preserved memory map',
    'warn: KHO: disabling KHO revival',
  ]);
  const b = corrupt((k, fdt) => {
    editRootFdt(k.machine.mem, fdt, (rw) => {
      rw.setprop(0, 'preserved-memory-map', encodeLe64Prop(0));
    });
  });
  assert.deepEqual(revival(b), ['warn: KHO: disabling KHO revival']);
  const c = corrupt((k, fdt) => {
    editRootFdt(k.machine.mem, fdt, (rw) => {
      rw.setprop(0, 'preserved-memory-map', new Uint8Array(4));
    });
  });
  assert.deepEqual(revival(c), [
    'err: KHO: failed to get preserved memory map',
    'warn: KHO: disabling KHO revival',
  ]);
});

test('populate: bad scratch array or unmappable FDT → cold boot', () => {
  const a = corrupt((k) => {
    const s = k.kho.scratch[0]!;
    const copy = Math.floor((s.addr + s.size - k.kho.scratch.length * 16) / 65536) * 65536;
    k.machine.mem.writeU64(copy + 32, 0x7_0000_0000_0000); // node 0 area beyond RAM
  });
  assert.ok(a.dmesg.has('failed to mark the scratch region'), a.dmesg.text());
  const b = corrupt(() => undefined, { scratchPhys: 0xf_ffff_ffff_f000 });
  assert.ok(b.dmesg.has('failed to memremap scratch'));
  const c = corrupt(() => undefined, { fdtPhys: 0xf_ffff_ffff_f000 });
  assert.ok(c.dmesg.has('setup: failed to memremap FDT'));
});

test('legacy jump without KHO data boots cold; unknown image release boots as the previous profile', () => {
  const k = boot();
  const k2 = jump(k, { noKho: true, release: '6.1.0-distro' });
  assert.equal(k2.kho.isKhoBoot(), false);
  assert.ok(k2.dmesg.has('is release 6.1.0-distro, which the model does not know'));
  assert.equal(k2.profile.name, 'kho-v4');
  assert.ok(!k2.dmesg.has('disabling KHO revival'));
});

test('the successor profile comes from the image banner; mismatched ABI disables revival', () => {
  const k = boot();
  const k2 = jump(k, { release: '7.2.0-kho-v3' });
  assert.equal(k2.profile.name, 'kho-v3');
  assert.ok(k2.dmesg.has("incompatible with 'kho-v3'"));
  assert.equal(k2.kho.isKhoBoot(), false);
});

test('memory init reserves preserved blocks with NOINIT and the KHOP stamp; tree pages are freed', () => {
  const k = boot({ mem: 2 * GiB, nodes: 2 });
  const pfns = [k.buddy.allocFolio(0, GFP_KERNEL)!, k.buddy.allocFolio(4, GFP_KERNEL)!];
  assert.equal(k.kho.preserveFolio(pfns[0]!, 0), 0);
  assert.equal(k.kho.preserveFolio(pfns[1]!, 4), 0);
  const root = k.kho.rootPhys;
  const k2 = jump(k);
  for (const [i, pfn] of pfns.entries()) {
    const order = i === 0 ? 0 : 4;
    assert.equal(k2.buddy.meta.privateHi(pfn), KHO_PAGE_MAGIC);
    assert.equal(k2.buddy.meta.privateLo(pfn), order);
    assert.equal(k2.buddy.isReserved(pfn), true);
    const r = k2.memblock.reserved.find(pfn * PAGE);
    assert.ok(r !== null && (r.flags & MEMBLOCK_RSRV_NOINIT) !== 0);
  }
  // The radix root page of the predecessor was not preserved: it is free memory now.
  assert.equal(k2.buddy.isFree(root / PAGE), true);
});

test('restore: folio, second restore fails, pages, free; unrestored stays reserved', () => {
  const k = boot();
  const f = k.buddy.allocFolio(2, GFP_KERNEL)!;
  k.machine.mem.fill(f * PAGE, 4 * PAGE, 0x5a);
  const pages = k.buddy.alloc(3, GFP_KERNEL)!;
  const kept = k.buddy.alloc(0, GFP_KERNEL)!;
  assert.equal(k.kho.preserveFolio(f, 2), 0);
  assert.equal(k.kho.preservePages(pages, 8), 0);
  assert.equal(k.kho.preserveFolio(kept, 0), 0);
  const blob = k.kho.allocPreserve(PAGE);
  const k2 = jump(k);
  const managed = k2.buddy.managedPages;
  assert.equal(k2.kho.restoreFolio(f * PAGE), f);
  assert.equal(k2.buddy.managedPages, managed + 4);
  assert.equal(k2.buddy.meta.refcount(f), 1);
  assert.equal(k2.machine.mem.readU8(f * PAGE + 4 * PAGE - 1), 0x5a);
  assert.equal(k2.kho.restoreFolio(f * PAGE), null);
  assert.ok(k2.dmesg.has('WARNING: kho_restore_page'));
  assert.equal(k2.kho.restorePages(pages * PAGE, 8), pages);
  for (let i = 0; i < 8; i++) assert.equal(k2.buddy.meta.refcount(pages + i), 1);
  for (let i = 0; i < 8; i++) k2.buddy.freePages(pages + i, 0);
  assert.equal(k2.buddy.isFree(pages), true);
  k2.buddy.putPage(f);
  assert.equal(k2.buddy.isFree(f), true);
  k2.kho.restoreFree(blob);
  assert.equal(k2.buddy.isFree(blob / PAGE), true);
  assert.equal(k2.buddy.isReserved(kept), true);
  // Not a block head / not RAM.
  assert.equal(k2.kho.restoreFolio(pages * PAGE + PAGE), null);
  assert.equal(k2.kho.restoreFolio(0x7_0000_0000_0000), null);
});

test('vmalloc: preserve, restore at a new address with the same contents', () => {
  const k = boot();
  const va = k.vmalloc.vmalloc(600 * PAGE)!; // > 511 pieces: two chunks
  const data = new Uint8Array(600 * PAGE);
  for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
  k.vmalloc.write(va, data);
  const desc = k.kho.allocPreserve(16);
  assert.equal(k.kho.preserveVmalloc(va, desc), 0);
  assert.equal(k.machine.mem.readU32(desc + 8), 600);
  const k2 = jump(k);
  const va2 = k2.kho.restoreVmalloc(desc);
  assert.ok(va2 !== null);
  assert.deepEqual(k2.vmalloc.read(va2, data.length), data);
  // A second restore fails (pages already restored).
  assert.equal(k2.kho.restoreVmalloc(desc), null);
});

test('reserve_mem regions are revived at the same address; recursion keeps scratch for 3 generations', () => {
  const cmd = 'console=ttyS0 kho=on reserve_mem=4M:2M:trace';
  let k = boot({ cmdline: cmd });
  const start = k.reserveMem[0]!.start;
  k.machine.mem.write(start, new TextEncoder().encode('persist'));
  const scratch = k.kho.scratch;
  const sub = k.debugfs.lookup('kho/out/sub_fdts/memblock');
  assert.ok(sub !== undefined);
  for (let g = 1; g <= 3; g++) {
    const pfn = k.buddy.alloc(0, GFP_KERNEL)!;
    k.machine.mem.writeU32(pfn * PAGE, 0xc0de0000 + g);
    assert.equal(k.kho.preserveFolio(pfn, 0), 0);
    const blob = k.kho.allocPreserve(8);
    k.machine.mem.writeU64(blob, pfn * PAGE);
    assert.equal(k.kho.addSubtree('gen', blob, 8), 0);
    k = jump(k);
    assert.equal(k.generation, g);
    assert.ok(k.dmesg.has(`(count ${g})`));
    assert.ok(k.dmesg.has("Revived memory reservation 'trace' from KHO"));
    assert.equal(k.reserveMem[0]!.start, start);
    assert.equal(dec(k.machine.mem.read(start, 7)), 'persist');
    assert.deepEqual(k.kho.scratch, scratch);
    const r = k.kho.retrieveSubtree('gen');
    assert.ok('size' in r);
    const p = k.machine.mem.readU64(r.phys);
    assert.equal(k.kho.restoreFolio(p), p / PAGE);
    assert.equal(k.machine.mem.readU32(p), 0xc0de0000 + g);
  }
});

test('in/ debugfs lists incoming sub-trees; no out/fdt on a KHO boot unless outFdtOnKhoBoot', () => {
  const k = boot();
  const blob = k.kho.allocPreserve(PAGE);
  k.machine.mem.write(blob, new TextEncoder().encode('abc'));
  assert.equal(k.kho.addSubtree('t', blob, 3), 0);
  const k2 = jump(k);
  assert.equal(k2.debugfs.lookup('kho/out/fdt'), undefined);
  const inFdt = k2.debugfs.lookup('kho/in/fdt');
  assert.ok(inFdt !== undefined && inFdt.kind === 'file');
  assert.deepEqual(inFdt.read(), k.kho.outFdt());
  const t = k2.debugfs.lookup('kho/in/sub_fdts/t');
  assert.ok(t !== undefined && t.kind === 'file');
  assert.equal(dec(t.read()), 'abc');
  const names = (
    k2.debugfs.lookup('kho/in/sub_fdts') as import('../../src/kernel/pseudo-fs.ts').PseudoDir
  ).names();
  assert.deepEqual(names, ['t', 'kexec-metadata']);
  const k3 = jump(boot({ options: { outFdtOnKhoBoot: true } }));
  assert.ok(k3.debugfs.lookup('kho/out/fdt') !== undefined);
});

test('KHO disabled in the successor: memory still reserved and sub-trees retrievable, no debugfs', () => {
  const k = boot();
  const pfn = k.buddy.alloc(0, GFP_KERNEL)!;
  k.kho.preserveFolio(pfn, 0);
  const k2 = jump(k, { cmdline: 'console=ttyS0' });
  assert.equal(k2.kho.isEnabled(), false);
  assert.equal(k2.kho.isKhoBoot(), true);
  assert.equal(k2.generation, 1);
  assert.ok('size' in k2.kho.retrieveSubtree('kexec-metadata'));
  assert.equal(k2.buddy.meta.privateHi(pfn), KHO_PAGE_MAGIC);
  assert.equal(k2.debugfs.lookup('kho'), undefined);
  assert.equal(k2.kho.fillKimage(), null);
});

test('32-bit reserve size QUIRK for orders ≥ 19, reserve64 fixes it', () => {
  assert.equal(reserveSizeOf(18, false), 1 << 30);
  assert.equal(reserveSizeOf(19, false), Number.MAX_SAFE_INTEGER);
  assert.equal(reserveSizeOf(20, false), 1);
  assert.equal(reserveSizeOf(21, false), 2);
  assert.equal(reserveSizeOf(20, true), 4 * GiB);
  // A 4 GiB-aligned order-20 block on an 8 GiB machine: only 1 byte is reserved.
  const k = boot({ mem: 8 * GiB });
  assert.equal(k.kho.preservePages(0x100000, 0x100000), 0); // [4 GiB, 8 GiB)
  const k2 = jump(k);
  assert.equal(k2.buddy.meta.privateLo(0x100000), 20);
  assert.equal(k2.buddy.isReserved(0x100000 + 1), false);
  const k64 = boot({ mem: 8 * GiB, options: { reserve64: true } });
  assert.equal(k64.kho.preservePages(0x100000, 0x100000), 0);
  const k3 = jump(k64);
  assert.equal(k3.buddy.isReserved(0x100000 + 1), true);
  assert.equal(k3.buddy.isReserved(0x1fffff), true);
});

test('scratch too small for the successor early boot: kernel panic with the log', () => {
  const k = boot({ cmdline: 'kho=on kho_scratch=8M,0,4M' });
  assert.throws(
    () => jump(k),
    (e: unknown) =>
      e instanceof KernelPanic &&
      e.message === 'Kernel panic - not syncing: cannot initialize percpu area (err=-12)' &&
      e.dmesg.has('KHO: found kexec handover data.') &&
      // Before it, the memory map could only be backed in part (mm/sparse.c: sparse_init_nid()).
      e.dmesg.has('sparse_init_nid: node[0] memory map backing failed. Some memory will not be available.') &&
      e.dmesg.has('percpu: embed allocator failed (-12), falling back to page size') &&
      e.dmesg.has('---[ end Kernel panic - not syncing: cannot initialize percpu area (err=-12) ]---'),
  );
  assert.equal(k.machine.kernel, null);
  assert.ok(k.machine.halted instanceof KernelPanic);
});

test('ten generations keep the scratch areas and a chain of preserved pages', () => {
  let k = boot({ mem: 2 * GiB });
  const scratch = k.kho.scratch;
  let prev = 0;
  for (let g = 1; g <= 10; g++) {
    const blob = k.kho.allocPreserve(PAGE);
    k.machine.mem.writeU64(blob, prev);
    k.machine.mem.writeU32(blob + 8, g);
    assert.equal(k.kho.addSubtree('chain', blob, 12), 0);
    k = jump(k);
    assert.equal(k.generation, g);
    assert.deepEqual(k.kho.scratch, scratch);
    const r = k.kho.retrieveSubtree('chain');
    assert.ok('size' in r);
    assert.equal(k.kho.restoreFolio(r.phys), r.phys / PAGE);
    assert.equal(k.machine.mem.readU32(r.phys + 8), g);
    prev = r.phys;
  }
});

test('populate: valid header but a broken structure block fails the compatible check', () => {
  const k2 = corrupt((k, fdt) => {
    k.machine.mem.writeU32(fdt + 56, 0xdeadbeef);
  });
  assert.match(k2.dmesg.text(), /is incompatible with 'kho-v4': -\d+/);
});

test('reserve_mem revival refuses a different size, alignment or name and allocates afresh', () => {
  const k = boot({ cmdline: 'console=ttyS0 kho=on reserve_mem=4M:2M:trace' });
  const start = k.reserveMem[0]!.start;
  const size = jump(k, { cmdline: 'kho=on reserve_mem=8M:2M:trace' });
  assert.ok(size.dmesg.has("KHO reserve-mem 'trace' has wrong size (0x400000 != 0x800000)"));
  assert.notEqual(size.reserveMem[0]!.start, start);
  // Fresh allocations on a KHO boot come from scratch (scratch-only memblock).
  const inScratch = size.kho.scratch.some(
    (a) => size.reserveMem[0]!.start >= a.addr && size.reserveMem[0]!.start < a.addr + a.size,
  );
  assert.ok(inScratch);
  const k1 = boot({ cmdline: 'console=ttyS0 kho=on reserve_mem=4M:2M:trace' });
  const name = jump(k1, { cmdline: 'kho=on reserve_mem=4M:2M:other' });
  assert.ok(name.dmesg.has("FDT 'memblock' has no child 'other'"));
  const k3 = boot({ cmdline: 'console=ttyS0 kho=on reserve_mem=4M:2M:trace' });
  const odd = k3.reserveMem[0]!.start % 2 ** 30 !== 0;
  const align = jump(k3, { cmdline: 'kho=on reserve_mem=4M:1G:trace' });
  assert.equal(align.dmesg.has("KHO reserve-mem 'trace' has wrong alignment"), odd);
});
