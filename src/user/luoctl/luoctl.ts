/**
 * `luoctl`, the machine's command-line tool for LUO sessions (docs/luo.md). Its verbs follow
 * the kernel selftests' library (tools/testing/selftests/liveupdate/lib: create, preserve,
 * retrieve, finish) in the `luoctl VERB ARGS` form of googleprodkernel/luo-agent's luoctl;
 * every kernel call is a real ioctl on /dev/liveupdate or a session descriptor through the
 * program's {@link Process}, and kernel errors print the C library's errno text.
 *
 * Sessions outlive the command in a holder process (src/user/luoctl/state.ts).
 */
import { LIVEUPDATE_SESSION_NAME_LENGTH } from '../../abi/liveupdate-uapi.ts';
import { MFD_CLOEXEC, O_RDWR, SEEK_END, SEEK_SET } from '../../abi/uapi-fcntl.ts';
import { ERRNO } from '../../util/errno.ts';
import { readRest, readWhole, writeAll } from '../fd-io.ts';
import {
  luoCreateSession,
  luoOpenDevice,
  luoRetrieveSession,
  luoSessionFinish,
  luoSessionPreserveFd,
  luoSessionRetrieveFd,
} from '../libliveupdate.ts';
import type { Process } from '../process.ts';
import type { ProgramContext } from '../programs.ts';
import {
  CATALOG_SESSION,
  commitState,
  errText,
  loadState,
  tokenText,
  type LuoctlState,
  type SessionRec,
} from './state.ts';

/** Where luoctl is installed. */
export const LUOCTL_PATH = '/usr/sbin/luoctl';

/** `luoctl help`. */
export const LUOCTL_USAGE = `Usage: luoctl COMMAND [ARGS]
Live Update Orchestrator sessions from the command line (/dev/liveupdate).

  create NAME                   create an outgoing session
  preserve NAME TOKEN [--data TEXT | --size BYTES | --path FILE]
                                preserve a new memfd under TOKEN, filled from stdin
                                (luoctl preserve vm 1 < file), TEXT or BYTES zeros;
                                --path preserves an open of FILE instead
  close NAME                    end an outgoing session (its files are unpreserved)
  retrieve NAME                 retrieve an incoming session
  read NAME TOKEN               print a file's bytes (outgoing memfd, or RETRIEVE_FD)
  finish NAME                   finish a retrieved session (unread files are discarded)
  list [--json]                 outgoing and incoming sessions and their files
  help                          this text

Sessions stay open in a holder process ("luoctl hold") after the command returns, so they
survive kexec -e. TOKEN is a 64-bit number (decimal or 0x hex).
`;

/** The verbs `luoctl help` lists, in its order. */
export const LUOCTL_VERBS: readonly string[] = [
  'create',
  'preserve',
  'close',
  'retrieve',
  'read',
  'finish',
  'list',
  'help',
];
/** How `preserve` fills the file (one of them at most; stdin without one). */
export const PRESERVE_OPTIONS: readonly string[] = ['--data', '--size', '--path'];
/** The options of `list`. */
export const LIST_OPTIONS: readonly string[] = ['--json'];

/** A usage error: status 2. */
class UsageError extends Error {}

function parseToken(s: string | undefined): bigint {
  if (s === undefined) throw new UsageError('missing TOKEN');
  if (!/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(s)) throw new UsageError(`invalid token '${s}'`);
  const t = BigInt(s);
  if (t >= 1n << 64n) throw new UsageError(`token '${s}' does not fit in 64 bits`);
  return t;
}

function parseSize(s: string): number {
  const m = /^([0-9]+)([KMG]?)$/i.exec(s);
  if (m === null) throw new UsageError(`invalid size '${s}'`);
  const n = Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
  if (!Number.isSafeInteger(n)) throw new UsageError(`invalid size '${s}'`);
  return n;
}

/** What one verb did: an exit status and whether the outgoing catalog must be rewritten. */
interface Outcome {
  status: number;
  catalogChanged: boolean;
  /** The held descriptors changed (a new holder is needed). */
  changed: boolean;
}

const OK_UNCHANGED: Outcome = { status: 0, catalogChanged: false, changed: false };

class Luoctl {
  private readonly p: Process;
  private readonly st: LuoctlState;
  private readonly ctx: ProgramContext;

  constructor(ctx: ProgramContext, st: LuoctlState) {
    this.ctx = ctx;
    this.p = ctx.proc;
    this.st = st;
  }

