/**
 * Kernel images for kexec: the x86 bzImage format (Documentation/arch/x86/boot.rst). A bzImage is
 * `(setup_sects + 1) × 512` bytes of real-mode setup code, whose first sector holds the setup
 * header at 0x1f1, followed by the protected-mode payload. The file loader checks what
 * `bzImage64_probe()` checks (HdrS, 0xAA55, protocol ≥ 2.12, LOADED_HIGH, 64-bit and above-4G
 * loadable); the version string found through `kernel_version` tells which simulated release
 * the image is. `kho mkimage` writes synthetic images of the same shape (see {@link mkImage}).
 */
import { BOOT_FLAG_MAGIC, BP, HDRS_MAGIC, setupHeaderLength } from './boot-params.ts';
import { KexecError } from './errors.ts';
import { profileByRelease, type ReleaseProfile } from '../kernel/profile.ts';

/** `loadflags` bit: protected-mode code is loaded at 0x100000 (a bzImage). */
export const LOADED_HIGH = 0x01;
/** `xloadflags` bits. */
export const XLF_KERNEL_64 = 1 << 0;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
export const XLF_5LEVEL = 1 << 5;
/** Lowest boot protocol the 64-bit file loader accepts (2.12). */
export const MIN_PROTOCOL_FILE_LOAD = 0x020c;
/** Lowest protocol with a `kernel_version` pointer (2.00+, boot.rst). */
const MIN_PROTOCOL_VERSION_PTR = 0x0200;
/** Longest version string read. */
const MAX_VERSION_STRING = 512;

/** A parsed bzImage. */
export interface KernelImage {
  /** The name the image was given (file name), for messages. */
  readonly name: string;
  readonly bytes: Uint8Array;
  /** `setup_sects` as stored (0 means 4). */
  readonly setupSects: number;
  /** Bytes of real-mode code before the payload: `(setup_sects || 4) + 1` sectors. */
  readonly kern16Size: number;
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  readonly protocol: number;
  readonly loadflags: number;
  readonly xloadflags: number;
  /** Physical alignment the kernel needs (`kernel_alignment`). */
  readonly kernelAlignment: number;
  /** Memory the kernel needs from its load address (`init_size`); 0 before protocol 2.10. */
  readonly initSize: number;
  /** Longest command line (`cmdline_size`, without the NUL). */
  readonly cmdlineSize: number;
  /** The version string at `kernel_version + 0x200`, or null when absent or unreadable. */
  readonly versionString: string | null;
  /** `uname -r`: the version string's first word, or null. */
  readonly release: string | null;
  /** The setup header bytes (0x1f1 to its end), which the loader copies into boot_params. */
  readonly setupHeader: Uint8Array;
  /** The protected-mode part: the kernel segment's buffer. */
  readonly payload: Uint8Array;
}

/**
 * Why `bzImage64_probe()` would reject these bytes (its `pr_err` text), or null when it accepts
 * them. Never throws.
 */
export function probeBzImage64(bytes: Uint8Array): string | null {
  if (bytes.length < 2 * 512) return 'File is too short to be a bzImage';
  const v = view(bytes);
  if (v.getUint32(BP.header, true) !== HDRS_MAGIC) return 'Not a bzImage';
  if (v.getUint16(BP.bootFlag, true) !== BOOT_FLAG_MAGIC) return 'No x86 boot sector present';
  if (v.getUint16(BP.version, true) < MIN_PROTOCOL_FILE_LOAD) return 'Must be at least protocol version 2.12';
  if ((v.getUint8(BP.loadflags) & LOADED_HIGH) === 0) return 'zImage not a bzImage';
  const xlf = v.getUint16(BP.xloadflags, true);
  if ((xlf & XLF_KERNEL_64) === 0) return 'Not a bzImage64. XLF_KERNEL_64 is not set.';
  if ((xlf & XLF_CAN_BE_LOADED_ABOVE_4G) === 0) return 'XLF_CAN_BE_LOADED_ABOVE_4G is not set.';
  return null;
}

/**
 * Parse a bzImage. Throws {@link KexecError} ENOEXEC with kexec-tools' message
 * `Cannot determine the file type of NAME` (plus the kernel's reason) when the probe fails, and
 * `bzImage truncated` when the file is shorter than its setup code.
 */
