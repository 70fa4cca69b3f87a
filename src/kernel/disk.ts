/**
 * The machine's root disk, as far as the model needs one: the files of `/etc` that configure
 * module loading (`/etc/modules-load.d/*.conf` for systemd-modules-load, `/etc/modprobe.d/*.conf`
 * for modprobe's `options`). It belongs to the machine, not to a kernel, so it survives kexec and
 * reboot as a disk does; power-on does not clear it either.
 */
import type { Machine } from './machine.ts';

/** Directories every disk has. */
const DIRS = ['/etc', '/etc/modules-load.d', '/etc/modprobe.d'];

/** A small file tree keyed by absolute path. */
export class MachineDisk {
  private readonly files = new Map<string, { data: Uint8Array; mtime: number }>();
  private readonly dirs = new Set(DIRS);

  /** True for a directory. */
  isDir(path: string): boolean {
    return this.dirs.has(path);
  }

  /** A file's bytes and modification time (ms since the epoch), or null. */
  stat(path: string): { data: Uint8Array; mtime: number } | null {
    return this.files.get(path) ?? null;
  }

  /** A file's text, or null. */
  readText(path: string): string | null {
    const f = this.files.get(path);
    return f === undefined ? null : new TextDecoder().decode(f.data);
  }

  /** Names in a directory, sorted. */
  list(dir: string): string[] {
    const prefix = `${dir}/`;
    const names = new Set<string>();
    for (const p of [...this.files.keys(), ...this.dirs]) {
      if (!p.startsWith(prefix)) continue;
      names.add(p.slice(prefix.length).split('/')[0]!);
    }
    return [...names].sort();
  }

  /** True when `path` could be created: its parent is a directory and it is not one. */
  canCreate(path: string): boolean {
    const parent = path.slice(0, path.lastIndexOf('/'));
    return this.dirs.has(parent) && !this.dirs.has(path);
  }

  /** Create or replace a file (`append`: add to it). */
  write(path: string, data: Uint8Array, mtime: number, append = false): void {
    const old = append ? this.files.get(path)?.data : undefined;
    const bytes = old === undefined ? data.slice() : new Uint8Array([...old, ...data]);
    this.files.set(path, { data: bytes, mtime });
  }

  /** Remove a file; false when there is none. */
  remove(path: string): boolean {
    return this.files.delete(path);
  }

  /** `*.conf` files of a directory, sorted by name as systemd orders them, with their text. */
  confFiles(dir: string): { path: string; text: string }[] {
    return this.list(dir)
      .filter((n) => n.endsWith('.conf') && this.files.has(`${dir}/${n}`))
      .map((n) => ({ path: `${dir}/${n}`, text: this.readText(`${dir}/${n}`)! }));
  }
}

const DISKS = new WeakMap<Machine, MachineDisk>();

/** The root disk of `machine`. */
export function machineDisk(machine: Machine): MachineDisk {
  let d = DISKS.get(machine);
  if (d === undefined) {
    d = new MachineDisk();
    DISKS.set(machine, d);
  }
  return d;
}

/** The lines of a systemd/kmod configuration text: comments (`#`, `;`) and blank lines dropped. */
export function confLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith(';'));
}
