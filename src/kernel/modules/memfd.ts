/**
 * `memfd`: a memfd-like preserved file (spec §9.5, skim; the real LUO memfd ABI is not in our
 * spec, so the format is ours: docs/modules.md). Each file is a named, fixed-size run of
 * shmem-like folios shown at `/sys/kernel/debug/memfd/<name>` (read: the bytes; write: replace
 * them from offset 0). Folios start as movable user memory, which may sit in CMA (= KHO
 * scratch); preserving pins them first, migrating every folio out of CMA, as
 * `memfd_pin_folios()` does, then `kho_preserve_folio()`s it.
 *
 * The index is a sub-tree `memfd` (`compatible = "memfd-v1"`): one node per file with its size,
 * a checksum and a `struct kho_vmalloc` describing a preserved vmalloc array of `phys | order`
 * u64 entries. A successor that loads the module finds the sub-tree, restores the array and
 * every folio, checks the checksum, shows the file again with the same bytes, and preserves it
 * again for the next kexec.
 */
import { decodeKhoVmalloc, encodeKhoVmalloc, KHO_VMALLOC_DESC_SIZE } from '../../abi/kho-vmalloc.ts';
import { decodeLe64Prop, encodeLe64Prop, encodeStringProp, stringListContains } from '../../abi/kho-fdt.ts';
import { decodeFolioInfo, encodeFolioInfo } from '../../abi/test-kho.ts';
import { buildBlob } from '../../fdt/convert.ts';
import { fdtTree, type FdtNode, type FdtTree } from '../../fdt/tree.ts';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_ZERO } from '../../mm/gfp.ts';
import { MIGRATE_CMA } from '../../mm/pageblock.ts';
import { ERRNO, KernelError } from '../../util/errno.ts';
import type { Kernel } from '../kernel.ts';
import { INITCALL, type KernelModule } from '../module.ts';
import { PseudoDir, rwFile, textFile } from '../pseudo-fs.ts';
import { csumBytes, csumPages, CSUM_INIT, fillPages } from './folio-data.ts';
import { parseIntParam, readFdtAt } from './mem-blob.ts';

const PAGE_SIZE = 4096;
/** Sub-tree name. */
export const MEMFD_FDT = 'memfd';
/** Root compatible of the index. */
export const MEMFD_COMPAT = 'memfd-v1';
/** Compatible of one file node. */
export const MEMFD_FILE_COMPAT = 'memfd-file-v1';
/** Largest folio order a file uses (64 KiB, a shmem large folio). */
export const MEMFD_MAX_ORDER = 4;
/** Largest file the module accepts. */
export const MEMFD_MAX_SIZE = 256 * 1024 * 1024;
/** debugfs directory. */
export const MEMFD_DEBUGFS_DIR = 'memfd';

/** One file. */
export interface MemfdFile {
  name: string;
  size: number;
  folios: { pfn: number; order: number }[];
  /** Folios migrated out of CMA when pinned (this kernel). */
  migrated: number;
  /** Restored from the predecessor (this kernel). */
  restored: boolean;
}

/** A file's restore verdict in a successor. */
export interface MemfdRestore {
  name: string;
  ok: boolean;
  size: number;
  folios: number;
  csum: number;
  expectedCsum: number;
  error: string | null;
}

/** Where the current hand-over index lives. */
interface MemfdIndex {
  fdtPhys: number;
  /** Per file: vmalloc address of the array and the page holding its descriptor. */
  arrays: { name: string; va: number; descPhys: number }[];
}

/** The module's state in one kernel. */
export interface MemfdState {
  files: Map<string, MemfdFile>;
  restores: MemfdRestore[];
  index: MemfdIndex | null;
}

const STATE = new WeakMap<Kernel, MemfdState>();

/** memfd's state in `kernel` (null when the module never ran there). */
export function memfdState(kernel: Kernel): MemfdState | null {
  return STATE.get(kernel) ?? null;
}

/** The bytes of file `name` (null when there is none). */
export function memfdRead(kernel: Kernel, name: string): Uint8Array | null {
  const f = STATE.get(kernel)?.files.get(name);
  if (f === undefined) return null;
  const out = new Uint8Array(f.size);
  let off = 0;
  for (const fo of f.folios) {
    const n = Math.min(PAGE_SIZE << fo.order, f.size - off);
    if (n <= 0) break;
    out.set(kernel.machine.mem.read(fo.pfn * PAGE_SIZE, n), off);
    off += n;
  }
  return out;
}

