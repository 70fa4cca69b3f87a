/**
 * The x86 `boot_params` "zero page" (arch/x86/include/uapi/asm/bootparam.h,
 * Documentation/arch/x86/zero-page.rst and boot.rst): the subset the model hands to a successor,
 * at the real offsets. The kexec file loader builds one 4 KiB zero page followed by the command
 * line and the `setup_data` records in one segment (as `bzImage64_load` does); the successor gets
 * only the zero page's physical address and reads everything from memory.
 *
 * Segment layout (offsets from the segment start, like the kernel's `params` buffer):
 * `[0, 4096)` zero page, `[4096, 4096+cmdline_len+1+30)` command line rounded up to 16 bytes,
 * then the `SETUP_KEXEC_KHO` record (48 bytes) when KHO data is handed over.
 *
 * Model convention (docs/kexec.md): the real successor learns its own load address from the
 * instruction pointer at the jump (`rip = kernel_load_addr + 0x200`); the model has no CPU, so
 * the loader records it in `hdr.code32_start` (low 32 bits, which the 32-bit protocol defines as
 * the protected-mode kernel address) and the zero page's `scratch` field at 0x1e4 (high 32 bits;
 * it is the setup code's own scratch space, unused on the 64-bit entry path).
 */
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import { findKhoSetupData, encodeKhoSetupData, KHO_SETUP_DATA_SIZE } from '../abi/x86-setup-data.ts';
import { hi32, lo32, TWO32 } from '../util/u64.ts';

/** Size of `struct boot_params`. */
export const BOOT_PARAMS_SIZE = 4096;
/** x86 `COMMAND_LINE_SIZE`: longest command line the kernel copies. */
export const COMMAND_LINE_SIZE = 2048;
/** Room the kernel keeps after the command line for `elfcorehdr=0x<addr> ` (crash images). */
export const MAX_ELFCOREHDR_STR_LEN = 30;
/** `boot_flag` magic at 0x1fe. */
export const BOOT_FLAG_MAGIC = 0xaa55;
/** `header` magic "HdrS" at 0x202, as a LE u32. */
export const HDRS_MAGIC = 0x53726448;
/** `type_of_loader` the kexec file loader writes (0x0D << 4). */
export const LOADER_TYPE_KEXEC = 0xd0;
/** Most e820 entries the zero page holds (`E820_MAX_ENTRIES_ZEROPAGE`). */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;
/** e820 `type` of usable RAM. */
export const E820_TYPE_RAM = 1;

/** Offsets in the zero page (hex as in zero-page.rst / boot.rst). */
export const BP = {
  /** u32: high 32 bits of `ramdisk_image`. */
  extRamdiskImage: 0x0c0,
  /** u32: high 32 bits of `ramdisk_size`. */
  extRamdiskSize: 0x0c4,
  /** u32: high 32 bits of `cmd_line_ptr`. */
  extCmdLinePtr: 0x0c8,
  /** u32: the setup code's scratch field; the model's kernel load address high half. */
  scratch: 0x1e4,
  /** u8: number of e820 entries. */
  e820Entries: 0x1e8,
  /** struct setup_header starts here. */
  hdr: 0x1f1,
  /** u8 `setup_sects`. */
  setupSects: 0x1f1,
  /** u32 `syssize` (protected-mode code in 16-byte paragraphs). */
  syssize: 0x1f4,
  /** u16 `boot_flag` = 0xAA55. */
  bootFlag: 0x1fe,
  /** u8: the jump at 0x200 is `EB xx`; 0x201 holds the end of the setup header minus 0x202. */
  jump: 0x200,
  /** u32 `header` = "HdrS". */
  header: 0x202,
  /** u16 boot protocol `version`. */
  version: 0x206,
  /** u16 `kernel_version`: offset of the version string minus 0x200. */
  kernelVersion: 0x20e,
  /** u8 `type_of_loader`. */
  typeOfLoader: 0x210,
  /** u8 `loadflags`. */
  loadflags: 0x211,
  /** u32 `code32_start`: model: kernel load address, low half. */
  code32Start: 0x214,
  /** u32 `ramdisk_image`. */
  ramdiskImage: 0x218,
  /** u32 `ramdisk_size`. */
  ramdiskSize: 0x21c,
  /** u32 `cmd_line_ptr`. */
  cmdLinePtr: 0x228,
  /** u32 `kernel_alignment`. */
  kernelAlignment: 0x230,
  /** u8 `relocatable_kernel`. */
  relocatableKernel: 0x234,
  /** u16 `xloadflags`. */
  xloadflags: 0x236,
  /** u32 `cmdline_size`. */
  cmdlineSize: 0x238,
  /** u64 `setup_data`: head of the setup_data list. */
  setupData: 0x250,
  /** u64 `pref_address`. */
  prefAddress: 0x258,
  /** u32 `init_size`: memory the kernel needs from its load address. */
  initSize: 0x260,
  /** e820 table, 20-byte entries. */
  e820Table: 0x2d0,
} as const;

