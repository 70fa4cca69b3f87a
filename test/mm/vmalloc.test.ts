import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Buddy } from '../../src/mm/buddy.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { MmError } from '../../src/mm/mm-error.ts';
import {
  PAGE_OFFSET,
  VMALLOC_END,
  VMALLOC_START,
  formatVa,
  isVmallocAddr,
  modelVa,
  phys2virt,
  realVa,
  virt2phys,
} from '../../src/mm/address-space.ts';
import {
  VM_ALLOC,
  VM_ALLOW_HUGE_VMAP,
  VM_MAP,
  VM_NO_GUARD,
  VM_USERMAP,
  Vmalloc,
  vmAreaSize,
} from '../../src/mm/vmalloc.ts';
import { PhysicalMemory } from '../../src/hw/physical-memory.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 100);
const MiB = 1 << 20;

function setup(freeMiB = 64): { b: Buddy; mem: PhysicalMemory; v: Vmalloc; logs: string[] } {
  const mem = new PhysicalMemory({ limit: 128 * MiB });
  const b = new Buddy([{ startPfn: 0, endPfn: 128 * 256, nid: 0 }], { mem });
  b.freeRange(0, freeMiB * 256);
  const logs: string[] = [];
  return { b, mem, v: new Vmalloc(b, mem, { log: (l) => logs.push(l) }), logs };
}

describe('kernel address model', () => {
  it('maps real x86-64 addresses below 2^53 and back', () => {
    assert.equal(formatVa(VMALLOC_START), '0xffffc90000000000');
    assert.equal(formatVa(VMALLOC_END), '0xffffe90000000000');
    assert.equal(formatVa(PAGE_OFFSET), '0xffff888000000000');
    assert.ok(VMALLOC_END < 2 ** 53);
    assert.equal(modelVa(0xffffc90000001000n), VMALLOC_START + 0x1000);
    assert.equal(modelVa(0x1000n), -1);
    assert.equal(realVa(phys2virt(0x1234)), 0xffff888000001234n);
    assert.equal(virt2phys(phys2virt(0x5000)), 0x5000);
    assert.equal(virt2phys(VMALLOC_START), -1);
    assert.equal(isVmallocAddr(VMALLOC_START + 5), true);
  });
});