/** The checksum of a file: its bytes, then the size (so a truncation is caught). */
function fileCsum(kernel: Kernel, f: MemfdFile): number {
  const mem = kernel.machine.mem;
  let h = CSUM_INIT;
  let left = f.size;
  for (const fo of f.folios) {
    const bytes = PAGE_SIZE << fo.order;
    if (left >= bytes) {
      h = csumPages(mem, fo.pfn, 1 << fo.order, h);
      left -= bytes;
    } else if (left > 0) {
      h = csumBytes(mem.read(fo.pfn * PAGE_SIZE, left), h);
      left = 0;
    }
  }
  return csumBytes(encodeLe64Prop(f.size), h);
}

/** `memfd_pin_folios`: migrate folios that sit in CMA (KHO scratch) to unmovable memory. */
function pin(k: Kernel, f: MemfdFile): number {
  const mem = k.machine.mem;
  for (let i = 0; i < f.folios.length; i++) {
    const fo = f.folios[i]!;
    if (k.buddy.migratetype(fo.pfn) !== MIGRATE_CMA) continue;
    const to = k.buddy.allocFolio(fo.order, GFP_KERNEL);
    if (to === null) return -ERRNO.ENOMEM;
    mem.copy(to * PAGE_SIZE, fo.pfn * PAGE_SIZE, PAGE_SIZE << fo.order);
    k.buddy.putPage(fo.pfn);
    f.folios[i] = { pfn: to, order: fo.order };
    f.migrated++;
  }
  return 0;
}

/** Create a file of `size` bytes filled from `seed` (movable user folios, as shmem allocates). */
function createFile(k: Kernel, name: string, size: number, seed: number): MemfdFile | number {
  const f: MemfdFile = { name, size, folios: [], migrated: 0, restored: false };
  const pages = Math.ceil(size / PAGE_SIZE);
  let done = 0;
  while (done < pages) {
    let order = MEMFD_MAX_ORDER;
    while (order > 0 && 1 << order > pages - done) order--;
    const pfn = k.buddy.allocFolio(order, GFP_HIGHUSER_MOVABLE | __GFP_ZERO);
    if (pfn === null) {
      for (const fo of f.folios) k.buddy.putPage(fo.pfn);
      return -ERRNO.ENOMEM;
    }
    fillPages(k.machine.mem, pfn, 1 << order, (seed + done) >>> 0);
    f.folios.push({ pfn, order });
    done += 1 << order;
  }
  // Bytes past the end of the file read as zero.
  const tail = pages * PAGE_SIZE - size;
  if (tail > 0) {
    const last = f.folios[f.folios.length - 1]!;
    const end = (last.pfn + (1 << last.order)) * PAGE_SIZE;
    k.machine.mem.fill(end - tail, tail, 0);
  }
  return f;
}

function u32(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0, true);
  return b;
}

/** Unpreserve and free the current index (files stay preserved). */
function dropIndex(k: Kernel, st: MemfdState): void {
  const ix = st.index;
  if (ix === null) return;
  k.kho.removeSubtree(ix.fdtPhys);
  k.kho.unpreserveFree(ix.fdtPhys);
  for (const a of ix.arrays) {
    k.kho.unpreserveVmalloc(a.descPhys);
    k.vmalloc.vfree(a.va);
    k.buddy.freePages(a.descPhys / PAGE_SIZE, 0);
  }
  st.index = null;
}

/**
 * Write the index for the current files: a preserved vmalloc array per file, the FDT in a
 * preserved page, sub-tree `memfd`. Replaces an existing index. 0 or -errno.
 */
