/**
 * One 4 KiB page as the map's deepest zoom shows it: where it is, what refers to it (preserved
 * block and its owner, the predecessor's block this kernel reserved, tracker page, scratch,
 * segments), the running kernel's `struct page` fields and the content as `hexdump -C`.
 * Reading never materialises a page or counts as a sanitizer access.
 */
import { hexdumpC } from '../inspect/hexdump.ts';
import type { PageJson } from './api-types.ts';
import { ownerOf } from './map.ts';
import { quietly, type Snapshot } from './snapshot.ts';

const PAGE = 4096;

function hex(x: number): string {
  return `0x${x.toString(16)}`;
}

/** The bytes of page `pfn` without side effects, or null when the page is not in memory. */
function pageBytes(snap: Snapshot, pfn: number): { bytes: Uint8Array; state: PageJson['state'] } | null {
  const mem = snap.mem;
  if (mem !== null) {
    if (pfn >= mem.maxPfn) return null;
    const words = new Uint32Array(PAGE / 4);
    const has = mem.readPage(pfn, words);
    const bytes = new Uint8Array(words.buffer);
    if (mem.isTouched(pfn)) return { bytes, state: 'touched' };
    if (mem.isPoisoned(pfn)) return { bytes, state: 'poisoned' };
    return { bytes, state: has ? 'described' : 'zero' };
  }
  const b = snap.image?.read(pfn * PAGE, PAGE) ?? null;
  return b === null ? null : { bytes: b, state: b.some((x) => x !== 0) ? 'touched' : 'zero' };
}

/** Everything known about the page at `phys` (rounded down to its page). */
export function pageInfo(snap: Snapshot, phys: number): PageJson {
  const pfn = Math.floor(phys / PAGE);
  const base = pfn * PAGE;
  const inRam = snap.ram.below(base + PAGE) - snap.ram.below(base) > 0;
  let node = -1;
  for (const n of snap.nodes) if (n.nid >= 0 && n.cov.below(base + 1) - n.cov.below(base) > 0) node = n.nid;
  let block: PageJson['block'] = null;
  snap.orders.forEach((c, order) => {
    if (c === null || block !== null) return;
    const i = c.indexAt(base);
    if (i < 0) return;
    const start = c.start(i);
    const owner = ownerOf(snap, start, c.blockSize);
    block = { phys: start, order, owner, ownerName: snap.owners[owner]?.name ?? null };
  });
  let incoming: PageJson['incoming'] = null;
  const inc = snap.incoming;
  if (inc !== null) {
    inc.orders.forEach((c, order) => {
      if (c === null || incoming !== null) return;
      const i = c.indexAt(base);
      if (i < 0) return;
      const start = c.start(i);
      incoming = { phys: start, order, restored: (inc.restored[order]?.indexAt(start) ?? -1) >= 0 };
    });
  }
  const ti = snap.tracker.indexAt(base);
  const tp = ti >= 0 ? snap.trackerPages[ti] : undefined;
  const tags: string[] = [];
  const hit = (c: { below(x: number): number }): boolean => c.below(base + PAGE) - c.below(base) > 0;
  if (hit(snap.scratch)) tags.push('scratch');
  if (hit(snap.kernelImage)) tags.push('kernel image');
  if (hit(snap.fdt)) tags.push('KHO FDT');
  if (hit(snap.poisoned)) tags.push('poisoned');
  for (const s of snap.segments)
    if (s.dest < base + PAGE && s.dest + s.memsz > base) tags.push(`kexec segment: ${s.role}`);
  const k = snap.kernel;
  let pagePrivate: string | null = null;
  let refcount: number | null = null;
  if (k !== null && k.buddy.pfnValid(pfn) && k.buddy.meta.has(pfn)) {
    const hi = k.buddy.meta.privateHi(pfn) >>> 0;
    const lo = k.buddy.meta.privateLo(pfn) >>> 0;
    pagePrivate = hi === 0 ? hex(lo) : `0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')}`;
    refcount = k.buddy.meta.refcount(pfn);
  } else if (k !== null && k.buddy.pfnValid(pfn)) {
    pagePrivate = '0x0';
    refcount = 0;
  }
  const content = snap.mem === null ? pageBytes(snap, pfn) : quietly(snap.mem, () => pageBytes(snap, pfn));
  return {
    phys: base,
    pfn,
    node,
    ram: inRam,
    state: content?.state ?? 'absent',
    pagePrivate,
    refcount,
    block,
    incoming,
    tracker: tp === undefined ? null : { kind: tp.kind, level: tp.level },
    tags,
    hexdump: content === null ? null : hexdumpC(content.bytes, base),
  };
}