/** One e820 entry. */
export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

/** What the loader hands over (all physical addresses). */
export interface BootParamsInput {
  /** Command line (ASCII); the kernel truncates at the first NUL. */
  cmdline: string;
  /** Where the kernel segment lands and how much memory it needs (`memsz`). */
  kernel: { phys: number; size: number };
  initrd: { phys: number; size: number } | null;
  kho: { fdtPhys: number; fdtSize: number; scratchPhys: number; scratchSize: number } | null;
  /**
   * The image's setup header bytes (from 0x1f1 up to the end given by the byte at 0x201), copied
   * into the zero page as `bzImage64_load` does; null writes a minimal valid header.
   */
  setupHeader?: Uint8Array | null;
  /** Memory map for the successor (at most 128 entries are stored). */
  e820?: readonly E820Entry[];
}

/** What a successor reads back; `problems` lists everything that did not look right. */
export interface BootParamsView {
  cmdline: string;
  kernel: { phys: number; size: number };
  initrd: { phys: number; size: number } | null;
  kho: { fdtPhys: number; fdtSize: number; scratchPhys: number; scratchSize: number } | null;
  e820: E820Entry[];
  /** Boot protocol version from the header (0 when the header is missing). */
  protocol: number;
  problems: string[];
}

/** Offset of the command line in the boot-params segment. */
export const CMDLINE_OFFSET = BOOT_PARAMS_SIZE;

/** Byte length of the command-line area for a command line of `len` bytes (kernel rounding). */
export function cmdlineAreaSize(len: number): number {
  return align16(len + 1 + MAX_ELFCOREHDR_STR_LEN);
}

/** Size of the whole boot-params segment buffer for `cmdline` (zero page + cmdline + KHO record). */
export function bootParamsSegmentSize(cmdline: string): number {
  return BOOT_PARAMS_SIZE + cmdlineAreaSize(asciiBytes(cmdline).length) + KHO_SETUP_DATA_SIZE;
}

/**
 * Build the boot-params segment buffer for a segment that will be copied to `loadAddr`:
 * zero page, command line, and the `SETUP_KEXEC_KHO` record linked into `hdr.setup_data` when
 * `kho` is given (the record space is always reserved, as the kernel does). Throws a plain
 * Error with a clear message for a command line longer than `COMMAND_LINE_SIZE - 1`.
 */
