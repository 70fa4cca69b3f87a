/** Machine and Kernel: power-on, deterministic randomness, /proc files, dmesg. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine, findBannerRelease } from '../../src/kernel/machine.ts';
import { profileByName } from '../../src/kernel/profile.ts';
import { seededRng } from '../../src/kernel/rng.ts';
import type { PseudoFile } from '../../src/kernel/pseudo-fs.ts';

const GiB = 1024 ** 3;
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const v4 = profileByName('kho-v4')!;

function read(dir: { lookup(p: string): unknown }, path: string): string {
  const f = dir.lookup(path) as PseudoFile | undefined;
  assert.ok(f?.kind === 'file', path);
  return dec(f.read());
}

test('rng streams are deterministic per seed and name, independent across names', () => {
  const a = seededRng(42, 'test_kho');
  const b = seededRng(42, 'test_kho');
  const c = seededRng(42, 'other');
  const d = seededRng(43, 'test_kho');
  const xs = Array.from({ length: 5 }, () => a());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => c()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => d()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const m = Machine.create({ mem: GiB, nodes: 1, seed: 9 });
  assert.equal(m.rng('s')(), seededRng(9, 's')());
});

test('cold boot clears memory and replaces the kernel', () => {
  const m = Machine.create({ mem: GiB, nodes: 1 });
  const k1 = m.coldBoot({ cmdline: 'kho=on', profile: v4 });
  const pfn = k1.buddy.alloc(0, 0xcc0)!;
  m.mem.writeU32(pfn * 4096, 0xdeadbeef);
  const k2 = m.coldBoot({ cmdline: 'kho=on', profile: v4 });
  assert.notEqual(k1, k2);
  assert.equal(m.kernel, k2);
  assert.equal(m.mem.readU32(pfn * 4096), 0);
  assert.equal(k2.generation, 0);
  assert.equal(k2.release, v4.release);
});

test('/proc/cmdline, /proc/meminfo with CMA, /proc/iomem with the kernel image', () => {
  const m = Machine.create({ mem: 4 * GiB, nodes: 2 });
  const k = m.coldBoot({ cmdline: 'console=ttyS0 kho=on', profile: v4 });
  assert.equal(read(k.procfs, 'cmdline'), 'console=ttyS0 kho=on\n');
  const mi = read(k.procfs, 'meminfo');
  assert.match(
    mi,
    /^MemTotal: +\d+ kB\nMemFree: +\d+ kB\nMemAvailable: +\d+ kB\nCmaTotal: +\d+ kB\nCmaFree: +\d+ kB\n$/,
  );
  const cma = Number(/CmaTotal: +(\d+)/.exec(mi)![1]);
  assert.equal(
    cma * 1024,
    k.kho.scratch.reduce((s, a) => s + a.size, 0),
  );
  const io = read(k.procfs, 'iomem');
  assert.ok(io.includes('System RAM'));
  assert.ok(io.includes('  01000000-') && io.includes('Kernel code'));
  const off = m.coldBoot({ cmdline: 'console=ttyS0', profile: v4 });
  assert.match(read(off.procfs, 'meminfo'), /CmaTotal: +0 kB/);
});

test('dmesg reads like a kernel log; early allocations are recorded', () => {
  const m = Machine.create({ mem: GiB, nodes: 1 });
  const k = m.coldBoot({ cmdline: 'kho=on kho_scratch=50%', profile: v4 });
  const text = k.dmesg.text();
  assert.match(text, /^\[ {4}0\.000000\] Linux version 7\.3\.0-kho-v4 /);
  assert.ok(k.dmesg.has('KHO: scratch scale is 50%'));
  assert.ok(k.early.some((e) => e.name === 'memmap'));
  assert.ok(k.early.some((e) => e.name === 'kernel image'));
});

test('findBannerRelease', () => {
  const enc = new TextEncoder();
  assert.equal(findBannerRelease(enc.encode('xxLinux version 7.2.0-kho-v3 (kho@sim) #1')), '7.2.0-kho-v3');
  assert.equal(findBannerRelease(enc.encode('nothing here')), null);
  assert.equal(findBannerRelease(enc.encode('Linux version ')), null);
});

test('bootSuccessor from garbage boot_params boots cold with warnings, never throws a TypeError', () => {
  const m = Machine.create({ mem: GiB, nodes: 1 });
  m.coldBoot({ cmdline: 'kho=on', profile: v4 });
  const k = m.bootSuccessor(0x7000);
  assert.ok(k.dmesg.has('boot_params:'));
  assert.equal(k.kho.isKhoBoot(), false);
  assert.equal(Machine.create({ mem: GiB, nodes: 1 }).kernel, null);
  assert.throws(() => Machine.create({ mem: GiB, nodes: 1 }).bootSuccessor(0x7000), /no kernel has run/);
});
