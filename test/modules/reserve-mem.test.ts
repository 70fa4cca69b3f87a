import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootMachine, kexec } from './helpers.ts';

test('mm/memblock.c reserve_mem hand-over: a reserve_mem region keeps its physical address and bytes across kexecs', () => {
  let { k } = bootMachine({
    cmdline: 'console=ttyS0 kho=on kho_scratch=128M,128M,64M reserve_mem=1M:4096:oops',
  });
  const r0 = k.reserveMem[0]!;
  assert.equal(r0.name, 'oops');
  const bytes = new Uint8Array(r0.size);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  k.machine.mem.write(r0.start, bytes);
  for (let gen = 1; gen <= 2; gen++) {
    ({ k } = kexec(k));
    const r = k.reserveMem[0]!;
    assert.deepEqual(r, r0);
    assert.ok(k.dmesg.has("Revived memory reservation 'oops' from KHO"));
    assert.deepEqual(k.machine.mem.read(r.start, r.size), bytes);
  }
});
