/**
 * coreutils `ls [-1adlA] [FILE]...`: names sorted bytewise (C locale); columns across the
 * terminal width (tab stops of 8) on a terminal, one per line otherwise; `-l` with mode, links,
 * owner, group, size (or `major, minor`), date (`Mon DD HH:MM`, or the year when older than six
 * months) and `-> target` for symlinks; `total` in 1 KiB blocks.
 */
import { readFileSync } from 'node:fs';
import type { CommandContext, ShellCommand } from '../command.ts';
import { FsError, strerror } from '../io.ts';
import type { VNode } from '../vfs.ts';
import { badOption, parseFlags } from './util.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = ((365.2425 * 24 * 60 * 60) / 2) * 1000;

function idNames(file: string): Map<number, string> {
  const m = new Map<number, string>([[0, 'root']]);
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && f[0] !== undefined && f[2] !== undefined && /^[0-9]+$/.test(f[2]))
        m.set(Number(f[2]), f[0]);
    }
  } catch {
    /* no names: numeric ids */
  }
  return m;
}

let users: Map<number, string> | null = null;
let groups: Map<number, string> | null = null;

function userName(uid: number, machine: boolean): string {
  if (machine) return 'root';
  users ??= idNames('/etc/passwd');
  return users.get(uid) ?? String(uid);
}

function groupName(gid: number, machine: boolean): string {
  if (machine) return gid === 15 ? 'kmem' : 'root';
  groups ??= idNames('/etc/group');
  return groups.get(gid) ?? String(gid);
}

