/**
 * Deterministic randomness for a simulated machine: every consumer asks for a named stream, and
 * the stream's numbers depend only on the machine seed and the name, so a run can be replayed
 * from the seed a report prints (DESIGN.md, "Deterministic by default").
 */

/** FNV-1a over the UTF-16 code units of `s` (stream names are short ASCII). */
function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * A generator of uniform numbers in [0, 1) for `(seed, stream)` (sfc32 seeded through FNV-1a
 * and splitmix steps). Streams with different names are independent.
 */
export function seededRng(seed: number, stream: string): () => number {
  const s = Number.isFinite(seed) ? Math.floor(Math.abs(seed)) : 0;
  const lo = s >>> 0;
  const hi = Math.floor(s / 0x1_0000_0000) >>> 0;
  let a = fnv1a(stream, lo ^ 0x9e3779b9);
  let b = fnv1a(stream, hi ^ 0x85ebca6b);
  let c = fnv1a(`${stream}#`, lo ^ 0xc2b2ae35);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 0x1_0000_0000;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** An integer in [0, n) from a generator. */
export function randInt(rng: () => number, n: number): number {
  return Math.floor(rng() * n);
}
