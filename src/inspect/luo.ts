/**
 * The Live Update Orchestrator's part of a hand-over: sub-tree `LUO` in either format — the raw
 * `struct luo_ser` of luo-v5 with session and file KHO block chains (include/linux/kho/abi/luo.h),
 * or the FDT-era luo-v1 tree with its 16-page session area and 2-page file arrays — down to each
 * memfd's `memfd_luo_ser`, folio array and folios (include/linux/kho/abi/memfd.h), and the FLB
 * page. Every check the successor makes is a finding that says what the successor would do:
 * panic at boot (luo_core.c: luo_early_startup()), fail every open of /dev/liveupdate with EIO
 * (luo_session.c: luo_session_deserialize()), or fail RETRIEVE_FD (mm/memfd_luo.c).
 */
import { strnlen } from '../abi/bytes.ts';
import { AbiError } from '../abi/errors.ts';
import type { PhysReader } from '../abi/errors.ts';
import { walkKhoBlocksPartial } from '../abi/kho-block.ts';
import { walkKhoVmalloc } from '../abi/kho-vmalloc.ts';
import type { KhoVmalloc } from '../abi/kho-vmalloc.ts';
import {
  decodeLuoFileSer,
  decodeLuoSer,
  decodeLuoSessionSer,
  isLuoAbiCompatible,
  LUO_ABI_COMPATIBLE,
  LUO_FILE_SER_SIZE,
  LUO_SER_SIZE,
  LUO_SESSION_SER_SIZE,
  readLuoFlbPage,
} from '../abi/luo.ts';
import type { LuoFileSer, LuoFlbSer, LuoSessionSer } from '../abi/luo.ts';
import {
  decodeLuoV1FileArray,
  decodeLuoV1Fdt,
  decodeLuoV1SessionArea,
  LUO_FDT_COMPATIBLE,
  LUO_V1_FILE_AREA_SIZE,
  LUO_V1_FILE_MAX,
  LUO_V1_SESSION_AREA_SIZE,
  LUO_V1_SESSION_HEADER_SIZE,
  LUO_V1_SESSION_MAX,
} from '../abi/luo-v1.ts';
import {
  decodeMemfdFolioSer,
  decodeMemfdLuoSer,
  MEMFD_LUO_ALL_SEALS,
  MEMFD_LUO_FOLIO_SER_SIZE,
  memfdLuoSerSize,
  memfdLuoVersion,
} from '../abi/memfd-luo.ts';
import type { MemfdLuoFolioSer, MemfdLuoVersion } from '../abi/memfd-luo.ts';
import { be32 } from '../fdt/header.ts';
import type { FindingCode, Findings } from './findings.ts';
import { hexAddr } from './findings.ts';
import type { MemoryImage } from './memory-image.ts';
import type { PreservedSet } from './preserved-set.ts';
import type { RangeList } from './range-list.ts';

/** A memfd handed over by the memfd handler. */
export interface LuoMemfdReport {
  version: MemfdLuoVersion;
  /** Address of its `memfd_luo_ser`. */
  phys: number;
  pos: number;
  size: number;
  /** `F_SEAL_*` bits (memfd-v2; 0 in memfd-v1). */
  seals: number;
  flags: number;
  nrFolios: number;
  /** The folio array's vmalloc descriptor. */
  folioArray: KhoVmalloc;
  /** Chunk pages of the folio array. */
  vmallocChunks: number[];
  /** Folio entries (up to the list cap), array order. */
  folios: MemfdLuoFolioSer[];
}

/** One preserved file of a session. */
export interface LuoFileReport {
  token: bigint;
  compatible: string;
  data: bigint;
  /** The decoded memfd, for the memfd handler's compatibles. */
  memfd: LuoMemfdReport | null;
}

/** One session. */
export interface LuoSessionReport {
  name: string;
  /** `file_set_ser.files`: first file block (luo-v5) or file array (luo-v1), 0 when none. */
  filesPa: number;
  /** `file_set_ser.count`. */
  fileCount: number;
  /** File block addresses (luo-v5; the array address in luo-v1). */
  fileBlocks: number[];
  files: LuoFileReport[];
}