  private fail(what: string, r: number): Outcome {
    this.ctx.err(`luoctl: ${what}: ${errText(r)}\n`);
    return { status: 1, catalogChanged: false, changed: false };
  }

  private failText(text: string): Outcome {
    this.ctx.err(`luoctl: ${text}\n`);
    return { status: 1, catalogChanged: false, changed: false };
  }

  private outgoing(name: string): SessionRec | undefined {
    return this.st.outgoing.find((s) => s.name === name);
  }

  private incoming(name: string): SessionRec | undefined {
    return this.st.incoming.find((s) => s.name === name);
  }

  /**
   * A name that does not fit the 64-byte field with its NUL is refused before any call, as
   * systemd's luo_create_session() does (src/shared/luo-util.c): ENAMETOOLONG.
   */
  private tooLong(what: string, name: string): Outcome | null {
    return new TextEncoder().encode(name).length >= LIVEUPDATE_SESSION_NAME_LENGTH
      ? this.fail(what, -ERRNO.ENAMETOOLONG)
      : null;
  }

  create(name: string): Outcome {
    const long = this.tooLong(`create session '${name}'`, name);
    if (long !== null) return long;
    if (name === CATALOG_SESSION)
      return this.failText(`session name '${name}' is luoctl's own (its catalog)`);
    const dev = luoOpenDevice(this.p);
    if (dev < 0) return this.fail('/dev/liveupdate', dev);
    const fd = luoCreateSession(this.p, dev, name);
    this.p.close(dev);
    if (fd < 0) return this.fail(`create session '${name}'`, fd);
    this.st.outgoing.push({ name, fd, files: [] });
    this.ctx.out(`created session '${name}'\n`);
    return { status: 0, catalogChanged: true, changed: true };
  }

  preserve(name: string, token: bigint, fill: { data?: Uint8Array; size?: number; path?: string }): Outcome {
    const what = `preserve token ${tokenText(token)} in session '${name}'`;
    const s = this.outgoing(name);
    // An incoming session takes no new files: the kho-v1..v3 kernels (no direction checks,
    // luo_session.c of the FDT era) would accept them and drop them at the next kexec.
    if (s === undefined && this.incoming(name) !== undefined)
      return this.failText(`${what}: an incoming session (preserve into a session created in this kernel)`);
    if (s === undefined || s.fd === null) return this.failText(`${what}: no such session held by luoctl`);
    let fd: number;
    if (fill.path !== undefined) {
      fd = this.p.open(fill.path, O_RDWR);
      if (fd < 0) return this.fail(fill.path, fd);
    } else {
      fd = this.p.memfdCreate(`luoctl:${name}:${tokenText(token)}`, MFD_CLOEXEC);
      if (fd < 0) return this.fail('memfd_create', fd);
      const r =
        fill.size !== undefined
          ? this.p.ftruncate(fd, fill.size)
          : writeAll(this.p, fd, fill.data ?? new Uint8Array(0));
      if (r < 0) {
        this.p.close(fd);
        return this.fail(`${what}: filling the memfd`, r);
      }
    }
    // Rewind first: memfd_luo hands the file position over too.
    const size = Math.max(0, this.p.lseek(fd, 0, SEEK_END));
    this.p.lseek(fd, 0, SEEK_SET);
    const r = luoSessionPreserveFd(this.p, s.fd, fd, token);
    if (r < 0) {
      this.p.close(fd);
      return this.fail(what, r);
    }
    s.files.push({ token: tokenText(token), size, fd, retrieved: false });
    this.ctx.out(`preserved token ${tokenText(token)} in session '${name}' (${size} bytes)\n`);
    return { status: 0, catalogChanged: true, changed: true };
  }

  close(name: string): Outcome {
    const s = this.outgoing(name);
    if (s === undefined || s.fd === null)
      return this.failText(`close session '${name}': no such outgoing session`);
    for (const f of s.files) if (f.fd !== null) this.p.close(f.fd);
    this.p.close(s.fd);
    this.st.outgoing = this.st.outgoing.filter((x) => x !== s);
    this.ctx.out(
      `closed session '${name}' (${s.files.length} file${s.files.length === 1 ? '' : 's'} unpreserved)\n`,
    );
    return { status: 0, catalogChanged: true, changed: true };
  }

