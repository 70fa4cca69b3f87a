/**
 * luoctl's bookkeeping and its holder process.
 *
 * The kernel offers no call that lists sessions or tokens, and an outgoing session ends when
 * its last descriptor closes (kernel/liveupdate/luo_session.c: luo_session_release()), so a
 * command-line tool needs two things the kernel does not give it:
 *
 * - A **holder**: a forked child (`luoctl hold`, setsid, no terminal) that keeps every session
 *   descriptor and preserved memfd luoctl manages, as the selftests' daemonize_and_wait() child
 *   does. Each luoctl run takes copies of the holder's descriptors with pidfd_getfd(2), does its
 *   work, then forks a new holder that inherits them and ends the old one.
 * - A **record**: `/dev/shm/luoctl.state` (tmpfs: this kernel only) holds the holder's pid and,
 *   per session, the holder's descriptor numbers, tokens and sizes. For the next kernel, the
 *   outgoing part is also preserved as JSON in a memfd (token 0) of luoctl's own session
 *   `luoctl`, the way systemd keeps its fd-store mapping at token 0 of its LUO session
 *   (src/shared/luo-util.c: luo_preserve_fd_stores()). luoctl's first run in a kernel retrieves
 *   that session, reads the list of incoming sessions from it and finishes it.
 */
import {
  MFD_CLOEXEC,
  O_CREAT,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
  SEEK_SET,
  SIGTERM,
} from '../../abi/uapi-fcntl.ts';
import { ERRNO, strerror } from '../../util/errno.ts';
import { readWhole, writeAll } from '../fd-io.ts';
import {
  luoCreateSession,
  luoOpenDevice,
  luoRetrieveSession,
  luoSessionFinish,
  luoSessionPreserveFd,
  luoSessionRetrieveFd,
} from '../libliveupdate.ts';
import type { Process } from '../process.ts';

/** luoctl's own session, which carries its catalog to the next kernel. */
export const CATALOG_SESSION = 'luoctl';
/** The catalog memfd's token in that session. */
export const CATALOG_TOKEN = 0n;
/** The record of this kernel's luoctl state. */
export const STATE_PATH = '/dev/shm/luoctl.state';

/** A file luoctl preserved or found. */
export interface FileRec {
  /** The token, as `0x…`. */
  token: string;
  /** Bytes in the memfd when it was preserved (or read back). */
  size: number;
  /** Outgoing: the holder's descriptor of the memfd. */
  fd: number | null;
  /** Incoming: read back at least once (RETRIEVE_FD done). */
  retrieved: boolean;
}

/** Where an incoming session is in its life (docs/luo.md). */
export type IncomingState = 'available' | 'retrieved' | 'finished';

/** A session luoctl manages. */
export interface SessionRec {
  name: string;
  /** The holder's descriptor of the session, or null (incoming, not retrieved or finished). */
  fd: number | null;
  files: FileRec[];
  /** Incoming sessions only. */
  state?: IncomingState;
}