/** The LUO state of a hand-over. */
export interface LuoReport {
  format: 'luo-v5' | 'luo-v1';
  /** The compatible as stored (`luo-v5`, or the root compatible of the luo-v1 tree). */
  compatible: string;
  /** Address of the sub-tree blob (`luo_ser` or the FDT). */
  phys: number;
  /** `liveupdate_num` / `liveupdate-number`, null when unreadable. */
  liveupdateNumber: bigint | null;
  /** `sessions_pa` / `luo-session-header`, null when unreadable. */
  sessionsPa: number | null;
  /** `flbs_pa` / `luo-flb-header`, null when absent. */
  flbsPa: number | null;
  /** Session block addresses (luo-v5) or the session area (luo-v1). */
  sessionBlocks: number[];
  sessions: LuoSessionReport[];
  /** FLB entries, null when the page was not decoded. */
  flbs: LuoFlbSer[] | null;
  /** False when a walk stopped early or a check failed that the successor would stop at. */
  complete: boolean;
}

/** What the LUO decoder needs from the inspection. */
export interface LuoContext {
  image: MemoryImage;
  preserved: { set: PreservedSet; ranges: RangeList } | null;
  findings: Findings;
  /** Most folio entries listed in total. */
  maxList: number;
}

/** Most folio entries read per memfd (4 TiB of 4 KiB folios). */
const MAX_MEMFD_FOLIOS = 1 << 30;
const PAGE = 4096;

const PANIC = 'the successor panics at boot';
const EIO = 'every open of /dev/liveupdate fails with EIO';

function hexBig(x: bigint): string {
  return `0x${x.toString(16)}`;
}

class LuoDecoder {
  readonly ctx: LuoContext;
  readonly read: PhysReader;
  listed = 0;
  report: LuoReport;

  constructor(ctx: LuoContext, report: LuoReport) {
    this.ctx = ctx;
    this.report = report;
    this.read = (p, len) => ctx.image.read(p, len);
  }

  add(code: FindingCode, message: string, at: number | string): void {
    this.ctx.findings.add(code, message, typeof at === 'number' ? hexAddr(at) : at);
  }

  /** A walk or decode error as a finding: loops, overlong chains, bad counts, unreadable pointers. */
  abiProblem(e: AbiError, what: string, effect: string, at: number): void {
    const where = e.offset >= 0 && e.structure === 'kho_block' ? e.offset : at;
    const code: FindingCode =
      e.code === 'CYCLE'
        ? 'cycle'
        : e.code === 'TOO_LONG'
          ? 'luo-too-long'
          : e.code === 'UNREADABLE'
            ? 'ptr-outside-image'
            : e.code === 'TOO_BIG'
              ? 'ptr-out-of-range'
              : e.structure === 'kho_block'
                ? 'luo-block-count'
                : 'luo-invalid';
    this.add(code, `${what}: ${e.message}: ${effect}`, where);
  }

  /** Report a LUO page that is not in preserved memory. */
  mustBePreserved(phys: number, len: number, what: string): void {
    const p = this.ctx.preserved;
    if (p !== null && !p.ranges.covers(phys, len)) {
      this.add(
        'luo-not-preserved',
        `${what} [${hexAddr(phys)}, +${len}) is not in preserved memory: the successor may find it overwritten`,
        phys,
      );
    }
  }

