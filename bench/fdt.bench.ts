/**
 * FDT benchmarks: validating and walking a 1 MiB blob (the reader's hot path), plus the
 * writers for context.
 */
import { buildBlob } from '../src/fdt/convert.ts';
import { Fdt, readTree } from '../src/fdt/reader.ts';
import { FdtRw } from '../src/fdt/rw.ts';
import { fdtTree, type FdtNode, type FdtTree } from '../src/fdt/tree.ts';
import { round, secondsSince, type BenchEntry } from './harness.ts';

/** A deterministic, devicetree-like tree of about `bytes` bytes (buses, devices, typical props). */
export function bigTree(bytes: number): FdtTree {
  const root: FdtNode = {
    name: '',
    props: [
      { name: 'compatible', value: new TextEncoder().encode('vendor,board\0vendor,soc\0') },
      { name: '#address-cells', value: new Uint8Array([0, 0, 0, 2]) },
    ],
    children: [],
  };
  let size = 0;
  let seed = 1;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let bus = 0; size < bytes; bus++) {
    const b: FdtNode = { name: `bus@${(bus * 0x100000).toString(16)}`, props: [], children: [] };
    b.props.push({ name: 'ranges', value: new Uint8Array(0) });
    root.children.push(b);
    for (let d = 0; d < 32 && size < bytes; d++) {
      const reg = new Uint8Array(16);
      new DataView(reg.buffer).setUint32(4, bus * 0x100000 + d * 0x1000);
      const dev: FdtNode = {
        name: `device@${(d * 0x1000).toString(16)}`,
        props: [
          { name: 'compatible', value: new TextEncoder().encode(`vendor,dev${rnd(50)}\0`) },
          { name: 'reg', value: reg },
          { name: 'interrupts', value: new Uint8Array(12) },
          { name: 'status', value: new TextEncoder().encode('okay\0') },
          { name: 'clock-names', value: new TextEncoder().encode('apb\0core\0') },
          { name: 'data', value: new Uint8Array(rnd(64)) },
        ],
        children: [{ name: 'port', props: [{ name: 'endpoint', value: new Uint8Array(4) }], children: [] }],
      };
      b.children.push(dev);
      size += 190;
    }
  }
  return { version: 17, lastCompVersion: 16, bootCpuidPhys: 0, memreserve: [], root };
}

/** Validate and walk every node and property through the Fdt API; returns counts. */
export function walk(blob: Uint8Array): { nodes: number; props: number; bytes: number } {
  const f = new Fdt(blob);
  let nodes = 0;
  let props = 0;
  let bytes = 0;
  const todo = [f.root()];
  while (todo.length > 0) {
    const n = todo.pop()!;
    nodes++;
    f.getName(n);
    for (let p = f.firstProperty(n); p >= 0; p = f.nextProperty(p)) {
      f.propertyName(p);
      props++;
      bytes += f.propertyLength(p);
    }
    for (const c of f.children(n)) todo.push(c);
  }
  return { nodes, props, bytes };
}

/** Seconds per call, wall clock; `cpu` receives CPU seconds per call (steadier on a busy host). */
function timeIt(fn: () => void, minSeconds: number, cpu?: (s: number) => void): number {
  for (let i = 0; i < 5; i++) fn(); // warm up
  let n = 0;
  const c0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  while (secondsSince(start) < minSeconds || n < 5) {
    fn();
    n++;
  }
  const c = process.cpuUsage(c0);
  cpu?.((c.user + c.system) / 1e6 / n);
  return secondsSince(start) / n;
}

export const entries: BenchEntry[] = [
  {
    name: 'fdt.parse_walk_1M',
    description:
      'validate a 1 MiB FDT (header, reservation map, token stream, strings) and walk every node and property via the Fdt API; MB/s of blob',
    run: () => {
      const blob = buildBlob(bigTree(1 << 20));
      let counts = walk(blob);
      let walkCpu = 0;
      const walkS = timeIt(
        () => {
          counts = walk(blob);
        },
        2,
        (s) => (walkCpu = s),
      );
      const checkS = timeIt(() => new Fdt(blob), 1);
      const treeS = timeIt(() => readTree(blob), 1);
      const mb = blob.length / 1e6;
      return {
        mb_per_s: round(mb / walkS, 1),
        mb_per_cpu_s: round(mb / walkCpu, 1),
        validate_only_mb_per_s: round(mb / checkS, 1),
        read_tree_mb_per_s: round(mb / treeS, 1),
        ms_per_walk: round(walkS * 1000, 3),
        blob_bytes: blob.length,
        nodes: counts.nodes,
        props: counts.props,
      };
    },
  },
  {
    name: 'fdt.build_1M',
    description: 'buildBlob (libfdt sequential-write algorithm) of the same ~1 MiB tree; MB/s of output',
    run: () => {
      const tree = bigTree(1 << 20);
      let size = 0;
      const s = timeIt(() => {
        size = buildBlob(tree).length;
      }, 2);
      return { mb_per_s: round(size / 1e6 / s, 1), ms_per_build: round(s * 1000, 3), blob_bytes: size };
    },
  },
  {
    name: 'fdt.rw_kho_subtrees',
    description:
      'KHO-style edits: open_into 4096, add a sub-tree node with two u64 props, pack, 40 times; µs per add+pack',
    run: () => {
      const base = buildBlob(
        fdtTree({
          name: '',
          props: [
            { name: 'compatible', value: new TextEncoder().encode('kho-v1\0') },
            { name: 'preserved-memory-map', value: new Uint8Array(8) },
          ],
          children: [],
        }),
      );
      const v = new Uint8Array(8);
      const s = timeIt(() => {
        const rw = FdtRw.openInto(base, 4096);
        for (let i = 0; i < 40; i++) {
          const n = rw.addSubnode(rw.root(), `sub${i}`);
          rw.setprop(n, 'preserved-data', v);
          rw.setprop(n, 'blob-size', v);
          rw.pack();
          rw.resize(4096);
        }
      }, 1);
      return { us_per_subtree: round((s / 40) * 1e6, 2) };
    },
  },
];
