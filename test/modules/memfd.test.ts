import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelError } from '../../src/util/errno.ts';
import { modprobe, rmmod } from '../../src/kernel/module.ts';
import { defaultModuleCatalog } from '../../src/kernel/modules/catalog.ts';
import { memfdRead, memfdState, memfdWrite } from '../../src/kernel/modules/memfd.ts';
import { PseudoDir, type PseudoFile } from '../../src/kernel/pseudo-fs.ts';
import { MIGRATE_CMA } from '../../src/mm/pageblock.ts';
import { bootMachine, GiB, kexec } from './helpers.ts';

const load = [{ name: 'memfd', args: ['name=notes', 'size=200000', 'seed=9'] }];

test('a memfd file reappears with the same bytes after three kexecs, at the same debugfs path', () => {
  let { k, started } = bootMachine({ modulesLoad: load });
  assert.equal(started[0]!.result, 0);
  const original = memfdRead(k, 'notes')!;
  assert.equal(original.length, 200000);
  for (let gen = 1; gen <= 3; gen++) {
    ({ k, started } = kexec(k));
    assert.equal(started[0]!.result, 0);
    const r = memfdState(k)!.restores;
    assert.equal(r.length, 1);
    assert.equal(r[0]!.ok, true, r[0]!.error ?? '');
    assert.deepEqual(memfdRead(k, 'notes'), original);
    const f = k.debugfs.lookup('memfd/notes') as PseudoFile;
    assert.deepEqual(f.read(), original);
  }
  assert.match(
    new TextDecoder().decode((k.debugfs.lookup('memfd/index') as PseudoFile).read()),
    /notes 200000 bytes/,
  );
});

test('writes through debugfs survive the kexec (the index checksum follows)', () => {
  const { k } = bootMachine({ modulesLoad: load });
  const f = k.debugfs.lookup('memfd/notes') as PseudoFile;
  f.write!(new TextEncoder().encode('hello, successor'));
  const { k: k2 } = kexec(k);
  assert.equal(new TextDecoder().decode(memfdRead(k2, 'notes')!.subarray(0, 16)), 'hello, successor');
  assert.equal(memfdState(k2)!.restores[0]!.ok, true);
  assert.throws(() => {
    memfdWrite(k2, 'notes', new Uint8Array(200001));
  }, KernelError);
  assert.throws(() => {
    memfdWrite(k2, 'nope', new Uint8Array(1));
  }, /ENOENT/);
});

test('a corrupted memfd folio is caught by the successor', () => {
  const { k } = bootMachine({ modulesLoad: load });
  const pfn = memfdState(k)!.files.get('notes')!.folios[2]!.pfn;
  const { k: k2 } = kexec(k, (old) => {
    old.machine.mem.writeU8(pfn * 4096 + 5, old.machine.mem.readU8(pfn * 4096 + 5) ^ 0x80);
  });
  const r = memfdState(k2)!.restores[0]!;
  assert.equal(r.ok, false);
  assert.match(r.error!, /checksum/);
});

test('folios are pinned out of CMA (KHO scratch) before they are preserved', () => {
  // Scratch is most of free memory here, so movable shmem-like folios land in CMA first.
  const { k } = bootMachine({ mem: GiB, cmdline: 'console=ttyS0 kho=on kho_scratch=128M,512M,64M' });
  modprobe(k, defaultModuleCatalog(), 'memfd', ['name=pinned', 'size=1M']);
  const f = memfdState(k)!.files.get('pinned')!;
  assert.ok(f.migrated > 0, 'some folios were in CMA');
  for (const fo of f.folios) assert.notEqual(k.buddy.migratetype(fo.pfn), MIGRATE_CMA);
  const bytes = memfdRead(k, 'pinned')!;
  const { k: k2 } = kexec(k);
  modprobe(k2, defaultModuleCatalog(), 'memfd', ['name=pinned', 'size=1M']);
  assert.deepEqual(memfdRead(k2, 'pinned'), bytes);
});

test('bad parameters are EINVAL; rmmod removes the file and its hand-over', () => {
  const { k } = bootMachine();
  const cat = defaultModuleCatalog();
  for (const args of [['size=0'], ['size=1T'], ['name=a/b'], ['name=index'], ['seed=x']]) {
    assert.throws(() => {
      modprobe(k, cat, 'memfd', args);
    }, /Invalid argument/);
  }
  modprobe(k, cat, 'memfd', ['name=tmp', 'size=10000']);
  assert.ok(k.debugfs.lookup('memfd/tmp') !== undefined);
  rmmod(k, 'memfd');
  assert.equal(k.debugfs.lookup('memfd'), undefined);
  assert.ok(!(k.debugfs.lookup('kho/out/sub_fdts') as PseudoDir).names().includes('memfd'));
  const { k: k2 } = kexec(k);
  modprobe(k2, cat, 'memfd', ['name=tmp', 'size=10000']);
  assert.equal(memfdState(k2)!.restores.length, 0);
});
