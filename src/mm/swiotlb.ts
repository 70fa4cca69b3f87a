/**
 * The early software IO TLB (kernel/dma/swiotlb.c: swiotlb_init_remap(), called on x86 from
 * mm_core_init() → arch_mm_preinit() → pci_iommu_alloc() when RAM extends above 4 GiB): a
 * 64 MiB bounce buffer below 4 GiB (`memblock_alloc_low`), its slot array and its areas. When
 * the buffer does not fit — a KHO successor allocates only inside the scratch areas, and the
 * lowmem area may be small — the kernel halves the request down to 1 MiB, warning at each
 * failure, and boots without the buffer if even that fails. Nothing here panics.
 */
import { SMP_CACHE_BYTES, type Memblock } from './memblock.ts';

const PAGE_SIZE = 4096;
/** `IO_TLB_SHIFT`: 2 KiB slabs. */
export const IO_TLB_SHIFT = 11;
/** `IO_TLB_SEGSIZE`: slabs per segment; sizes are multiples of it. */
export const IO_TLB_SEGSIZE = 128;
/** `IO_TLB_DEFAULT_SIZE` (64 MiB) in slabs: `default_nslabs`. */
export const IO_TLB_DEFAULT_SLABS = (64 << 20) >> IO_TLB_SHIFT;
/** `IO_TLB_MIN_SLABS`: 1 MiB, the smallest buffer worth booting with. */
export const IO_TLB_MIN_SLABS = (1 << 20) >> IO_TLB_SHIFT;
/** `sizeof(struct io_tlb_slot)`: orig_addr, alloc_size, list (padded). */
export const IO_TLB_SLOT_SIZE = 24;
/** `sizeof(struct io_tlb_area)`: used, index, lock. */
export const IO_TLB_AREA_SIZE = 16;

/** A log line with its printk level. */
export type SwiotlbLog = (line: string, level: 'info' | 'warn') => void;

/** The default pool as `swiotlb_init_remap` leaves it (nslabs 0: no buffer). */
export interface SwiotlbPool {
  /** Physical start of the bounce buffer (0 without one). */
  start: number;
  nslabs: number;
  /** Slot array and area array (0 when not allocated). */
  slots: number;
  areas: number;
  nareas: number;
  /** Memblock allocations made, for the early-allocation list. */
  allocations: { name: string; base: number; size: number }[];
}

function pageAlign(x: number): number {
  return Math.ceil(x / PAGE_SIZE) * PAGE_SIZE;
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

function roundupPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** `limit_nareas`: no more areas than whole segments. */
function limitNareas(nareas: number, nslots: number): number {
  return nslots < nareas * IO_TLB_SEGSIZE ? Math.floor(nslots / IO_TLB_SEGSIZE) : nareas;
}

const PREFIX = 'software IO TLB: ';

/**
 * `swiotlb_init_remap(true, 0, NULL)` on a machine with `cpus` possible CPUs, allocating from
 * `mb` (in scratch-only mode on a KHO boot). Logs what the kernel logs, with its levels.
 */
export function swiotlbInit(mb: Memblock, cpus: number, log: SwiotlbLog): SwiotlbPool {
  const pool: SwiotlbPool = { start: 0, nslabs: 0, slots: 0, areas: 0, nareas: 0, allocations: [] };
  // swiotlb_adjust_nareas(num_possible_cpus()); the default size is already a power of two.
  const defaultNareas = roundupPow2(Math.max(1, cpus));
  log(`${PREFIX}area num ${defaultNareas}.`, 'info');
  let nslabs = IO_TLB_DEFAULT_SLABS;
  let nareas = limitNareas(defaultNareas, nslabs);
  let tlb: number;
  for (;;) {
    // swiotlb_memblock_alloc(): memblock_alloc_low of the page-aligned buffer.
    const bytes = pageAlign(nslabs << IO_TLB_SHIFT);
    tlb = mb.allocLow(bytes, PAGE_SIZE);
    if (tlb !== 0) {
      pool.allocations.push({ name: 'swiotlb buffer', base: tlb, size: bytes });
      break;
    }
    log(`${PREFIX}swiotlb_memblock_alloc: Failed to allocate ${bytes} bytes tlb structure`, 'warn');
    if (nslabs <= IO_TLB_MIN_SLABS) return pool;
    nslabs = alignUp(nslabs >> 1, IO_TLB_SEGSIZE);
    nareas = limitNareas(nareas, nslabs);
  }
  if (nslabs !== IO_TLB_DEFAULT_SLABS) {
    // The kernel's format has no newline; the next printk starts a new record anyway.
    log(`${PREFIX}SWIOTLB bounce buffer size adjusted ${IO_TLB_DEFAULT_SLABS} -> ${nslabs} slabs`, 'info');
  }
  const slotsSize = pageAlign(IO_TLB_SLOT_SIZE * nslabs);
  const slots = mb.alloc(slotsSize, PAGE_SIZE);
  if (slots === 0) {
    log(
      `${PREFIX}swiotlb_init_remap: Failed to allocate ${slotsSize} bytes align=0x${PAGE_SIZE.toString(16)}`,
      'warn',
    );
    return pool;
  }
  pool.allocations.push({ name: 'swiotlb slots', base: slots, size: slotsSize });
  const areasSize = IO_TLB_AREA_SIZE * nareas;
  const areas = mb.alloc(areasSize, SMP_CACHE_BYTES);
  if (areas === 0) {
    log(`${PREFIX}swiotlb_init_remap: Failed to allocate mem->areas.`, 'warn');
    return pool;
  }
  pool.allocations.push({ name: 'swiotlb areas', base: areas, size: areasSize });
  pool.start = tlb;
  pool.nslabs = nslabs;
  pool.slots = slots;
  pool.areas = areas;
  pool.nareas = nareas;
  return pool;
}

/**
 * `swiotlb_print_info()` as x86's `pci_iommu_init()` (rootfs_initcall) calls it:
 * `PCI-DMA: Using software bounce buffering for IO (SWIOTLB)` then the mapping, or
 * `No low mem` when the boot went without a buffer.
 */
export function swiotlbPrintInfo(pool: SwiotlbPool, log: SwiotlbLog): void {
  log('PCI-DMA: Using software bounce buffering for IO (SWIOTLB)', 'info');
  if (pool.nslabs === 0) {
    log(`${PREFIX}No low mem`, 'warn');
    return;
  }
  const bytes = pool.nslabs << IO_TLB_SHIFT;
  const pa = (x: number): string => `0x${x.toString(16).padStart(16, '0')}`;
  log(`${PREFIX}mapped [mem ${pa(pool.start)}-${pa(pool.start + bytes)}] (${bytes >> 20}MB)`, 'info');
}