export function parseKernelImage(bytes: Uint8Array, name = 'image'): KernelImage {
  const why = probeBzImage64(bytes);
  if (why !== null) {
    throw new KexecError('ENOEXEC', `Cannot determine the file type of ${name} (kexec-bzImage64: ${why})`);
  }
  const v = view(bytes);
  const setupSects = v.getUint8(BP.setupSects);
  const kern16Size = ((setupSects === 0 ? 4 : setupSects) + 1) * 512;
  if (bytes.length < kern16Size) {
    throw new KexecError(
      'ENOEXEC',
      `${name}: bzImage truncated (${bytes.length} < ${kern16Size} bytes of setup code)`,
    );
  }
  const protocol = v.getUint16(BP.version, true);
  const versionString = readVersionString(bytes, protocol, kern16Size);
  const release = versionString === null ? null : (versionString.split(' ')[0] ?? null);
  return {
    name,
    bytes,
    setupSects,
    kern16Size,
    protocol,
    loadflags: v.getUint8(BP.loadflags),
    xloadflags: v.getUint16(BP.xloadflags, true),
    kernelAlignment: v.getUint32(BP.kernelAlignment, true),
    initSize: v.getUint32(BP.initSize, true),
    cmdlineSize: v.getUint32(BP.cmdlineSize, true),
    versionString,
    release: release === '' ? null : release,
    setupHeader: bytes.slice(BP.hdr, BP.hdr + setupHeaderLength(bytes)),
    payload: bytes.subarray(kern16Size),
  };
}

/** The version string a bzImage carries (`file` prints it), or null. Never throws. */
export function readVersionString(bytes: Uint8Array, protocol: number, limit: number): string | null {
  if (protocol < MIN_PROTOCOL_VERSION_PTR || bytes.length < BP.kernelVersion + 2) return null;
  const ptr = view(bytes).getUint16(BP.kernelVersion, true);
  if (ptr === 0) return null;
  const at = ptr + 0x200;
  const end = Math.min(bytes.length, limit, at + MAX_VERSION_STRING);
  let s = '';
  for (let i = at; i < end; i++) {
    const c = bytes[i]!;
    if (c === 0) return s;
    if (c < 0x20 || c > 0x7e) return null;
    s += String.fromCharCode(c);
  }
  return null;
}

/** The release profile an image runs as, with a warning when the model does not know it. */
export interface ImageProfile {
  profile: ReleaseProfile;
  /** Set when the image's release is unknown and `current` is used instead. */
  warning: string | null;
}

/**
 * Which simulated kernel an image boots: the profile whose `uname -r` equals the image's release
 * (images from `kho mkimage`), else `current` with a warning (a real distribution kernel).
 */
export function profileOfImage(image: KernelImage, current: ReleaseProfile): ImageProfile {
  const p = image.release === null ? null : profileByRelease(image.release);
  if (p !== null) return { profile: { ...p, options: current.options }, warning: null };
  const what = image.release === null ? 'has no version string' : `is release ${image.release}`;
  return {
    profile: current,
    warning: `${image.name} ${what}, which the model does not know; it boots as ${current.release} (${current.name})`,
  };
}

// ---------------------------------------------------------------- synthetic images

/** Options of {@link mkImage}. */
export interface MkImageOptions {
  profile: ReleaseProfile;
  /** Whole file size in bytes (default 12 MiB). */
  size?: number;
  /** Seed of the filler payload (default 1). */
  seed?: number;
}

/** Default synthetic image size: about a distribution kernel's. */
export const MKIMAGE_DEFAULT_SIZE = 12 * 1024 * 1024;
/** Setup sectors of synthetic images (after the boot sector). */
export const MKIMAGE_SETUP_SECTS = 30;
/** Where the version string sits in a synthetic image (inside the setup code). */
const MKIMAGE_VERSION_AT = 0x1000;
const MiB = 1024 * 1024;

/** The version string of a synthetic image of `profile` (what `uname -v` and `file` show). */
export function mkImageVersionString(profile: ReleaseProfile): string {
  return `${profile.release} (kho@sim) #1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2026`;
}

/** Offset of the `Linux version` banner in a synthetic image's payload. */
export const MKIMAGE_BANNER_AT = 0x1000;