function writeIndex(k: Kernel, st: MemfdState): number {
  dropIndex(k, st);
  const ix: MemfdIndex = { fdtPhys: 0, arrays: [] };
  const nodes: FdtNode[] = [];
  const undo = (rc: number): number => {
    st.index = ix;
    dropIndex(k, st);
    return rc;
  };
  for (const f of st.files.values()) {
    const nr = f.folios.length;
    const descPfn = k.buddy.alloc(0, GFP_KERNEL | __GFP_ZERO);
    if (descPfn === null) return undo(-ERRNO.ENOMEM);
    const va = k.vmalloc.vmalloc(Math.max(nr, 1) * 8);
    if (va === null) {
      k.buddy.freePages(descPfn, 0);
      return undo(-ERRNO.ENOMEM);
    }
    const arr = new Uint8Array(Math.max(nr, 1) * 8);
    const dv = new DataView(arr.buffer);
    f.folios.forEach((fo, i) => {
      const v = encodeFolioInfo(fo.pfn * PAGE_SIZE, fo.order);
      dv.setUint32(i * 8, v % 0x1_0000_0000, true);
      dv.setUint32(i * 8 + 4, Math.floor(v / 0x1_0000_0000), true);
    });
    k.vmalloc.write(va, arr);
    const rc = k.kho.preserveVmalloc(va, descPfn * PAGE_SIZE);
    if (rc !== 0) {
      k.vmalloc.vfree(va);
      k.buddy.freePages(descPfn, 0);
      return undo(rc);
    }
    ix.arrays.push({ name: f.name, va, descPhys: descPfn * PAGE_SIZE });
    nodes.push({
      name: f.name,
      props: [
        { name: 'compatible', value: encodeStringProp(MEMFD_FILE_COMPAT) },
        { name: 'size', value: encodeLe64Prop(f.size) },
        { name: 'nr_folios', value: u32(nr) },
        { name: 'folios', value: k.machine.mem.read(descPfn * PAGE_SIZE, KHO_VMALLOC_DESC_SIZE) },
        { name: 'csum', value: u32(fileCsum(k, f)) },
      ],
      children: [],
    });
  }
  const tree: FdtTree = fdtTree({
    name: '',
    props: [{ name: 'compatible', value: encodeStringProp(MEMFD_COMPAT) }],
    children: nodes,
  });
  const blob = buildBlob(tree);
  const fdt = k.kho.allocPreserve(blob.length);
  if (fdt < 0) return undo(fdt);
  ix.fdtPhys = fdt;
  k.machine.mem.write(fdt, blob);
  const rc = k.kho.addSubtree(MEMFD_FDT, fdt, blob.length);
  if (rc !== 0) {
    k.kho.unpreserveFree(fdt);
    ix.fdtPhys = 0;
    return undo(rc);
  }
  st.index = ix;
  return 0;
}

/** Pin and preserve a file's folios (0 or -errno; unwinds its own preservations). */
function preserveFile(k: Kernel, f: MemfdFile): number {
  const rc = pin(k, f);
  if (rc !== 0) return rc;
  for (let i = 0; i < f.folios.length; i++) {
    const fo = f.folios[i]!;
    const r = k.kho.preserveFolio(fo.pfn, fo.order);
    if (r !== 0) {
      for (let j = 0; j < i; j++) k.kho.unpreserveFolio(f.folios[j]!.pfn, f.folios[j]!.order);
      return r;
    }
  }
  return 0;
}

function unpreserveFile(k: Kernel, f: MemfdFile): void {
  for (const fo of f.folios) k.kho.unpreserveFolio(fo.pfn, fo.order);
}

