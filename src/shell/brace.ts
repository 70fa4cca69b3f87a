/**
 * bash's brace expansion, the first expansion of a word: `a{b,c}d` → `abd acd`, sequences
 * `{1..5}`, `{05..10}`, `{a..e}`, `{10..1..3}`, nested braces. Only unquoted braces count; a
 * brace pair without a top-level comma or a valid sequence stays literal, as in bash.
 */
import type { Word, WordPart } from './ast.ts';

/** The longest sequence `{a..b}` expands to (bash has no limit; this bounds the work). */
export const MAX_BRACE_WORDS = 100_000;

function literal(parts: readonly WordPart[]): WordPart[] {
  const out: WordPart[] = [];
  for (const p of parts) {
    const t = 'brace' in p ? p.brace : 'text' in p ? p.text : null;
    const last = out[out.length - 1];
    if (t !== null && last !== undefined && 'text' in last) out[out.length - 1] = { text: last.text + t };
    else out.push(t !== null ? { text: t } : p);
  }
  return out;
}

/** The items of a sequence expression, or null when `body` is not one. */
function sequence(body: string): string[] | null {
  const num = /^([-+]?[0-9]+)\.\.([-+]?[0-9]+)(?:\.\.([-+]?[0-9]+))?$/.exec(body);
  if (num !== null) {
    const a = Number(num[1]);
    const b = Number(num[2]);
    const step = Math.abs(Number(num[3] ?? '1')) || 1;
    const width = [num[1]!, num[2]!].some((s) => /^[-+]?0[0-9]/.test(s))
      ? Math.max(num[1]!.length, num[2]!.length)
      : 0;
    const out: string[] = [];
    for (let v = a; a <= b ? v <= b : v >= b; v += a <= b ? step : -step) {
      if (out.length >= MAX_BRACE_WORDS) break;
      const s = String(Math.abs(v)).padStart(width - (v < 0 ? 1 : 0), '0');
      out.push(v < 0 ? `-${s}` : s);
    }
    return out;
  }
  const chr = /^([A-Za-z])\.\.([A-Za-z])(?:\.\.([-+]?[0-9]+))?$/.exec(body);
  if (chr !== null) {
    const a = chr[1]!.charCodeAt(0);
    const b = chr[2]!.charCodeAt(0);
    const step = Math.abs(Number(chr[3] ?? '1')) || 1;
    const out: string[] = [];
    for (let v = a; a <= b ? v <= b : v >= b; v += a <= b ? step : -step) out.push(String.fromCharCode(v));
    return out;
  }
  return null;
}

/** Expand the braces of a word; a word without brace parts comes back as it is. */
export function braceExpand(w: Word): Word[] {
  if (!w.some((p) => 'brace' in p && p.brace === '{')) return [literal(w)];
  for (let i = 0; i < w.length; i++) {
    const open = w[i]!;
    if (!('brace' in open) || open.brace !== '{') continue;
    // Find the matching close and the top-level commas.
    let depth = 0;
    const commas: number[] = [];
    let close = -1;
    for (let j = i + 1; j < w.length; j++) {
      const p = w[j]!;
      if (!('brace' in p)) continue;
      if (p.brace === '{') depth++;
      else if (p.brace === '}') {
        if (depth === 0) {
          close = j;
          break;
        }
        depth--;
      } else if (depth === 0) commas.push(j);
    }
    if (close < 0) continue;
    const prefix = w.slice(0, i);
    const suffix = w.slice(close + 1);
    let alternatives: WordPart[][];
    if (commas.length > 0) {
      alternatives = [];
      let from = i + 1;
      for (const c of [...commas, close]) {
        alternatives.push(w.slice(from, c));
        from = c + 1;
      }
    } else {
      const inner = w.slice(i + 1, close);
      const body = inner.length === 1 && 'text' in inner[0]! ? inner[0].text : null;
      const seq = body === null ? null : sequence(body);
      if (seq === null) continue;
      alternatives = seq.map((s) => [{ text: s }]);
    }
    const out: Word[] = [];
    for (const alt of alternatives) {
      for (const e of braceExpand([...prefix, ...alt, ...suffix])) {
        out.push(e);
        if (out.length >= MAX_BRACE_WORDS) return out;
      }
    }
    return out;
  }
  return [literal(w)];
}
