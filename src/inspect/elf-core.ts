/**
 * ELF64 core files of physical memory, the format of QEMU's `dump-guest-memory` and kdump's
 * `/proc/vmcore`: each PT_LOAD segment maps `p_memsz` bytes at physical address `p_paddr`, the
 * first `p_filesz` of them stored at file offset `p_offset` (the rest reads as zero).
 *
 * The writer dumps the simulator's memory (runs of pages with data, sparse-file friendly: untouched
 * and all-zero pages are left as holes). The reader validates every header field, maps segments
 * lazily (positional reads) and never sizes an allocation from a header value without a bound.
 */
import { closeSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import type { PhysicalMemory } from '../hw/physical-memory.ts';
import { Findings, hexAddr } from './findings.ts';
import { FileImage, fileSize, ImageError, PHYS_LIMIT } from './memory-image.ts';
import type { ImageRange, ImageSegment } from './memory-image.ts';

export const ELF_HEADER_SIZE = 64;
export const ELF_PHDR_SIZE = 56;
export const ELF_SHDR_SIZE = 64;
export const ET_CORE = 4;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
/** `e_phnum` value meaning "the count is in section 0's `sh_info`". */
export const PN_XNUM = 0xffff;
/** Most program headers the reader accepts (4M × 56 bytes). */
export const MAX_PHNUM = 1 << 22;

const TWO32 = 0x1_0000_0000;
const PAGE = 4096;

// ------------------------------------------------------------------------------------ writer

/** Options of {@link writeElfCore}. */
export interface ElfCoreWriteOptions {
  /** Untouched gaps of up to this many pages inside a run are included (as holes). Default 16. */
  mergeGapPages?: number;
  /** Use PN_XNUM from this many segments on (default 0xffff; tests lower it). */
  xnumFrom?: number;
  /**
   * Called with the bytes of memory gone through so far, every few hundred pages; returning
   * true stops the dump (Ctrl-C): the file then ends where the dump stopped.
   */
  step?: (done: number) => boolean;
}

/** What {@link writeElfCore} wrote. */
export interface ElfCoreStats {
  /** PT_LOAD segments. */
  segments: number;
  /** File size in bytes (holes included). */
  fileBytes: number;
  /** Bytes actually written (headers and non-zero pages). */
  writtenBytes: number;
  /** True when `step` stopped the dump before the end. */
  interrupted: boolean;
  /** Physical ranges dumped. */
  ranges: ImageRange[];
}

function putU64(v: DataView, off: number, x: number): void {
  v.setUint32(off, x >>> 0, true);
  v.setUint32(off + 4, Math.floor(x / TWO32) >>> 0, true);
}

/**
 * Runs of pages holding data inside `ranges` (touched or described; untouched and poisoned pages
 * hold none in the model), gaps of up to `gap` pages without data merged.
 */
function dataRuns(mem: PhysicalMemory, ranges: readonly ImageRange[] | null, gap: number): ImageRange[] {
  const sorted =
    ranges === null ? [{ start: 0, end: mem.limit }] : [...ranges].sort((a, b) => a.start - b.start);
  const runs: ImageRange[] = [];
  let runRange = -1;
  sorted.forEach((r, ri) => {
    if (r.end <= r.start) return;
    for (const c of mem.contentRuns(Math.floor(r.start / PAGE), Math.ceil(r.end / PAGE))) {
      if (c.kind === 'zero' || c.kind === 'poison') continue;
      // Clip the pages to the range (a range may end mid-page).
      const start = Math.max(c.start * PAGE, r.start);
      const end = Math.min(c.end * PAGE, r.end);
      const last = runs[runs.length - 1];
      if (last !== undefined && runRange === ri && start - last.end <= gap * PAGE) last.end = end;
      else runs.push({ start, end });
      runRange = ri;
    }
  });
  return runs;
}

/**
 * Write `mem` as an ELF64 x86-64 core (ET_CORE) to `target` (a path, or a file descriptor open
 * for writing that the caller closes): one PT_LOAD per run of pages holding
 * data (touched, or described by a pattern or random stream; inside `ranges`, e.g. the machine's
 * RAM ranges, when given), `p_paddr` = physical address. Untouched and all-zero pages are not
 * written, so the file is sparse where the file system allows. Poisoned, untouched pages are not
 * in the dump (they hold no data in the model).
 */
export function writeElfCore(
  mem: PhysicalMemory,
  ranges: readonly ImageRange[] | null,
  target: string | number,
  opts: ElfCoreWriteOptions = {},
): ElfCoreStats {
  const runs = dataRuns(mem, ranges, opts.mergeGapPages ?? 16);
  const n = runs.length;
  const xnum = n >= (opts.xnumFrom ?? PN_XNUM);
  const phoff = ELF_HEADER_SIZE;
  const shoff = phoff + n * ELF_PHDR_SIZE;
  const headEnd = shoff + (xnum ? ELF_SHDR_SIZE : 0);
  const head = new Uint8Array(headEnd);
  const v = new DataView(head.buffer);
  head.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  v.setUint16(16, ET_CORE, true);
  v.setUint16(18, EM_X86_64, true);
  v.setUint32(20, 1, true);
  putU64(v, 32, phoff);
  putU64(v, 40, xnum ? shoff : 0);
  v.setUint16(52, ELF_HEADER_SIZE, true);
  v.setUint16(54, ELF_PHDR_SIZE, true);
  v.setUint16(56, xnum ? PN_XNUM : n, true);
  v.setUint16(58, ELF_SHDR_SIZE, true);
  v.setUint16(60, xnum ? 1 : 0, true);
  if (xnum) v.setUint32(shoff + 44, n, true); // section 0: SHT_NULL, sh_info = real count
  // Data starts page-aligned after the headers; each segment's file offset is page-aligned too.
  let off = Math.ceil(headEnd / PAGE) * PAGE;
  const offsets: number[] = [];
  runs.forEach((r, i) => {
    const len = r.end - r.start;
    const h = phoff + i * ELF_PHDR_SIZE;
    v.setUint32(h, PT_LOAD, true);
    v.setUint32(h + 4, 7, true); // PF_R | PF_W | PF_X
    putU64(v, h + 8, off);
    putU64(v, h + 16, 0);
    putU64(v, h + 24, r.start);
    putU64(v, h + 32, len);
    putU64(v, h + 40, len);
    putU64(v, h + 48, PAGE);
    offsets.push(off);
    off += Math.ceil(len / PAGE) * PAGE;
  });
  const fd = typeof target === 'number' ? target : openSync(target, 'w');
  let written = 0;
  let interrupted = false;
  try {
    writeSync(fd, head, 0, head.length, 0);
    written += head.length;
    const buf = new Uint8Array(1 << 20);
    const page = new Uint32Array(PAGE / 4);
    let seen = 0;
    for (let i = 0; i < runs.length && !interrupted; i++) {
      const r = runs[i]!;
      // Batch consecutive non-zero pages into one write; zero pages stay holes.
      let bufStart = -1; // file offset of buf[0]
      let bufLen = 0;
      const flush = (): void => {
        if (bufLen > 0) {
          writeSync(fd, buf, 0, bufLen, bufStart);
          written += bufLen;
        }
        bufLen = 0;
        bufStart = -1;
      };
      for (let at = r.start; at < r.end;) {
        const pfn = Math.floor(at / PAGE);
        const pageEnd = Math.min((pfn + 1) * PAGE, r.end);
        const words = !mem.isPoisoned(pfn) && mem.readPage(pfn, page) ? page : null;
        const fileAt = offsets[i]! + (at - r.start);
        if (words === null || isZero(words)) {
          flush();
        } else {
          if (bufLen + PAGE > buf.length || (bufStart >= 0 && bufStart + bufLen !== fileAt)) flush();
          if (bufStart < 0) bufStart = fileAt;
          const bytes = new Uint8Array(words.buffer, words.byteOffset, PAGE);
          buf.set(bytes.subarray(at - pfn * PAGE, pageEnd - pfn * PAGE), bufLen);
          bufLen += pageEnd - at;
        }
        at = pageEnd;
        if (++seen % 256 === 0 && opts.step?.(seen * PAGE) === true) {
          interrupted = true;
          break;
        }
      }
      flush();
    }
    if (!interrupted) ftruncateSync(fd, off);
  } finally {
    if (typeof target !== 'number') closeSync(fd);
  }
  return { segments: n, fileBytes: off, writtenBytes: written, ranges: runs, interrupted };
}

function isZero(words: Uint32Array): boolean {
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}

// ------------------------------------------------------------------------------------ reader

/** A program header as read (u64 fields that do not fit 53 bits are `-1`). */
export interface ElfProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
}

