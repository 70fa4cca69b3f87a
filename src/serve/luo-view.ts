/**
 * The LUO view (`/api/luo`): sessions, files, tokens and memfd sizes, outgoing and incoming.
 *
 * Machine mode reads the running kernel's LUO objects (kernel/liveupdate/luo_session.c: the
 * outgoing and incoming session lists) and, for each session, the processes whose descriptor
 * tables hold it (what `ls -l /proc/PID/fd` shows). Until the first open of /dev/liveupdate the
 * kernel has not deserialized its incoming sessions (luo_session_deserialize()); the view then
 * decodes them from memory as `kho inspect` does. `--inspect` mode shows the sessions of the
 * decoded hand-over. Memfd sizes come from the open file (`i_size`) or, for a file not
 * retrieved yet, from its `memfd_luo_ser` in memory.
 */
import { decodeMemfdLuoSer, memfdLuoSerSize, memfdLuoVersion } from '../abi/memfd-luo.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { LuoFile } from '../luo/luo-file.ts';
import type { LuoSession } from '../luo/luo-session.ts';
import type { LuoReport } from '../inspect/luo.ts';
import { userspace } from '../user/userspace.ts';
import type { LuoFileJson, LuoJson, LuoSessionJson } from './api-types.ts';
import { quietly, type Snapshot } from './snapshot.ts';

function hex(x: bigint | number): string {
  return `0x${x.toString(16)}`;
}

/** The pids and names of the processes holding a descriptor of `s`. */
function holders(k: Kernel, s: LuoSession): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const p of userspace(k).processes()) {
    if (p.state !== 'running') continue;
    if (p.files.entries().some((e) => e.file.privateData === s)) out.push({ pid: p.pid, comm: p.comm });
  }
  return out;
}

/** A memfd's size: the open file's, or the one serialized for the successor. */
function fileSize(k: Kernel, f: LuoFile): number | null {
  if (f.file !== null && f.file.inode.shmem !== null) return f.file.inode.size;
  const version = memfdLuoVersion(f.fh.compatible);
  if (version === null || f.serializedData === 0n) return null;
  const phys = Number(f.serializedData);
  const bytes = quietly(k.machine.mem, () => k.machine.mem.read(phys, memfdLuoSerSize(version)));
  const d = decodeMemfdLuoSer(bytes, version);
  return d.ok ? d.value.size : null;
}

function fileJson(k: Kernel, f: LuoFile, incoming: boolean): LuoFileJson {
  return {
    token: hex(f.token),
    compatible: f.fh.compatible,
    size: fileSize(k, f),
    state: !incoming
      ? 'preserved'
      : f.retrieveStatus === 1
        ? 'retrieved'
        : f.retrieveStatus < 0
          ? 'failed'
          : 'not retrieved',
  };
}

function sessionJson(k: Kernel, s: LuoSession, incoming: boolean): LuoSessionJson {
  return {
    name: s.name,
    state: !incoming ? 'open' : s.retrieved ? 'retrieved' : 'available',
    holders: holders(k, s),
    files: s.fileSet.files.map((f) => fileJson(k, f, incoming)),
  };
}

/** Sessions of a decoded hand-over (inspect, or the incoming state not deserialized yet). */
function reportSessions(r: LuoReport, state: string): LuoSessionJson[] {
  return r.sessions.map((s) => ({
    name: s.name,
    state,
    holders: [],
    files: s.files.map((f) => ({
      token: hex(f.token),
      compatible: f.compatible,
      size: f.memfd?.size ?? null,
      state: 'handed over',
    })),
  }));
}

/**
 * The view. `incomingReport` decodes the previous kernel's hand-over on demand (machine mode,
 * before the kernel deserialized it).
 */
export function luoView(snap: Snapshot, version: number, incomingReport: () => LuoReport | null): LuoJson {
  const k = snap.kernel;
  if (snap.mode === 'inspect' || k === null) {
    const r = snap.report?.luo ?? null;
    return {
      version,
      available: r !== null,
      mode: snap.mode,
      format: r?.format ?? null,
      liveupdateNumber: r?.liveupdateNumber === null || r === null ? null : Number(r.liveupdateNumber),
      outgoing: [],
      incoming: r === null ? [] : reportSessions(r, 'handed over'),
      incomingDecoded: r !== null,
    };
  }
  const luo = k.luo;
  const sessions = luo.sessions;
  const enabled = k.fs.device('liveupdate') !== undefined;
  let incoming: LuoSessionJson[];
  let decoded = false;
  let number: number | null = luo.incomingNumber > 0n ? Number(luo.incomingNumber) : null;
  if (sessions.isDeserialized || !sessions.incoming.active) {
    incoming = sessions.incoming.list.map((s) => sessionJson(k, s, true));
  } else {
    const r = incomingReport();
    incoming = r === null ? [] : reportSessions(r, 'handed over');
    decoded = true;
    if (number === null && r?.liveupdateNumber != null) number = Number(r.liveupdateNumber);
  }
  return {
    version,
    available: enabled || incoming.length > 0,
    mode: 'machine',
    format: luo.format.abi,
    liveupdateNumber: number,
    outgoing: sessions.outgoing.list.map((s) => sessionJson(k, s, false)),
    incoming,
    incomingDecoded: decoded,
  };
}
