/**
 * A map from disjoint pfn intervals `[start, end)` to values, kept sorted in chunks of at most
 * {@link CHUNK_MAX} entries: a lookup is two binary searches, and setting or removing a range
 * anywhere costs a splice inside one or two chunks, so millions of intervals inserted in any
 * order stay cheap (a single sorted array would move half of itself on every insert).
 * Neighbouring intervals whose values are the same (per the `same` function) are merged.
 */
import { countAtMost } from '../util/search.ts';

/** Chunks split when they grow past this many entries (by default). */
const CHUNK_MAX = 1024;

interface Chunk<V> {
  s: number[];
  e: number[];
  v: V[];
}

/** A position: chunk index and entry index. */
interface Pos {
  c: number;
  i: number;
}

/** Sorted disjoint intervals to values (see the module comment). */
export class ExtentMap<V> {
  private chunks: Chunk<V>[] = [];
  /** `chunks[k].s[0]` for every chunk (chunks are never empty). */
  private firsts: number[] = [];
  private n = 0;
  private readonly same: (a: V, b: V) => boolean;
  private readonly chunkMax: number;
  // Last lookup: the interval or gap [cS, cE) and its value (null for a gap).
  private cS = 0;
  private cE = 0;
  private cV: V | null = null;

  /** `same` decides which touching intervals merge; `chunkMax` is for tests of the chunking. */
  constructor(same: (a: V, b: V) => boolean = (a, b) => a === b, chunkMax = CHUNK_MAX) {
    this.same = same;
    this.chunkMax = Math.max(2, chunkMax);
  }

  /** Number of intervals. */
  get size(): number {
    return this.n;
  }

  /** Forget everything. */
  clear(): void {
    this.chunks = [];
    this.firsts = [];
    this.n = 0;
    this.cS = this.cE = 0;
  }

  /** First position whose interval ends after `pfn` (c = chunks.length when none). */
  private locate(pfn: number): Pos {
    const lo = countAtMost(this.firsts, pfn);
    let c = lo > 0 ? lo - 1 : 0;
    if (c >= this.chunks.length) return { c: this.chunks.length, i: 0 };
    const e = this.chunks[c]!.e;
    let a = countAtMost(e, pfn);
    if (a === e.length) {
      c++;
      a = 0;
    }
    return { c, i: a };
  }

  /** The value at `pfn`, or null. */
  get(pfn: number): V | null {
    if (pfn >= this.cS && pfn < this.cE) return this.cV;
    if (this.n === 0) return null;
    const p = this.locate(pfn);
    if (p.c === this.chunks.length) {
      const last = this.chunks[p.c - 1]!;
      this.cS = last.e[last.e.length - 1]!;
      this.cE = Infinity;
      this.cV = null;
      return null;
    }
    const ch = this.chunks[p.c]!;
    const s = ch.s[p.i]!;
    if (s <= pfn) {
      this.cS = s;
      this.cE = ch.e[p.i]!;
      this.cV = ch.v[p.i]!;
      return this.cV;
    }
    // A gap: from the previous interval's end to this one's start.
    const prev = this.prev(p);
    this.cS = prev === null ? 0 : this.chunks[prev.c]!.e[prev.i]!;
    this.cE = s;
    this.cV = null;
    return null;
  }

  private prev(p: Pos): Pos | null {
    if (p.i > 0) return { c: p.c, i: p.i - 1 };
    if (p.c > 0) return { c: p.c - 1, i: this.chunks[p.c - 1]!.s.length - 1 };
    return null;
  }

  private at(p: Pos): { s: number; e: number; v: V } | null {
    const ch = this.chunks[p.c];
    if (ch === undefined || p.i >= ch.s.length) return null;
    return { s: ch.s[p.i]!, e: ch.e[p.i]!, v: ch.v[p.i]! };
  }

  private next(p: Pos): Pos {
    const ch = this.chunks[p.c]!;
    if (p.i + 1 < ch.s.length) return { c: p.c, i: p.i + 1 };
    return { c: p.c + 1, i: 0 };
  }

  /** Map `[a, b)` to `v` (replacing what was there). */
  set(a: number, b: number, v: V): void {
    if (a < b) this.splice(a, b, v);
  }

  /** Remove `[a, b)` (splitting intervals that stick out). */
  remove(a: number, b: number): void {
    if (a < b && this.n > 0) this.splice(a, b, null);
  }

