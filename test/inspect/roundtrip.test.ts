/**
 * Full round trip with the simulated kernel: cold-boot every release profile (kho-v1 … kho-v4),
 * run a random workload (folios, page ranges, vmalloc areas, sub-trees, test_kho,
 * reserve_mem), dump the machine's RAM as an ELF core, and inspect the dump with nothing else
 * (FDT found by scanning): the inspector must list exactly the blocks the kernel's tracker
 * holds, every sub-tree, and no error.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { FdtSw } from '../../src/fdt/sw.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { Machine } from '../../src/kernel/machine.ts';
import { modprobe } from '../../src/kernel/module.ts';
import { defaultModuleCatalog } from '../../src/kernel/modules/catalog.ts';
import { PROFILE_NAMES, profileByName } from '../../src/kernel/profile.ts';
import { KhoRadixTree } from '../../src/kho/radix-tree.ts';
import { KhoV1Tracker } from '../../src/kho/v1-tracker.ts';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { kexecExecute } from '../../src/kexec/execute.ts';
import { kexecFileLoad } from '../../src/kexec/file-load.ts';
import { mkImage } from '../../src/kexec/image.ts';
import { openElfCore, writeElfCore } from '../../src/inspect/elf-core.ts';
import { Findings } from '../../src/inspect/findings.ts';
import { inspectHandover } from '../../src/inspect/inspect.ts';
import { codes, preservedList, runs, tempDir } from './helpers.ts';

const dir = tempDir();
const PAGE = 4096;
const MiB = 1024 * 1024;

/** Every block the kernel's outgoing tracker holds, address order, `0x…:order`. */
function trackerBlocks(k: Kernel): string[] {
  const t = k.kho.ctx.tracker;
  const out: { phys: number; order: number }[] = [];
  if (t instanceof KhoV1Tracker) {
    for (const b of t.blocks()) out.push({ phys: b.pfn * PAGE, order: b.order });
  } else if (t instanceof KhoRadixTree) {
    t.walk((phys, order) => {
      out.push({ phys, order });
      return 0;
    });
  } else {
    throw new Error('no tracker');
  }
  out.sort((a, b) => a.phys - b.phys || a.order - b.order);
  return out.map((b) => `0x${b.phys.toString(16)}:${b.order}`);
}

function smallFdt(name: string): Uint8Array {
  const sw = FdtSw.create(512);
  sw.finishReservemap();
  sw.beginNode('');
  sw.propertyString('compatible', `${name}-v1`);
  sw.endNode();
  return sw.finish();
}

type Op = { kind: 'folio' | 'pages' | 'vmalloc' | 'subtree' | 'unpreserve'; order: number; n: number };

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('folio', 'folio', 'pages', 'vmalloc', 'subtree', 'unpreserve'),
  order: fc.integer({ min: 0, max: 6 }),
  n: fc.integer({ min: 1, max: 40 }),
});

/** Apply a workload; returns the sub-tree names added and the folios still preserved. */
function workload(
  k: Kernel,
  ops: readonly Op[],
  binaryBlobs: boolean,
): { names: string[]; folios: { pfn: number; order: number }[] } {
  const folios: { pfn: number; order: number }[] = [];
  const names: string[] = [];
  ops.forEach((op, i) => {
    switch (op.kind) {
      case 'folio': {
        const pfn = k.buddy.allocFolio(op.order, GFP_KERNEL);
        if (pfn === null) return;
        assert.equal(k.kho.preserveFolio(pfn, op.order), 0);
        folios.push({ pfn, order: op.order });
        return;
      }
      case 'pages': {
        const pfn = k.buddy.alloc(op.order, GFP_KERNEL);
        if (pfn === null) return;
        const nr = Math.min(op.n, 2 ** op.order);
        assert.equal(k.kho.preservePages(pfn, nr), 0);
        return;
      }
      case 'vmalloc': {
        const va = k.vmalloc.vmalloc(op.n * PAGE);
        if (va === null) return;
        const desc = k.kho.allocPreserve(16);
        assert.ok(desc > 0);
        assert.equal(k.kho.preserveVmalloc(va, desc), 0);
        return;
      }
      case 'subtree': {
        const name = `client${i}`;
        const blob = binaryBlobs && op.n % 2 === 0 ? new Uint8Array(op.n * 3).fill(0x5a) : smallFdt(name);
        const phys = k.kho.allocPreserve(PAGE);
        assert.ok(phys > 0);
        k.machine.mem.write(phys, blob);
        if (k.kho.addSubtree(name, phys, blob.length) === 0) names.push(name);
        return;
      }
      case 'unpreserve': {
        const f = folios.pop();
        if (f !== undefined) k.kho.unpreserveFolio(f.pfn, f.order);
        return;
      }
    }
  });
  return { names, folios };
}

