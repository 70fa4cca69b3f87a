/**
 * The physical memory map of a snapshot, binned for a visible range: bins are a power of two
 * bytes (at least one 4 KiB page) and aligned, so a preserved block never straddles two bins
 * unless it is larger than a bin. Every layer's bytes per bin come from prefix sums (two
 * binary searches per bin and layer), so a 4 TiB machine with millions of blocks answers in
 * milliseconds. Small views also list their items (blocks, tracker pages, segments, …).
 */
import type { MapItem, MapJson, MapLayer } from './api-types.ts';
import type { BlockCoverage, Coverage } from './coverage.ts';
import type { Snapshot } from './snapshot.ts';

/** Most bins per request. */
export const MAX_BINS = 65536;
/** Most items listed with a view. */
export const MAP_ITEM_LIMIT = 2048;
const PAGE = 4096;

/** A bad map request (the API answers 400 with the message). */
export class MapRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MapRequestError';
  }
}

/** The smallest power of two ≥ `x` and ≥ 4096. */
export function binSizeFor(span: number, bins: number): number {
  let s = PAGE;
  const want = span / bins;
  while (s < want) s *= 2;
  return s;
}

/** Bytes of `cov` in each of `count` bins of `size` from `start`, added into `out`. */
function binInto(cov: Coverage, start: number, size: number, count: number, out: Float64Array): void {
  if (cov.length === 0) return;
  let prev = cov.below(start);
  for (let i = 0; i < count; i++) {
    const next = cov.below(start + (i + 1) * size);
    out[i]! += next - prev;
    prev = next;
  }
}

function binned(cov: Coverage, start: number, size: number, count: number): Float64Array {
  const out = new Float64Array(count);
  binInto(cov, start, size, count, out);
  return out;
}

/** For each bin the index of the largest of `series` (≥ 1 byte), else -1. */
function argmax(series: readonly { id: number; bytes: Float64Array }[], count: number): number[] {
  const best = new Array<number>(count).fill(-1);
  const top = new Float64Array(count);
  for (const s of series) {
    for (let i = 0; i < count; i++) {
      if (s.bytes[i]! > top[i]!) {
        top[i] = s.bytes[i]!;
        best[i] = s.id;
      }
    }
  }
  return best;
}

function sumOrders(orders: readonly (BlockCoverage | null)[], start: number, size: number, count: number) {
  const total = new Float64Array(count);
  const per: { id: number; bytes: Float64Array }[] = [];
  orders.forEach((c, o) => {
    if (c === null) return;
    const b = binned(c, start, size, count);
    for (let i = 0; i < count; i++) total[i]! += b[i]!;
    per.push({ id: o, bytes: b });
  });
  return { total, per };
}

/** The owner of a block: the first owner whose memory intersects it, or -1. */
export function ownerOf(snap: Snapshot, start: number, size: number): number {
  for (const o of snap.owners) if (o.cov.below(start + size) - o.cov.below(start) > 0) return o.id;
  return -1;
}

/** Items of `cov` intersecting [a, b), appended while the total stays within the limit. */
function eachItem(cov: Coverage, a: number, b: number, fn: (start: number, size: number) => void): number {
  let n = 0;
  for (let i = cov.firstEndingAfter(a); i < cov.length && cov.start(i) < b; i++) {
    fn(cov.start(i), cov.size(i));
    n++;
  }
  return n;
}

function countItems(cov: Coverage, a: number, b: number): number {
  if (cov.length === 0) return 0;
  const i = cov.firstEndingAfter(a);
  // First item starting at or after b.
  let lo = i;
  let hi = cov.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cov.start(mid) < b) lo = mid + 1;
    else hi = mid;
  }
  return lo - i;
}