  /** The general update: `[a, b)` becomes `v` (or nothing for null). */
  private splice(a: number, b: number, v: V | null): void {
    this.cS = this.cE = 0;
    let from = this.locate(a);
    let to = from;
    const repl: { s: number[]; e: number[]; v: V[] } = { s: [], e: [], v: [] };
    let left: { s: number; e: number; v: V } | null = null;
    let right: { s: number; e: number; v: V } | null = null;
    // Entries overlapping [a, b).
    for (let cur = this.at(to); cur !== null && cur.s < b; cur = this.at(to)) {
      if (cur.s < a) left = { s: cur.s, e: a, v: cur.v };
      if (cur.e > b) right = { s: b, e: cur.e, v: cur.v };
      to = this.next(to);
    }
    let start = a;
    let end = b;
    if (v !== null) {
      // Merge with a same-valued remnant or touching neighbour on either side.
      if (left !== null && this.same(left.v, v)) {
        start = left.s;
        left = null;
      } else if (left === null) {
        const pp = this.prev(from);
        const pv = pp === null ? null : this.at(pp);
        if (pp !== null && pv !== null && pv.e === a && this.same(pv.v, v)) {
          start = pv.s;
          from = pp;
        }
      }
      if (right !== null && this.same(right.v, v)) {
        end = right.e;
        right = null;
      } else if (right === null) {
        const nv = this.at(to);
        if (nv !== null && nv.s === b && this.same(nv.v, v)) {
          end = nv.e;
          to = this.next(to);
        }
      }
    }
    if (left !== null) push(repl, left.s, left.e, left.v);
    if (v !== null) push(repl, start, end, v);
    if (right !== null) push(repl, right.s, right.e, right.v);
    this.replaceRange(from, to, repl);
  }

  /** Replace entries in positions `[from, to)` by `repl`. */
  private replaceRange(from: Pos, to: Pos, repl: Chunk<V>): void {
    const chunks = this.chunks;
    let removed = 0;
    if (from.c === chunks.length) {
      // Append at the end.
      if (repl.s.length === 0) return;
      const last = chunks[chunks.length - 1];
      if (last !== undefined && last.s.length < this.chunkMax) {
        last.s.push(...repl.s);
        last.e.push(...repl.e);
        last.v.push(...repl.v);
        this.n += repl.s.length;
        this.fix(chunks.length - 1);
        return;
      }
      chunks.push(repl);
      this.firsts.push(repl.s[0]!);
      this.n += repl.s.length;
      return;
    }
    const c0 = from.c;
    if (to.c === c0) {
      const ch = chunks[c0]!;
      removed = to.i - from.i;
      ch.s.splice(from.i, removed, ...repl.s);
      ch.e.splice(from.i, removed, ...repl.e);
      ch.v.splice(from.i, removed, ...repl.v);
      this.n += repl.s.length - removed;
      this.fix(c0);
      return;
    }
    // Spans chunks: cut the first chunk's tail, drop whole chunks, cut the last chunk's head.
    const first = chunks[c0]!;
    removed += first.s.length - from.i;
    first.s.splice(from.i, Infinity, ...repl.s);
    first.e.splice(from.i, Infinity, ...repl.e);
    first.v.splice(from.i, Infinity, ...repl.v);
    for (let k = c0 + 1; k < to.c; k++) removed += chunks[k]!.s.length;
    const lastC = chunks[to.c];
    if (lastC !== undefined) {
      removed += to.i;
      lastC.s.splice(0, to.i);
      lastC.e.splice(0, to.i);
      lastC.v.splice(0, to.i);
    }
    chunks.splice(c0 + 1, to.c - c0 - 1);
    this.firsts.splice(c0 + 1, to.c - c0 - 1);
    this.n += repl.s.length - removed;
    // Chunk c0 + 1 is the old last chunk now (if any).
    if (c0 + 1 < chunks.length) this.fix(c0 + 1);
    this.fix(c0);
  }

  /** Restore the invariants of chunk `c`: not empty, not too big, `firsts` right. */
  private fix(c: number): void {
    const ch = this.chunks[c];
    if (ch === undefined) return;
    if (ch.s.length === 0) {
      this.chunks.splice(c, 1);
      this.firsts.splice(c, 1);
      return;
    }
    if (ch.s.length > this.chunkMax) {
      const half = ch.s.length >>> 1;
      const tail: Chunk<V> = { s: ch.s.splice(half), e: ch.e.splice(half), v: ch.v.splice(half) };
      this.chunks.splice(c + 1, 0, tail);
      this.firsts.splice(c + 1, 0, tail.s[0]!);
      // A very large replacement may need more than one split.
      this.fix(c + 1);
    }
    this.firsts[c] = ch.s[0]!;
  }

