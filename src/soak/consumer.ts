/**
 * The soak consumer (`kho_soak` module): in every kernel it first restores and verifies what its
 * predecessor handed over, then runs a random workload (keep or free restored blocks, preserve new
 * folios, page ranges and vmalloc areas, preserve-then-unpreserve, free unpreserved memory, add
 * and remove small sub-trees) and hands the survivors on.
 *
 * Hand-over format (sub-tree `kho_soak`, `compatible = "kho-soak-v1"`): `table` (LE64 phys of a
 * preserved folio), `count` (u32), `extra` (string list of extra sub-tree names). A table entry
 * is 48 bytes: kind u32 (0 folio, 1 pages, 2 vmalloc), order u32, phys u64 (folio/pages head),
 * nr u32 (pages), csum u32, bytes u32, pad u32, then the 16-byte `struct kho_vmalloc` for kind 2.
 * An extra sub-tree blob is a preserved page: len u32, csum u32, data. Checksums live in the
 * handed-over memory; the successor recomputes them from its own memory.
 */
import { decodeLe64Prop, encodeLe64Prop, encodeStringProp, stringListContains } from '../abi/kho-fdt.ts';
import { buildBlob } from '../fdt/convert.ts';
import { fdtTree, type FdtTree } from '../fdt/tree.ts';
import { ERRNO } from '../util/errno.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { INITCALL, type KernelModule } from '../kernel/module.ts';
import { csumBytes, csumPages, fillPages, seed32 } from '../kernel/modules/folio-data.ts';
import { readFdtAt } from '../kernel/modules/mem-blob.ts';
import { GFP_KERNEL } from '../mm/gfp.ts';

const PAGE = 4096;
/** Sub-tree name. */
export const SOAK_FDT = 'kho_soak';
/** Root compatible. */
export const SOAK_COMPAT = 'kho-soak-v1';
const ENTRY = 48;
const KIND_FOLIO = 0;
const KIND_PAGES = 1;
const KIND_VMALLOC = 2;
/** Most blocks handed over at once (table folio of order 4). */
export const SOAK_MAX_BLOCKS = Math.floor((PAGE << 4) / ENTRY);

/** Workload knobs. */
export interface SoakWorkload {
  /** New blocks per generation (upper bound). */
  newBlocks: number;
  /** Largest folio order. */
  maxOrder: number;
  /** Largest vmalloc area in pages. */
  maxVmallocPages: number;
  /** Probability a restored block is kept. */
  keep: number;
  /** Extra sub-trees added per generation (upper bound). */
  newSubtrees: number;
}

/** Defaults: modest, so 1,000 generations take minutes. */
export const DEFAULT_WORKLOAD: SoakWorkload = {
  newBlocks: 12,
  maxOrder: 6,
  maxVmallocPages: 24,
  keep: 0.7,
  newSubtrees: 2,
};

/** One live block in this kernel. */
interface Block {
  kind: number;
  order: number;
  pfn: number;
  nr: number;
  va: number;
  bytes: number;
  csum: number;
}

/** What one kernel found and did. */
export interface SoakGenStats {
  /** Blocks and bytes found in the hand-over and verified. */
  blocksVerified: number;
  bytesVerified: number;
  /** Blocks whose restore failed (lost) and whose checksum differed (corrupted). */
  blocksLost: number;
  bytesLost: number;
  blocksCorrupted: number;
  bytesCorrupted: number;
  subtreesVerified: number;
  subtreesBad: number;
  /** What this kernel hands over. */
  handedBlocks: number;
  handedBytes: number;
  handedSubtrees: string[];
  /** Churn. */
  freedRestored: number;
  unpreserved: number;
  freedUnpreserved: number;
  errors: string[];
}

const STATS = new WeakMap<Kernel, SoakGenStats>();

/** The soak consumer's stats in `kernel`. */
export function soakStats(kernel: Kernel): SoakGenStats | null {
  return STATS.get(kernel) ?? null;
}

function u32(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0, true);
  return b;
}

function blockCsum(k: Kernel, b: Block): number {
  if (b.kind === KIND_VMALLOC) return csumBytes(k.vmalloc.read(b.va, b.bytes));
  return csumPages(k.machine.mem, b.pfn, b.nr);
}

