/** `kho check`'s text report (the JSON form is the report object itself). */
import type { CheckFinding } from './findings.ts';
import type { CheckReport, PageTotals } from './engine.ts';

function size(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.round(bytes / 1024)} KiB`;
}

function pages(t: PageTotals | null): string {
  if (t === null || t.blocks === 0) return '-';
  return `${t.blocks} block${t.blocks === 1 ? '' : 's'}, ${size(t.bytes)}`;
}

function finding(f: CheckFinding): string[] {
  const at = f.phys >= 0 ? ` at 0x${f.phys.toString(16)}` : '';
  const out = [`  gen ${f.gen}: ${f.severity} ${f.kind}${at}`, `    ${f.message}`];
  if (f.history.length > 0) {
    out.push('    page history:');
    for (const h of f.history) out.push(`      ${h}`);
  }
  return out;
}

/** The report as text (what `kho check` prints without --json). */
export function renderCheck(r: CheckReport): string {
  const out: string[] = [];
  const gb = (r.machine.mem / 2 ** 30).toFixed(r.machine.mem % 2 ** 30 === 0 ? 0 : 1);
  out.push(
    `kho check ${r.file}: module ${r.module ?? '?'}, profile ${r.profile}, ${r.generationsWanted} kexec${r.generationsWanted === 1 ? '' : 's'}, ${gb} GiB / ${r.machine.nodes} node${r.machine.nodes === 1 ? '' : 's'}, seed ${r.machine.seed}, sanitizer on`,
  );
  out.push(`command line: ${r.machine.cmdline}`);
  if (r.generations.length > 0) {
    out.push('');
    const rows = [['gen', 'init', 'preserved', 'restored', 'sub-trees out', 'findings']];
    for (const g of r.generations) {
      const errs = g.findings.filter((f) => f.severity === 'error').length;
      const warns = g.findings.length - errs;
      rows.push([
        String(g.gen),
        g.init === null ? '-' : String(g.init),
        g.gen === r.generations.length - 1 && g.preserved === null ? '(last kernel)' : pages(g.preserved),
        pages(g.restored),
        g.subtrees.join(' ') || '-',
        errs + warns === 0
          ? 'clean'
          : [errs > 0 ? `${errs} error(s)` : '', warns > 0 ? `${warns} warning(s)` : '']
              .filter((x) => x !== '')
              .join(', '),
      ]);
    }
    const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const row of rows)
      out.push(
        `  ${row
          .map((c, i) => (i < 2 ? c.padStart(w[i]!) : c.padEnd(w[i]!)))
          .join('  ')
          .trimEnd()}`,
      );
  }
  const all = r.generations.flatMap((g) => g.findings);
  if (all.length > 0) {
    out.push('', 'findings:');
    for (const f of all) out.push(...finding(f));
  }
  const lines = r.generations.flatMap((g) => g.dmesg.map((l) => `  gen ${g.gen}  ${l}`));
  if (lines.length > 0) out.push('', `dmesg (${r.module ?? 'module'}):`, ...lines);
  const user = r.generations.flatMap((g) => g.userspace.map((l) => `  gen ${g.gen}  ${l}`));
  if (user.length > 0) out.push('', `user space (${r.module ?? 'module'}):`, ...user);
  if (r.hung !== null) out.push('', ...r.hung);
  else if (r.stopped !== null) out.push('', `stopped: ${r.stopped}`);
  out.push(
    '',
    `verdict: ${r.verdict.toUpperCase()} (${r.generations.length} kernel${r.generations.length === 1 ? '' : 's'}, ${r.errors} error${r.errors === 1 ? '' : 's'}, ${r.warnings} warning${r.warnings === 1 ? '' : 's'})`,
  );
  return `${out.join('\n')}\n`;
}