  /** A u64 handle as an address, or null with a finding. */
  addr(x: bigint, what: string, at: number): number | null {
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.add('ptr-out-of-range', `${what} ${hexBig(x)} is beyond 2^53`, at);
      return null;
    }
    return Number(x);
  }

  flbs(phys: number, what: string): void {
    this.mustBePreserved(phys, PAGE, what);
    const r = readLuoFlbPage(phys, this.read);
    if (!r.ok) {
      const code: FindingCode = r.error.code === 'UNREADABLE' ? 'ptr-outside-image' : 'luo-flb';
      this.add(code, `${what}: ${r.error.message} (the successor does not check it)`, phys);
      return;
    }
    this.report.flbs = r.value.entries;
  }

  /** Duplicate session names make luo_session_insert() fail at the first open. */
  checkNames(sessions: readonly LuoSessionSer[], at: number): void {
    const seen = new Set<string>();
    for (const s of sessions) {
      // strncmp(a, b, 64) semantics (luo_session_insert()): bytes up to the first NUL.
      const key = Buffer.from(s.nameBytes.subarray(0, strnlen(s.nameBytes, 0, s.nameBytes.length))).toString(
        'latin1',
      );
      if (seen.has(key)) this.add('luo-duplicate', `session name "${s.name}" appears twice: ${EIO}`, at);
      seen.add(key);
    }
  }

  file(f: LuoFileSer, session: string, format: LuoReport['format'], at: number): LuoFileReport {
    const rep: LuoFileReport = { token: f.token, compatible: f.compatible, data: f.data, memfd: null };
    const version = memfdLuoVersion(f.compatible);
    if (version === null) {
      this.add(
        'luo-handler',
        `session "${session}" token ${hexBig(f.token)}: handler '${f.compatible}' is not decoded here; a successor without it fails every open of /dev/liveupdate with EIO`,
        at,
      );
      return rep;
    }
    const expected = format === 'luo-v5' ? 'memfd-v2' : null;
    if (expected !== null && version !== expected) {
      this.add(
        'luo-handler',
        `session "${session}" token ${hexBig(f.token)}: '${f.compatible}' beside ${format}; a ${format} successor registers '${expected}' and fails every open of /dev/liveupdate with EIO`,
        at,
      );
    }
    const phys = this.addr(f.data, `memfd data of token ${hexBig(f.token)}`, at);
    if (phys !== null) rep.memfd = this.memfd(phys, version, session, f.token);
    return rep;
  }

  memfd(phys: number, version: MemfdLuoVersion, session: string, token: bigint): LuoMemfdReport | null {
    const who = `memfd of session "${session}" token ${hexBig(token)}`;
    const len = memfdLuoSerSize(version);
    const b = this.ctx.image.read(phys, len);
    if (b === null) {
      this.add('ptr-outside-image', `${who}: memfd_luo_ser at ${hexAddr(phys)} is not in the image`, phys);
      return null;
    }
    this.mustBePreserved(phys, len, `${who}: memfd_luo_ser`);
    const d = decodeMemfdLuoSer(b, version);
    if (!d.ok) {
      this.add('memfd-invalid', `${who}: ${d.error.message}: RETRIEVE_FD fails`, phys);
      return null;
    }
    const s = d.value;
    const rep: LuoMemfdReport = {
      version,
      phys,
      pos: s.pos,
      size: s.size,
      seals: s.seals,
      flags: s.flags,
      nrFolios: s.nrFolios,
      folioArray: s.folios,
      vmallocChunks: [],
      folios: [],
    };
    if ((s.seals & ~MEMFD_LUO_ALL_SEALS) !== 0) {
      this.add(
        'memfd-invalid',
        `${who}: seals 0x${s.seals.toString(16)} beyond 0x3f: RETRIEVE_FD fails with EOPNOTSUPP`,
        phys,
      );
    }
    if (s.nrFolios === 0 && s.folios.first === 0) return rep;
    const w = walkKhoVmalloc(s.folios, this.read, {
      maxChunks: Math.min(1 << 20, Math.ceil(s.folios.totalPages / 511) + 1),
    });
    if (!w.ok) {
      this.abiProblem(w.error, `${who}: folio array`, 'RETRIEVE_FD fails with EINVAL', phys);
      return rep;
    }
    rep.vmallocChunks = w.value.chunks;
    for (const c of w.value.chunks) this.mustBePreserved(c, PAGE, `${who}: folio array chunk`);
    const pieceBytes = PAGE * 2 ** Math.min(s.folios.order, 31);
    for (const p of w.value.pieces) this.mustBePreserved(p, pieceBytes, `${who}: folio array page`);
    const n = Math.min(s.nrFolios, MAX_MEMFD_FOLIOS);
    if (n * MEMFD_LUO_FOLIO_SER_SIZE > w.value.pieces.length * pieceBytes) {
      this.add(
        'memfd-invalid',
        `${who}: nr_folios ${s.nrFolios} does not fit its ${s.folios.totalPages}-page folio array: the successor reads past it`,
        phys,
      );
      return rep;
    }
    this.folios(rep, w.value.pieces, pieceBytes, n, who);
    return rep;
  }

  folios(rep: LuoMemfdReport, pieces: readonly number[], pieceBytes: number, n: number, who: string): void {
    const set = this.ctx.preserved?.set ?? null;
    const perPiece = pieceBytes / MEMFD_LUO_FOLIO_SER_SIZE;
    let left = n;
    let beyond = 0;
    let missing = 0;
    for (const piece of pieces) {
      if (left === 0) break;
      const k = Math.min(left, perPiece);
      const b = this.ctx.image.read(piece, k * MEMFD_LUO_FOLIO_SER_SIZE);
      if (b === null) {
        this.add(
          'ptr-outside-image',
          `${who}: folio array page ${hexAddr(piece)} is not in the image`,
          piece,
        );
        return;
      }
      for (let i = 0; i < k; i++) {
        const f = decodeMemfdFolioSer(b, i * MEMFD_LUO_FOLIO_SER_SIZE);
        if (!f.ok) {
          this.add('memfd-invalid', `${who}: folio entry ${n - left + i}: ${f.error.message}`, piece);
          continue;
        }
        const folio = f.value;
        if (this.listed < this.ctx.maxList) {
          rep.folios.push(folio);
          this.listed++;
        }
        if (folio.pfn === 0) continue; // memfd_luo_retrieve_folios() skips empty entries
        if (folio.index * PAGE >= rep.size) beyond++;
        if (set !== null && set.blockOrderAt(folio.pfn * PAGE) < 0) {
          missing++;
          if (missing <= 8) {
            this.add(
              'memfd-folio',
              `${who}: folio pfn 0x${folio.pfn.toString(16)} (index ${folio.index}) is not a preserved block: RETRIEVE_FD fails with EIO`,
              folio.pfn * PAGE,
            );
          }
        }
      }
      left -= k;
    }
    if (missing > 8) this.add('memfd-folio', `${who}: ${missing - 8} more folio(s) not preserved`, rep.phys);
    if (beyond > 0) {
      this.add(
        'memfd-invalid',
        `${who}: ${beyond} folio(s) at an index beyond the size ${rep.size}`,
        rep.phys,
      );
    }
  }

  /** The files of one session, with the count check of the successor. */
  sessionFiles(s: LuoSessionSer, format: LuoReport['format'], at: number): LuoSessionReport {
    const rep: LuoSessionReport = {
      name: s.name,
      filesPa: s.files,
      fileCount: s.count,
      fileBlocks: [],
      files: [],
    };
    let entries: LuoFileSer[] = [];
    if (format === 'luo-v5') {
      if (s.files !== 0) {
        const w = walkKhoBlocksPartial(s.files, LUO_FILE_SER_SIZE, this.read);
        rep.fileBlocks = w.blocks.map((b) => b.phys);
        for (const b of w.blocks) {
          this.mustBePreserved(b.phys, PAGE, `file block of session "${s.name}"`);
          for (const e of b.entries) {
            const f = decodeLuoFileSer(e);
            if (f.ok) entries.push(f.value);
          }
        }
        if (w.error !== null) {
          this.abiProblem(w.error, `file blocks of session "${s.name}"`, EIO, s.files);
          this.report.complete = false;
        }
      }
    } else if (s.count > 0 || s.files !== 0) {
      rep.fileBlocks = s.files === 0 ? [] : [s.files];
      if (s.count > LUO_V1_FILE_MAX) {
        this.add(
          'luo-file-count',
          `session "${s.name}" claims ${s.count} files, the array holds ${LUO_V1_FILE_MAX}: the successor reads past it`,
          at,
        );
        this.report.complete = false;
      } else if (s.files !== 0) {
        const len = s.count * LUO_FILE_SER_SIZE;
        this.mustBePreserved(s.files, LUO_V1_FILE_AREA_SIZE, `file array of session "${s.name}"`);
        const b = this.ctx.image.read(s.files, len);
        const r = b === null ? null : decodeLuoV1FileArray(b, s.count);
        if (r === null) {
          this.add('ptr-outside-image', `file array of session "${s.name}" is not in the image`, s.files);
        } else if (r.ok) {
          entries = r.value;
        }
      }
    }
    if (format === 'luo-v5' && entries.length !== s.count && this.report.complete) {
      this.add(
        'luo-file-count',
        `session "${s.name}": file count mismatch, expected ${s.count}, found ${entries.length}: ${EIO}`,
        at,
      );
    } else if (format === 'luo-v1' && s.count > 0 && s.files === 0) {
      this.add('luo-file-count', `session "${s.name}" has ${s.count} files but no file array`, at);
    }
    rep.files = entries.map((f) => this.file(f, s.name, format, at));
    return rep;
  }
}