/** Restore every file of the incoming index (verdicts in `st.restores`). */
function restoreAll(k: Kernel, st: MemfdState, phys: number, size: number): void {
  const mem = k.machine.mem;
  const tree = readFdtAt(mem, phys, Math.max(size, PAGE_SIZE));
  const bad = (name: string, error: string): void => {
    st.restores.push({ name, ok: false, size: 0, folios: 0, csum: 0, expectedCsum: 0, error });
    k.dmesg.err(`memfd: ${name}: ${error}`);
  };
  if (typeof tree === 'number') {
    bad('(index)', 'memfd index is not a valid FDT');
    return;
  }
  const compat = tree.root.props.find((p) => p.name === 'compatible')?.value;
  if (compat === undefined || !stringListContains(compat, MEMFD_COMPAT)) {
    bad('(index)', `memfd index is not compatible with '${MEMFD_COMPAT}'`);
    return;
  }
  // The old index page is ours again once read; give it back.
  k.kho.restoreFree(phys);
  for (const node of tree.root.children) {
    const prop = (n: string): Uint8Array | undefined => node.props.find((p) => p.name === n)?.value;
    const c = prop('compatible');
    const sz = prop('size');
    const nrb = prop('nr_folios');
    const desc = prop('folios');
    const cs = prop('csum');
    if (c === undefined || !stringListContains(c, MEMFD_FILE_COMPAT)) {
      bad(node.name, `not compatible with '${MEMFD_FILE_COMPAT}'`);
      continue;
    }
    if (sz?.length !== 8 || nrb?.length !== 4 || desc?.length !== KHO_VMALLOC_DESC_SIZE || cs?.length !== 4) {
      bad(node.name, 'missing or malformed size, nr_folios, folios or csum');
      continue;
    }
    const fsize = decodeLe64Prop(sz);
    const d = decodeKhoVmalloc(desc);
    if (!fsize.ok || !d.ok || fsize.value > MEMFD_MAX_SIZE) {
      bad(node.name, 'bad size or folios descriptor');
      continue;
    }
    const nr = new DataView(nrb.buffer, nrb.byteOffset).getUint32(0, true);
    const expected = new DataView(cs.buffer, cs.byteOffset).getUint32(0, true);
    const tmp = k.buddy.alloc(0, GFP_KERNEL | __GFP_ZERO);
    if (tmp === null) {
      bad(node.name, 'out of memory');
      continue;
    }
    mem.write(tmp * PAGE_SIZE, encodeKhoVmalloc(d.value));
    const va = k.kho.restoreVmalloc(tmp * PAGE_SIZE);
    k.buddy.freePages(tmp, 0);
    if (va === null) {
      bad(node.name, 'kho_restore_vmalloc failed');
      continue;
    }
    if (nr * 8 > d.value.totalPages * PAGE_SIZE) {
      k.vmalloc.vfree(va);
      bad(node.name, `nr_folios ${nr} exceeds the folio array`);
      continue;
    }
    const arr = k.vmalloc.read(va, nr * 8);
    k.vmalloc.vfree(va);
    const dv = new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
    const f: MemfdFile = { name: node.name, size: fsize.value, folios: [], migrated: 0, restored: true };
    let error: string | null = null;
    for (let i = 0; i < nr; i++) {
      const { phys: fp, order } = decodeFolioInfo(
        dv.getUint32(i * 8 + 4, true) * 0x1_0000_0000 + dv.getUint32(i * 8, true),
      );
      const pfn = k.kho.restoreFolio(fp);
      if (pfn === null || k.buddy.meta.order(pfn) !== order) {
        if (pfn !== null) k.buddy.putPage(pfn);
        error = `folio ${i} at 0x${fp.toString(16)} did not restore as order ${order}`;
        break;
      }
      f.folios.push({ pfn, order });
    }
    const csum = error === null ? fileCsum(k, f) : 0;
    if (error === null && csum !== expected)
      error = `checksum 0x${csum.toString(16)} != 0x${expected.toString(16)}`;
    const r: MemfdRestore = {
      name: f.name,
      ok: error === null,
      size: f.size,
      folios: f.folios.length,
      csum,
      expectedCsum: expected,
      error,
    };
    st.restores.push(r);
    if (error !== null) {
      k.dmesg.err(`memfd: ${f.name}: restore failed: ${error}`);
      for (const fo of f.folios) k.buddy.putPage(fo.pfn);
      continue;
    }
    st.files.set(f.name, f);
    k.dmesg.info(
      `memfd: restored '${f.name}' (${f.size} bytes, ${f.folios.length} folios, checksum 0x${csum.toString(16)})`,
    );
  }
}

function debugfsDir(k: Kernel): PseudoDir {
  return k.debugfs.dir(MEMFD_DEBUGFS_DIR);
}

/** Show `f` at /sys/kernel/debug/memfd/<name>. */
function addFileNode(k: Kernel, f: MemfdFile): void {
  debugfsDir(k).add(
    f.name,
    rwFile(
      () => memfdRead(k, f.name) ?? new Uint8Array(0),
      (data) => {
        memfdWrite(k, f.name, data);
      },
      0o644,
    ),
  );
}

/**
 * Replace file `name`'s bytes from offset 0 (a write past the size is ENOSPC; the rest of the
 * file keeps its bytes). The index is rewritten so the hand-over checksum follows. Throws
 * KernelError (ENOENT, ENOSPC, ENOMEM).
 */
export function memfdWrite(k: Kernel, name: string, data: Uint8Array): void {
  const st = STATE.get(k);
  const f = st?.files.get(name);
  if (st === undefined || f === undefined) throw new KernelError('ENOENT', `no memfd file '${name}'`);
  if (data.length > f.size) throw new KernelError('ENOSPC', `'${name}' holds ${f.size} bytes`);
  let off = 0;
  for (const fo of f.folios) {
    if (off >= data.length) break;
    const n = Math.min(PAGE_SIZE << fo.order, data.length - off);
    k.machine.mem.write(fo.pfn * PAGE_SIZE, data.subarray(off, off + n));
    off += n;
  }
  if (k.kho.isEnabled()) {
    const rc = writeIndex(k, st);
    if (rc !== 0) throw new KernelError('ENOMEM', `memfd: could not rewrite the index (${rc})`);
  }
}