/** The `linux_banner` a synthetic image carries in its payload (as `/proc/version` shows it). */
export function mkImageBanner(profile: ReleaseProfile): string {
  return `Linux version ${profile.release} (kho@sim) (gcc (GCC) 14.2.0, GNU ld 2.43) #1 SMP PREEMPT_DYNAMIC Thu Jan  1 00:00:00 UTC 2026`;
}

/**
 * A synthetic bzImage of `profile`: a valid setup header (protocol 2.15, relocatable, 64-bit,
 * 2 MiB aligned), the version string, and a deterministic pseudo-random payload standing for
 * the kernel, with the `Linux version` banner at {@link MKIMAGE_BANNER_AT} (the model treats
 * the payload as already decompressed). `init_size` is max(32 MiB, 3 × payload) rounded to 2 MiB, like a real
 * kernel's decompression footprint. Throws KexecError EINVAL for a size too small to hold one
 * page of payload.
 */
export function mkImage(opts: MkImageOptions): Uint8Array {
  const size = opts.size ?? MKIMAGE_DEFAULT_SIZE;
  const kern16 = (MKIMAGE_SETUP_SECTS + 1) * 512;
  if (!Number.isSafeInteger(size) || size < kern16 + 4096 || size > 1024 * MiB) {
    throw new KexecError(
      'EINVAL',
      `image size ${String(size)} must be between ${kern16 + 4096} bytes and 1 GiB`,
      2,
    );
  }
  const b = new Uint8Array(size);
  const v = view(b);
  const payloadLen = size - kern16;
  const initSize = roundUp(Math.max(32 * MiB, 3 * payloadLen), 2 * MiB);

  v.setUint8(BP.setupSects, MKIMAGE_SETUP_SECTS);
  v.setUint16(0x1f2, 1, true); // root_flags: read-only root
  v.setUint32(BP.syssize, Math.ceil(payloadLen / 16), true);
  v.setUint16(0x1fa, 0xffff, true); // vid_mode: NORMAL_VGA
  v.setUint16(BP.bootFlag, BOOT_FLAG_MAGIC, true);
  v.setUint8(BP.jump, 0xeb);
  v.setUint8(BP.jump + 1, 0x6a); // the setup header ends at 0x26c (protocol 2.15)
  v.setUint32(BP.header, HDRS_MAGIC, true);
  v.setUint16(BP.version, 0x020f, true);
  v.setUint16(BP.kernelVersion, MKIMAGE_VERSION_AT - 0x200, true);
  v.setUint8(BP.loadflags, LOADED_HIGH);
  v.setUint32(BP.code32Start, 0x100000, true);
  v.setUint32(0x22c, 0x7fffffff, true); // initrd_addr_max
  v.setUint32(BP.kernelAlignment, 2 * MiB, true);
  v.setUint8(BP.relocatableKernel, 1);
  v.setUint8(0x235, 21); // min_alignment: 2 MiB
  v.setUint16(BP.xloadflags, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G | XLF_5LEVEL, true);
  v.setUint32(BP.cmdlineSize, 2047, true);
  v.setUint32(0x248, 0x3b1, true); // payload_offset
  v.setUint32(0x24c, Math.max(0, payloadLen - 0x3b1 - 4), true); // payload_length
  v.setUint32(BP.prefAddress, 0x1000000, true);
  v.setUint32(BP.initSize, initSize, true);

  const vs = mkImageVersionString(opts.profile);
  for (let i = 0; i < vs.length; i++) b[MKIMAGE_VERSION_AT + i] = vs.charCodeAt(i);

  fillPayload(b.subarray(kern16), opts.seed ?? 1);
  // The decompressed kernel's `linux_banner`: the model's successor finds its release here.
  const banner = `${mkImageBanner(opts.profile)}\n\0`;
  for (let i = 0; i < banner.length; i++) b[kern16 + MKIMAGE_BANNER_AT + i] = banner.charCodeAt(i);
  return b;
}

/** xorshift32 filler, word by word (deterministic and fast for a 12 MiB payload). */
function fillPayload(p: Uint8Array, seed: number): void {
  let x = (seed >>> 0) ^ 0x6b686f21;
  if (x === 0) x = 0x9e3779b9;
  const words = Math.floor(p.length / 4);
  const w = new Uint32Array(p.buffer, p.byteOffset, words);
  for (let i = 0; i < words; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x >>> 0;
  }
  for (let i = words * 4; i < p.length; i++) p[i] = i & 0xff;
}

function roundUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