function emptyReport(format: LuoReport['format'], phys: number, compatible: string): LuoReport {
  return {
    format,
    compatible,
    phys,
    liveupdateNumber: null,
    sessionsPa: null,
    flbsPa: null,
    sessionBlocks: [],
    sessions: [],
    flbs: null,
    complete: true,
  };
}

function decodeV5(ctx: LuoContext, phys: number, size: number | null): LuoReport | null {
  const at = hexAddr(phys);
  if (size !== null && size < LUO_SER_SIZE) {
    ctx.findings.add('luo-invalid', `LUO state is too small (${size} < ${LUO_SER_SIZE}): ${PANIC}`, at);
    return null;
  }
  const b = ctx.image.read(phys, LUO_SER_SIZE);
  if (b === null) {
    ctx.findings.add('ptr-outside-image', `struct luo_ser at ${at} is not in the image`, at);
    return null;
  }
  const r = decodeLuoSer(b);
  if (!r.ok) {
    const code: FindingCode = r.error.code === 'TOO_BIG' ? 'ptr-out-of-range' : 'luo-invalid';
    ctx.findings.add(code, `struct luo_ser: ${r.error.message}: ${PANIC}`, at);
    return null;
  }
  const ser = r.value;
  const d = new LuoDecoder(ctx, emptyReport('luo-v5', phys, ser.compatible));
  d.mustBePreserved(phys, LUO_SER_SIZE, 'struct luo_ser');
  if (!isLuoAbiCompatible(ser.compatibleBytes)) {
    d.add(
      'luo-invalid',
      `LUO state is incompatible with '${LUO_ABI_COMPATIBLE}' (it says '${ser.compatible}'): ${PANIC}`,
      phys,
    );
    d.report.complete = false;
    return d.report;
  }
  d.report.liveupdateNumber = ser.liveupdateNum;
  d.report.sessionsPa = ser.sessionsPa;
  d.report.flbsPa = ser.flbsPa === 0 ? null : ser.flbsPa;
  if (ser.sessionsPa !== 0) {
    const w = walkKhoBlocksPartial(ser.sessionsPa, LUO_SESSION_SER_SIZE, d.read);
    d.report.sessionBlocks = w.blocks.map((x) => x.phys);
    const sessions: { s: LuoSessionSer; at: number }[] = [];
    for (const blk of w.blocks) {
      d.mustBePreserved(blk.phys, PAGE, 'session block');
      blk.entries.forEach((e, i) => {
        const s = decodeLuoSessionSer(e);
        if (s.ok) sessions.push({ s: s.value, at: blk.phys + 16 + i * LUO_SESSION_SER_SIZE });
        else d.abiProblem(s.error, 'session entry', EIO, blk.phys);
      });
    }
    if (w.error !== null) {
      d.abiProblem(w.error, 'session blocks', PANIC, ser.sessionsPa);
      d.report.complete = false;
    }
    d.checkNames(
      sessions.map((x) => x.s),
      ser.sessionsPa,
    );
    d.report.sessions = sessions.map((x) => d.sessionFiles(x.s, 'luo-v5', x.at));
  }
  if (ser.flbsPa !== 0) d.flbs(ser.flbsPa, 'FLB page');
  return d.report;
}

