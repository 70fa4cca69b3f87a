/**
 * Who called: the innermost frame of a loadable module's own code, for page histories and
 * findings ("read by restore_table (my_consumer.ts:42)"). V8's structured call sites
 * (`Error.prepareStackTrace`) give function names and positions without parsing text; the
 * module's file is recognised by the per-kernel instance suffix its loader gives it (load.ts),
 * which is removed for display. Nothing here is ever shown as a raw stack trace.
 */

/** Suffix that marks one kernel's instance of a module file: `name.ts` → `name.ts.kho-instance-7.ts`. */
export const INSTANCE_MARK = /\.kho-instance-(\d+)\.ts$/;

/** A frame of module code. */
export interface CallerFrame {
  /** Function name (`<module>` for top-level code, `<anonymous>` for unnamed functions). */
  fn: string;
  /** Path of the module's file on the host. */
  file: string;
  line: number;
  column: number;
}

interface CallSiteLike {
  getFunctionName(): string | null;
  getMethodName(): string | null;
  getFileName(): string | null | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
  isToplevel(): boolean;
}

/** The host path of an instance URL (`file:///a/b.ts.kho-instance-3.ts` → `/a/b.ts`), or null. */
export function modulePathOf(fileName: string): string | null {
  if (!INSTANCE_MARK.test(fileName)) return null;
  const path = fileName.startsWith('file://') ? decodeURIComponent(new URL(fileName).pathname) : fileName;
  return path.replace(INSTANCE_MARK, '');
}

function frameOf(s: CallSiteLike): CallerFrame | null {
  const name = s.getFileName();
  if (name === null || name === undefined) return null;
  const file = modulePathOf(name);
  if (file === null) return null;
  const fn = s.getFunctionName() ?? s.getMethodName() ?? (s.isToplevel() ? '<module>' : '<anonymous>');
  return { fn, file, line: s.getLineNumber() ?? 0, column: s.getColumnNumber() ?? 0 };
}

/**
 * Module frames of the current stack, innermost first (at most `limit`). `above` is the API
 * function the module called: frames from it inwards are skipped.
 */
export function moduleFrames(limit = 1, above?: (...args: never[]) => unknown): CallerFrame[] {
  const holder: { stack?: unknown } = {};
  const prevLimit = Error.stackTraceLimit;
  const sites = withSites(() => {
    Error.stackTraceLimit = 32;
    Error.captureStackTrace(holder, above);
    return holder.stack;
  });
  Error.stackTraceLimit = prevLimit;
  const out: CallerFrame[] = [];
  for (const s of Array.isArray(sites) ? (sites as CallSiteLike[]) : []) {
    const f = frameOf(s);
    if (f === null) continue;
    out.push(f);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * Run `read` (which reads some error's `.stack`) with V8 handing out structured call sites
 * instead of text; the global hook is put back afterwards.
 */
function withSites(read: () => unknown): unknown {
  const saved = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
  Error.prepareStackTrace = (_e, sites) => sites;
  try {
    return read();
  } finally {
    if (saved === undefined) delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
    else Object.defineProperty(Error, 'prepareStackTrace', saved);
  }
}

/** Module frames of a thrown error (innermost first), from its captured call sites. */
export function errorFrames(err: unknown, limit = 8): CallerFrame[] {
  if (!(err instanceof Error)) return [];
  // `.stack` is formatted lazily on first access: if nobody has read it yet, V8 hands the
  // structured sites to prepareStackTrace. Otherwise it is text already: parse that.
  const stack = withSites(() => err.stack);
  const out: CallerFrame[] = [];
  if (Array.isArray(stack)) {
    for (const s of stack as CallSiteLike[]) {
      const f = frameOf(s);
      if (f !== null) out.push(f);
      if (out.length >= limit) break;
    }
    return out;
  }
  for (const line of String(stack).split('\n')) {
    const m = /^\s*at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    if (m === null) continue;
    const file = modulePathOf(m[2]!);
    if (file === null) continue;
    out.push({ fn: m[1] ?? '<module>', file, line: Number(m[3]), column: Number(m[4]) });
    if (out.length >= limit) break;
  }
  return out;
}

/** `restore_table (my_consumer.ts:42)`: a frame as the reports show it. */
export function formatFrame(f: CallerFrame): string {
  const base = f.file.slice(f.file.lastIndexOf('/') + 1);
  return `${f.fn} (${base}:${f.line})`;
}

/**
 * A throw out of module code (`init`, `exit`, or a callback the kernel makes) as the kernel's oops
 * report lines, with the module's functions as the call trace.
 */
export function oopsLines(name: string, where: string, e: unknown, frames: readonly CallerFrame[]): string[] {
  const what = e instanceof Error ? `${e.name}: ${e.message.split('\n', 1)[0]!}` : `exception: ${String(e)}`;
  const lines = [`Oops: ${name}: ${where} threw ${what}`, 'Call Trace:', ' <TASK>'];
  for (const f of frames) lines.push(`  ${formatFrame(f)}`);
  lines.push(' </TASK>', `Modules linked in: ${name}`, '---[ end trace 0000000000000000 ]---');
  return lines;
}