/** What the reader learned about the file. */
export interface ElfCoreInfo {
  type: number;
  machine: number;
  phnum: number;
  loads: number;
  notes: number;
}

/** An opened ELF core: the image plus header facts. */
export interface ElfCore {
  image: FileImage;
  info: ElfCoreInfo;
}

/** Whether the first bytes are the ELF magic. */
export function isElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

function u64(v: DataView, off: number): number {
  const lo = v.getUint32(off, true);
  const hi = v.getUint32(off + 4, true);
  return hi < 0x20_0000 ? hi * TWO32 + lo : -1;
}

function preadExact(fd: number, len: number, pos: number): Uint8Array {
  const b = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n <= 0) throw new ImageError(`unexpected end of file at offset ${pos + got}`);
    got += n;
  }
  return b;
}

/**
 * Open an ELF64 little-endian core and map its PT_LOAD segments by `p_paddr`. Fatal header
 * problems throw {@link ImageError}; problems with single segments (beyond the file, `p_filesz >
 * p_memsz`, beyond 2^52, overlapping) are added to `findings` and the segment is clipped or dropped.
 */
export function openElfCore(path: string, findings: Findings): ElfCore {
  const fd = openSync(path, 'r');
  try {
    return readElfCore(fd, findings);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

function readElfCore(fd: number, findings: Findings): ElfCore {
  const size = fileSize(fd);
  if (size < ELF_HEADER_SIZE) throw new ImageError(`file of ${size} bytes is too short for an ELF header`);
  const eh = preadExact(fd, ELF_HEADER_SIZE, 0);
  const v = new DataView(eh.buffer);
  if (!isElf(eh)) throw new ImageError('not an ELF file (bad magic)');
  if (eh[4] !== 2) throw new ImageError(`EI_CLASS ${eh[4]}: only ELF64 is supported`);
  if (eh[5] !== 1) throw new ImageError(`EI_DATA ${eh[5]}: only little-endian ELF is supported`);
  if (eh[6] !== 1) throw new ImageError(`EI_VERSION ${eh[6]} is not 1`);
  const type = v.getUint16(16, true);
  const machine = v.getUint16(18, true);
  if (type !== ET_CORE) findings.add('elf-header', `e_type ${type} is not ET_CORE (4)`, 'elf:16', 'warning');
  if (machine !== EM_X86_64 && machine !== EM_AARCH64) {
    findings.add('elf-header', `e_machine ${machine} is neither x86-64 nor aarch64`, 'elf:18', 'warning');
  }
  if (v.getUint32(20, true) !== 1) findings.add('elf-header', 'e_version is not 1', 'elf:20', 'warning');
  const ehsize = v.getUint16(52, true);
  if (ehsize !== ELF_HEADER_SIZE) {
    findings.add('elf-header', `e_ehsize ${ehsize} is not ${ELF_HEADER_SIZE}`, 'elf:52', 'warning');
  }
  const phoff = u64(v, 32);
  const shoff = u64(v, 40);
  const phentsize = v.getUint16(54, true);
  let phnum = v.getUint16(56, true);
  if (phnum === 0) {
    findings.add('image-empty', 'the ELF core has no program headers', 'elf:56');
    return { image: new FileImage(fd, []), info: { type, machine, phnum: 0, loads: 0, notes: 0 } };
  }
  if (phentsize !== ELF_PHDR_SIZE) throw new ImageError(`e_phentsize ${phentsize} is not ${ELF_PHDR_SIZE}`);
  if (phnum === PN_XNUM) {
    // Extended numbering: the count is in section header 0's sh_info.
    const shentsize = v.getUint16(58, true);
    if (shoff <= 0 || shentsize !== ELF_SHDR_SIZE || shoff + ELF_SHDR_SIZE > size) {
      throw new ImageError('e_phnum is PN_XNUM but section header 0 is missing or out of the file');
    }
    const sh = new DataView(preadExact(fd, ELF_SHDR_SIZE, shoff).buffer);
    phnum = sh.getUint32(44, true);
  }
  if (phnum > MAX_PHNUM) throw new ImageError(`${phnum} program headers (more than ${MAX_PHNUM})`);
  if (phoff < 0 || phoff + phnum * ELF_PHDR_SIZE > size) {
    throw new ImageError(
      `program headers (${phnum} at offset ${phoff < 0 ? 'beyond 2^53' : phoff}) extend past the end of the ${size}-byte file`,
    );
  }
  const phdrs: ElfProgramHeader[] = [];
  const batch = 16384;
  for (let first = 0; first < phnum; first += batch) {
    const count = Math.min(batch, phnum - first);
    const b = preadExact(fd, count * ELF_PHDR_SIZE, phoff + first * ELF_PHDR_SIZE);
    const pv = new DataView(b.buffer);
    for (let i = 0; i < count; i++) {
      const o = i * ELF_PHDR_SIZE;
      phdrs.push({
        type: pv.getUint32(o, true),
        flags: pv.getUint32(o + 4, true),
        offset: u64(pv, o + 8),
        vaddr: u64(pv, o + 16),
        paddr: u64(pv, o + 24),
        filesz: u64(pv, o + 32),
        memsz: u64(pv, o + 40),
      });
    }
  }
  const loads = phdrs.filter((p) => p.type === PT_LOAD);
  const notes = phdrs.filter((p) => p.type === PT_NOTE).length;
  if (loads.length > 1 && loads.every((p) => p.paddr === 0)) {
    throw new ImageError('every PT_LOAD has p_paddr 0: not a physical memory dump');
  }
  const segs = loadSegments(loads, size, findings);
  if (segs.length === 0) findings.add('image-empty', 'the ELF core maps no physical memory', 'elf');
  return {
    image: new FileImage(fd, segs),
    info: { type, machine, phnum, loads: loads.length, notes },
  };
}

/** Validate PT_LOADs one by one, clip what can be clipped, and make them disjoint. */
function loadSegments(loads: readonly ElfProgramHeader[], size: number, findings: Findings): ImageSegment[] {
  const raw: ImageSegment[] = [];
  loads.forEach((p, i) => {
    const at = `elf:phdr[${i}]`;
    if (p.memsz === 0) return;
    if (p.offset < 0 || p.paddr < 0 || p.filesz < 0 || p.memsz < 0) {
      findings.add('elf-segment', `PT_LOAD ${i} has a field beyond 2^53, dropped`, at);
      return;
    }
    let memsz = p.memsz;
    if (p.paddr >= PHYS_LIMIT) {
      findings.add('elf-segment', `PT_LOAD ${i} at ${hexAddr(p.paddr)} is beyond 2^52, dropped`, at);
      return;
    }
    if (p.paddr + memsz > PHYS_LIMIT) {
      findings.add('elf-segment', `PT_LOAD ${i} ends beyond 2^52, clipped`, at);
      memsz = PHYS_LIMIT - p.paddr;
    }
    let filesz = p.filesz;
    if (filesz > memsz) {
      findings.add('elf-segment', `PT_LOAD ${i}: p_filesz ${filesz} > p_memsz ${p.memsz}, clipped`, at);
      filesz = memsz;
    }
    if (filesz > 0 && (p.offset > size || p.offset + filesz > size)) {
      const have = Math.max(0, size - p.offset);
      findings.add(
        'elf-segment',
        `PT_LOAD ${i}: file data [${p.offset}, +${filesz}) is beyond the ${size}-byte file (truncated dump?); ${have} bytes kept`,
        at,
      );
      filesz = have;
      memsz = Math.min(memsz, have);
      if (memsz === 0) return;
    }
    raw.push({ start: p.paddr, end: p.paddr + memsz, fileOff: p.offset, fileLen: filesz });
  });
  // Sort by start (longer first on ties) and cut overlaps: the earlier segment wins.
  raw.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: ImageSegment[] = [];
  let overlaps = 0;
  for (const s of raw) {
    const prev = out[out.length - 1];
    if (prev !== undefined && s.start < prev.end) {
      overlaps++;
      if (overlaps <= 3) {
        findings.add(
          'elf-overlap',
          `PT_LOAD [${hexAddr(s.start)}, ${hexAddr(s.end)}) overlaps [${hexAddr(prev.start)}, ${hexAddr(prev.end)}); the first mapping is used`,
          hexAddr(s.start),
        );
      }
      if (s.end <= prev.end) continue;
      const cut = prev.end - s.start;
      out.push({
        start: prev.end,
        end: s.end,
        fileOff: s.fileOff + cut,
        fileLen: Math.max(0, s.fileLen - cut),
      });
      continue;
    }
    out.push(s);
  }
  return out;
}