  retrieve(name: string): Outcome {
    const long = this.tooLong(`retrieve session '${name}'`, name);
    if (long !== null) return long;
    const dev = luoOpenDevice(this.p);
    if (dev < 0) return this.fail('/dev/liveupdate', dev);
    const fd = luoRetrieveSession(this.p, dev, name);
    this.p.close(dev);
    if (fd < 0) return this.fail(`retrieve session '${name}'`, fd);
    let s = this.incoming(name);
    if (s === undefined) {
      s = { name, fd, files: [], state: 'retrieved' };
      this.st.incoming.push(s);
    } else {
      s.fd = fd;
      s.state = 'retrieved';
    }
    const n = s.files.length;
    this.ctx.out(
      `retrieved session '${name}'${n > 0 ? ` (${n} file${n === 1 ? '' : 's'}: ${s.files.map((f) => f.token).join(' ')})` : ''}\n`,
    );
    return { status: 0, catalogChanged: false, changed: true };
  }

  read(name: string, token: bigint): Outcome {
    const what = `read token ${tokenText(token)} of session '${name}'`;
    const out = this.outgoing(name);
    let bytes: Uint8Array | number;
    let changed = false;
    if (out !== undefined) {
      const f = out.files.find((x) => x.token === tokenText(token));
      if (f === undefined || f.fd === null) return this.fail(what, -ERRNO.ENOENT);
      bytes = readWhole(this.p, f.fd);
    } else {
      const s = this.incoming(name);
      if (s === undefined || s.state === 'available')
        return this.failText(`${what}: session not retrieved (luoctl retrieve ${name})`);
      if (s.fd === null) return this.failText(`${what}: session already finished`);
      const fd = luoSessionRetrieveFd(this.p, s.fd, token);
      if (fd < 0) return this.fail(what, fd);
      bytes = readWhole(this.p, fd);
      this.p.close(fd);
      if (typeof bytes !== 'number') {
        const size = bytes.length;
        const f = s.files.find((x) => x.token === tokenText(token));
        if (f === undefined) s.files.push({ token: tokenText(token), size, fd: null, retrieved: true });
        else {
          f.retrieved = true;
          f.size = size;
        }
        changed = true;
      }
    }
    if (typeof bytes === 'number') return this.fail(what, bytes);
    const w = writeAll(this.p, 1, bytes);
    if (w < 0) return this.fail('write', w);
    return { status: 0, catalogChanged: false, changed };
  }

  finish(name: string): Outcome {
    const s = this.incoming(name);
    const out = this.outgoing(name);
    // Never FINISH an outgoing session: kho-v4 refuses it (EINVAL), but the FDT-era kernels
    // run the handlers' finish and drop its files.
    if (s === undefined && out !== undefined)
      return this.failText(
        `finish session '${name}': an outgoing session (finish is for sessions retrieved after kexec)`,
      );
    if (s === undefined) return this.failText(`finish session '${name}': no such incoming session`);
    if (s.state === 'available')
      return this.failText(`finish session '${name}': session not retrieved (luoctl retrieve ${name})`);
    if (s.fd === null) return this.failText(`finish session '${name}': session already finished`);
    const r = luoSessionFinish(this.p, s.fd);
    if (r < 0) return this.fail(`finish session '${name}'`, r);
    this.p.close(s.fd);
    s.fd = null;
    s.state = 'finished';
    const unread = s.files.filter((f) => !f.retrieved).length;
    this.ctx.out(
      `finished session '${name}'${unread > 0 ? ` (${unread} unread file${unread === 1 ? '' : 's'} discarded)` : ''}\n`,
    );
    return { status: 0, catalogChanged: false, changed: true };
  }