describe('vmalloc', () => {
  it('uses the kernel flag values', () => {
    assert.deepEqual(
      [VM_ALLOC, VM_MAP, VM_USERMAP, VM_NO_GUARD, VM_ALLOW_HUGE_VMAP],
      [0x2, 0x4, 0x8, 0x40, 0x400],
    );
  });

  it('maps scattered order-0 pages and reads/writes through the virtual address', () => {
    const { b, v } = setup();
    const free0 = b.nrFreePages;
    const va = v.vmalloc(3 * 4096 + 10)!;
    assert.equal(va, VMALLOC_START);
    const a = v.findVmArea(va + 5000)!;
    assert.equal(a.addr, va);
    assert.equal(a.flags, VM_ALLOC);
    assert.equal(a.pageOrder, 0);
    assert.equal(a.pages.length, 4);
    assert.equal(vmAreaSize(a), 4 * 4096);
    assert.equal(b.nrFreePages, free0 - 4);
    const data = Uint8Array.from({ length: 9000 }, (_, i) => (i * 7) & 0xff);
    v.write(va + 3000, data);
    assert.deepEqual(v.read(va + 3000, 9000), data);
    v.writeU32(va + 4094, 0xdeadbeef); // straddles two pages
    assert.equal(v.readU32(va + 4094), 0xdeadbeef);
    v.writeU64(va + 8, 0x1f_0000_1234_5678);
    assert.equal(v.readU64(va + 8), 0x1f_0000_1234_5678);
    v.writeU32(va + 12, 0xffffffff);
    assert.throws(
      () => v.readU64(va + 8),
      (e: unknown) => e instanceof MmError && e.code === 'ERANGE',
    );
    // The guard page belongs to the area but is not mapped.
    assert.equal(v.findVmArea(va + 4 * 4096), a);
    assert.throws(
      () => v.vmallocToPfn(va + 4 * 4096),
      (e: unknown) => e instanceof MmError && e.code === 'EFAULT',
    );
    v.vfree(va);
    assert.equal(b.nrFreePages, free0);
    assert.equal(v.findVmArea(va), null);
  });

  it('vmalloc_user carries VM_USERMAP and is zeroed; vzalloc is zeroed', () => {
    const { mem, b, v } = setup();
    const p = b.alloc(0, GFP_KERNEL)!;
    mem.fill(p * 4096, 4096, 0x77);
    b.freePages(p, 0);
    const u = v.vmallocUser(100)!;
    assert.equal(v.findVmArea(u)!.flags, VM_ALLOC | VM_USERMAP);
    assert.equal(v.findVmArea(u)!.pages[0], p);
    assert.equal(v.readU32(u), 0);
    v.vfree(u);
    const z = v.vzalloc(4096)!;
    assert.equal(v.readU32(z + 8), 0);
  });

  it('huge vmalloc uses order-9 pieces, 2 MiB aligned, and falls back to order 0', () => {
    const { b, v } = setup();
    const va = v.vmallocHuge(3 * MiB)!;
    const a = v.findVmArea(va)!;
    assert.equal(a.flags, VM_ALLOC | VM_ALLOW_HUGE_VMAP);
    assert.equal(a.pageOrder, 9);
    assert.equal((va - VMALLOC_START) % (2 * MiB), 0);
    assert.equal(a.pages.length, 1024);
    for (let i = 0; i < 1024; i += 512) {
      assert.equal(a.pages[i]! % 512, 0);
      for (let k = 1; k < 512; k++) assert.equal(a.pages[i + k], a.pages[i]! + k);
    }
    // Each page is independent (split_page): refcount 1.
    assert.equal(b.meta.refcount(a.pages[5]!), 1);
    v.vfree(va);
    // Fragment memory so no order-9 block is left: the huge request falls back.
    const { b: b2, v: v2 } = setup(4);
    const held: number[] = [];
    for (let i = 0; i < 1024; i += 2) {
      const p = b2.alloc(0, GFP_KERNEL)!;
      held.push(p);
      b2.alloc(0, GFP_KERNEL);
    }
    for (const p of held) b2.freePages(p, 0);
    const w = v2.vmallocHuge(2 * MiB);
    assert.notEqual(w, null);
    assert.equal(v2.findVmArea(w!)!.pageOrder, 0);
    assert.equal(b.nrFreePages, 64 * 256);
  });

  it('vmap maps given pages; VM_ALLOC areas own them, VM_MAP areas do not', () => {
    const { b, v } = setup();
    const pages = [b.alloc(0, GFP_KERNEL)!, b.alloc(0, GFP_KERNEL)!];
    const m = v.vmap(pages)!;
    assert.equal(v.findVmArea(m)!.flags, VM_MAP);
    v.writeU32(m + 4096, 42);
    v.vunmap(m);
    assert.equal(b.isFree(pages[1]!), false);
    const r = v.vmap(pages, { flags: VM_ALLOC, pageOrder: 1 })!;
    assert.equal((r - VMALLOC_START) % 8192, 0);
    assert.equal(v.readU32(r + 4096), 42);
    v.vfree(r);
    assert.equal(b.isFree(pages[0]!), true);
  });

  it('fails cleanly: size 0, too large, unknown address', () => {
    const { v, logs } = setup();
    assert.equal(v.vmalloc(0), null);
    assert.equal(v.vmalloc(129 * MiB), null);
    v.vfree(VMALLOC_START + 0x1000);
    assert.ok(logs.some((l) => l.includes('nonexistent vm area')));
    assert.throws(
      () => v.vmalloc(-1),
      (e: unknown) => e instanceof MmError && e.code === 'EINVAL',
    );
    assert.equal(v.findVmArea(Number.NaN), null);
  });

  it('areas never overlap and free space is reused (model)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 1, max: 5 * 4096 }), fc.constant(-1)), { maxLength: 40 }),
        (ops) => {
          const { b, v } = setup(8);
          const live: number[] = [];
          const free0 = b.nrFreePages;
          for (const op of ops) {
            if (op < 0) {
              const va = live.shift();
              if (va !== undefined) v.vfree(va);
              continue;
            }
            const va = v.vmalloc(op);
            if (va !== null) live.push(va);
          }
          const areas = v.list();
          for (let i = 1; i < areas.length; i++)
            assert.ok(areas[i - 1]!.addr + areas[i - 1]!.size <= areas[i]!.addr);
          const pfns = new Set<number>();
          for (const a of areas) for (const p of a.pages) pfns.add(p);
          assert.equal(pfns.size, free0 - b.nrFreePages);
          for (const va of live) v.vfree(va);
          assert.equal(b.nrFreePages, free0);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