  /**
   * Map every range `[starts[k], ends[k])` to `v` at once (the ranges sorted by start and
   * disjoint): one linear merge with the intervals already there, then the chunks are rebuilt.
   * Equivalent to `set` per range, in time linear in both lists.
   */
  setMany(starts: ArrayLike<number>, ends: ArrayLike<number>, n: number, v: V): void {
    if (n === 0) return;
    this.cS = this.cE = 0;
    // The merged intervals go straight into fresh half-full chunks (no intermediate copy).
    const out = new ChunkWriter<V>(Math.max(1, this.chunkMax >>> 1), this.same);
    let k = 0;
    for (const ch of this.chunks) {
      const cs = ch.s;
      const ce = ch.e;
      const cv = ch.v;
      for (let i = 0; i < cs.length; i++) {
        const e = ce[i]!;
        const val = cv[i]!;
        let cur = cs[i]!;
        while (cur < e) {
          // New ranges wholly before `cur` go out first (in order).
          while (k < n && ends[k]! <= cur) {
            out.emit(starts[k]!, ends[k]!, v);
            k++;
          }
          if (k < n && starts[k]! <= cur) {
            cur = ends[k]!; // covered by the new range (emitted once `cur` passes its end)
            continue;
          }
          const stop = k < n ? Math.min(e, starts[k]!) : e;
          out.emit(cur, stop, val);
          cur = stop;
        }
      }
    }
    for (; k < n; k++) out.emit(starts[k]!, ends[k]!, v);
    this.chunks = out.chunks;
    this.firsts = out.firsts;
    this.n = out.n;
  }

  /**
   * Calls `fn(start, end, value)` for each interval overlapping `[a, b)`, clipped to it, in
   * ascending order. `fn` must not modify the map (use {@link runs} for a snapshot).
   */
  forEachIn(a: number, b: number, fn: (s: number, e: number, v: V) => void): void {
    if (a >= b || this.n === 0) return;
    const p = this.locate(a);
    let c = p.c;
    let i = p.i;
    const chunks = this.chunks;
    while (c < chunks.length) {
      const ch = chunks[c]!;
      for (; i < ch.s.length; i++) {
        const s = ch.s[i]!;
        if (s >= b) return;
        fn(Math.max(s, a), Math.min(ch.e[i]!, b), ch.v[i]!);
      }
      c++;
      i = 0;
    }
  }

  /** The intervals overlapping `[a, b)`, clipped, as a snapshot. */
  runs(a: number, b: number): { s: number; e: number; v: V }[] {
    const out: { s: number; e: number; v: V }[] = [];
    this.forEachIn(a, b, (s, e, v) => {
      out.push({ s, e, v });
    });
    return out;
  }

  /** Every interval, ascending (a snapshot). */
  all(): { s: number; e: number; v: V }[] {
    const out: { s: number; e: number; v: V }[] = [];
    for (const ch of this.chunks) {
      for (let i = 0; i < ch.s.length; i++) out.push({ s: ch.s[i]!, e: ch.e[i]!, v: ch.v[i]! });
    }
    return out;
  }
}

/** Builds chunks of at most `per` entries from sorted intervals, merging touching equal ones. */
class ChunkWriter<V> {
  readonly chunks: Chunk<V>[] = [];
  readonly firsts: number[] = [];
  n = 0;
  private cur: Chunk<V> | null = null;
  private readonly per: number;
  private readonly same: (a: V, b: V) => boolean;

  constructor(per: number, same: (a: V, b: V) => boolean) {
    this.per = per;
    this.same = same;
  }

  /** Appends `[s, e) → val` (after the last interval; empty ones are skipped). */
  emit(s: number, e: number, val: V): void {
    if (s >= e) return;
    let c = this.cur;
    if (c !== null) {
      const last = c.s.length - 1;
      if (c.e[last] === s && this.same(c.v[last]!, val)) {
        c.e[last] = e;
        return;
      }
    }
    if (c === null || c.s.length === this.per) {
      c = { s: [], e: [], v: [] };
      this.cur = c;
      this.chunks.push(c);
      this.firsts.push(s);
    }
    c.s.push(s);
    c.e.push(e);
    c.v.push(val);
    this.n++;
  }
}

function push<V>(c: Chunk<V>, s: number, e: number, v: V): void {
  c.s.push(s);
  c.e.push(e);
  c.v.push(v);
}
