/**
 * KHO serialization block sets (kernel/liveupdate/kho_block.c): a chain of preserved pages,
 * each `{u64 next; u64 count}` followed by fixed-size entries (layout in src/abi/kho-block.ts).
 * LUO keeps its sessions and each session's files in such sets.
 *
 * Outgoing sets grow ahead (`grow(n)` makes room for n entries, a new zeroed preserved page per
 * block) and shrink from the tail; entries are written at serialization through an iterator
 * that sets each block's `count` as it reserves slots (`prev` steps back without touching the
 * counts). Incoming sets are restored from a head address with the kernel's checks (a cycle or
 * more than 10000 blocks: `Block set is corrupted`; a count of 0 or above the block's capacity:
 * `Block contains invalid entry count: <n>`), and their pages go back to the allocator with
 * `kho_restore_free` when the set is destroyed.
 */
import {
  KHO_BLOCK_HEADER_SIZE,
  KHO_BLOCK_MAX_BLOCKS,
  KHO_BLOCK_SIZE,
  khoBlockCapacity,
} from '../abi/kho-block.ts';
import { kmalloc } from '../mm/failslab.ts';
import { GFP_KERNEL } from '../mm/gfp.ts';
import type { Kho } from './kho.ts';

const ENOMEM = 12;
const EINVAL = 22;
const ENOSPC = 28;
/** `sizeof(struct kho_block)` (a list head and the `ser` pointer): kzalloc'd from kmalloc-32. */
const KHO_BLOCK_ALLOC_SIZE = 24;

/** `struct kho_block_set`. */
export class KhoBlockSet {
  readonly entrySize: number;
  /** `count_per_block`. */
  readonly perBlock: number;
  /** Restored from the previous kernel (pages are freed with `kho_restore_free`). */
  incoming = false;
  /** Block addresses in chain order. */
  private blocks: number[] = [];
  private readonly kho: Kho;
  /** Prefix of this subsystem's log lines (kho_block.o is linked into luo.o: `luo: `). */
  private readonly log: (level: 'err' | 'warn', text: string) => void;

  constructor(kho: Kho, entrySize: number, log: (level: 'err' | 'warn', text: string) => void) {
    this.kho = kho;
    this.entrySize = entrySize;
    this.perBlock = khoBlockCapacity(entrySize);
    this.log = log;
  }

  /** Number of blocks. */
  get nblocks(): number {
    return this.blocks.length;
  }

  /** `kho_block_set_head_pa`: the first block, 0 when empty. */
  get headPa(): number {
    return this.blocks[0] ?? 0;
  }

  /** Block addresses in chain order (a copy). */
  blockList(): number[] {
    return [...this.blocks];
  }

  private mem(): {
    readU64(a: number): number;
    writeU64(a: number, v: number): void;
    fill(a: number, l: number, b: number): void;
  } {
    return this.kho.ctx.mem;
  }

  private freeSer(phys: number): void {
    if (this.incoming) this.kho.restoreFree(phys);
    else this.kho.unpreserveFree(phys);
  }

  /**
   * `kho_block_add`: link `phys` at the tail; -ENOSPC past 10000 blocks, -ENOMEM when the
   * kzalloc of its `struct kho_block` fails (failslab; `caller` names the kernel function).
   */
  private add(phys: number, caller: string): number {
    if (this.blocks.length >= KHO_BLOCK_MAX_BLOCKS) return -ENOSPC;
    if (!kmalloc(this.kho.ctx.failslab, KHO_BLOCK_ALLOC_SIZE, GFP_KERNEL, ['kho_block_add', caller]))
      return -ENOMEM;
    const last = this.blocks[this.blocks.length - 1];
    this.blocks.push(phys);
    if (last !== undefined) this.mem().writeU64(last, phys);
    return 0;
  }

  private growOne(): number {
    const phys = this.kho.allocPreserve(KHO_BLOCK_SIZE);
    if (phys < 0) return phys;
    const err = this.add(phys, 'kho_block_set_grow_one');
    if (err !== 0) {
      this.freeSer(phys);
      return err;
    }
    return 0;
  }

  private shrinkOne(): void {
    const last = this.blocks.pop();
    if (last === undefined) return;
    this.freeSer(last);
    const newLast = this.blocks[this.blocks.length - 1];
    if (newLast !== undefined) this.mem().writeU64(newLast, 0);
  }

  /**
   * `kho_block_set_grow(count)`: make room for `count` entries; on failure the blocks added by
   * this call are released again. 0, -ENOMEM or -ENOSPC; -EINVAL on an incoming set (WARN).
   */
  grow(count: number): number {
    if (this.incoming) return -EINVAL;
    const orig = this.blocks.length;
    while (count > this.blocks.length * this.perBlock) {
      const err = this.growOne();
      if (err !== 0) {
        while (this.blocks.length > orig) this.shrinkOne();
        return err;
      }
    }
    return 0;
  }

