/** kho-v1 (v6.16 kernel/kexec_handover.c): finalize/abort through debugfs, chunk serialization, successor. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { walkKhoV1MemMap } from '../../src/abi/kho-v1-mem-map.ts';
import { Fdt } from '../../src/fdt/reader.ts';
import { FdtSw } from '../../src/fdt/sw.ts';
import { KernelError } from '../../src/util/errno.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import type { PseudoFile } from '../../src/kernel/pseudo-fs.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { boot, dec, jump } from './kho-helpers.ts';

const PAGE = 4096;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function file(k: Kernel, path: string): PseudoFile {
  const f = k.debugfs.lookup(path);
  assert.ok(f !== undefined && f.kind === 'file', path);
  return f;
}

function memMap(k: Kernel): number {
  const fdt = new Fdt(k.kho.outFdt()!);
  const v = fdt.getprop(fdt.root(), 'preserved-memory-map')!;
  return (
    new DataView(v.buffer, v.byteOffset).getUint32(0, true) +
    new DataView(v.buffer, v.byteOffset).getUint32(4, true) * 2 ** 32
  );
}

function errnoOf(f: () => void): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
  return 'ok';
}

/** A small FDT blob in a preserved page (v1 sub-trees are FDTs). */
function subFdt(k: Kernel): number {
  const sw = FdtSw.create(256);
  sw.finishReservemap();
  sw.beginNode('');
  sw.propertyString('compatible', 'test-v1');
  sw.endNode();
  const b = sw.finish();
  const phys = k.kho.allocPreserve(PAGE);
  k.machine.mem.write(phys, b);
  return phys;
}

test('kho-v1 root FDT: map 0 until finalize, `fdt` property, no kexec-metadata', () => {
  const k = boot({ profile: 'kho-v1' });
  assert.equal(memMap(k), 0);
  const phys = subFdt(k);
  assert.equal(k.kho.addSubtree('t', phys, 999), 0);
  const fdt = new Fdt(k.kho.outFdt()!);
  const kids = fdt.children(fdt.root()).map((c) => fdt.getName(c));
  assert.deepEqual(kids, ['t']);
  const node = fdt.subnode(fdt.root(), 't');
  assert.ok(fdt.getprop(node, 'fdt') !== null);
  assert.equal(fdt.getprop(node, 'blob-size'), null);
  // debugfs size comes from the sub-FDT header, not from the argument.
  assert.equal(
    file(k, 'kho/out/sub_fdts/t').read().length,
    new Fdt(k.machine.mem.read(phys, PAGE).subarray(0, 256)).totalsize,
  );
});

test('finalize: read/write semantics and errors', () => {
  const k = boot({ profile: 'kho-v1' });
  const f = file(k, 'kho/out/finalize');
  assert.equal(f.mode, 0o600);
  assert.equal(dec(f.read()), '0\n');
  assert.equal(
    errnoOf(() => {
      f.write!(enc('0\n'));
    }),
    'ENOENT',
  );
  assert.equal(
    errnoOf(() => {
      f.write!(enc('yes'));
    }),
    'EINVAL',
  );
  assert.equal(
    errnoOf(() => {
      f.write!(enc('1\n'));
    }),
    'ok',
  );
  assert.equal(dec(f.read()), '1\n');
  assert.equal(
    errnoOf(() => {
      f.write!(enc('1'));
    }),
    'EEXIST',
  );
  assert.equal(
    errnoOf(() => {
      f.write!(enc('0'));
    }),
    'ok',
  );
  assert.equal(dec(f.read()), '0\n');
  assert.equal(memMap(k), 0);
  // `active` (never in mainline) follows the usage document when enabled.
  const a = file(k, 'kho/out/active');
  assert.equal(
    errnoOf(() => {
      a.write!(enc('1'));
    }),
    'ok',
  );
  assert.equal(dec(f.read()), '1\n');
  assert.equal(
    errnoOf(() => {
      a.write!(enc('0'));
    }),
    'ok',
  );
  const noActive = boot({ profile: 'kho-v1', options: { v1ActiveFile: false } });
  assert.equal(noActive.debugfs.lookup('kho/out/active'), undefined);
  assert.equal(boot().debugfs.lookup('kho/out/finalize'), undefined);
});