/** Restore and verify the predecessor's blocks; returns the restored ones. */
function restore(k: Kernel, s: SoakGenStats): { blocks: Block[]; extra: string[] } {
  const got = k.kho.retrieveSubtree(SOAK_FDT);
  if (!('size' in got)) {
    if (got.errno !== -ERRNO.ENOENT) s.errors.push(`retrieve ${SOAK_FDT}: ${got.errno}`);
    return { blocks: [], extra: [] };
  }
  const mem = k.machine.mem;
  const tree = readFdtAt(mem, got.phys, PAGE);
  if (typeof tree === 'number') {
    s.errors.push('soak FDT unreadable');
    return { blocks: [], extra: [] };
  }
  const prop = (n: string): Uint8Array | undefined => tree.root.props.find((p) => p.name === n)?.value;
  const c = prop('compatible');
  const tb = prop('table');
  const cb = prop('count');
  const eb = prop('extra');
  if (c === undefined || !stringListContains(c, SOAK_COMPAT) || tb?.length !== 8 || cb?.length !== 4) {
    s.errors.push('soak FDT malformed');
    return { blocks: [], extra: [] };
  }
  k.kho.restoreFree(got.phys);
  const td = decodeLe64Prop(tb);
  const count = new DataView(cb.buffer, cb.byteOffset).getUint32(0, true);
  const extra =
    eb === undefined
      ? []
      : new TextDecoder()
          .decode(eb)
          .split('\0')
          .filter((x) => x !== '');
  if (!td.ok || count > SOAK_MAX_BLOCKS) {
    s.errors.push('soak table malformed');
    return { blocks: [], extra };
  }
  const table = td.value;
  const raw = mem.read(table, count * ENTRY);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const blocks: Block[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * ENTRY;
    const kind = dv.getUint32(o, true);
    const order = dv.getUint32(o + 4, true);
    const phys = dv.getUint32(o + 12, true) * 0x1_0000_0000 + dv.getUint32(o + 8, true);
    const nr = dv.getUint32(o + 16, true);
    const csum = dv.getUint32(o + 20, true);
    const bytes = dv.getUint32(o + 24, true);
    const b: Block = { kind, order, pfn: phys / PAGE, nr, va: 0, bytes, csum };
    let ok: boolean;
    if (kind === KIND_FOLIO) {
      const pfn = k.kho.restoreFolio(phys);
      ok = pfn !== null && k.buddy.meta.order(pfn) === order;
      if (pfn !== null && !ok) k.buddy.putPage(pfn);
    } else if (kind === KIND_PAGES) {
      ok = k.kho.restorePages(phys, nr) !== null;
    } else {
      const va = k.kho.restoreVmalloc(table + o + 32);
      ok = va !== null;
      if (va !== null) b.va = va;
    }
    if (!ok) {
      s.blocksLost++;
      s.bytesLost += bytes;
      s.errors.push(`block ${i} (kind ${kind}) at 0x${phys.toString(16)}: restore failed`);
      continue;
    }
    const now = blockCsum(k, b);
    if (now !== csum) {
      s.blocksCorrupted++;
      s.bytesCorrupted += bytes;
      s.errors.push(`block ${i} (kind ${kind}) at 0x${phys.toString(16)}: checksum differs`);
    } else {
      s.blocksVerified++;
      s.bytesVerified += bytes;
    }
    blocks.push(b);
  }
  k.kho.restoreFree(table);
  // Extra sub-trees: blob = len, csum, data.
  for (const name of extra) {
    const r = k.kho.retrieveSubtree(name);
    if (!('size' in r)) {
      s.subtreesBad++;
      s.errors.push(`extra sub-tree ${name}: ${r.errno}`);
      continue;
    }
    const head = mem.read(r.phys, 8);
    const hv = new DataView(head.buffer);
    const len = hv.getUint32(0, true);
    const ok =
      len + 8 === r.size && len <= PAGE - 8 && csumBytes(mem.read(r.phys + 8, len)) === hv.getUint32(4, true);
    if (ok) s.subtreesVerified++;
    else {
      s.subtreesBad++;
      s.errors.push(`extra sub-tree ${name}: bad contents`);
    }
    k.kho.restoreFree(r.phys);
  }
  return { blocks, extra };
}

function freeBlock(k: Kernel, b: Block): void {
  if (b.kind === KIND_VMALLOC) k.vmalloc.vfree(b.va);
  else if (b.kind === KIND_FOLIO) k.buddy.putPage(b.pfn);
  else for (let i = 0; i < b.nr; i++) k.buddy.freePages(b.pfn + i, 0);
}