  /** `kho_block_set_shrink(count)`: drop tail blocks the first `count` entries do not need. */
  shrink(count: number): void {
    while (this.blocks.length > 0 && count <= (this.blocks.length - 1) * this.perBlock) this.shrinkOne();
  }

  /** `kho_block_set_is_cyclic`: Floyd's walk over at most 10000 blocks. */
  private isCyclic(head: number): boolean {
    const mem = this.mem();
    let fast = head;
    let slow = head;
    let count = 0;
    while (fast !== 0) {
      if (count++ >= KHO_BLOCK_MAX_BLOCKS) {
        this.log('err', 'Block set is corrupted');
        return true;
      }
      const n1 = mem.readU64(fast);
      if (n1 === 0) break;
      fast = n1;
      const n2 = mem.readU64(fast);
      if (n2 === 0) break;
      fast = n2;
      slow = mem.readU64(slow);
      if (slow === fast) {
        this.log('err', 'Block set is corrupted');
        return true;
      }
    }
    return false;
  }

  /**
   * `kho_block_set_restore(head)`: take over a chain from the previous kernel. 0, -EINVAL or
   * -ENOMEM (kho_block_add); on failure everything restored so far and the rest of the chain
   * is freed.
   */
  restore(head: number): number {
    this.incoming = true;
    if (head === 0) return 0;
    if (this.isCyclic(head)) return -EINVAL;
    const mem = this.mem();
    let next = head;
    while (next !== 0) {
      const count = mem.readU64(next + 8);
      let err: number;
      if (count === 0 || count > this.perBlock) {
        this.log('warn', `Block contains invalid entry count: ${count}`);
        err = -EINVAL;
      } else err = this.add(next, 'kho_block_set_restore');
      if (err !== 0) {
        // err_destroy: the restored blocks, then the rest of the chain from this one on.
        this.destroy();
        while (next !== 0) {
          const after = mem.readU64(next);
          this.freeSer(next);
          next = after;
        }
        return err;
      }
      next = mem.readU64(next);
    }
    return 0;
  }

  /** `kho_block_set_destroy`: release every block. */
  destroy(): void {
    const all = this.blocks;
    this.blocks = [];
    for (const b of all) this.freeSer(b);
  }

  /** `kho_block_set_clear`: zero every block's count and entries (the chain links stay). */
  clear(): void {
    const mem = this.mem();
    for (const b of this.blocks) {
      mem.writeU64(b + 8, 0);
      mem.fill(b + KHO_BLOCK_HEADER_SIZE, KHO_BLOCK_SIZE - KHO_BLOCK_HEADER_SIZE, 0);
    }
  }

  /** An iterator at the first slot (`kho_block_set_it_init`). */
  iterator(): KhoBlockSetIt {
    return new KhoBlockSetIt(this, this.blocks);
  }
}

/** `struct kho_block_set_it`: a position in a block set. */
export class KhoBlockSetIt {
  private readonly set: KhoBlockSet;
  private readonly blocks: readonly number[];
  private block = 0;
  private i = 0;

  constructor(set: KhoBlockSet, blocks: readonly number[]) {
    this.set = set;
    this.blocks = blocks;
  }

  private entry(): number {
    return this.blocks[this.block]! + KHO_BLOCK_HEADER_SIZE + this.i * this.set.entrySize;
  }

  /**
   * `kho_block_set_it_reserve_entry`: the next slot's physical address (its block's `count`
   * becomes the slots used so far), or 0 when the set is full.
   */
  reserveEntry(mem: { writeU64(a: number, v: number): void }): number {
    if (this.blocks.length === 0) return 0;
    if (this.i === this.set.perBlock) {
      if (this.block === this.blocks.length - 1) return 0;
      this.block++;
      this.i = 0;
    }
    const at = this.entry();
    this.i++;
    mem.writeU64(this.blocks[this.block]! + 8, this.i);
    return at;
  }

  /** `kho_block_set_it_read_entry`: the next written entry's address, or 0 after the last. */
  readEntry(mem: { readU64(a: number): number }): number {
    if (this.blocks.length === 0) return 0;
    if (this.i === mem.readU64(this.blocks[this.block]! + 8)) {
      if (this.block === this.blocks.length - 1) return 0;
      this.block++;
      this.i = 0;
    }
    const at = this.entry();
    this.i++;
    return at;
  }

  /** `kho_block_set_it_prev`: step back one slot (counts unchanged); 0 at the very start. */
  prev(): number {
    if (this.blocks.length === 0) return 0;
    if (this.i === 0) {
      if (this.block === 0) return 0;
      this.block--;
      this.i = this.set.perBlock;
    }
    this.i--;
    return this.entry();
  }
}