function init(k: Kernel, params: ReadonlyMap<string, string>): number {
  const name = params.get('name') ?? 'kho_memfd';
  const sizeText = params.get('size') ?? '1M';
  const seedText = params.get('seed') ?? '1';
  const size = parseIntParam(sizeText);
  const seed = parseIntParam(seedText);
  if (!/^[A-Za-z0-9_.-]{1,31}$/.test(name) || name === '.' || name === '..' || name === 'index') {
    k.dmesg.warn(`memfd: \`${name}' invalid for parameter \`name'`);
    return -ERRNO.EINVAL;
  }
  if (size === null || size <= 0 || size > MEMFD_MAX_SIZE) {
    k.dmesg.warn(`memfd: \`${sizeText}' invalid for parameter \`size'`);
    return -ERRNO.EINVAL;
  }
  if (seed === null) {
    k.dmesg.warn(`memfd: \`${seedText}' invalid for parameter \`seed'`);
    return -ERRNO.EINVAL;
  }
  const st: MemfdState = { files: new Map(), restores: [], index: null };
  STATE.set(k, st);
  if (k.kho.isEnabled()) {
    const got = k.kho.retrieveSubtree(MEMFD_FDT);
    if ('size' in got) restoreAll(k, st, got.phys, got.size);
    else if (got.errno !== -ERRNO.ENOENT)
      k.dmesg.warn(`memfd: failed to retrieve ${MEMFD_FDT} FDT: ${got.errno}`);
  }
  if (!st.files.has(name)) {
    const f = createFile(k, name, size, seed);
    if (typeof f === 'number') return f;
    st.files.set(name, f);
    k.dmesg.info(`memfd: created '${name}' (${size} bytes, ${f.folios.length} folios)`);
  }
  const dir = debugfsDir(k);
  if (dir.get('index') === undefined)
    dir.add(
      'index',
      textFile(() => memfdSummary(k)),
    );
  for (const f of st.files.values()) addFileNode(k, f);
  if (!k.kho.isEnabled()) return 0;
  const done: MemfdFile[] = [];
  for (const f of st.files.values()) {
    const rc = preserveFile(k, f);
    if (rc !== 0) {
      for (const g of done) unpreserveFile(k, g);
      k.dmesg.err(`memfd: failed to preserve '${f.name}': ${rc}`);
      return rc;
    }
    done.push(f);
  }
  const rc = writeIndex(k, st);
  if (rc !== 0) {
    for (const g of done) unpreserveFile(k, g);
    k.dmesg.err(`memfd: failed to write the index: ${rc}`);
    return rc;
  }
  const migrated = [...st.files.values()].reduce((a, f) => a + f.migrated, 0);
  k.dmesg.info(`memfd: preserved ${st.files.size} file(s), ${migrated} folio(s) migrated out of CMA`);
  return 0;
}

function exit(k: Kernel): void {
  const st = STATE.get(k);
  if (st === undefined) return;
  dropIndex(k, st);
  for (const f of st.files.values()) {
    if (k.kho.isEnabled()) unpreserveFile(k, f);
    for (const fo of f.folios) k.buddy.putPage(fo.pfn);
    debugfsDir(k).remove(f.name);
  }
  k.debugfs.remove(MEMFD_DEBUGFS_DIR);
  st.files.clear();
}

/** `cat /sys/kernel/debug/memfd/index`-style summary lines. */
export function memfdSummary(k: Kernel): string {
  const st = STATE.get(k);
  if (st === undefined) return '';
  return [...st.files.values()]
    .map((f) => `${f.name} ${f.size} bytes ${f.folios.length} folios${f.restored ? ' (restored)' : ''}\n`)
    .join('');
}

/** The `memfd` module. */
export const memfdModule: KernelModule = {
  name: 'memfd',
  description: 'memfd-like file preserved across kexec with KHO',
  params: ['name', 'size', 'seed'],
  paramSpecs: [
    { name: 'name', description: 'File name under /sys/kernel/debug/memfd', default: 'kho_memfd' },
    { name: 'size', description: 'File size in bytes (K/M/G suffix allowed)', default: '1M' },
    { name: 'seed', description: 'Seed of the initial contents', default: '1' },
  ],
  initcall: INITCALL.device,
  init,
  exit,
};
