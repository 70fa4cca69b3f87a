/**
 * The `kho inspect --json` document (schema in docs/inspect.md): physical addresses are `0x…`
 * hex strings, counts and sizes are JSON numbers (exact: all below 2^53).
 */
import type { InspectReport } from './inspect.ts';
import { hexAddr } from './findings.ts';
import type { LuoReport } from './luo.ts';
import type { SubtreeReport } from './subtrees.ts';
import { collectText, StreamedText, TEXT_CHUNK, TextChunker, type TextSink } from '../util/text-sink.ts';

/** Version of the JSON layout; bumped on incompatible changes. */
export const INSPECT_JSON_SCHEMA = 1;

const hexOrNull = (x: number | null): string | null => (x === null ? null : hexAddr(x));
const range = (r: { start: number; end: number }) => ({ start: hexAddr(r.start), end: hexAddr(r.end) });

function subtreeJson(s: SubtreeReport): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: s.name,
    phys: hexOrNull(s.phys),
    size: s.size,
    sizeFrom: s.sizeFrom,
    kind: s.kind,
    preserved: s.preserved,
  };
  if (s.kexecMetadata !== undefined) out['kexecMetadata'] = s.kexecMetadata;
  if (s.memblock !== undefined) {
    out['memblock'] = {
      records: s.memblock.records.map((r) => ({ name: r.name, start: hexAddr(r.start), size: r.size })),
      rejected: s.memblock.rejected,
    };
  }
  if (s.testKho !== undefined) {
    const t = s.testKho;
    out['testKho'] = {
      magic: hexAddr(t.magic),
      nrFolios: t.nrFolios,
      csum: hexAddr(t.csum),
      foliosInfo: {
        first: hexAddr(t.foliosInfo.first),
        totalPages: t.foliosInfo.totalPages,
        flags: t.foliosInfo.flags,
        order: t.foliosInfo.order,
      },
      vmallocChunks: t.vmallocChunks.map(hexAddr),
      folios: new JsonList((emit) => {
        for (const f of t.folios) emit({ phys: hexAddr(f.phys), order: f.order });
      }),
    };
  }
  if (s.dts !== undefined) out['dts'] = s.dts;
  if (s.hexdump !== undefined) out['hexdump'] = s.hexdump;
  return out;
}

const hexBig = (x: bigint): string => `0x${x.toString(16)}`;

/** A u64 counter as a JSON number when exact, else as a decimal string. */
const u64Number = (x: bigint): number | string =>
  x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString();

function luoJson(l: LuoReport): Record<string, unknown> {
  return {
    compatible: l.compatible,
    liveupdateNumber: l.liveupdateNumber === null ? null : u64Number(l.liveupdateNumber),
    sessions: l.sessions.map((s) => ({
      name: s.name,
      files: s.files.map((f) => {
        const out: Record<string, unknown> = {
          token: hexBig(f.token),
          compatible: f.compatible,
          data: hexBig(f.data),
        };
        const m = f.memfd;
        if (m !== null) {
          out['memfd'] = {
            size: m.size,
            pos: m.pos,
            seals: m.seals,
            nrFolios: m.nrFolios,
            version: m.version,
            phys: hexAddr(m.phys),
            flags: m.flags,
            folioArray: {
              first: hexAddr(m.folioArray.first),
              totalPages: m.folioArray.totalPages,
              flags: m.folioArray.flags,
              order: m.folioArray.order,
            },
            vmallocChunks: m.vmallocChunks.map(hexAddr),
          };
        }
        return out;
      }),
      filesPa: hexAddr(s.filesPa),
      fileCount: s.fileCount,
      fileBlocks: s.fileBlocks.map(hexAddr),
    })),
    format: l.format,
    phys: hexAddr(l.phys),
    sessionsPa: hexOrNull(l.sessionsPa),
    flbsPa: hexOrNull(l.flbsPa),
    sessionBlocks: l.sessionBlocks.map(hexAddr),
    flbs:
      l.flbs === null ? null : l.flbs.map((f) => ({ name: f.name, data: hexBig(f.data), count: f.count })),
    complete: l.complete,
  };
}

/**
 * A long list written element by element (never one giant string): each element is one
 * compact JSON line. `each` calls `emit` for up to `max` elements.
 */
export class JsonList {
  readonly each: (emit: (v: unknown) => void) => void;
  constructor(each: (emit: (v: unknown) => void) => void) {
    this.each = each;
  }
  toArray(): unknown[] {
    const out: unknown[] = [];
    this.each((v) => out.push(v));
    return out;
  }
}

