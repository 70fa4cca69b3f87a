/**
 * Structured fuzzing of the FDT reader (and of rw on whatever the reader accepts): mutated valid
 * blobs (byte and word patches, header-field lies, token patches, truncation, extension, chunk
 * copies) plus random bytes. Every case must end in success or FdtError, quickly.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { buildBlob } from '../../src/fdt/convert.ts';
import { FdtError } from '../../src/fdt/errors.ts';
import { checkFdt, Fdt, readTree } from '../../src/fdt/reader.ts';
import { FdtRw } from '../../src/fdt/rw.ts';
import { treeArb } from './fdt-arb.ts';

export interface FuzzStats {
  cases: number;
  seed: number;
  accepted: number;
  fdtErrors: Record<string, number>;
  /** Exceptions other than FdtError (must be 0), with the first few messages. */
  otherExceptions: number;
  otherSamples: string[];
  /** Blobs the reader accepted but rw (open_into + edits + pack) turned invalid (must be 0). */
  rwBroken: number;
  /** Cases slower than the per-case bound (must be 0). */
  hangs: number;
  maxCaseMs: number;
  totalSeconds: number;
}

/** Small, fast, seeded PRNG (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Valid starting blobs: generated trees, rw-edited blobs (stale bytes), dtc output incl. v16. */
function seeds(seed: number): Uint8Array[] {
  const out = fc.sample(treeArb, { numRuns: 40, seed }).map(buildBlob);
  for (const b of out.slice(0, 10)) {
    const rw = FdtRw.openInto(b, b.length + 128);
    try {
      rw.setprop(rw.root(), 'compatible', new Uint8Array([0x61, 0x62, 0]));
      rw.addSubnode(rw.root(), 'fuzz@1');
      rw.addMemRsv(0x1000, 0x2000);
    } catch (e) {
      if (!(e instanceof FdtError)) throw e;
    }
    out.push(rw.bytes());
    rw.pack();
    out.push(rw.bytes());
  }
  const dir = mkdtempSync(join(tmpdir(), 'kho-fdt-fuzz-'));
  try {
    const src = join(dir, 'a.dts');
    writeFileSync(
      src,
      '/dts-v1/;\n/memreserve/ 0x1000 0x2000;\n/ { compatible = "a", "b"; e; n@1 { reg = <1 2>; m { x = [01]; }; }; aliases { s = "/n@1/m"; }; };\n',
    );
    for (const v of ['17', '16']) {
      execFileSync('dtc', [
        '-q',
        '-I',
        'dts',
        '-O',
        'dtb',
        '-V',
        v,
        '-p',
        '16',
        '-o',
        join(dir, 'a.dtb'),
        src,
      ]);
      out.push(new Uint8Array(readFileSync(join(dir, 'a.dtb'))));
    }
  } catch {
    // dtc missing: the generated seeds still cover the format.
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const pick = r() % 100;
  if (pick < 4) {
    // Random bytes, sometimes behind a valid magic.
    const b = new Uint8Array(r() % 600);
    for (let i = 0; i < b.length; i++) b[i] = r();
    if (pick < 2 && b.length >= 4) b.set([0xd0, 0x0d, 0xfe, 0xed]);
    return b;
  }
  let b = src.slice();
  const n = 1 + (r() % 3);
  for (let k = 0; k < n; k++) {
    const len = b.length;
    const m = r() % 8;
    const word = (): number => {
      const c = r() % 12;
      const vals = [0, 1, 2, 3, 4, 9, 0xffffffff, 0x80000000, len, len - 1, len + 1, 40];
      return c < vals.length - 1 && r() % 2 === 0 ? vals[c]! >>> 0 : r() % 3 === 0 ? r() : r() % (len + 64);
    };
    const put = (off: number, v: number): void => {
      if (off + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(off, v >>> 0);
    };
    if (m === 0 && len > 0) {
      b[r() % len] = r();
    } else if (m === 1 && len > 0) {
      // A 4-aligned word: token positions in the structure block.
      put((r() % len) & ~3, word());
    } else if (m === 2) {
      put(4 * (r() % 10), word()); // a header field lies
    } else if (m === 3) {
      b = b.slice(0, r() % (len + 1)); // truncation
    } else if (m === 4) {
      const extra = new Uint8Array(r() % 64);
      if (r() % 2 === 0) for (let i = 0; i < extra.length; i++) extra[i] = r();
      const c = new Uint8Array(len + extra.length);
      c.set(b);
      c.set(extra, len);
      b = c;
    } else if (m === 5 && len > 8) {
      const from = r() % len;
      const to = r() % len;
      const cnt = r() % Math.min(64, len);
      b.copyWithin(to, from, Math.min(len, from + cnt));
    } else if (m === 6 && len > 0) {
      // Small arithmetic nudge of a word (off-by-a-few sizes and offsets).
      const off = (r() % len) & ~3;
      if (off + 4 <= len) put(off, new DataView(b.buffer, b.byteOffset).getUint32(off) + ((r() % 17) - 8));
    } else if (len > 0) {
      b[r() % len] = 0; // cut a name or a string short
    }
  }
  return b;
}

/** Use everything the reader offers on an accepted blob, then edit it in rw mode. */
function exercise(b: Uint8Array, stats: FuzzStats): void {
  const f = new Fdt(b);
  readTree(b);
  f.memreserve();
  const todo = [f.root()];
  let seen = 0;
  while (todo.length > 0 && seen < 200) {
    const n = todo.pop()!;
    seen++;
    f.getName(n);
    for (const p of f.properties(n)) {
      try {
        f.getStringList(n, p.name);
      } catch (e) {
        if (!(e instanceof FdtError)) throw e;
      }
    }
    if (seen < 20) f.pathOffset(f.getPath(n));
    todo.push(...f.children(n));
  }
  try {
    f.pathOffset('s/x');
  } catch (e) {
    if (!(e instanceof FdtError)) throw e;
  }
  let out: Uint8Array;
  try {
    const rw = FdtRw.openInto(b, b.length + 256);
    rw.setprop(rw.root(), 'fuzz', new Uint8Array([1, 2, 3]));
    rw.addSubnode(rw.root(), 'fz');
    rw.pack();
    out = rw.bytes();
  } catch (e) {
    if (e instanceof FdtError) return; // e.g. EXISTS, or NOSPACE for a repacked map
    throw e;
  }
  try {
    checkFdt(out);
  } catch (e) {
    if (!(e instanceof FdtError)) throw e;
    stats.rwBroken++;
    if (stats.otherSamples.length < 5) stats.otherSamples.push(`rw broke a valid blob: ${e.message}`);
  }
}

/** `n` mutated blobs (the fuzz inputs), for differential checks against libfdt. */
export function mutatedBlobs(n: number, seed: number): Uint8Array[] {
  const r = rng(seed);
  const pool = seeds(seed);
  return Array.from({ length: n }, () => mutate(pool[r() % pool.length]!, r));
}

/** Run `runs` fuzz cases from `seed`; `boundMs` is the per-case time bound. */
export function runFdtFuzz(runs: number, seed = 1, boundMs = 1000): FuzzStats {
  const start = performance.now();
  const r = rng(seed);
  const pool = seeds(seed);
  const stats: FuzzStats = {
    cases: 0,
    seed,
    accepted: 0,
    fdtErrors: {},
    otherExceptions: 0,
    otherSamples: [],
    rwBroken: 0,
    hangs: 0,
    maxCaseMs: 0,
    totalSeconds: 0,
  };
  for (let i = 0; i < runs; i++) {
    const blob = mutate(pool[r() % pool.length]!, r);
    const t0 = performance.now();
    try {
      exercise(blob, stats);
      stats.accepted++;
    } catch (e) {
      if (e instanceof FdtError) {
        stats.fdtErrors[e.code] = (stats.fdtErrors[e.code] ?? 0) + 1;
      } else {
        stats.otherExceptions++;
        if (stats.otherSamples.length < 5) {
          stats.otherSamples.push(`${String(e)} on ${Buffer.from(blob).toString('hex').slice(0, 400)}`);
        }
      }
    }
    const dt = performance.now() - t0;
    if (dt > stats.maxCaseMs) stats.maxCaseMs = dt;
    if (dt > boundMs) stats.hangs++;
    stats.cases++;
  }
  stats.totalSeconds = (performance.now() - start) / 1000;
  stats.maxCaseMs = Math.round(stats.maxCaseMs * 1000) / 1000;
  return stats;
}