export function buildBootParams(loadAddr: number, input: BootParamsInput): Uint8Array {
  const cmd = asciiBytes(input.cmdline);
  if (cmd.length >= COMMAND_LINE_SIZE) {
    throw new Error(`Kernel command line too long (${cmd.length} bytes, max ${COMMAND_LINE_SIZE - 1})`);
  }
  const cmdArea = cmdlineAreaSize(cmd.length);
  const khoOff = CMDLINE_OFFSET + cmdArea;
  const buf = new Uint8Array(khoOff + KHO_SETUP_DATA_SIZE);
  const v = new DataView(buf.buffer);

  writeSetupHeader(buf, input.setupHeader ?? null);
  v.setUint8(BP.typeOfLoader, LOADER_TYPE_KEXEC);
  v.setUint8(BP.loadflags, 0);

  v.setUint32(BP.code32Start, lo32(input.kernel.phys), true);
  v.setUint32(BP.scratch, hi32(input.kernel.phys), true);
  v.setUint32(BP.initSize, Math.min(input.kernel.size, 0xffff_ffff), true);

  if (input.initrd !== null) {
    v.setUint32(BP.ramdiskImage, lo32(input.initrd.phys), true);
    v.setUint32(BP.ramdiskSize, lo32(input.initrd.size), true);
    v.setUint32(BP.extRamdiskImage, hi32(input.initrd.phys), true);
    v.setUint32(BP.extRamdiskSize, hi32(input.initrd.size), true);
  }

  buf.set(cmd, CMDLINE_OFFSET);
  const cmdPhys = loadAddr + CMDLINE_OFFSET;
  v.setUint32(BP.cmdLinePtr, lo32(cmdPhys), true);
  v.setUint32(BP.extCmdLinePtr, hi32(cmdPhys), true);
  if (v.getUint32(BP.cmdlineSize, true) === 0) v.setUint32(BP.cmdlineSize, COMMAND_LINE_SIZE - 1, true);

  const e820 = (input.e820 ?? []).slice(0, E820_MAX_ENTRIES_ZEROPAGE);
  v.setUint8(BP.e820Entries, e820.length);
  e820.forEach((e, i) => {
    const off = BP.e820Table + i * 20;
    setU64(v, off, e.addr);
    setU64(v, off + 8, e.size);
    v.setUint32(off + 16, e.type, true);
  });

  if (input.kho !== null) {
    const rec = encodeKhoSetupData(getU64(v, BP.setupData), {
      fdtAddr: input.kho.fdtPhys,
      fdtSize: input.kho.fdtSize,
      scratchAddr: input.kho.scratchPhys,
      scratchSize: input.kho.scratchSize,
    });
    buf.set(rec, khoOff);
    setU64(v, BP.setupData, loadAddr + khoOff);
  }
  return buf;
}

/** Build the boot-params segment for `phys` and write it there (tests, firmware-style boots). */
export function writeBootParams(mem: PhysicalMemory, phys: number, input: BootParamsInput): number {
  const buf = buildBootParams(phys, input);
  mem.write(phys, buf);
  return buf.length;
}

/**
 * Read a zero page at `phys` as a successor does. Never throws: anything unreadable or
 * inconsistent is reported in `problems` and the affected field falls back to empty/null.
 */
export function readBootParams(mem: PhysicalMemory, phys: number): BootParamsView {
  const out: BootParamsView = {
    cmdline: '',
    kernel: { phys: 0, size: 0 },
    initrd: null,
    kho: null,
    e820: [],
    protocol: 0,
    problems: [],
  };
  let zp: Uint8Array;
  try {
    zp = mem.read(phys, BOOT_PARAMS_SIZE);
  } catch (e) {
    out.problems.push(`boot_params at 0x${safeHex(phys)} unreadable: ${msg(e)}`);
    return out;
  }
  const v = new DataView(zp.buffer, zp.byteOffset, zp.byteLength);

  if (v.getUint16(BP.bootFlag, true) !== BOOT_FLAG_MAGIC) {
    out.problems.push(`boot_flag is 0x${v.getUint16(BP.bootFlag, true).toString(16)}, not 0xaa55`);
  }
  if (v.getUint32(BP.header, true) !== HDRS_MAGIC) {
    out.problems.push(`setup header magic is 0x${v.getUint32(BP.header, true).toString(16)}, not "HdrS"`);
  } else {
    out.protocol = v.getUint16(BP.version, true);
  }

  out.kernel = {
    phys: v.getUint32(BP.scratch, true) * TWO32 + v.getUint32(BP.code32Start, true),
    size: v.getUint32(BP.initSize, true),
  };
  if (out.kernel.phys === 0) out.problems.push('no kernel load address (code32_start is 0)');
  if (out.kernel.phys >= mem.limit) {
    out.problems.push(`kernel load address 0x${out.kernel.phys.toString(16)} is outside memory`);
  }

  const rdPhys = v.getUint32(BP.extRamdiskImage, true) * TWO32 + v.getUint32(BP.ramdiskImage, true);
  const rdSize = v.getUint32(BP.extRamdiskSize, true) * TWO32 + v.getUint32(BP.ramdiskSize, true);
  if (rdPhys !== 0 && rdSize !== 0) {
    if (rdPhys + rdSize > mem.limit || !Number.isSafeInteger(rdPhys + rdSize)) {
      out.problems.push(`initrd 0x${rdPhys.toString(16)}+0x${rdSize.toString(16)} is outside memory`);
    } else {
      out.initrd = { phys: rdPhys, size: rdSize };
    }
  }

  out.cmdline = readCmdline(mem, v, out.problems);

  const n = v.getUint8(BP.e820Entries);
  if (n > E820_MAX_ENTRIES_ZEROPAGE) {
    out.problems.push(`e820_entries ${n} > ${E820_MAX_ENTRIES_ZEROPAGE}; using ${E820_MAX_ENTRIES_ZEROPAGE}`);
  }
  for (let i = 0; i < Math.min(n, E820_MAX_ENTRIES_ZEROPAGE); i++) {
    const off = BP.e820Table + i * 20;
    const addr = getU64(v, off);
    const size = getU64(v, off + 8);
    if (addr < 0 || size < 0) {
      out.problems.push(`e820 entry ${i} does not fit in 53 bits; skipped`);
      continue;
    }
    out.e820.push({ addr, size, type: v.getUint32(off + 16, true) });
  }

  const head = getU64(v, BP.setupData);
  if (head < 0) {
    out.problems.push('setup_data pointer does not fit in 53 bits');
  } else if (head !== 0) {
    const found = findKhoSetupData(head, (p, len) => mem.read(p, len));
    if (!found.ok) {
      out.problems.push(`setup_data list: ${found.error.message}`);
    } else if (found.value !== null) {
      const d = found.value.data;
      out.kho = {
        fdtPhys: d.fdtAddr,
        fdtSize: d.fdtSize,
        scratchPhys: d.scratchAddr,
        scratchSize: d.scratchSize,
      };
    }
  }
  return out;
}

