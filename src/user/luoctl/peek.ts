/**
 * The sessions and tokens each luoctl verb would accept right now, found without running
 * luoctl (for the shell's Tab completion): no process, no open of /dev/liveupdate (whose first
 * open deserializes the incoming sessions), nothing written. It reads what luoctl's own run
 * would read: its record in /dev/shm (src/user/luoctl/state.ts), whether the holder still
 * runs, and the kernel's incoming sessions (kernel/liveupdate/luo_session.c).
 */
import type { Kernel } from '../../kernel/kernel.ts';
import { existingUserspace } from '../userspace.ts';
import { CATALOG_SESSION, parseRecord, STATE_PATH, tokenText, type SessionRec } from './state.ts';

/** A session name with the tokens `luoctl read NAME TOKEN` could read. */
export interface PeekSession {
  name: string;
  tokens: string[];
}

/** What the session-taking verbs accept. */
export interface LuoctlPeek {
  /** Outgoing sessions luoctl holds: `preserve`, `close`, `read`. */
  outgoing: PeekSession[];
  /** Incoming sessions luoctl retrieved and has not finished: `read`, `finish`. */
  retrieved: PeekSession[];
  /** Incoming sessions nobody retrieved yet: `retrieve`. */
  available: string[];
}

const SHM_PREFIX = '/dev/shm/';

/** luoctl's record of this kernel as its next run would load it, or null when there is none. */
function record(k: Kernel): ReturnType<typeof parseRecord> {
  const inode = k.fs.shm.get(STATE_PATH.slice(SHM_PREFIX.length));
  const pages = inode?.shmem ?? null;
  if (pages === null) return null;
  const bytes = k.machine.mem.quietly(() => pages.read(0, pages.size));
  const saved = parseRecord(new TextDecoder().decode(bytes));
  if (saved === null || saved.holder === null) return saved;
  // A holder that is gone took its descriptors with it (loadState()'s pidfd_open check).
  if (existingUserspace(k)?.process(saved.holder)?.state !== 'running')
    return { ...saved, outgoing: [], incoming: [] };
  return saved;
}

/**
 * What luoctl's verbs would accept now, or null when LUO is off (no /dev/liveupdate: every
 * verb fails).
 */
export function luoctlPeek(k: Kernel): LuoctlPeek | null {
  if (k.fs.device('liveupdate') === undefined) return null;
  const rec = record(k);
  const held = (s: SessionRec): boolean => s.fd !== null;
  const outgoing = (rec?.outgoing ?? []).filter(held).map((s) => ({
    name: s.name,
    tokens: s.files.filter((f) => f.fd !== null).map((f) => f.token),
  }));
  const kernelIncoming = k.luo.sessions.incoming.list;
  const retrieved = (rec?.incoming ?? [])
    .filter((s) => held(s) && s.state === 'retrieved')
    .map((s) => {
      // RETRIEVE_FD hands out every file of the session but one whose retrieval failed.
      const ks = kernelIncoming.find((x) => x.name === s.name);
      const tokens =
        ks === undefined
          ? s.files.map((f) => f.token)
          : ks.fileSet.files.filter((f) => f.retrieveStatus >= 0).map((f) => tokenText(f.token));
      return { name: s.name, tokens };
    });
  // luoctl's first run in a kernel takes its own session (the catalog) out of the way.
  const available = k.luo.sessions
    .incomingNames()
    .filter((s) => !s.retrieved && s.name !== CATALOG_SESSION)
    .map((s) => s.name);
  return { outgoing, retrieved, available };
}
