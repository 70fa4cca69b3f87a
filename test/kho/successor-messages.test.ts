/**
 * What the successor logs, text and level, as kernel/liveupdate/kexec_handover.c and
 * kexec_handover_debugfs.c print it (kho_populate, kho_in_kexec_metadata, kho_retrieve_subtree,
 * kho_in_debugfs_init, kho_reserve_scratch); and where the kernel is silent about a hand-over
 * that cannot be right, the sanitizer's line (docs/kho.md).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeLe64Prop } from '../../src/abi/kho-fdt.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { editRootFdt } from '../../src/kho/out-fdt.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { boot, GiB, jump, type JumpOptions } from './kho-helpers.ts';

const PAGE = 4096;

/** The successor's records matching `re`, as `level: text`. */
function lines(k: Kernel, re: RegExp): string[] {
  return k.dmesg.records.filter((r) => re.test(r.text)).map((r) => `${r.level}: ${r.text}`);
}

/** `%pa`: 0x and 16 hex digits. */
const pa = (x: number): string => `0x${x.toString(16).padStart(16, '0')}`;

function v1Finalized(): Kernel {
  const k = boot({ profile: 'kho-v1' });
  const f = k.debugfs.lookup('kho/out/finalize');
  assert.ok(f !== undefined && f.kind === 'file' && f.write !== undefined);
  f.write(new TextEncoder().encode('1'));
  return k;
}

/** The scratch-array copy's node-0 entry (index 2) made to point beyond RAM. */
const badNodeArea: JumpOptions['tamper'] = (k, at) => {
  k.machine.mem.writeU64(at.scratchCopy + 32, 0x7_0000_0000_0000);
};

test('kho_populate: scratch marking failure, no WARN and no error code since kho-v2; kho-v1 had both', () => {
  const k = boot();
  const size = k.kho.scratch[2]!.size;
  const v4 = jump(k, { tamper: badNodeArea });
  const re = /scratch region|KHO revival|WARNING/;
  assert.deepEqual(lines(v4, re), [
    `warn: KHO: failed to mark the scratch region 0x${pa(0x7_0000_0000_0000)}+0x${pa(size)}: -ENOMEM`,
    'warn: KHO: disabling KHO revival',
  ]);
  const v1 = jump(v1Finalized(), { tamper: badNodeArea });
  assert.deepEqual(lines(v1, re), [
    'warn: WARNING: kho_populate: scratch marking failed',
    `warn: KHO: failed to mark the scratch region 0x${pa(0x7_0000_0000_0000)}+0x${pa(size)}: -ENOMEM`,
    'warn: KHO: disabling KHO revival: -12',
  ]);
});

test('kho_populate: the memremap scratch text; kho-v1 calls the map "bitmaps"', () => {
  const k = boot();
  const len = k.kho.scratch.length * 16;
  const a = jump(k, { record: { scratchPhys: 0xf_ffff_ffff_f000 } });
  assert.deepEqual(lines(a, /memremap|KHO revival/), [
    `warn: KHO: setup: failed to memremap scratch (phys=0xffffffffff000, len=${len})`,
    'warn: KHO: disabling KHO revival',
  ]);
  const b = jump(v1Finalized(), {
    tamper: (kk, at) => {
      editRootFdt(kk.machine.mem, at.fdt, (rw) => {
        rw.delprop(0, 'preserved-memory-map');
      });
    },
  });
  assert.deepEqual(lines(b, /preserved memory|KHO revival/), [
    'err: KHO: failed to get preserved memory bitmaps',
    'warn: KHO: disabling KHO revival: -2',
  ]);
});

test('kho_in_debugfs_init: a bad data property and a missing blob-size are logged and skipped', () => {
  const k = boot();
  const k2 = jump(k, {
    tamper: (kk, at) => {
      editRootFdt(kk.machine.mem, at.fdt, (rw) => {
        rw.setprop(rw.addSubnode(0, 'short'), 'preserved-data', new Uint8Array(4));
        rw.setprop(rw.addSubnode(0, 'nosize'), 'preserved-data', encodeLe64Prop(at.fdt));
      });
    },
  });
  assert.equal(k2.kho.isKhoBoot(), true);
  assert.deepEqual(lines(k2, /^KHO: node /), [
    'warn: KHO: node nosize missing or invalid blob-size property',
    'warn: KHO: node short prop preserved-data has invalid length: 4',
  ]);
  assert.equal(k2.debugfs.lookup('kho/in/sub_fdts/nosize'), undefined);
  assert.equal(k2.debugfs.lookup('kho/in/sub_fdts/short'), undefined);
  // kho_retrieve_subtree() on the one without a size: warn, -EINVAL, *phys written.
  const r = k2.kho.retrieveSubtree('nosize');
  assert.ok('errno' in r && r.errno === -22);
  assert.deepEqual(lines(k2, /broken KHO subnode/), [
    "warn: KHO: broken KHO subnode 'nosize': missing or invalid blob-size property",
  ]);
});

