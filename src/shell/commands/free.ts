/** procps-ng `free [-b|-k|-m|-g|-h] [--si]`, computed from the kernel's /proc/meminfo. */
import type { ShellCommand } from '../command.ts';

/** Fields of /proc/meminfo text, in kB (missing lines are absent). */
export function parseMeminfo(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const r = /^([^:]+):\s+([0-9]+)/.exec(line);
    if (r !== null) m.set(r[1]!, Number(r[2]));
  }
  return m;
}

/** procps' `scale_size` for -h: the shortest of `%.1f<U>i` / `%ld<U>i` that fits 5 characters. */
export function humanSize(bytes: number, si: boolean): string {
  const base = si ? 1000 : 1024;
  if (bytes < base) return `${bytes}B`;
  const units = 'KMGTPE';
  for (let i = 0; i < units.length; i++) {
    const v = bytes / base ** (i + 1);
    const suffix = si ? units[i]! : `${units[i]!}i`;
    const max = si ? 4 : 5;
    const a = `${v.toFixed(1)}${suffix}`;
    if (a.length <= max) return a;
    const b = `${Math.trunc(v)}${suffix}`;
    if (b.length <= max) return b;
  }
  return `${bytes}B`;
}

/** Unit exponents (power of 1024, or of 1000 with --si); -1 = human. */
const UNIT_FLAGS: Record<string, number> = {
  '-b': 0,
  '--bytes': 0,
  '-k': 1,
  '--kibi': 1,
  '-m': 2,
  '--mebi': 2,
  '-g': 3,
  '--gibi': 3,
  '--tebi': 4,
  '--pebi': 5,
  '-h': -1,
  '--human': -1,
};

export const free: ShellCommand = {
  name: 'free',
  usage: 'free [-b|-k|-m|-g|-h] [--si]',
  summary: 'memory totals (scratch shows as CMA in /proc/meminfo)',
  run(args, ctx) {
    let unit = 1;
    let si = false;
    for (const a of args) {
      const u = UNIT_FLAGS[a];
      if (u !== undefined) unit = u;
      else if (a === '--si') si = true;
      else {
        ctx.stderr.write(
          a.startsWith('--')
            ? `free: unrecognized option '${a}'\n`
            : `free: invalid option -- '${a.replace(/^-/, '')[0] ?? ''}'\n`,
        );
        ctx.stderr.write("Try 'free --help' for more information.\n");
        return 1;
      }
    }
    const proc = ctx.session.kernel.procfs.lookup('meminfo');
    const text = proc?.kind === 'file' ? new TextDecoder().decode(proc.read()) : '';
    const mi = parseMeminfo(text);
    const g = (k: string): number => mi.get(k) ?? 0;
    const total = g('MemTotal');
    const freeKb = g('MemFree');
    const buffCache = g('Buffers') + g('Cached') + g('SReclaimable');
    const used = Math.max(0, total - freeKb - buffCache);
    const fmt = (kb: number): string => {
      if (unit < 0) return humanSize(kb * 1024, si);
      return String(Math.trunc((kb * 1024) / (si ? 1000 : 1024) ** unit));
    };
    const row = (label: string, vals: number[]): string =>
      `${label.padEnd(8)}${vals.map((v) => fmt(v).padStart(12)).join('')}\n`;
    ctx.stdout.write(
      `${''.padEnd(8)}${['total', 'used', 'free', 'shared', 'buff/cache', 'available'].map((h) => h.padStart(12)).join('')}\n` +
        row('Mem:', [total, used, freeKb, g('Shmem'), buffCache, g('MemAvailable')]) +
        row('Swap:', [g('SwapTotal'), g('SwapTotal') - g('SwapFree'), g('SwapFree')]),
    );
    return 0;
  },
};