/** The report as a JSON-shaped object whose long lists are {@link JsonList}s. */
function reportModel(r: InspectReport): Record<string, unknown> {
  const total = r.preserved?.count ?? 0;
  const listed = Math.min(total, r.maxList);
  const count = (sev: string) => r.findings.filter((f) => f.severity === sev).length;
  const nRanges = Math.min(r.ranges.length, r.maxList);
  return {
    schema: INSPECT_JSON_SCHEMA,
    abi: r.abi,
    fdt:
      r.fdt === null
        ? null
        : {
            source: r.fdt.source,
            phys: hexOrNull(r.fdt.phys),
            totalsize: r.fdt.totalsize,
            version: r.fdt.version,
            valid: r.fdt.valid,
            otherCandidates: r.fdt.otherCandidates.map(hexAddr),
          },
    image:
      r.image === null
        ? null
        : {
            kind: r.image.kind,
            source: r.image.source,
            ranges: r.image.ranges.map(range),
            bytes: r.image.bytes,
          },
    scratch:
      r.scratch === null
        ? null
        : {
            source: r.scratch.source,
            entries: r.scratch.entries.map((e) => ({ addr: hexAddr(e.addr), size: e.size })),
          },
    memoryMap:
      r.memoryMap === null
        ? null
        : {
            format: r.memoryMap.format,
            root: hexAddr(r.memoryMap.root),
            complete: r.memoryMap.complete,
            blocks: r.memoryMap.blocks,
            bytes: r.memoryMap.bytes,
            byOrder: r.memoryMap.byOrder,
          },
    preserved: new JsonList((emit) => {
      let n = 0;
      r.preserved?.forEachSorted((phys, order) => {
        if (n >= listed) return false;
        n++;
        emit({ phys: hexAddr(phys), order });
        return true;
      });
    }),
    preservedTotal: total,
    preservedTruncated: listed < total,
    ranges: new JsonList((emit) => {
      for (let i = 0; i < nRanges; i++)
        emit({ start: hexAddr(r.ranges.start(i)), end: hexAddr(r.ranges.end(i)) });
    }),
    rangesTotal: r.ranges.length,
    rangesTruncated: nRanges < r.ranges.length,
    tracker: {
      counts: r.tracker.counts,
      pages: new JsonList((emit) => {
        for (const p of r.tracker.pages) emit({ phys: hexAddr(p.phys), kind: p.kind, level: p.level });
      }),
    },
    subtrees: r.subtrees.map(subtreeJson),
    luo: r.luo === null ? null : luoJson(r.luo),
    findings: r.findings,
    summary: { errors: count('error'), warnings: count('warning'), infos: count('info') },
  };
}

function materialise(v: unknown): unknown {
  if (v instanceof JsonList) return v.toArray().map(materialise);
  if (v instanceof StreamedText) return v.toString();
  if (Array.isArray(v)) return v.map(materialise);
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, materialise(x)]));
  }
  return v;
}

/** The report as a plain JSON-ready object (lists capped at `maxList`). */
export function reportToJson(r: InspectReport): Record<string, unknown> {
  return materialise(reportModel(r)) as Record<string, unknown>;
}

/**
 * Write the JSON document to `sink` in chunks of about 64 KiB: 2-space indentation, one compact
 * line per element of the long lists, and streamed text (sub-tree DTS) as a string written in
 * pieces, so millions of blocks or gigabytes of DTS never make one string.
 */
export function writeReportJson(r: InspectReport, sink: TextSink): void {
  const chunker = new TextChunker(sink, TEXT_CHUNK);
  const out = (x: string): void => {
    chunker.push(x);
  };
  const value = (v: unknown, pad: string): void => {
    if (v instanceof JsonList) {
      const st = { n: 0 };
      out('[');
      v.each((el) => {
        out(`${st.n === 0 ? '' : ','}\n${pad}  ${JSON.stringify(el)}`);
        st.n++;
      });
      out(st.n === 0 ? ']' : `\n${pad}]`);
      return;
    }
    if (v instanceof StreamedText) {
      // Each piece escaped on its own: JSON escapes are per character, so the pieces join up.
      out('"');
      v.write((piece) => {
        out(JSON.stringify(piece).slice(1, -1));
      });
      out('"');
      return;
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const entries = Object.entries(v);
      if (entries.length === 0) {
        out('{}');
        return;
      }
      out('{');
      entries.forEach(([k, x], i) => {
        out(`\n${pad}  ${JSON.stringify(k)}: `);
        value(x, `${pad}  `);
        if (i < entries.length - 1) out(',');
      });
      out(`\n${pad}}`);
      return;
    }
    if (
      Array.isArray(v) &&
      v.some((x) => x instanceof JsonList || x instanceof StreamedText || isObject(x))
    ) {
      if (v.length === 0) {
        out('[]');
        return;
      }
      out('[');
      v.forEach((x, i) => {
        out(`\n${pad}  `);
        value(x, `${pad}  `);
        if (i < v.length - 1) out(',');
      });
      out(`\n${pad}]`);
      return;
    }
    // JSON.stringify gives undefined for undefined (typed as string): write null then.
    const text = JSON.stringify(v, null, 2) as string | undefined;
    out((text ?? 'null').replace(/\n/g, `\n${pad}`));
  };
  value(reportModel(r), '');
  out('\n');
  chunker.flush();
}

function isObject(x: unknown): boolean {
  return x !== null && typeof x === 'object';
}

/** The JSON text as one string (small reports, tests). */
export function formatReportJson(r: InspectReport): string {
  return collectText((sink) => {
    writeReportJson(r, sink);
  });
}