/** A successor whose incoming kexec-metadata node was edited by `edit(mem, fdt, blobPhys)`. */
function metadataCase(edit: (k: Kernel, fdt: number, blob: number) => void): Kernel {
  const k = boot();
  const blob = k.kho.ctx.subtrees.get('kexec-metadata')!.phys;
  return jump(k, {
    tamper: (kk, at) => {
      edit(kk, at.fdt, blob);
    },
  });
}

test('kho_in_kexec_metadata: size and version checks as the kernel words them', () => {
  const setSize = (n: number) => (k: Kernel, fdt: number) => {
    editRootFdt(k.machine.mem, fdt, (rw) => {
      rw.setprop('/kexec-metadata', 'blob-size', encodeLe64Prop(n));
    });
  };
  const re = /kexec-metadata|exec from/;
  assert.deepEqual(lines(metadataCase(setSize(2)), re), [
    'warn: KHO: kexec-metadata blob too small (2 bytes)',
  ]);
  assert.deepEqual(lines(metadataCase(setSize(40)), re), [
    'warn: KHO: kexec-metadata blob too small for v1 (40 < 73)',
  ]);
  const v7 = metadataCase((k, _fdt, blob) => {
    k.machine.mem.writeU32(blob, 7);
  });
  assert.deepEqual(lines(v7, re), ['warn: KHO: kexec-metadata version 7 not supported (expected 1)']);
  assert.equal(v7.generation, 0);
});

test('issue 11: kexec-metadata outside RAM is dropped with a line, not silently', () => {
  const k2 = metadataCase((k, fdt) => {
    editRootFdt(k.machine.mem, fdt, (rw) => {
      rw.setprop('/kexec-metadata', 'preserved-data', encodeLe64Prop(0x7_0000_0000_0000));
    });
  });
  assert.deepEqual(lines(k2, /kexec-metadata/), [
    'warn: kexec sanitizer: kexec-metadata blob at 0x7000000000000 (73 bytes) is outside RAM; ignored',
    "warn: kexec sanitizer: sub-tree 'kexec-metadata' blob at 0x7000000000000 (73 bytes) is outside RAM; not shown in debugfs",
  ]);
  assert.equal(k2.kho.isKhoBoot(), true);
  assert.equal(k2.generation, 0);
});

test('issue 11: a zeroed radix root reserves nothing, and the successor says so', () => {
  const k = boot();
  const root = k.kho.rootPhys;
  const k2 = jump(k, {
    tamper: (kk) => {
      kk.machine.mem.fill(root, PAGE, 0);
    },
  });
  assert.deepEqual(lines(k2, /holds no blocks/), [
    `warn: kexec sanitizer: the preserved memory map at 0x${root.toString(16)} holds no blocks, not even the KHO FDT page: nothing was reserved`,
  ]);
});

test('issue 11: a scratch area over preserved memory is not accepted silently', () => {
  const k = boot();
  const pfn = k.buddy.alloc(0, GFP_KERNEL)!;
  assert.equal(k.kho.preserveFolio(pfn, 0), 0);
  const k2 = jump(k, {
    tamper: (kk, at) => {
      // The (empty, 1 GiB machine) global area now covers the preserved page.
      kk.machine.mem.writeU64(at.scratchCopy + 16, pfn * PAGE);
      kk.machine.mem.writeU64(at.scratchCopy + 24, PAGE);
    },
  });
  assert.equal(k2.kho.isKhoBoot(), true);
  assert.deepEqual(lines(k2, /inside the scratch areas/), [
    `warn: kexec sanitizer: 1 preserved block(s) lie inside the scratch areas, first at 0x${(pfn * PAGE).toString(16)}: early boot may have overwritten them`,
  ]);
});

test('issue 11: a vmalloc descriptor asking for 2^32 pages fails as kvmalloc does, without a JavaScript error text', () => {
  const k = boot();
  const desc = k.kho.allocPreserve(16);
  k.machine.mem.writeU64(desc, 0);
  k.machine.mem.writeU32(desc + 8, 0xffff_ffff);
  const k2 = jump(k);
  assert.equal(k2.kho.restoreVmalloc(desc), null);
  assert.deepEqual(lines(k2, /kvmalloc/), [
    'warn: WARNING: __kvmalloc_node_noprof: kvmalloc of 34359738360 bytes exceeds INT_MAX',
  ]);
  assert.ok(!k2.dmesg.has('Array buffer allocation failed'));
});

test('kho_reserve_scratch failure is a warning', () => {
  const k = boot({ mem: GiB, cmdline: 'kho=on kho_scratch=0,100G,0' });
  assert.deepEqual(lines(k, /disabling kexec handover/), [
    'warn: KHO: Failed to reserve scratch area, disabling kexec handover',
  ]);
});
