/**
 * The page's files: `web/` (TypeScript served as JavaScript after Node's own type stripping,
 * the same erasable-syntax rule as src/, so there is no bundler and no build step) and the
 * terminal emulator's files from node_modules. Paths are resolved inside their folder only:
 * any `..`, backslash, NUL or encoded separator is a 404, as is anything that resolves outside.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A file to send. */
export interface StaticFile {
  body: Buffer | string;
  type: string;
}

/** The page's folder. */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const require = createRequire(import.meta.url);
const XTERM_DIR = dirname(require.resolve('@xterm/xterm/package.json'));
const FIT_DIR = dirname(require.resolve('@xterm/addon-fit/package.json'));

/** `/vendor/<name>` → a file of a dependency. */
const VENDOR: Record<string, string> = {
  'xterm.mjs': join(XTERM_DIR, 'lib', 'xterm.mjs'),
  'xterm.css': join(XTERM_DIR, 'css', 'xterm.css'),
  'addon-fit.mjs': join(FIT_DIR, 'lib', 'addon-fit.mjs'),
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

const cache = new Map<string, StaticFile>();

/**
 * Node's type stripper, without its one-time "experimental" warning on the server's stderr
 * (the feature is what runs every file of src/ too).
 */
function stripTypes(code: string): string {
  const saved = Object.getOwnPropertyDescriptor(process, 'emitWarning');
  const emit = process.emitWarning.bind(process);
  const quiet: typeof process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
    if (String(warning).includes('stripTypeScriptTypes')) return;
    (emit as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
  };
  process.emitWarning = quiet;
  try {
    return stripTypeScriptTypes(code, { mode: 'strip' });
  } finally {
    if (saved !== undefined) Object.defineProperty(process, 'emitWarning', saved);
  }
}

function load(file: string): StaticFile | null {
  const hit = cache.get(file);
  if (hit !== undefined) return hit;
  try {
    if (!statSync(file).isFile()) return null;
  } catch {
    return null;
  }
  const ext = /\.[a-z]+$/.exec(file)?.[0] ?? '';
  const type = TYPES[ext];
  if (type === undefined) return null;
  const raw = readFileSync(file);
  const out: StaticFile = { body: ext === '.ts' ? stripTypes(raw.toString('utf8')) : raw, type };
  cache.set(file, out);
  return out;
}

/** The file inside `root` named by the URL path `rel` (already without its prefix), or null. */
function inside(root: string, rel: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rel);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  if (decoded.split('/').some((seg) => seg === '..' || seg === '.')) return null;
  const full = resolve(root, `.${sep}${decoded}`);
  return full.startsWith(resolve(root) + sep) ? full : null;
}

/** The static file for a URL path (`/`, `/app/…`, `/vendor/…`), or null (404). */
export function staticFile(path: string): StaticFile | null {
  if (path === '/' || path === '/index.html') return load(join(WEB_DIR, 'index.html'));
  if (path.startsWith('/app/')) {
    const file = inside(WEB_DIR, path.slice('/app/'.length));
    return file === null ? null : load(file);
  }
  if (path.startsWith('/vendor/')) {
    const file = VENDOR[path.slice('/vendor/'.length)];
    return file === undefined ? null : load(file);
  }
  return null;
}
