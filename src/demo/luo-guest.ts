/**
 * The demo's LUO part: a "guest" whose state lives in memfds of a LUO session, `guest-vm`, as a
 * VMM keeps guest RAM. Each kernel runs `luoctl` (the machine's program, docs/luo.md) as a
 * person would in `kho shell`: the successor retrieves the session, reads every memfd back and
 * finishes it; then every kernel preserves a new generation of guest state for the next one.
 *
 * The watcher keeps only the checksums of what was preserved; the verdict compares them with
 * the bytes luoctl read back from the successor's memory.
 */
import type { Kernel } from '../kernel/kernel.ts';
import { csumBytes } from '../kernel/modules/folio-data.ts';
import { LUOCTL_PATH } from '../user/luoctl/luoctl.ts';
import { runProgramSync } from '../user/programs.ts';
import '../user/rootfs.ts';

/** The session the demo's guest lives in. */
export const GUEST_SESSION = 'guest-vm';
/** Size of the guest RAM memfd (token 0x2). */
export const GUEST_RAM = 2 * 1024 * 1024;

/** One luoctl command as the demo shows it. */
export interface LuoStep {
  /** The command line, as typed in `kho shell`. */
  cmd: string;
  /** What it printed (binary output is summarised). */
  out: string;
  status: number;
}

/** A preserved memfd as the watcher writes it down. */
export interface GuestFile {
  token: string;
  size: number;
  csum: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Run `luoctl ARGS` on `k` with `stdin`; stdout bytes and the shown step. */
function luoctl(
  k: Kernel,
  args: string[],
  show: string,
  stdin?: Uint8Array,
): { step: LuoStep; bytes: Uint8Array } {
  const out: Uint8Array[] = [];
  let err = '';
  const r = runProgramSync(k, [LUOCTL_PATH, ...args], {
    stdout: (t) => out.push(typeof t === 'string' ? enc.encode(t) : t),
    stderr: (t) => (err += typeof t === 'string' ? t : dec.decode(t)),
    ...(stdin === undefined ? {} : { stdin }),
  });
  const bytes = Buffer.concat(out);
  return {
    step: { cmd: `luoctl ${show}`, out: `${dec.decode(bytes)}${err}`, status: r?.status ?? 127 },
    bytes: new Uint8Array(bytes),
  };
}

/** Guest RAM of generation `gen`: seeded bytes, different in every generation. */
function guestRam(seed: number, gen: number): Uint8Array {
  const b = new Uint8Array(GUEST_RAM);
  let x = (seed * 0x9e3779b1 + gen * 0x85ebca6b + 1) >>> 0;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
    b[i + 1] = (x >>> 8) & 0xff;
    b[i + 2] = (x >>> 16) & 0xff;
    b[i + 3] = x >>> 24;
  }
  return b;
}

/**
 * Preserve this generation's guest: session `guest-vm` with a text memfd (token 0x1) and the
 * guest RAM (token 0x2, from stdin, as `luoctl preserve guest-vm 2 < guest-ram.bin`).
 */
export function preserveGuest(
  k: Kernel,
  seed: number,
  gen: number,
): { steps: LuoStep[]; files: GuestFile[] } {
  const note = `guest of generation ${gen} (${k.release})`;
  const ram = guestRam(seed, gen);
  const steps = [
    luoctl(k, ['create', GUEST_SESSION], `create ${GUEST_SESSION}`).step,
    luoctl(
      k,
      ['preserve', GUEST_SESSION, '1', '--data', note],
      `preserve ${GUEST_SESSION} 1 --data "${note}"`,
    ).step,
    luoctl(k, ['preserve', GUEST_SESSION, '2'], `preserve ${GUEST_SESSION} 2 < guest-ram.bin`, ram).step,
    luoctl(k, ['list'], 'list').step,
  ];
  return {
    steps,
    files: [
      { token: '0x1', size: enc.encode(note).length, csum: csumBytes(enc.encode(note)) },
      { token: '0x2', size: ram.length, csum: csumBytes(ram) },
    ],
  };
}

/** What the successor found of its predecessor's guest. */
export interface GuestCheck {
  steps: LuoStep[];
  ok: boolean;
  detail: string;
}

/**
 * In the successor: list, retrieve `guest-vm`, read every memfd back and compare with the
 * watcher's notes, finish the session.
 */
export function retrieveGuest(k: Kernel, expect: readonly GuestFile[]): GuestCheck {
  const steps: LuoStep[] = [luoctl(k, ['list'], 'list').step];
  const ret = luoctl(k, ['retrieve', GUEST_SESSION], `retrieve ${GUEST_SESSION}`).step;
  steps.push(ret);
  const same: string[] = [];
  const bad: string[] = [];
  for (const f of expect) {
    const r = luoctl(
      k,
      ['read', GUEST_SESSION, f.token],
      `read ${GUEST_SESSION} ${f.token} > token-${f.token}.bin`,
    );
    const got = r.step.status === 0 ? r.bytes : null;
    const ok = got !== null && got.length === f.size && csumBytes(got) === f.csum;
    r.step.out =
      got === null
        ? r.step.out
        : `(${got.length} bytes read back, checksum 0x${csumBytes(got).toString(16).padStart(8, '0')}; preserved 0x${f.csum.toString(16).padStart(8, '0')})\n`;
    steps.push(r.step);
    (ok ? same : bad).push(`token ${f.token} ${f.size} B`);
  }
  const fin = luoctl(k, ['finish', GUEST_SESSION], `finish ${GUEST_SESSION}`).step;
  steps.push(fin);
  const ok = ret.status === 0 && fin.status === 0 && bad.length === 0;
  const detail = !ok
    ? `${ret.status !== 0 ? 'not retrieved; ' : ''}${bad.length > 0 ? `differ: ${bad.join(', ')}; ` : ''}${fin.status !== 0 ? 'finish failed' : ''}`.replace(
        /; $/,
        '',
      )
    : `session ${GUEST_SESSION} retrieved, ${same.length} memfds with identical bytes (${same.join(', ')}), finished`;
  return { steps, ok, detail };
}
