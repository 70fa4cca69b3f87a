/**
 * The x86-64 bzImage loader (arch/x86/kernel/kexec-bzimage64.c `bzImage64_load`, and its
 * user-space twin in kexec-tools): after any segments added before it (KHO's scratch array),
 * it adds purgatory, the boot-params segment (zero page + command line + setup_data), the
 * protected-mode kernel and the initrd, each through `kexec_add_buffer`, then fills in the
 * zero page with the final addresses. Placement policy is the caller's (scratch-restricted,
 * System RAM, crash region).
 */
import { buildBootParams, bootParamsSegmentSize, E820_TYPE_RAM, type E820Entry } from './boot-params.ts';
import { KexecError } from './errors.ts';
import { BUF_MAX_NONE } from './hole.ts';
import type { KernelImage } from './image.ts';
import type { SegmentBuilder } from './segments.ts';

/** Lowest addresses of the segments (kexec-bzimage64.c, inherited from kexec-tools). */
export const MIN_PURGATORY_ADDR = 0x3000;
export const MIN_BOOTPARAM_ADDR = 0x3000;
export const MIN_KERNEL_LOAD_ADDR = 0x100000;
export const MIN_INITRD_LOAD_ADDR = 0x1000000;
/** Room kept after the command line for `elfcorehdr=0x<addr> `. */
export const MAX_ELFCOREHDR_STR_LEN = 30;
/** kexec-tools keeps purgatory below 640 KiB and the initrd below `initrd_addr_max`. */
export const LEGACY_PURGATORY_MAX = 640 * 1024 - 1;

/** Model purgatory: code + data (bufsz) and with its stack/bss (memsz). */
const PURGATORY_BUFSZ = 0x3000;
const PURGATORY_MEMSZ = 0x5000;

/** Inputs of the arch loader. */
export interface Bzimage64LoadInput {
  image: KernelImage;
  initrd: Uint8Array | null;
  /** The command line as given (without `elfcorehdr=`). */
  cmdline: string;
  /** Memory map handed to the successor. */
  e820: readonly E820Entry[];
  /** KHO hand-over; the record is linked only when both are known (after placement). */
  kho: { fdtPhys: number; scratchPhys: number; scratchSize: number } | null;
  /** Crash image: prepend `elfcorehdr=` and load the ELF core header segment. */
  crash: boolean;
  /** kexec-tools placement limits (legacy loader). */
  legacy: boolean;
}

/** What the arch loader placed. */
export interface Bzimage64Loaded {
  entry: number;
  kernelEntry: number;
  bootParamsPhys: number;
  kernelPhys: number;
  cmdline: string;
}

/** A purgatory stand-in: a recognisable header, the rest zero. */
function purgatoryBuffer(): Uint8Array {
  const b = new Uint8Array(PURGATORY_BUFSZ);
  const tag = 'kexec purgatory (model): sha256 check of segments, then jump to the kernel';
  for (let i = 0; i < tag.length; i++) b[i] = tag.charCodeAt(i);
  return b;
}

/** A minimal ELF64 core header page standing for the crash kernel's `elfcorehdr`. */
function elfCoreHeader(): Uint8Array {
  const b = new Uint8Array(4096);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELFCLASS64, little-endian, EV_CURRENT
  b[16] = 4; // ET_CORE
  b[18] = 62; // EM_X86_64
  return b;
}

/**
 * Add the bzImage segments to `segs` and build the zero page. Throws KexecError: EINVAL for a
 * command line longer than the image accepts, EADDRNOTAVAIL when a segment finds no hole.
 */