/** The image's setup header length: 0x202 + byte[0x201] - 0x1f1 (boot.rst: the jump's offset). */
export function setupHeaderLength(image: Uint8Array): number {
  if (image.length <= BP.jump + 1) return 0;
  return Math.min(0x202 + image[BP.jump + 1]! - BP.hdr, image.length - BP.hdr, BOOT_PARAMS_SIZE - BP.hdr);
}

// ---------------------------------------------------------------- helpers

function writeSetupHeader(buf: Uint8Array, hdr: Uint8Array | null): void {
  const v = new DataView(buf.buffer);
  if (hdr !== null && hdr.length > 0) {
    buf.set(hdr.subarray(0, BOOT_PARAMS_SIZE - BP.hdr), BP.hdr);
  } else {
    v.setUint16(BP.bootFlag, BOOT_FLAG_MAGIC, true);
    v.setUint8(BP.jump, 0xeb);
    v.setUint8(BP.jump + 1, 0x6a); // header ends at 0x26c (protocol 2.15)
    v.setUint32(BP.header, HDRS_MAGIC, true);
    v.setUint16(BP.version, 0x020f, true);
    v.setUint32(BP.cmdlineSize, COMMAND_LINE_SIZE - 1, true);
  }
}

function readCmdline(mem: PhysicalMemory, v: DataView, problems: string[]): string {
  const ptr = v.getUint32(BP.extCmdLinePtr, true) * TWO32 + v.getUint32(BP.cmdLinePtr, true);
  if (ptr === 0) return '';
  if (ptr >= mem.limit) {
    problems.push(`cmd_line_ptr 0x${ptr.toString(16)} is outside memory`);
    return '';
  }
  let bytes: Uint8Array;
  try {
    bytes = mem.read(ptr, Math.min(COMMAND_LINE_SIZE, mem.limit - ptr));
  } catch (e) {
    problems.push(`command line unreadable: ${msg(e)}`);
    return '';
  }
  let end = bytes.indexOf(0);
  if (end < 0) {
    // The kernel copies COMMAND_LINE_SIZE bytes and forces the last to NUL.
    problems.push(`command line not NUL-terminated within ${COMMAND_LINE_SIZE} bytes; truncated`);
    end = COMMAND_LINE_SIZE - 1;
  }
  let s = '';
  for (let i = 0; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

function asciiBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    b[i] = c > 0xff ? 0x3f : c;
  }
  return b;
}

function align16(x: number): number {
  return (x + 15) & ~15;
}

/** u64 LE as a number, or -1 when it does not fit in 53 bits. */
function getU64(v: DataView, off: number): number {
  const hi = v.getUint32(off + 4, true);
  if (hi >= 0x20_0000) return -1;
  return hi * TWO32 + v.getUint32(off, true);
}

function setU64(v: DataView, off: number, x: number): void {
  v.setUint32(off, lo32(x), true);
  v.setUint32(off + 4, hi32(x), true);
}

function safeHex(x: number): string {
  return Number.isInteger(x) && x >= 0 ? x.toString(16) : String(x);
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
