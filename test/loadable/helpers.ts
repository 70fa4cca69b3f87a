/**
 * Helpers for module-file tests: module files written to a temporary directory (outside the
 * repository, so `import … from 'kho'` goes through the loader's resolver), and a small machine
 * that builds them in.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the test file. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kho-mod-'));
  dirs.push(d);
  return d;
}

/** Write `files` (name → source) into a new temporary directory; returns its path. */
export function moduleDir(files: Record<string, string>): string {
  const d = tempDir();
  for (const [name, src] of Object.entries(files)) writeFileSync(join(d, name), src);
  return d;
}

/** A module file with `body` as its source; returns the file's path. */
export function moduleFile(source: string, name = 'mod.ts'): string {
  return join(moduleDir({ [name]: source }), name);
}

/** The 1-based line of `file` (a path) that contains `needle`. */
export function lineOf(file: string, needle: string): number {
  const i = readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`${needle} is not in ${file}`);
  return i + 1;
}

/** Repository paths of the examples. */
export const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