test('finalize serializes the bitmaps into chunks (orders ascending) that decode to the tracker', () => {
  const k = boot({ profile: 'kho-v1', options: { khoDebug: false } });
  const want: string[] = [];
  const pfn = k.buddy.allocFolio(3, GFP_KERNEL)!;
  k.kho.preserveFolio(pfn, 3);
  want.push(`${pfn * PAGE}:3`);
  for (let i = 0; i < 300; i++) {
    // 300 order-0 blocks spread over 300 different bitmaps: two chunks of order 0.
    const p = 0x100 + i * 32768 * 2;
    k.kho.preserveFolio(p, 0);
    want.push(`${p * PAGE}:0`);
  }
  const fdtPage = k.kho.fdtPhys;
  want.push(`${fdtPage}:0`);
  file(k, 'kho/out/finalize').write!(enc('1'));
  const head = memMap(k);
  assert.notEqual(head, 0);
  const r = walkKhoV1MemMap(head, (p, len) => k.machine.mem.read(p, len));
  assert.ok(r.ok);
  assert.deepEqual(
    r.value.chunks.map((c) => [c.order, c.bitmaps.length]),
    [
      [0, 255],
      [0, 45], // the FDT page shares bitmap 0 with pfn 0x100
      [3, 1],
    ],
  );
  assert.deepEqual(r.value.blocks.map((b) => `${b.phys}:${b.order}`).sort(), want.sort());
});

test('kexec without finalize hands over nothing; with finalize the successor reserves and restores', () => {
  const k = boot({ profile: 'kho-v1' });
  const pfn = k.buddy.allocFolio(2, GFP_KERNEL)!;
  k.machine.mem.writeU32(pfn * PAGE, 0xfeedbeef);
  k.kho.preserveFolio(pfn, 2);
  const phys = subFdt(k);
  k.kho.addSubtree('t', phys, 0);
  // kho_fill_kimage() passes nothing before finalize: no KHO record, a cold boot.
  assert.equal(k.kho.fillKimage(), null);
  const cold = jump(k);
  assert.ok(!cold.dmesg.has('KHO: found kexec handover data.'));
  assert.ok(!cold.dmesg.has('disabling KHO revival'));
  assert.equal(cold.kho.isKhoBoot(), false);

  const k1 = boot({ profile: 'kho-v1' });
  const p1 = k1.buddy.allocFolio(2, GFP_KERNEL)!;
  k1.machine.mem.writeU32(p1 * PAGE, 0xfeedbeef);
  k1.kho.preserveFolio(p1, 2);
  const s1 = subFdt(k1);
  k1.kho.addSubtree('t', s1, 0);
  file(k1, 'kho/out/finalize').write!(enc('1'));
  const late = k1.buddy.alloc(0, GFP_KERNEL)!;
  k1.kho.preserveFolio(late, 0); // after finalize: not seen by the successor
  const k2 = jump(k1);
  assert.equal(k2.kho.isKhoBoot(), true);
  assert.equal(k2.profile.name, 'kho-v1');
  const r = k2.kho.retrieveSubtree('t');
  assert.ok('size' in r);
  assert.equal(r.phys, s1);
  assert.equal(r.size, new Fdt(k2.machine.mem.read(s1, 256).subarray(0, 256)).totalsize);
  assert.equal(k2.kho.restoreFolio(p1 * PAGE), p1);
  assert.equal(k2.machine.mem.readU32(p1 * PAGE), 0xfeedbeef);
  assert.equal(k2.kho.restoreFolio(late * PAGE), null);
  assert.ok(k2.debugfs.lookup('kho/in/sub_fdts/t') !== undefined);
  assert.equal(k2.generation, 0); // kho-v1 has no kexec-metadata
});
