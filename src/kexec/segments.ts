/**
 * A loaded kexec image (`struct kimage`) and its segments (`struct kexec_segment`): each segment
 * is a buffer the loader keeps in its own memory (`buffer`, `bufsz`) and a destination range in
 * physical memory (`dest`, `memsz`) that is written only at the jump. `addBuffer` is
 * `kexec_add_buffer()`: page-round `memsz`, raise the alignment to a page, find a hole with the
 * given placement policy, record the segment.
 */
import { PAGE_SIZE } from '../hw/physical-memory.ts';
import { KexecError } from './errors.ts';
import { destinationsOf, type HoleRequest } from './hole.ts';

/** `KEXEC_SEGMENT_MAX`. */
export const KEXEC_SEGMENT_MAX = 16;

/** Which loader made the image. */
export type KexecImageKind = 'file' | 'legacy' | 'crash';

/** What a segment holds (model label, for messages and the sanitizer). */
export type SegmentRole = 'kho-scratch' | 'purgatory' | 'boot-params' | 'kernel' | 'initrd' | 'elfcorehdr';

/** One `struct kexec_segment`. */
export interface KexecSegment {
  readonly role: SegmentRole;
  /** The bytes copied at the jump (the loader's copy; `bufsz` = its length). */
  readonly buffer: Uint8Array;
  readonly bufsz: number;
  /** Destination physical address (page aligned). */
  readonly dest: number;
  /** Destination size (page multiple, ≥ bufsz; the rest is zero-filled at the jump). */
  readonly memsz: number;
}

/** KHO hand-over carried by a file-loaded image (`image->kho`). */
export interface KimageKho {
  /** Physical address of the root FDT page (not copied; read in place by the successor). */
  fdtPhys: number;
  /** Index of the scratch-array segment in `segments`. */
  scratchSegment: number;
}

/** A loaded image (`struct kimage`). */
export interface KexecImage {
  readonly kind: KexecImageKind;
  readonly segments: readonly KexecSegment[];
  /** Where execution starts (purgatory's entry). */
  readonly entry: number;
  /** Where the kernel proper is entered (`kernel_load_addr + 0x200`). */
  readonly kernelEntry: number;
  /** Destination of the zero page: the one number the successor is handed. */
  readonly bootParamsPhys: number;
  readonly kho: KimageKho | null;
  /** Final command line as handed over. */
  readonly cmdline: string;
  /** Release of the loaded kernel (`uname -r` from the image), null for unknown images. */
  readonly release: string | null;
  /** Name of the image file. */
  readonly imageName: string;
}

/** A buffer to place (`struct kexec_buf` before placement). */
export interface KexecBuf {
  role: SegmentRole;
  buffer: Uint8Array;
  memsz: number;
  bufAlign: number;
  bufMin: number;
  bufMax: number;
  topDown: boolean;
}

/** Placement policy: the chosen address for a request, or -1 (EADDRNOTAVAIL). */
export type Placer = (req: HoleRequest, taken: (start: number, end: number) => boolean) => number;

/** Segments of an image under construction. */
export class SegmentBuilder {
  readonly segments: KexecSegment[] = [];
  private readonly place: Placer;

  constructor(place: Placer) {
    this.place = place;
  }

  /**
   * `kexec_add_buffer`: returns the destination. Throws KexecError EINVAL (too many segments,
   * bufsz > memsz) or EADDRNOTAVAIL (no hole).
   */
  add(kbuf: KexecBuf): number {
    if (this.segments.length >= KEXEC_SEGMENT_MAX) {
      throw new KexecError('EINVAL', `too many segments (max ${KEXEC_SEGMENT_MAX})`);
    }
    const memsz = Math.ceil(kbuf.memsz / PAGE_SIZE) * PAGE_SIZE;
    if (kbuf.buffer.length > memsz) {
      throw new KexecError('EINVAL', `${kbuf.role}: bufsz ${kbuf.buffer.length} > memsz ${memsz}`);
    }
    const req: HoleRequest = {
      memsz,
      bufAlign: Math.max(kbuf.bufAlign, PAGE_SIZE),
      bufMin: kbuf.bufMin,
      bufMax: kbuf.bufMax,
      topDown: kbuf.topDown,
    };
    const dest = this.place(req, destinationsOf(this.segments));
    if (dest < 0) {
      throw new KexecError(
        'EADDRNOTAVAIL',
        `no room for the ${kbuf.role} segment (0x${memsz.toString(16)} bytes, align 0x${req.bufAlign.toString(16)})`,
      );
    }
    this.segments.push({ role: kbuf.role, buffer: kbuf.buffer, bufsz: kbuf.buffer.length, dest, memsz });
    return dest;
  }

  /** Replace a segment's buffer after placement (the boot params are filled in last). */
  setBuffer(index: number, buffer: Uint8Array): void {
    const s = this.segments[index]!;
    if (buffer.length > s.memsz) throw new KexecError('EINVAL', `${s.role}: buffer grew past memsz`);
    this.segments[index] = { ...s, buffer, bufsz: buffer.length };
  }
}

/**
 * `sanity_check_segment_list`: destinations page aligned, inside `[0, limit)`, not
 * overlapping, bufsz ≤ memsz, and (crash images) inside the crash region. Returns a message or
 * null.
 */
export function checkSegments(
  segments: readonly KexecSegment[],
  limit: number,
  crashRegion: { start: number; end: number } | null,
): string | null {
  for (const s of segments) {
    if (s.dest % PAGE_SIZE !== 0 || s.memsz % PAGE_SIZE !== 0)
      return `${s.role}: destination not page aligned`;
    if (s.dest + s.memsz > limit) return `${s.role}: destination beyond memory`;
    if (s.bufsz > s.memsz) return `${s.role}: bufsz > memsz`;
    if (crashRegion !== null && (s.dest < crashRegion.start || s.dest + s.memsz > crashRegion.end)) {
      return `${s.role}: destination outside the crash kernel region`;
    }
  }
  const sorted = [...segments].sort((a, b) => a.dest - b.dest);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    if (p.dest + p.memsz > sorted[i]!.dest) return `${p.role} and ${sorted[i]!.role} overlap`;
  }
  return null;
}