for (const name of PROFILE_NAMES) {
  test(`${name}: random workloads, ELF dump, inspect finds exactly the tracker's blocks`, () => {
    let round = 0;
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 5, maxLength: 40 }),
        fc.integer({ min: 1, max: 1000 }),
        (ops, seed) => {
          const m = Machine.create({ mem: 512 * MiB, nodes: 2, seed });
          const profile = profileByName(name, { khoDebug: true })!;
          const k = m.coldBoot({ cmdline: 'console=ttyS0 kho=on reserve_mem=1M:4096:trace', profile });
          assert.ok(k.kho.isEnabled());
          modprobe(k, defaultModuleCatalog(), 'test_kho', [`max_mem=${2 * MiB}`]);
          const { names, folios } = workload(k, ops, profile.abi.hasBlobSize);
          if (profile.abi.hasFinalize) {
            const f = k.debugfs.lookup('kho/out/finalize');
            assert.ok(f !== undefined && f.kind === 'file' && f.write !== undefined);
            f.write(new TextEncoder().encode('1'));
          }
          const path = join(dir, `${name}-${round++}.elf`);
          writeElfCore(m.mem, m.topology.ramRanges(), path);
          const findings = new Findings();
          const { image } = openElfCore(path, findings);
          try {
            const r = inspectHandover({
              image: { image, kind: 'elf', source: path },
              scratch: { entries: k.kho.scratch, source: 'kernel' },
              findings,
            });
            assert.deepEqual(codes(r, 'error'), [], JSON.stringify(r.findings.slice(0, 5)));
            assert.equal(r.fdt?.phys, k.kho.fdtPhys);
            assert.equal(r.abi.compatible, name);
            const listed = preservedList(r);
            assert.deepEqual(listed, trackerBlocks(k));
            const set = new Set(listed);
            for (const f of folios) assert.ok(set.has(`0x${(f.pfn * PAGE).toString(16)}:${f.order}`));
            const subs = r.subtrees.map((s) => s.name);
            for (const n of [...names, 'kho_test']) assert.ok(subs.includes(n), `${n} in ${subs.join()}`);
            if (profile.abi.hasKexecMetadata) assert.ok(subs.includes('kexec-metadata'));
            const t = r.subtrees.find((s) => s.name === 'kho_test');
            assert.equal(t?.kind, 'kho_test');
            assert.ok((t.testKho?.folios.length ?? 0) > 0);
            const mb = r.subtrees.find((s) => s.name === 'memblock');
            assert.equal(mb?.memblock?.records[0]?.name, 'trace');
          } finally {
            image.close();
          }
        },
      ),
      { numRuns: runs(3) },
    );
  });
}

for (const name of ['kho-v1', 'kho-v4'] as const) {
  test(`${name}: after a real kexec the successor's dump holds both FDTs; the newest is decoded`, () => {
    const profile = profileByName(name, { khoDebug: true })!;
    const m = Machine.create({ mem: 2048 * MiB, nodes: 1, seed: 3, sanitize: true });
    const k1 = m.coldBoot({ cmdline: 'console=ttyS0 kho=on', profile });
    modprobe(k1, defaultModuleCatalog(), 'test_kho', [`max_mem=${MiB}`]);
    workload(k1, [{ kind: 'folio', order: 2, n: 1 }], false);
    const oldFdt = k1.kho.fdtPhys;
    if (profile.abi.hasFinalize) {
      // kho-v1 hands over only a finalized FDT (kho_fill_kimage() passes nothing before).
      const f = k1.debugfs.lookup('kho/out/finalize');
      assert.ok(f !== undefined && f.kind === 'file' && f.write !== undefined);
      f.write(new TextEncoder().encode('1'));
    }
    kexecFileLoad(k1, { image: mkImage({ profile, size: MiB }), cmdline: 'console=ttyS0 kho=on' });
    const k2 = kexecExecute(m).successor;
    assert.ok(k2.kho.isKhoBoot());
    modprobe(k2, defaultModuleCatalog(), 'test_kho', [`max_mem=${MiB}`]);
    assert.ok(k2.dmesg.has('KHO restore succeeded'));
    const { folios } = workload(
      k2,
      [
        { kind: 'folio', order: 3, n: 1 },
        { kind: 'pages', order: 2, n: 3 },
        { kind: 'vmalloc', order: 0, n: 5 },
      ],
      false,
    );
    if (profile.abi.hasFinalize) {
      const f = k2.debugfs.lookup('kho/out/finalize');
      assert.ok(f !== undefined && f.kind === 'file' && f.write !== undefined);
      f.write(new TextEncoder().encode('1'));
    }
    const path = join(dir, `${name}-gen2.elf`);
    writeElfCore(m.mem, m.topology.ramRanges(), path);
    const findings = new Findings();
    const { image } = openElfCore(path, findings);
    try {
      const scratch = { entries: k2.kho.scratch, source: 'kernel' };
      const input = { image: { image, kind: 'elf' as const, source: path }, scratch };
      const r = inspectHandover({ ...input, findings });
      assert.deepEqual(codes(r, 'error'), [], JSON.stringify(r.findings.slice(0, 5)));
      if (profile.abi.hasKexecMetadata) {
        // Two KHO FDTs in memory: the successor's own (count 2) wins over its predecessor's.
        assert.equal(r.fdt?.phys, k2.kho.fdtPhys);
        assert.deepEqual(r.fdt.otherCandidates, [oldFdt]);
        const meta = r.subtrees.find((s) => s.name === 'kexec-metadata');
        assert.equal(meta?.kexecMetadata?.kexecCount, 2);
      } else {
        // kho-v1 has no kexec count: point at the successor's FDT.
        assert.ok([...r.fdt!.otherCandidates, r.fdt!.phys].includes(k2.kho.fdtPhys));
      }
      const r2 = inspectHandover({ ...input, fdtPhys: k2.kho.fdtPhys });
      const listed = preservedList(r2);
      assert.deepEqual(listed, trackerBlocks(k2));
      for (const f of folios) assert.ok(listed.includes(`0x${(f.pfn * PAGE).toString(16)}:${f.order}`));
      // The predecessor's FDT still decodes, but its tracker pages were freed (and poisoned by
      // the sanitizer, so absent from the dump): findings, no crash.
      const old = inspectHandover({ ...input, fdtPhys: oldFdt });
      assert.equal(old.abi.compatible, name);
    } finally {
      image.close();
    }
  });
}
