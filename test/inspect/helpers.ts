/** Shared helpers of the inspector tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { InspectReport } from '../../src/inspect/inspect.ts';

/** A temporary directory removed after the file's tests. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kho-inspect-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** The preserved blocks of a report, address order, as `phys:order` strings. */
export function preservedList(r: InspectReport): string[] {
  const out: string[] = [];
  r.preserved?.forEachSorted((p, o) => {
    out.push(`0x${p.toString(16)}:${o}`);
    return true;
  });
  return out;
}

/** `phys:order` strings of expected blocks. */
export function blockList(bs: readonly { phys: number; order: number }[]): string[] {
  return bs.map((b) => `0x${b.phys.toString(16)}:${b.order}`);
}

/** The finding codes of a report with the given severity (all when omitted). */
export function codes(r: InspectReport, severity?: string): string[] {
  return r.findings.filter((f) => severity === undefined || f.severity === severity).map((f) => f.code);
}

/** Fast-check run count: `FUZZ_RUNS` or the default. */
export function runs(dflt: number): number {
  const env = Number(process.env['FUZZ_RUNS']);
  return Number.isFinite(env) && env > 0 ? env : dflt;
}
