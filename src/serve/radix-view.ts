/**
 * The radix tracker view (include/linux/kho/abi/kexec_handover.h layout): node pages per level,
 * every leaf with its order, how many of its 32768 bits are set and the physical range it
 * covers, and for one block its key and path through the levels, read from memory as the
 * successor's `kho_radix_walk_tree()` would.
 */
import { encodeKey, KHO_BITMAP_BITS, keyPath, POW2 } from '../abi/kho-radix.ts';
import { visitRadixLeaves } from '../kho/radix-walk.ts';
import { radixMemoryOf } from '../inspect/memory-image.ts';
import type { RadixJson, RadixKeyJson } from './api-types.ts';
import { MapRequestError } from './map.ts';
import type { Snapshot } from './snapshot.ts';

/** Most leaves listed. */
export const RADIX_LEAF_LIMIT = 4096;
const TWO32 = 0x1_0000_0000;

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Order of the keys in the leaf with key prefix `prefix` (> 0): 38 − fls(prefix). */
function leafOrder(prefix: number): number {
  const fls = prefix >= TWO32 ? 64 - Math.clz32(Math.floor(prefix / TWO32)) : 32 - Math.clz32(prefix);
  return 38 - fls;
}

/** Levels and leaves of the snapshot's tracker. */
export function radixView(snap: Snapshot, version: number): RadixJson {
  const mm = snap.report?.memoryMap ?? null;
  const counts = new Map<number, number>();
  for (const p of snap.trackerPages) counts.set(p.level, (counts.get(p.level) ?? 0) + 1);
  const levels = [...counts.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([level, pages]) => ({ level, pages }));
  const leaves: RadixJson['leaves'] = [];
  let leafCount = 0;
  if (mm !== null && mm.format === 'radix' && snap.image !== null) {
    visitRadixLeaves(
      radixMemoryOf(snap.image),
      mm.root,
      (phys, prefix, words) => {
        leafCount++;
        if (leaves.length >= RADIX_LEAF_LIMIT) return 0;
        let bits = 0;
        for (let w = 0; w < 1024; w++) if (words[w] !== 0) bits += popcount32(words[w]!);
        if (prefix === 0) {
          leaves.push({ phys, order: -1, bits, first: 0, span: 0 }); // orders 38..52, one per bit
          return 0;
        }
        const order = leafOrder(prefix);
        const blk = POW2[12 + order]!;
        const first = (prefix * KHO_BITMAP_BITS - POW2[52 - order]!) * blk;
        leaves.push({ phys, order, bits, first, span: KHO_BITMAP_BITS * blk });
        return 0;
      },
      { onProblem: () => undefined },
    );
  }
  return { version, format: mm?.format ?? null, root: mm?.root ?? null, levels, leaves, leafCount };
}

/** Key and path of the block `(phys, order)`, with the node pages met on the way. */
export function radixKey(snap: Snapshot, phys: number, order: number): RadixKeyJson {
  if (!Number.isInteger(order) || order < 0 || order > 40) throw new MapRequestError('order must be 0..40');
  if (phys % POW2[12 + order]! !== 0)
    throw new MapRequestError(`address is not aligned to an order-${order} block`);
  const key = encodeKey(phys, order);
  const p = keyPath(key);
  const mm = snap.report?.memoryMap ?? null;
  const path: RadixKeyJson['path'] = [];
  let node: number | null = mm !== null && mm.format === 'radix' ? mm.root : null;
  const mem = snap.image === null ? null : radixMemoryOf(snap.image);
  for (let i = 0; i < 5; i++) {
    const level = 5 - i;
    const index = p.levels[i]!;
    path.push({ level, index, node });
    if (node === null || mem === null) continue;
    const words = mem.peekPage(node / 4096);
    const next = words === null ? 0 : words[index * 2]! + words[index * 2 + 1]! * TWO32;
    node = next === 0 || next % 4096 !== 0 ? null : next;
  }
  path.push({ level: 0, index: p.bit, node });
  let present = false;
  if (node !== null && mem !== null) {
    const words = mem.peekPage(node / 4096);
    present = words !== null && ((words[p.bit >>> 5]! >>> (p.bit & 31)) & 1) === 1;
  }
  return { phys, order, key: `0x${key.toString(16)}`, path, bit: p.bit, present };
}