/** `drwxr-xr-x`-style mode string. */
export function modeString(n: VNode): string {
  const t = n.type === 'dir' ? 'd' : n.kind === 'symlink' ? 'l' : n.rdev !== undefined ? 'c' : '-';
  const m = n.mode;
  const rwx = (bits: number, special: boolean, sc: string): string =>
    (bits & 4 ? 'r' : '-') +
    (bits & 2 ? 'w' : '-') +
    (special ? (bits & 1 ? sc : sc.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    t +
    rwx((m >> 6) & 7, (m & 0o4000) !== 0, 's') +
    rwx((m >> 3) & 7, (m & 0o2000) !== 0, 's') +
    rwx(m & 7, (m & 0o1000) !== 0, 't')
  );
}

/** coreutils' date column for `t` seen at `now`. */
export function lsDate(t: Date, now: number, utc: boolean): string {
  const mon = MONTHS[utc ? t.getUTCMonth() : t.getMonth()]!;
  const day = String(utc ? t.getUTCDate() : t.getDate()).padStart(2, ' ');
  const recent = now - t.getTime() < SIX_MONTHS_MS && t.getTime() - now < 60 * 60 * 1000;
  if (recent) {
    const hh = String(utc ? t.getUTCHours() : t.getHours()).padStart(2, '0');
    const mm = String(utc ? t.getUTCMinutes() : t.getMinutes()).padStart(2, '0');
    return `${mon} ${day} ${hh}:${mm}`;
  }
  return `${mon} ${day}  ${utc ? t.getUTCFullYear() : t.getFullYear()}`;
}

interface Entry {
  name: string;
  node: VNode;
}

function nlinkOf(e: Entry): number {
  const n = e.node;
  if (n.nlink !== undefined) return n.nlink;
  return n.type === 'dir' ? 2 : 1;
}

/** Lines of `ls -l` for entries (columns aligned as coreutils aligns them). */
function longLines(entries: readonly Entry[], ctx: CommandContext): string[] {
  const now = ctx.session.machineNow();
  const rows = entries.map((e) => {
    const n = e.node;
    const size = n.type === 'file' && n.rdev !== undefined ? null : String(n.size ?? 0);
    return {
      mode: modeString(n),
      nlink: String(nlinkOf(e)),
      user: userName(n.uid, n.machine),
      group: groupName(n.gid, n.machine),
      size,
      rdev: n.type === 'file' ? n.rdev : undefined,
      date: lsDate(n.mtime, n.machine ? now : Date.now(), n.machine),
      name: e.name + (n.type === 'file' && n.linkTarget !== undefined ? ` -> ${n.linkTarget}` : ''),
    };
  });
  const majW = Math.max(0, ...rows.map((r) => (r.rdev === undefined ? 0 : String(r.rdev.major).length)));
  const minW = Math.max(0, ...rows.map((r) => (r.rdev === undefined ? 0 : String(r.rdev.minor).length)));
  const sizes = rows.map((r) =>
    r.rdev === undefined
      ? r.size!
      : `${String(r.rdev.major).padStart(majW)}, ${String(r.rdev.minor).padStart(minW)}`,
  );
  const w = (xs: string[]): number => Math.max(0, ...xs.map((x) => x.length));
  const nw = w(rows.map((r) => r.nlink));
  const uw = w(rows.map((r) => r.user));
  const gw = w(rows.map((r) => r.group));
  const sw = w(sizes);
  return rows.map(
    (r, i) =>
      `${r.mode} ${r.nlink.padStart(nw)} ${r.user.padEnd(uw)} ${r.group.padEnd(gw)} ${sizes[i]!.padStart(sw)} ${r.date} ${r.name}\n`,
  );
}

/** coreutils' `indent`: spaces and tabs (tab stops of 8) from column `from` to `to`. */
function indent(from: number, to: number): string {
  let s = '';
  while (from < to) {
    if (Math.floor(to / 8) > Math.floor((from + 1) / 8)) {
      s += '\t';
      from += 8 - (from % 8);
    } else {
      s += ' ';
      from++;
    }
  }
  return s;
}

/** Names in columns, filled top to bottom, as `ls -C` lays them out for `width` columns. */
export function columns(names: readonly string[], width: number): string {
  const n = names.length;
  if (n === 0) return '';
  const maxCols = Math.max(1, Math.min(n, Math.floor(width / 3)));
  let best = 1;
  let bestWidths = [Math.max(...names.map((x) => x.length))];
  for (let cols = 1; cols <= maxCols; cols++) {
    const rows = Math.ceil(n / cols);
    const widths = new Array<number>(cols).fill(0);
    names.forEach((name, i) => {
      const c = Math.floor(i / rows);
      const len = name.length + (c === cols - 1 ? 0 : 2);
      if (len > widths[c]!) widths[c] = len;
    });
    const line = widths.reduce((a, b) => a + b, 0);
    if (line < width) {
      best = cols;
      bestWidths = widths;
    }
  }
  const rows = Math.ceil(n / best);
  let out = '';
  for (let r = 0; r < rows; r++) {
    let pos = 0;
    for (let c = 0; ; c++) {
      const i = c * rows + r;
      const name = names[i]!;
      out += name;
      if ((c + 1) * rows + r >= n) break;
      out += indent(pos + name.length, pos + bestWidths[c]!);
      pos += bestWidths[c]!;
    }
    out += '\n';
  }
  return out;
}

function cmpName(a: Entry, b: Entry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export const ls: ShellCommand = {
  name: 'ls',
  usage: 'ls [-1adlA] [FILE]...',
  summary: 'list directories (debugfs, procfs, /dev, /boot, host)',
  run(args, ctx) {
    const { flags, operands, bad } = parseFlags(args, '1adlA', {
      '--all': 'a',
      '--almost-all': 'A',
      '--directory': 'd',
    });
    if (bad !== null) {
      badOption(ctx, 'ls', bad);
      return 2;
    }
    const s = ctx.session;
    const long = flags.has('l');
    const width = flags.has('1') ? null : s.columns();
    let status = 0;
    const targets = operands.length === 0 ? ['.'] : operands;
    const files: Entry[] = [];
    const dirs: Entry[] = [];
    for (const t of targets) {
      let node: VNode | null;
      try {
        node = long ? s.vfs.resolveNoFollow(s.abs(t)) : s.lookup(t);
        if (
          long &&
          node?.type === 'file' &&
          node.kind === 'symlink' &&
          !flags.has('d') &&
          operands.length > 0
        ) {
          const followed = s.lookup(t);
          if (followed?.type === 'dir') node = followed;
        }
      } catch (err) {
        ctx.stderr.write(
          `ls: cannot access '${t}': ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`,
        );
        status = 2;
        continue;
      }
      if (node === null) {
        ctx.stderr.write(`ls: cannot access '${t}': No such file or directory\n`);
        status = 2;
        continue;
      }
      if (node.type === 'dir' && !flags.has('d')) dirs.push({ name: t, node });
      else files.push({ name: t, node });
    }
    files.sort(cmpName);
    dirs.sort(cmpName);
    const emit = (entries: Entry[]): void => {
      if (entries.length === 0) return;
      if (long) ctx.stdout.write(longLines(entries, ctx).join(''));
      else if (width === null) ctx.stdout.write(entries.map((e) => `${e.name}\n`).join(''));
      else
        ctx.stdout.write(
          columns(
            entries.map((e) => e.name),
            width,
          ),
        );
    };
    emit(files);
    const header = files.length > 0 || dirs.length > 1 || status !== 0;
    dirs.forEach((d, i) => {
      if (header) ctx.stdout.write(`${files.length > 0 || i > 0 ? '\n' : ''}${d.name}:\n`);
      const dirAbs = s.abs(d.name);
      let names: string[];
      try {
        names = (d.node as { names(): string[] }).names();
      } catch (err) {
        ctx.stderr.write(
          `ls: cannot open directory '${d.name}': ${strerror(err instanceof FsError ? err.code : 'EIO')}\n`,
        );
        status = 2;
        return;
      }
      if (!flags.has('a') && !flags.has('A')) names = names.filter((n) => !n.startsWith('.'));
      const entries: Entry[] = [];
      if (flags.has('a')) {
        entries.push({ name: '.', node: d.node });
        const parent = s.vfs.resolve(s.abs(`${dirAbs}/..`));
        entries.push({ name: '..', node: parent ?? d.node });
      }
      for (const name of names) {
        let node: VNode | null;
        try {
          node = long ? s.vfs.resolveNoFollow(`${dirAbs === '/' ? '' : dirAbs}/${name}`) : null;
        } catch {
          node = null;
        }
        entries.push({ name, node: node ?? d.node });
      }
      entries.sort(cmpName);
      if (long) {
        const total = entries.reduce((a, e) => a + (e.node.blocks ?? 0), 0);
        ctx.stdout.write(`total ${total}\n`);
        ctx.stdout.write(longLines(entries, ctx).join(''));
      } else if (width === null) ctx.stdout.write(entries.map((e) => `${e.name}\n`).join(''));
      else
        ctx.stdout.write(
          columns(
            entries.map((e) => e.name),
            width,
          ),
        );
    });
    return status;
  },
};