function decodeV1(ctx: LuoContext, phys: number, blob: Uint8Array): LuoReport {
  const at = hexAddr(phys);
  const r = decodeLuoV1Fdt(blob);
  const compat = LUO_FDT_COMPATIBLE;
  if (!r.ok) {
    const rep = emptyReport('luo-v1', phys, compat);
    rep.complete = false;
    ctx.findings.add('luo-invalid', `luo-v1 tree: ${r.error.message}: ${PANIC}`, at);
    return rep;
  }
  const t = r.value;
  const d = new LuoDecoder(ctx, emptyReport('luo-v1', phys, compat));
  d.mustBePreserved(phys, blob.length, 'luo-v1 FDT');
  d.report.liveupdateNumber = t.liveupdateNum;
  d.report.sessionsPa = t.sessionHeader;
  d.report.flbsPa = t.flbHeader;
  if (t.flbHeader === null) {
    d.add(
      'luo-flb',
      `luo-v1 tree without a 'luo-flb' node (v6.19 writer): a v7.0 or v7.1 successor panics`,
      `${at}/luo-flb`,
    );
  }
  d.report.sessionBlocks = [t.sessionHeader];
  d.mustBePreserved(t.sessionHeader, LUO_V1_SESSION_AREA_SIZE, 'session area');
  const head = ctx.image.read(t.sessionHeader, LUO_V1_SESSION_HEADER_SIZE);
  if (head === null) {
    d.add(
      'ptr-outside-image',
      `session area at ${hexAddr(t.sessionHeader)} is not in the image`,
      t.sessionHeader,
    );
  } else {
    const count = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    const n = count > BigInt(LUO_V1_SESSION_MAX) ? -1 : Number(count);
    const area =
      n < 0 ? null : ctx.image.read(t.sessionHeader, LUO_V1_SESSION_HEADER_SIZE + n * LUO_SESSION_SER_SIZE);
    const dec = area === null ? null : decodeLuoV1SessionArea(area);
    if (n < 0) {
      d.add(
        'luo-invalid',
        `session area count ${count} is more than ${LUO_V1_SESSION_MAX}: the successor reads past the area`,
        t.sessionHeader,
      );
      d.report.complete = false;
    } else if (dec === null) {
      d.add(
        'ptr-outside-image',
        `session area at ${hexAddr(t.sessionHeader)} is not wholly in the image`,
        t.sessionHeader,
      );
    } else if (dec.ok) {
      d.checkNames(dec.value.sessions, t.sessionHeader);
      d.report.sessions = dec.value.sessions.map((s, i) =>
        d.sessionFiles(s, 'luo-v1', t.sessionHeader + LUO_V1_SESSION_HEADER_SIZE + i * LUO_SESSION_SER_SIZE),
      );
    }
  }
  if (t.flbHeader !== null) d.flbs(t.flbHeader, 'FLB page');
  return d.report;
}

/**
 * Decode sub-tree `LUO` whose blob is at `phys` (`size` from `blob-size` or the FDT header, null
 * when unknown): an FDT is luo-v1, anything else a `struct luo_ser`. Never throws on bad data.
 */
export function decodeLuo(ctx: LuoContext, phys: number, size: number | null): LuoReport | null {
  const head = ctx.image.read(phys, 8);
  if (head === null) return null; // the sub-tree decoder already reported it
  if (be32(head, 0) === 0xd00dfeed) {
    const total = be32(head, 4);
    const blob = total <= 1 << 20 ? ctx.image.read(phys, total) : null;
    if (blob === null) {
      ctx.findings.add(
        'luo-invalid',
        `luo-v1 tree at ${hexAddr(phys)} (${total} bytes) is not wholly in the image`,
        hexAddr(phys),
      );
      return null;
    }
    return decodeV1(ctx, phys, blob);
  }
  return decodeV5(ctx, phys, size);
}

/** Files of all sessions, for summaries. */
export function luoFileCount(r: LuoReport): number {
  return r.sessions.reduce((n, s) => n + s.files.length, 0);
}