/** Allocate and fill a new block (null when memory ran out). */
function newBlock(k: Kernel, rng: () => number, w: SoakWorkload): Block | null {
  const kind = Math.floor(rng() * 3);
  const mem = k.machine.mem;
  if (kind === KIND_VMALLOC) {
    const pages = 1 + Math.floor(rng() * w.maxVmallocPages);
    const va = k.vmalloc.vmalloc(pages * PAGE);
    if (va === null) return null;
    const bytes = pages * PAGE - Math.floor(rng() * 64);
    const data = new Uint8Array(bytes);
    let x = seed32(rng) | 1;
    for (let i = 0; i < bytes; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data[i] = x & 0xff;
    }
    k.vmalloc.write(va, data);
    return { kind, order: 0, pfn: 0, nr: pages, va, bytes, csum: csumBytes(data) };
  }
  const order = Math.floor(rng() * (w.maxOrder + 1));
  if (kind === KIND_FOLIO) {
    const pfn = k.buddy.allocFolio(order, GFP_KERNEL);
    if (pfn === null) return null;
    fillPages(mem, pfn, 1 << order, seed32(rng));
    return {
      kind,
      order,
      pfn,
      nr: 1 << order,
      va: 0,
      bytes: PAGE << order,
      csum: csumPages(mem, pfn, 1 << order),
    };
  }
  // A page range: nr order-0 pages carved from one block (the rest is freed again).
  const pfn = k.buddy.alloc(order, GFP_KERNEL);
  if (pfn === null) return null;
  k.buddy.splitPage(pfn, order);
  const nr = 1 + Math.floor(rng() * (1 << order));
  for (let i = nr; i < 1 << order; i++) k.buddy.freePages(pfn + i, 0);
  fillPages(mem, pfn, nr, seed32(rng));
  return { kind, order: 0, pfn, nr, va: 0, bytes: nr * PAGE, csum: csumPages(mem, pfn, nr) };
}

/** Preserve a block (vmalloc: the descriptor goes to `descPhys`). 0 or -errno. */
function preserveBlock(k: Kernel, b: Block, descPhys: number): number {
  if (b.kind === KIND_FOLIO) return k.kho.preserveFolio(b.pfn, b.order);
  if (b.kind === KIND_PAGES) return k.kho.preservePages(b.pfn, b.nr);
  return k.kho.preserveVmalloc(b.va, descPhys);
}

function unpreserveBlock(k: Kernel, b: Block, descPhys: number): void {
  if (b.kind === KIND_FOLIO) k.kho.unpreserveFolio(b.pfn, b.order);
  else if (b.kind === KIND_PAGES) k.kho.unpreservePages(b.pfn, b.nr);
  else k.kho.unpreserveVmalloc(descPhys);
}

