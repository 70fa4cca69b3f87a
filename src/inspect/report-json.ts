/**
 * The `kho inspect --json` document (schema in docs/inspect.md): physical addresses are `0x…`
 * hex strings, counts and sizes are JSON numbers (exact: all below 2^53).
 */
import type { InspectReport } from './inspect.ts';
import { hexAddr } from './findings.ts';
import type { SubtreeReport } from './subtrees.ts';

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
      folios: t.folios.map((f) => ({ phys: hexAddr(f.phys), order: f.order })),
    };
  }
  if (s.dts !== undefined) out['dts'] = s.dts;
  if (s.hexdump !== undefined) out['hexdump'] = s.hexdump;
  return out;
}

/** The report as a JSON-ready object. */
export function reportToJson(r: InspectReport): Record<string, unknown> {
  const preserved: { phys: string; order: number }[] = [];
  r.preserved?.forEachSorted((phys, order) => {
    if (preserved.length >= r.maxList) return false;
    preserved.push({ phys: hexAddr(phys), order });
    return true;
  });
  const total = r.preserved?.count ?? 0;
  const count = (sev: string) => r.findings.filter((f) => f.severity === sev).length;
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
    preserved,
    preservedTotal: total,
    preservedTruncated: preserved.length < total,
    ranges: r.ranges.map(range),
    tracker: {
      counts: r.tracker.counts,
      pages: r.tracker.pages.map((p) => ({ phys: hexAddr(p.phys), kind: p.kind, level: p.level })),
    },
    subtrees: r.subtrees.map(subtreeJson),
    findings: r.findings,
    summary: { errors: count('error'), warnings: count('warning'), infos: count('info') },
  };
}

/** The JSON text (2-space indent, trailing newline). */
export function formatReportJson(r: InspectReport): string {
  return `${JSON.stringify(reportToJson(r), null, 2)}\n`;
}
