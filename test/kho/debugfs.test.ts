/** debugfs `kho/out/` text and binary files (kernel/liveupdate/kexec_handover_debugfs.c) with the out/fdt QUIRKs (docs/quirks.md) and options. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PseudoDir, type PseudoFile } from '../../src/kernel/pseudo-fs.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { boot, dec, GiB } from './kho-helpers.ts';

function file(k: Kernel, path: string): PseudoFile {
  const f = k.debugfs.lookup(path);
  assert.ok(f !== undefined && f.kind === 'file', `${path} exists`);
  return f;
}

test('out/ layout, modes and the scratch text files', () => {
  const k = boot({ mem: 16 * GiB, nodes: 2 });
  const out = k.debugfs.lookup('kho/out');
  assert.ok(out instanceof PseudoDir);
  assert.deepEqual(out.names(), ['scratch_phys', 'scratch_len', 'sub_fdts', 'fdt']);
  const areas = k.kho.scratch;
  assert.equal(
    dec(file(k, 'kho/out/scratch_phys').read()),
    areas.map((a) => `0x${a.addr.toString(16)}\n`).join(''),
  );
  assert.equal(
    dec(file(k, 'kho/out/scratch_len').read()),
    areas.map((a) => `0x${a.size.toString(16)}\n`).join(''),
  );
  assert.equal(file(k, 'kho/out/scratch_len').mode, 0o400);
  assert.match(dec(file(k, 'kho/out/scratch_phys').read()), /^(0x[0-9a-f]+\n){4}$/);
  const small = boot();
  assert.equal(dec(file(small, 'kho/out/scratch_len').read()).split('\n')[1], '0x0');
});

test('sub_fdts/<name> is a live view of the blob and disappears on remove', () => {
  const k = boot();
  const blob = k.kho.allocPreserve(4096);
  k.machine.mem.write(blob, new TextEncoder().encode('hello world'));
  assert.equal(k.kho.addSubtree('greeting', blob, 5), 0);
  const f = file(k, 'kho/out/sub_fdts/greeting');
  assert.equal(dec(f.read()), 'hello');
  k.machine.mem.write(blob, new TextEncoder().encode('HELLO'));
  assert.equal(dec(f.read()), 'HELLO');
  assert.equal(dec(file(k, 'kho/out/sub_fdts/kexec-metadata').read()).length, 73);
  k.kho.removeSubtree(blob);
  assert.equal(k.debugfs.lookup('kho/out/sub_fdts/greeting'), undefined);
});

test('out/fdt keeps its creation-time length (QUIRK); fullOutFdt shows the whole FDT', () => {
  const k = boot();
  const f = file(k, 'kho/out/fdt');
  const first = f.read();
  assert.deepEqual(first, k.kho.outFdt());
  const blob = k.kho.allocPreserve(4096);
  assert.equal(k.kho.addSubtree('later', blob, 1), 0);
  const now = k.kho.outFdt()!;
  assert.ok(now.length > first.length);
  const stale = f.read();
  assert.equal(stale.length, first.length);
  assert.deepEqual(stale, now.subarray(0, first.length));
  const full = boot({ options: { fullOutFdt: true } });
  assert.equal(full.kho.addSubtree('later', full.kho.allocPreserve(4096), 1), 0);
  assert.deepEqual(file(full, 'kho/out/fdt').read(), full.kho.outFdt());
});

test('kho-v4 FDT content: compatible, memory map, kexec-metadata node with blob-size 73', () => {
  const k = boot();
  const f = dec(file(k, 'kho/out/fdt').read());
  assert.ok(f.includes('kho-v4\0'));
  assert.ok(f.includes('kexec-metadata\0'));
  assert.ok(f.includes('preserved-memory-map\0compatible\0preserved-data\0blob-size\0'));
});