/** The whole record. */
export interface LuoctlState {
  /** The holder's pid, or null when nothing is held. */
  holder: number | null;
  /** The holder's descriptor of the catalog session, or null. */
  catalogFd: number | null;
  outgoing: SessionRec[];
  incoming: SessionRec[];
  /** Problems met while loading (a lost holder, an unreadable catalog), for the user. */
  warnings: string[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `0x…` spelling of a token. */
export function tokenText(t: bigint): string {
  return `0x${t.toString(16)}`;
}

function isFileList(v: unknown): v is { token: string; size: number }[] {
  return (
    Array.isArray(v) &&
    v.every(
      (f: unknown) =>
        typeof f === 'object' &&
        f !== null &&
        typeof (f as { token?: unknown }).token === 'string' &&
        /^0x[0-9a-f]{1,16}$/.test((f as { token: string }).token) &&
        Number.isSafeInteger((f as { size?: unknown }).size),
    )
  );
}

/** The sessions listed in a catalog's bytes, or null when they are not a luoctl catalog. */
export function parseCatalog(
  bytes: Uint8Array,
): { name: string; files: { token: string; size: number }[] }[] | null {
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(bytes));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const sessions = (v as { sessions?: unknown }).sessions;
  if ((v as { luoctl?: unknown }).luoctl !== 1 || !Array.isArray(sessions)) return null;
  const out: { name: string; files: { token: string; size: number }[] }[] = [];
  for (const s of sessions as unknown[]) {
    if (typeof s !== 'object' || s === null) return null;
    const { name, files } = s as { name?: unknown; files?: unknown };
    if (typeof name !== 'string' || !isFileList(files)) return null;
    out.push({ name, files: files.map((f) => ({ token: f.token, size: f.size })) });
  }
  return out;
}

/** The catalog's bytes for the outgoing sessions. */
export function catalogBytes(outgoing: readonly SessionRec[]): Uint8Array {
  const sessions = outgoing.map((s) => ({
    name: s.name,
    files: s.files.map((f) => ({ token: f.token, size: f.size })),
  }));
  return enc.encode(`${JSON.stringify({ luoctl: 1, sessions })}\n`);
}

function readStateFile(p: Process): string | null {
  const fd = p.open(STATE_PATH, O_RDONLY);
  if (fd < 0) return null;
  const b = readWhole(p, fd);
  p.close(fd);
  return typeof b === 'number' ? null : dec.decode(b);
}

/**
 * Take the incoming catalog out of LUO: retrieve session `luoctl`, read token 0, finish the
 * session. The incoming sessions it lists, or [] (cold boot, no catalog); warnings on the way.
 */
function importCatalog(p: Process, warnings: string[]): SessionRec[] {
  const dev = luoOpenDevice(p);
  if (dev < 0) {
    if (dev !== -ERRNO.ENOENT)
      warnings.push(`cannot look for incoming sessions: /dev/liveupdate: ${errText(dev)}`);
    return [];
  }
  try {
    const sfd = luoRetrieveSession(p, dev, CATALOG_SESSION);
    if (sfd < 0) {
      if (sfd !== -ERRNO.ENOENT)
        warnings.push(`cannot retrieve session '${CATALOG_SESSION}': ${errText(sfd)}`);
      return [];
    }
    let list: ReturnType<typeof parseCatalog> = null;
    const mfd = luoSessionRetrieveFd(p, sfd, CATALOG_TOKEN);
    if (mfd >= 0) {
      const b = readWhole(p, mfd);
      p.close(mfd);
      if (typeof b !== 'number') list = parseCatalog(b);
    }
    if (list === null)
      warnings.push(`session '${CATALOG_SESSION}' holds no luoctl catalog; incoming sessions unknown`);
    luoSessionFinish(p, sfd);
    p.close(sfd);
    return (list ?? []).map((s) => ({
      name: s.name,
      fd: null,
      state: 'available' as const,
      files: s.files.map((f) => ({ token: f.token, size: f.size, fd: null, retrieved: false })),
    }));
  } finally {
    p.close(dev);
  }
}

/** The C library's text for a -errno (`strerror(-r)`). */
export function errText(r: number): string {
  return strerror(-r);
}

const isFd = (v: unknown): v is number | null => v === null || (Number.isInteger(v) && (v as number) >= 0);

function isSessionRec(v: unknown): v is SessionRec {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<SessionRec>;
  return (
    typeof s.name === 'string' &&
    isFd(s.fd) &&
    (s.state === undefined || ['available', 'retrieved', 'finished'].includes(s.state)) &&
    Array.isArray(s.files) &&
    s.files.every(
      (f: Partial<FileRec>) =>
        typeof f === 'object' &&
        typeof f.token === 'string' &&
        Number.isSafeInteger(f.size) &&
        isFd(f.fd) &&
        typeof f.retrieved === 'boolean',
    )
  );
}

/** The record in `text`, or null when it is not one luoctl wrote. */
export function parseRecord(text: string): Omit<LuoctlState, 'warnings'> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Partial<LuoctlState>;
  if (!isFd(r.holder) || !isFd(r.catalogFd)) return null;
  if (!Array.isArray(r.outgoing) || !r.outgoing.every(isSessionRec)) return null;
  if (!Array.isArray(r.incoming) || !r.incoming.every(isSessionRec)) return null;
  return { holder: r.holder, catalogFd: r.catalogFd, outgoing: r.outgoing, incoming: r.incoming };
}

/**
 * Load the record and take copies of the holder's descriptors into `p`: every `fd` in the
 * returned state is then one of `p`'s descriptors. The first run in a kernel imports the
 * incoming catalog.
 */