function itemsOf(snap: Snapshot, a: number, b: number): { items: MapItem[] | null; count: number } {
  const sources: { cov: Coverage; make: (start: number, size: number, i: number) => MapItem }[] = [];
  snap.orders.forEach((c, order) => {
    if (c === null) return;
    sources.push({
      cov: c,
      make: (start, size) => ({ kind: 'block', start, size, order, owner: ownerOf(snap, start, size) }),
    });
  });
  const inc = snap.incoming;
  if (inc !== null) {
    inc.orders.forEach((c, order) => {
      if (c === null) return;
      const done = inc.restored[order] ?? null;
      sources.push({
        cov: c,
        make: (start, size) => ({
          kind: 'incoming',
          start,
          size,
          order,
          restored: done !== null && done.indexAt(start) >= 0,
        }),
      });
    });
  }
  sources.push({
    cov: snap.tracker,
    make: (start, size) => {
      const p = snap.trackerPages[snap.tracker.indexAt(start)];
      return { kind: 'tracker', start, size, level: p?.level ?? -1, label: p?.kind ?? 'tracker' };
    },
  });
  sources.push({ cov: snap.fdt, make: (start, size) => ({ kind: 'fdt', start, size, label: 'KHO FDT' }) });
  sources.push({ cov: snap.scratch, make: (start, size) => ({ kind: 'scratch', start, size }) });
  sources.push({ cov: snap.kernelImage, make: (start, size) => ({ kind: 'kernel', start, size }) });
  let count = 0;
  for (const s of sources) count += countItems(s.cov, a, b);
  const segs = snap.segments.filter((s) => s.dest < b && s.dest + s.memsz > a);
  count += segs.length;
  if (count > MAP_ITEM_LIMIT) return { items: null, count };
  const items: MapItem[] = [];
  for (const s of sources) {
    let i = 0;
    eachItem(s.cov, a, b, (start, size) => items.push(s.make(start, size, i++)));
  }
  for (const s of segs) items.push({ kind: 'segment', start: s.dest, size: s.memsz, label: s.role });
  items.sort((x, y) => x.start - y.start || y.size - x.size);
  return { items, count };
}

/** Parse an address or size: decimal or 0x hex, below 2^53. */
export function parseAddr(text: string | null, what: string): number {
  if (text === null || !/^(0x[0-9a-fA-F]{1,14}|[0-9]{1,16})$/.test(text)) {
    throw new MapRequestError(`${what}: expected a decimal or 0x hex number, got ${JSON.stringify(text)}`);
  }
  const v = Number(text);
  if (!Number.isSafeInteger(v)) throw new MapRequestError(`${what}: ${text} is not below 2^53`);
  return v;
}

/** The map of `[start, end)` in about `bins` bins. */
export function mapView(snap: Snapshot, version: number, start: number, end: number, bins: number): MapJson {
  if (!(end > start)) throw new MapRequestError('end must be above start');
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_BINS) {
    throw new MapRequestError(`bins must be an integer from 1 to ${MAX_BINS}`);
  }
  const size = binSizeFor(end - start, bins);
  const first = start - (start % size);
  const count = Math.ceil((end - first) / size);
  const layers = {} as Record<MapLayer, number[]>;
  const put = (name: MapLayer, bytes: Float64Array): void => {
    layers[name] = Array.from(bytes);
  };
  put('ram', binned(snap.ram, first, size, count));
  put('scratch', binned(snap.scratch, first, size, count));
  put('kernel', binned(snap.kernelImage, first, size, count));
  put('segment', binned(snap.segmentCov, first, size, count));
  put('poisoned', binned(snap.poisoned, first, size, count));
  const inc = snap.incoming;
  put('incoming', inc === null ? new Float64Array(count) : sumOrders(inc.orders, first, size, count).total);
  put('restored', inc === null ? new Float64Array(count) : sumOrders(inc.restored, first, size, count).total);
  const out = sumOrders(snap.orders, first, size, count);
  put('preserved', out.total);
  put('tracker', binned(snap.tracker, first, size, count));
  put('fdt', binned(snap.fdt, first, size, count));
  const node = argmax(
    snap.nodes.map((n) => ({ id: n.nid, bytes: binned(n.cov, first, size, count) })),
    count,
  );
  const owner = argmax(
    snap.owners.map((o) => ({ id: o.id, bytes: binned(o.cov, first, size, count) })),
    count,
  );
  // An owner counts only where something is preserved.
  for (let i = 0; i < count; i++) if (layers.preserved[i] === 0) owner[i] = -1;
  const { items, count: itemCount } = itemsOf(snap, first, first + count * size);
  return {
    version,
    start: first,
    binSize: size,
    count,
    layers,
    node,
    order: argmax(out.per, count),
    owner,
    items,
    itemCount,
  };
}