export function bzImage64Load(segs: SegmentBuilder, input: Bzimage64LoadInput): Bzimage64Loaded {
  const { image } = input;
  const cmdlineLen = input.cmdline.length + 1; // with its NUL, as the syscall passes it
  const maxCmdline = image.cmdlineSize === 0 ? 255 : image.cmdlineSize;
  if (cmdlineLen > maxCmdline) {
    throw new KexecError('EINVAL', `Kernel command line too long (${cmdlineLen} > ${maxCmdline} bytes)`);
  }
  if (cmdlineLen + MAX_ELFCOREHDR_STR_LEN > maxCmdline) {
    throw new KexecError(
      'EINVAL',
      `Kernel command line too long: ${cmdlineLen} + ${MAX_ELFCOREHDR_STR_LEN} bytes reserved for elfcorehdr= exceed ${maxCmdline}`,
    );
  }

  let cmdline = input.cmdline;
  if (input.crash) {
    const hdr = segs.add({
      role: 'elfcorehdr',
      buffer: elfCoreHeader(),
      memsz: 4096,
      bufAlign: 4096,
      bufMin: 0,
      bufMax: BUF_MAX_NONE,
      topDown: true,
    });
    cmdline = `elfcorehdr=0x${hdr.toString(16)} ${cmdline}`;
  }

  const entry = segs.add({
    role: 'purgatory',
    buffer: purgatoryBuffer(),
    memsz: PURGATORY_MEMSZ,
    bufAlign: 4096,
    bufMin: MIN_PURGATORY_ADDR,
    // kexec-tools keeps purgatory in low memory (for kdump it goes into the crash region).
    bufMax: input.legacy && !input.crash ? LEGACY_PURGATORY_MAX : BUF_MAX_NONE,
    topDown: true,
  });

  const paramsSize = bootParamsSegmentSize(cmdline);
  const paramsIndex = segs.segments.length;
  const bootParamsPhys = segs.add({
    role: 'boot-params',
    buffer: new Uint8Array(paramsSize),
    memsz: paramsSize,
    bufAlign: 16,
    bufMin: MIN_BOOTPARAM_ADDR,
    bufMax: BUF_MAX_NONE,
    topDown: true,
  });

  const memsz = Math.ceil(image.initSize / 4096) * 4096;
  if (memsz < image.payload.length) {
    throw new KexecError(
      'EINVAL',
      `${image.name}: init_size 0x${image.initSize.toString(16)} is smaller than the payload (0x${image.payload.length.toString(16)} bytes)`,
    );
  }
  const kernelPhys = segs.add({
    role: 'kernel',
    buffer: image.payload,
    memsz,
    bufAlign: image.kernelAlignment === 0 ? 4096 : image.kernelAlignment,
    bufMin: MIN_KERNEL_LOAD_ADDR,
    bufMax: BUF_MAX_NONE,
    topDown: true,
  });

  let initrd: { phys: number; size: number } | null = null;
  if (input.initrd !== null && input.initrd.length > 0) {
    const phys = segs.add({
      role: 'initrd',
      buffer: input.initrd,
      memsz: input.initrd.length,
      bufAlign: 4096,
      bufMin: MIN_INITRD_LOAD_ADDR,
      bufMax: input.legacy && !input.crash ? 0x7fff_ffff : BUF_MAX_NONE,
      topDown: true,
    });
    initrd = { phys, size: input.initrd.length };
  }

  const params = buildBootParams(bootParamsPhys, {
    cmdline,
    kernel: { phys: kernelPhys, size: memsz },
    initrd,
    kho:
      input.kho === null
        ? null
        : {
            fdtPhys: input.kho.fdtPhys,
            fdtSize: 4096,
            scratchPhys: input.kho.scratchPhys,
            scratchSize: input.kho.scratchSize,
          },
    setupHeader: image.setupHeader,
    e820: input.e820,
  });
  segs.setBuffer(paramsIndex, params);
  return { entry, kernelEntry: kernelPhys + 0x200, bootParamsPhys, kernelPhys, cmdline };
}

/** The e820 map of usable RAM from inclusive-free `[start, end)` ranges (first 128). */
export function e820FromRam(ram: readonly { start: number; end: number }[]): E820Entry[] {
  return ram.map((r) => ({ addr: r.start, size: r.end - r.start, type: E820_TYPE_RAM }));
}
