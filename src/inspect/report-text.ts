/**
 * The readable `kho inspect` report: sections ABI, FDT, image, scratch, memory map (summary per
 * order), preserved ranges, tracker pages, sub-trees, findings. Long lists are cut at `limit`
 * lines with a note saying how many were left out. The report is written line by line to a
 * sink (streamed to stdout by the CLI).
 */
import type { InspectReport } from './inspect.ts';
import { hexAddr } from './findings.ts';
import { luoFileCount } from './luo.ts';
import type { LuoReport } from './luo.ts';
import type { SubtreeReport } from './subtrees.ts';
import { sealsText } from '../abi/memfd-luo.ts';
import { collectText, LineSplitter, TextChunker, type TextSink } from '../util/text-sink.ts';

/** Options of {@link formatReportText}. */
export interface TextOptions {
  /** Most lines per list (ranges, tracker pages, folios). Default 32. */
  limit?: number;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `12.0 MiB`-style size. */
export function humanBytes(n: number): string {
  let u = 0;
  let x = n;
  while (x >= 1024 && u < UNITS.length - 1) {
    x /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${x.toFixed(1)} ${UNITS[u]}`;
}

/** Where the report's lines go. */
type Lines = (line: string) => void;

function more(out: Lines, shown: number, total: number, what: string): void {
  if (total > shown) out(`  … ${total - shown} more ${what} (raise --limit)`);
}

function subtreeLines(s: SubtreeReport, limit: number, out: Lines): void {
  const where = s.phys === null ? 'no address' : hexAddr(s.phys);
  const size = s.size === null ? 'size unknown' : `${s.size} bytes (${s.sizeFrom})`;
  const pres = s.preserved === null ? '' : s.preserved ? ', preserved' : ', NOT preserved';
  out(`  ${s.name}: ${where}, ${size}, ${s.kind}${pres}`);
  if (s.kexecMetadata !== undefined) {
    const m = s.kexecMetadata;
    out(`    version ${m.version}, previous release "${m.previousRelease}", kexec count ${m.kexecCount}`);
  }
  if (s.memblock !== undefined) {
    for (const r of s.memblock.records) {
      out(
        `    reserve_mem ${r.name}: start ${hexAddr(r.start)}, size ${hexAddr(r.size)} (${humanBytes(r.size)})`,
      );
    }
    for (const r of s.memblock.rejected) out(`    rejected ${r.name}: ${r.reason}`);
  }
  if (s.testKho !== undefined) {
    const t = s.testKho;
    const fi = t.foliosInfo;
    out(`    magic ${hexAddr(t.magic)}, nr_folios ${t.nrFolios}, csum ${hexAddr(t.csum)}`);
    out(
      `    folios_info: first ${hexAddr(fi.first)}, total_pages ${fi.totalPages}, flags ${hexAddr(fi.flags)}, order ${fi.order}; chunks ${t.vmallocChunks.map(hexAddr).join(' ')}`,
    );
    const shown = Math.min(limit, t.folios.length);
    out(`    folios (${t.folios.length}):`);
    for (const f of t.folios.slice(0, shown)) out(`      ${hexAddr(f.phys)} order ${f.order}`);
    if (t.folios.length > shown) out(`      … ${t.folios.length - shown} more`);
  }
  if (s.kind === 'fdt' && s.dts !== undefined) {
    // The first lines only; the rest is counted as it streams by, never held.
    const max = Math.max(64, limit * 4);
    let lines = 0;
    const split = new LineSplitter((l) => {
      if (lines++ < max) out(`    ${l}`);
    });
    s.dts.write((piece) => {
      split.push(piece);
    });
    split.end();
    if (lines > max) out(`    … ${lines - max} more DTS lines (raise --limit, or see --json)`);
  }
  if (s.hexdump !== undefined) for (const l of s.hexdump.split('\n')) out(`    ${l}`);
}

const hexBig = (x: bigint): string => `0x${x.toString(16)}`;

function luoLines(l: LuoReport, limit: number): string[] {
  const out: string[] = [];
  const line: Lines = (x) => {
    out.push(x);
  };
  const num = l.liveupdateNumber === null ? 'unknown' : l.liveupdateNumber.toString();
  out.push(
    `  ${l.compatible} (${l.format}) at ${hexAddr(l.phys)}: liveupdate number ${num}, ${l.sessions.length} session(s), ${luoFileCount(l)} file(s)${l.complete ? '' : ' (INCOMPLETE)'}`,
  );
  const where = l.format === 'luo-v5' ? 'session blocks' : 'session area';
  out.push(`  ${where}: ${l.sessionBlocks.length === 0 ? '(none)' : l.sessionBlocks.map(hexAddr).join(' ')}`);
  if (l.flbsPa !== null) {
    const flbs = l.flbs === null ? 'not decoded' : `${l.flbs.length} FLB(s)`;
    out.push(`  FLB page ${hexAddr(l.flbsPa)}: ${flbs}`);
    for (const f of (l.flbs ?? []).slice(0, limit)) {
      out.push(`    ${f.name}: data ${hexBig(f.data)}, ${f.count} file(s)`);
    }
  }
  for (const s of l.sessions.slice(0, limit)) {
    const blocks = s.fileBlocks.length === 0 ? '' : `, files at ${s.fileBlocks.map(hexAddr).join(' ')}`;
    out.push(`  session "${s.name}": ${s.fileCount} file(s)${blocks}`);
    for (const f of s.files.slice(0, limit)) {
      out.push(`    token ${hexBig(f.token)}: ${f.compatible}, data ${hexBig(f.data)}`);
      const m = f.memfd;
      if (m === null) continue;
      out.push(
        `      memfd: size ${m.size} (${humanBytes(m.size)}), pos ${m.pos}, seals ${sealsText(m.seals)}, ${m.nrFolios} folio(s); folio array ${hexAddr(m.folioArray.first)} (${m.folioArray.totalPages} page(s))`,
      );
      for (const x of m.folios.slice(0, limit)) {
        out.push(`        pfn ${hexAddr(x.pfn)} index ${x.index} flags ${hexAddr(x.flags)}`);
      }
      more(line, Math.min(limit, m.folios.length), m.nrFolios, 'folios');
    }
    more(line, Math.min(limit, s.files.length), s.files.length, 'files');
  }
  more(line, Math.min(limit, l.sessions.length), l.sessions.length, 'sessions');
  return out;
}

/** Write the report as text to `sink`, line by line (in chunks of about 64 KiB). */
export function writeReportText(r: InspectReport, sink: TextSink, opts: TextOptions = {}): void {
  const limit = opts.limit ?? 32;
  const chunker = new TextChunker(sink);
  const out = {
    push(...lines: string[]): void {
      for (const l of lines) chunker.push(`${l}\n`);
    },
  };
  const line: Lines = (l) => {
    out.push(l);
  };
  out.push('ABI');
  if (r.abi.compatible !== null) {
    const mm = r.abi.memoryMap === 'chunks' ? 'chunk list + bitmaps (kho-v1)' : 'radix tree';
    out.push(`  compatible ${r.abi.compatible} (version ${r.abi.version}, memory map: ${mm})`);
  } else {
    out.push(
      `  compatible ${r.abi.compatibles.length === 0 ? '(none)' : r.abi.compatibles.join(', ')}: not a known KHO version`,
    );
  }
  out.push('', 'FDT');
  if (r.fdt === null) out.push('  (none)');
  else {
    const at = r.fdt.phys === null ? '' : ` at ${hexAddr(r.fdt.phys)}`;
    out.push(
      `  ${r.fdt.source}${at}: ${r.fdt.totalsize} bytes, version ${r.fdt.version}${r.fdt.valid ? '' : ', INVALID'}`,
    );
    if (r.fdt.otherCandidates.length > 0)
      out.push(`  other KHO FDTs: ${r.fdt.otherCandidates.map(hexAddr).join(' ')}`);
  }
  out.push('', 'Image');
  if (r.image === null) out.push('  (none)');
  else {
    out.push(
      `  ${r.image.kind} ${r.image.source}: ${r.image.ranges.length} range(s), ${humanBytes(r.image.bytes)}`,
    );
    for (const x of r.image.ranges.slice(0, limit)) out.push(`    [${hexAddr(x.start)}, ${hexAddr(x.end)})`);
    more(line, Math.min(limit, r.image.ranges.length), r.image.ranges.length, 'ranges');
  }
  out.push('', 'Scratch');
  if (r.scratch === null) out.push('  (not given)');
  else {
    out.push(`  from ${r.scratch.source}: ${r.scratch.entries.length} area(s)`);
    r.scratch.entries.forEach((e, i) => {
      out.push(
        `  ${String(i).padStart(3)}  ${hexAddr(e.addr).padEnd(18)} ${hexAddr(e.size).padEnd(14)} ${humanBytes(e.size)}`,
      );
    });
  }
  out.push('', 'Memory map');
  const mm = r.memoryMap;
  if (mm === null) out.push('  (not decoded)');
  else {
    const what = mm.format === 'radix' ? 'radix tree root' : 'first chunk';
    out.push(`  ${what} ${hexAddr(mm.root)}${mm.complete ? '' : ' (walk incomplete)'}`);
    out.push('  order       blocks          bytes');
    for (const o of mm.byOrder) {
      out.push(
        `  ${String(o.order).padStart(5)} ${String(o.count).padStart(12)}  ${humanBytes(o.bytes).padStart(13)}`,
      );
    }
    out.push(`  total ${String(mm.blocks).padStart(12)}  ${humanBytes(mm.bytes).padStart(13)}`);
  }
  out.push('', `Preserved ranges (${r.ranges.length})`);
  for (const x of r.ranges.toArray(limit)) {
    out.push(`  [${hexAddr(x.start)}, ${hexAddr(x.end)})  ${humanBytes(x.end - x.start)}`);
  }
  more(line, Math.min(limit, r.ranges.length), r.ranges.length, 'ranges');
  const c = r.tracker.counts;
  const total = c['radix-node'] + c['radix-leaf'] + c['v1-chunk'] + c['v1-bitmap'];
  const parts =
    mm?.format === 'chunks'
      ? `${c['v1-chunk']} chunk(s), ${c['v1-bitmap']} bitmap(s)`
      : `${c['radix-node']} node(s), ${c['radix-leaf']} leaf page(s)`;
  out.push('', `Tracker pages (${total}: ${parts}; not preserved, freed by the successor after the walk)`);
  for (const p of r.tracker.pages.slice(0, limit)) {
    const lvl = p.kind.startsWith('radix') ? `level ${p.level}` : `order ${p.level}`;
    out.push(`  ${hexAddr(p.phys).padEnd(18)} ${p.kind} ${lvl}`);
  }
  more(line, Math.min(limit, r.tracker.pages.length), total, 'tracker pages');
  out.push('', `Sub-trees (${r.subtrees.length})`);
  for (const s of r.subtrees) subtreeLines(s, limit, line);
  if (r.luo !== null) out.push('', 'Live Update Orchestrator', ...luoLines(r.luo, limit));
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  const warnings = r.findings.filter((f) => f.severity === 'warning').length;
  out.push(
    '',
    `Findings (${errors} error(s), ${warnings} warning(s), ${r.findings.length - errors - warnings} info)`,
  );
  for (const f of r.findings)
    out.push(`  ${f.severity.padEnd(7)} ${f.code.padEnd(22)} ${f.at}: ${f.message}`);
  chunker.flush();
}

/** The report as one string (see {@link writeReportText}). */
export function formatReportText(r: InspectReport, opts: TextOptions = {}): string {
  return collectText((sink) => {
    writeReportText(r, sink, opts);
  });
}