  list(json: boolean): Outcome {
    const st = this.st;
    if (json) {
      const files = (s: SessionRec): object[] =>
        s.files.map((f) => ({
          token: f.token,
          size: f.size,
          ...(s.state === undefined ? {} : { retrieved: f.retrieved }),
        }));
      this.ctx.out(
        `${JSON.stringify(
          {
            holder: st.holder,
            outgoing: st.outgoing.map((s) => ({ name: s.name, files: files(s) })),
            incoming: st.incoming.map((s) => ({ name: s.name, state: s.state, files: files(s) })),
          },
          null,
          2,
        )}\n`,
      );
      return OK_UNCHANGED;
    }
    const lines: string[] = [];
    const fileLines = (s: SessionRec, incoming: boolean): void => {
      for (const f of s.files) {
        lines.push(
          `    token ${f.token}  ${f.size} bytes${incoming ? (f.retrieved ? '  read' : '  not read') : ''}`,
        );
      }
    };
    lines.push(
      st.outgoing.length === 0 ? 'outgoing: none' : `outgoing (held by luoctl pid ${st.holder ?? '-'}):`,
    );
    for (const s of st.outgoing) {
      lines.push(`  session ${s.name}  ${s.files.length} file${s.files.length === 1 ? '' : 's'}`);
      fileLines(s, false);
    }
    lines.push(st.incoming.length === 0 ? 'incoming: none' : 'incoming (from the previous kernel):');
    for (const s of st.incoming) {
      lines.push(`  session ${s.name}  ${s.state ?? 'available'}`);
      fileLines(s, true);
    }
    this.ctx.out(`${lines.join('\n')}\n`);
    return OK_UNCHANGED;
  }
}

function run(ctx: ProgramContext, args: string[]): number {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === 'help' || verb === '--help' || verb === '-h') {
    (verb === undefined ? ctx.err : ctx.out)(LUOCTL_USAGE);
    return verb === undefined ? 2 : 0;
  }
  const name = (): string => {
    const n = rest[0];
    if (n === undefined || n === '') throw new UsageError('missing session NAME');
    return n;
  };
  const noMore = (n: number): void => {
    if (rest.length > n) throw new UsageError(`unexpected argument '${rest[n]}'`);
  };
  // Parse everything before touching the kernel.
  let action: (l: Luoctl) => Outcome;
  switch (verb) {
    case 'create':
    case 'close':
    case 'retrieve':
    case 'finish': {
      const n = name();
      noMore(1);
      action = (l) => l[verb](n);
      break;
    }
    case 'preserve': {
      const n = name();
      const token = parseToken(rest[1]);
      const fill: { data?: Uint8Array; size?: number; path?: string } = {};
      for (let i = 2; i < rest.length; i++) {
        const opt = rest[i]!;
        const val = rest[i + 1];
        if (!PRESERVE_OPTIONS.includes(opt)) throw new UsageError(`unknown option '${opt}'`);
        if (val === undefined) throw new UsageError(`option '${opt}' needs a value`);
        if (Object.keys(fill).length > 0) throw new UsageError('give one of --data, --size, --path');
        if (opt === '--data') fill.data = new TextEncoder().encode(val);
        else if (opt === '--size') fill.size = parseSize(val);
        else fill.path = val;
        i++;
      }
      if (Object.keys(fill).length === 0) {
        const input = readRest(ctx.proc, 0);
        if (typeof input === 'number') {
          ctx.err(`luoctl: stdin: ${errText(input)}\n`);
          return 1;
        }
        fill.data = input;
      }
      action = (l) => l.preserve(n, token, fill);
      break;
    }
    case 'read': {
      const n = name();
      const token = parseToken(rest[1]);
      noMore(2);
      action = (l) => l.read(n, token);
      break;
    }
    case 'list': {
      if (rest.length > 1 || (rest.length === 1 && !LIST_OPTIONS.includes(rest[0]!)))
        throw new UsageError(`unexpected argument '${rest[0]}'`);
      const json = rest[0] === '--json';
      action = (l) => l.list(json);
      break;
    }
    default:
      throw new UsageError(`unknown command '${verb}'`);
  }
  const st = loadState(ctx.proc);
  const outcome = action(new Luoctl(ctx, st));
  if (outcome.changed || st.warnings.length > 0 || st.holder === null)
    commitState(ctx.proc, st, outcome.catalogChanged);
  else releaseCopies(ctx.proc, st);
  for (const w of st.warnings) ctx.err(`luoctl: ${w}\n`);
  return outcome.status;
}

/** Close this run's copies of the holder's descriptors (nothing changed). */
function releaseCopies(p: Process, st: LuoctlState): void {
  if (st.catalogFd !== null) p.close(st.catalogFd);
  for (const s of [...st.outgoing, ...st.incoming]) {
    if (s.fd !== null) p.close(s.fd);
    for (const f of s.files) if (f.fd !== null) p.close(f.fd);
  }
}

/** The program. */
export function luoctlMain(ctx: ProgramContext): number {
  try {
    return run(ctx, ctx.argv.slice(1));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    ctx.err(`luoctl: ${e.message}\nTry 'luoctl help'.\n`);
    return 2;
  }
}