/** Run one kernel's part: restore + verify, workload, hand over. */
export function soakGeneration(k: Kernel, seed: number, w: SoakWorkload): SoakGenStats {
  const s: SoakGenStats = {
    blocksVerified: 0,
    bytesVerified: 0,
    blocksLost: 0,
    bytesLost: 0,
    blocksCorrupted: 0,
    bytesCorrupted: 0,
    subtreesVerified: 0,
    subtreesBad: 0,
    handedBlocks: 0,
    handedBytes: 0,
    handedSubtrees: [],
    freedRestored: 0,
    unpreserved: 0,
    freedUnpreserved: 0,
    errors: [],
  };
  STATS.set(k, s);
  if (!k.kho.isEnabled()) {
    s.errors.push('KHO is disabled');
    return s;
  }
  const rng = k.machine.rng(`kho_soak/${seed}/${k.generation}`);
  const { blocks: restored } = restore(k, s);

  // Keep some restored blocks, free the rest.
  const live: Block[] = [];
  for (const b of restored) {
    if (rng() < w.keep) live.push(b);
    else {
      freeBlock(k, b);
      s.freedRestored++;
    }
  }
  // New blocks; some are preserved and unpreserved again, then freed.
  const nNew = Math.floor(rng() * (w.newBlocks + 1));
  const churn: Block[] = [];
  for (let i = 0; i < nNew && live.length < SOAK_MAX_BLOCKS; i++) {
    const b = newBlock(k, rng, w);
    if (b === null) break;
    if (rng() < 0.2) churn.push(b);
    else live.push(b);
  }
  // Unpreserved memory that is written and freed (must not matter to the successor).
  for (let i = 0; i < 2; i++) {
    const b = newBlock(k, rng, w);
    if (b === null) break;
    freeBlock(k, b);
    s.freedUnpreserved++;
  }

  // The table: a preserved folio; vmalloc descriptors live in it.
  const table = k.kho.allocPreserve(SOAK_MAX_BLOCKS * ENTRY);
  if (table < 0) {
    s.errors.push(`table: ${table}`);
    return s;
  }
  const mem = k.machine.mem;
  for (const b of churn) {
    const rc = preserveBlock(k, b, table);
    if (rc === 0) {
      unpreserveBlock(k, b, table);
      s.unpreserved++;
    }
    freeBlock(k, b);
  }
  mem.fill(table, PAGE, 0);
  const ent = new Uint8Array(ENTRY * live.length);
  const dv = new DataView(ent.buffer);
  let n = 0;
  for (const b of live) {
    const o = n * ENTRY;
    const rc = preserveBlock(k, b, table + o + 32);
    if (rc !== 0) {
      s.errors.push(`preserve kind ${b.kind}: ${rc}`);
      freeBlock(k, b);
      continue;
    }
    const phys = b.kind === KIND_VMALLOC ? 0 : b.pfn * PAGE;
    dv.setUint32(o, b.kind, true);
    dv.setUint32(o + 4, b.order, true);
    dv.setUint32(o + 8, phys % 0x1_0000_0000, true);
    dv.setUint32(o + 12, Math.floor(phys / 0x1_0000_0000), true);
    dv.setUint32(o + 16, b.nr, true);
    dv.setUint32(o + 20, b.csum, true);
    dv.setUint32(o + 24, b.bytes, true);
    ent.set(mem.read(table + o + 32, 16), o + 32);
    n++;
    s.handedBytes += b.bytes;
  }
  mem.write(table, ent.subarray(0, n * ENTRY));
  s.handedBlocks = n;

  // Extra sub-trees: a few new ones with fresh names.
  const extra: string[] = [];
  const nSub = Math.floor(rng() * (w.newSubtrees + 1));
  for (let i = 0; i < nSub; i++) {
    const name = `soak-${k.generation}-${i}`;
    const len = 1 + Math.floor(rng() * 512);
    const data = new Uint8Array(len);
    for (let j = 0; j < len; j++) data[j] = Math.floor(rng() * 256);
    const phys = k.kho.allocPreserve(len + 8);
    if (phys < 0) break;
    const blob = new Uint8Array(len + 8);
    const bv = new DataView(blob.buffer);
    bv.setUint32(0, len, true);
    bv.setUint32(4, csumBytes(data), true);
    blob.set(data, 8);
    mem.write(phys, blob);
    if (k.kho.addSubtree(name, phys, blob.length) !== 0) {
      k.kho.unpreserveFree(phys);
      continue;
    }
    // Some are removed again before the jump.
    if (rng() < 0.25) {
      k.kho.removeSubtree(phys);
      k.kho.unpreserveFree(phys);
      continue;
    }
    extra.push(name);
  }
  s.handedSubtrees = extra;

  const tree: FdtTree = fdtTree({
    name: '',
    props: [
      { name: 'compatible', value: encodeStringProp(SOAK_COMPAT) },
      { name: 'table', value: encodeLe64Prop(table) },
      { name: 'count', value: u32(n) },
      { name: 'extra', value: new TextEncoder().encode(extra.map((e) => `${e}\0`).join('')) },
    ],
    children: [],
  });
  const blob = buildBlob(tree);
  const fdt = k.kho.allocPreserve(PAGE);
  if (fdt < 0) {
    s.errors.push(`fdt: ${fdt}`);
    return s;
  }
  mem.write(fdt, blob);
  const rc = k.kho.addSubtree(SOAK_FDT, fdt, blob.length);
  if (rc !== 0) s.errors.push(`add ${SOAK_FDT}: ${rc}`);
  return s;
}

/** The `kho_soak` module (param `seed`). */
export function soakModule(w: SoakWorkload = DEFAULT_WORKLOAD): KernelModule {
  return {
    name: 'kho_soak',
    description: 'random KHO consumer for soak runs',
    params: ['seed'],
    paramSpecs: [{ name: 'seed', description: 'workload seed', default: '1' }],
    initcall: INITCALL.device,
    init: (k, p) => {
      const seed = Number(p.get('seed') ?? '1');
      if (!Number.isSafeInteger(seed)) return -ERRNO.EINVAL;
      soakGeneration(k, seed, w);
      return 0;
    },
  };
}
