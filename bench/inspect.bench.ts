/**
 * `kho inspect` decoding a big preserved set: a kho-v4 radix tree holding 16M order-0 blocks
 * (64 GiB of consecutive pages from 4 GiB up) plus a root FDT, built directly in
 * PhysicalMemory with the model's tracker (outside the timed region). Timed: the whole
 * `inspectHandover` (walk, per-order lists, sort check, coalescing, overlap/scratch checks,
 * sub-trees), once over the in-memory image and once over a sparse ELF core in the temp dir.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchEntry, BenchResult } from './harness.ts';
import { peakRssMiB, round, secondsSince } from './harness.ts';
import { encodeLe64Prop } from '../src/abi/kho-fdt.ts';
import { FdtSw } from '../src/fdt/sw.ts';
import { PhysicalMemory } from '../src/hw/physical-memory.ts';
import { KhoRadixTree } from '../src/kho/radix-tree.ts';
import { openElfCore, writeElfCore } from '../src/inspect/elf-core.ts';
import { Findings } from '../src/inspect/findings.ts';
import { inspectHandover } from '../src/inspect/inspect.ts';
import type { InspectInput } from '../src/inspect/inspect.ts';
import { openRawImage, PhysMemImage } from '../src/inspect/memory-image.ts';
import { writeReportJson } from '../src/inspect/report-json.ts';
import type { MemoryImage } from '../src/inspect/memory-image.ts';

const COUNT = 16_777_216;
const MACHINE = 2 ** 38; // 256 GiB
const FIRST_PFN = 0x10_0000; // 4 GiB
const NODE_PFN = 0x100; // tracker pages from 1 MiB up

function buildImage(stride = 1): { mem: PhysicalMemory; fdt: Uint8Array } {
  const mem = new PhysicalMemory({ limit: MACHINE });
  let next = NODE_PFN;
  const tree = KhoRadixTree.create(mem, { allocZeroedPage: () => next++, freePage: () => undefined });
  if (tree === null) throw new Error('root allocation failed');
  for (let i = 0; i < COUNT; i++) {
    if (tree.add(FIRST_PFN + i * stride, 0) !== 0) throw new Error('add failed');
  }
  const sw = FdtSw.create(4096);
  sw.finishReservemap();
  sw.beginNode('');
  sw.propertyString('compatible', 'kho-v4');
  sw.property('preserved-memory-map', encodeLe64Prop(tree.rootPhys));
  sw.endNode();
  return { mem, fdt: sw.finish() };
}

function timed(
  image: MemoryImage,
  kind: 'elf' | 'memory',
  fdt: Uint8Array,
  findings: Findings,
  ranges = 1,
): BenchResult {
  globalThis.gc?.();
  const input: InspectInput = {
    fdt: { blob: fdt, source: 'bench' },
    image: { image, kind, source: kind },
    scratch: { entries: [{ addr: 0x100_0000, size: 0x1000_0000 }], source: 'bench' },
    findings,
  };
  const t0 = process.hrtime.bigint();
  const r = inspectHandover(input);
  const s = secondsSince(t0);
  if (
    r.memoryMap?.blocks !== COUNT ||
    r.ranges.length !== ranges ||
    r.findings.some((f) => f.severity === 'error')
  ) {
    throw new Error(`unexpected report: ${JSON.stringify(r.findings)} ${r.memoryMap?.blocks}`);
  }
  // The JSON document (1M blocks and ranges listed by default), streamed to a byte counter.
  const t1 = process.hrtime.bigint();
  let jsonBytes = 0;
  writeReportJson(r, (c) => {
    jsonBytes += c.length;
  });
  const json = secondsSince(t1);
  return {
    seconds: round(s),
    json_seconds: round(json),
    json_mib: round(jsonBytes / 1048576, 1),
    ns_per_block: round((s * 1e9) / COUNT, 1),
    blocks: COUNT,
    tracker_pages: r.tracker.pages.length,
    peak_rss_mib: round(peakRssMiB(), 0),
  };
}

/** A 4 GiB sparse raw dump with the root FDT in its last page: how fast the FDT scan reads. */
function scanEntry(): BenchEntry {
  return {
    name: 'inspect.scan_4G_raw',
    description: `finding the KHO root FDT by scanning a sparse 4 GiB raw dump in ${tmpdir()} (FDT in the last page); seconds, GiB/s`,
    run: () => {
      const size = 2 ** 32;
      const mem = new PhysicalMemory({ limit: size });
      const sw = FdtSw.create(4096);
      sw.finishReservemap();
      sw.beginNode('');
      sw.propertyString('compatible', 'kho-v4');
      sw.property('preserved-memory-map', encodeLe64Prop(0x1000));
      sw.endNode();
      mem.write(size - 4096, sw.finish());
      const dir = mkdtempSync(join(tmpdir(), 'kho-bench-'));
      try {
        const path = join(dir, 'mem.raw');
        writeRawSparse(mem, path, size);
        const image = openRawImage(path, 0);
        try {
          globalThis.gc?.();
          const t0 = process.hrtime.bigint();
          const r = inspectHandover({ image: { image, kind: 'raw', source: path } });
          const s = secondsSince(t0);
          if (r.fdt?.phys !== size - 4096) throw new Error('FDT not found');
          return { seconds: round(s), gib_per_second: round(4 / s, 2), peak_rss_mib: round(peakRssMiB(), 0) };
        } finally {
          image.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function writeRawSparse(mem: PhysicalMemory, path: string, size: number): void {
  const fd = openSync(path, 'w');
  try {
    for (const pfn of mem.touchedPfns()) {
      const w = mem.page(pfn);
      writeSync(fd, new Uint8Array(w.buffer, w.byteOffset, 4096), 0, 4096, pfn * 4096);
    }
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

export const entries: BenchEntry[] = [
  scanEntry(),
  {
    name: 'inspect.walk_16M',
    description: `inspectHandover of a kho-v4 tree with ${COUNT} order-0 blocks, image = the PhysicalMemory itself; seconds`,
    run: () => {
      const { mem, fdt } = buildImage();
      return timed(new PhysMemImage(mem), 'memory', fdt, new Findings());
    },
  },
  {
    name: 'inspect.walk_16M_fragmented',
    description: `as inspect.walk_16M but every other page preserved: ${COUNT} separate ranges; seconds`,
    run: () => {
      const { mem, fdt } = buildImage(2);
      return timed(new PhysMemImage(mem), 'memory', fdt, new Findings(), COUNT);
    },
  },
  {
    name: 'inspect.walk_16M_elf',
    description: `the same tree dumped as a sparse ELF core to ${tmpdir()}, decoded through positional reads; seconds`,
    run: () => {
      const { mem, fdt } = buildImage();
      const dir = mkdtempSync(join(tmpdir(), 'kho-bench-'));
      try {
        const path = join(dir, 'core.elf');
        const t0 = process.hrtime.bigint();
        const st = writeElfCore(mem, [{ start: 0, end: MACHINE }], path);
        const write = secondsSince(t0);
        const findings = new Findings();
        const { image } = openElfCore(path, findings);
        try {
          return {
            ...timed(image, 'elf', fdt, findings),
            write_seconds: round(write),
            elf_segments: st.segments,
            elf_file_bytes: st.fileBytes,
            elf_disk_bytes: statSync(path).blocks * 512,
          };
        } finally {
          image.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