export function loadState(p: Process): LuoctlState {
  const warnings: string[] = [];
  const text = readStateFile(p);
  if (text === null) {
    return { holder: null, catalogFd: null, outgoing: [], incoming: importCatalog(p, warnings), warnings };
  }
  const saved = parseRecord(text);
  if (saved === null) {
    warnings.push(`${STATE_PATH} is not luoctl's record; starting afresh`);
    return { holder: null, catalogFd: null, outgoing: [], incoming: [], warnings };
  }
  const st: LuoctlState = { ...saved, warnings };
  if (st.holder === null) return st;
  const pidfd = p.pidfdOpen(st.holder);
  const take = (fd: number | null): number | null => {
    if (fd === null || pidfd < 0) return null;
    const mine = p.pidfdGetfd(pidfd, fd);
    return mine < 0 ? null : mine;
  };
  if (pidfd < 0) {
    // The holder is gone (ended from outside): what it held went with it.
    warnings.push(`holder process ${st.holder} is gone; the sessions it held were closed`);
    st.outgoing = [];
    for (const s of st.incoming) if (s.fd !== null) s.state = 'finished';
  }
  st.catalogFd = take(st.catalogFd);
  for (const s of [...st.outgoing, ...st.incoming]) {
    s.fd = take(s.fd);
    for (const f of s.files) f.fd = take(f.fd);
  }
  if (pidfd >= 0) p.close(pidfd);
  return st;
}

/**
 * Make the work of this run last: end the old holder, rewrite the catalog session when the
 * outgoing sessions changed, fork a new holder that inherits every descriptor in `st`, and
 * write the record. Returns the new holder's pid (or null when nothing is held).
 */
export function commitState(p: Process, st: LuoctlState, catalogChanged: boolean): number | null {
  const oldHolder = st.holder;
  if (oldHolder !== null) p.kill(oldHolder, SIGTERM);
  if (catalogChanged || (st.catalogFd === null && st.outgoing.length > 0)) {
    if (st.catalogFd !== null) p.close(st.catalogFd);
    st.catalogFd = null;
    if (st.outgoing.length > 0) st.catalogFd = writeCatalog(p, st);
  }
  const fds = heldFds(st);
  let holder: number | null = null;
  if (fds.length > 0) {
    const child = p.fork();
    if (typeof child === 'number') {
      st.warnings.push(`cannot fork a holder: ${errText(child)}; the sessions end with this command`);
    } else {
      child.setsid();
      // Daemonize: no terminal; keep only what luoctl holds.
      const keep = new Set(fds);
      for (const e of child.files.entries()) if (!keep.has(e.fd)) child.close(e.fd);
      child.argv = ['luoctl', 'hold'];
      holder = child.pid;
    }
  }
  st.holder = holder;
  saveStateFile(p, st);
  for (const fd of fds) p.close(fd);
  return holder;
}

function heldFds(st: LuoctlState): number[] {
  const fds: number[] = [];
  if (st.catalogFd !== null) fds.push(st.catalogFd);
  for (const s of [...st.outgoing, ...st.incoming]) {
    if (s.fd !== null) fds.push(s.fd);
    for (const f of s.files) if (f.fd !== null) fds.push(f.fd);
  }
  return fds;
}

function writeCatalog(p: Process, st: LuoctlState): number | null {
  const dev = luoOpenDevice(p);
  if (dev < 0) {
    st.warnings.push(`catalog not saved: /dev/liveupdate: ${errText(dev)}`);
    return null;
  }
  const sfd = luoCreateSession(p, dev, CATALOG_SESSION);
  p.close(dev);
  if (sfd < 0) {
    st.warnings.push(`catalog not saved: session '${CATALOG_SESSION}': ${errText(sfd)}`);
    return null;
  }
  const mfd = p.memfdCreate('luoctl-catalog', MFD_CLOEXEC);
  const w = mfd < 0 ? mfd : writeAll(p, mfd, catalogBytes(st.outgoing));
  const r = w < 0 ? w : p.lseek(mfd, 0, SEEK_SET);
  const pr = r < 0 ? r : luoSessionPreserveFd(p, sfd, mfd, CATALOG_TOKEN);
  if (mfd >= 0) p.close(mfd);
  if (pr < 0) {
    st.warnings.push(`catalog not saved: ${errText(pr)}`);
    p.close(sfd);
    return null;
  }
  return sfd;
}

function saveStateFile(p: Process, st: LuoctlState): void {
  const rest = { holder: st.holder, catalogFd: st.catalogFd, outgoing: st.outgoing, incoming: st.incoming };
  const fd = p.open(STATE_PATH, O_WRONLY | O_CREAT | O_TRUNC, 0o600);
  if (fd < 0) {
    st.warnings.push(`${STATE_PATH}: ${errText(fd)}`);
    return;
  }
  writeAll(p, fd, enc.encode(JSON.stringify(rest)));
  p.close(fd);
}
