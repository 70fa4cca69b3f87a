/**
 * Live Update Orchestrator cycles through the Process uAPI (the struct bytes of
 * include/uapi/linux/liveupdate.h), on a machine with the sanitizer on:
 * - `luo.stress_files`: tools/testing/selftests/liveupdate/luo_stress_files.c: a state session
 *   (`kexec_many_files_state`, token 9999, memfd "2") and `many_files_session` with 500
 *   one-page memfds (token i, `"file-data-<i>"`); a child holds the fds, kexec; stage 2
 *   retrieves every session and fd, checks each memfd's text and finishes the sessions.
 * - `luo.stress_sessions`: luo_stress_sessions.c: 2000 empty sessions `many-test-<i>`, each
 *   retrieved and finished after the kexec.
 * - `luo.memfd_1G`: one 1 GiB memfd (262,144 4 KiB folios) written with a seeded pattern,
 *   preserved, carried across `kexec -e`, retrieved and read back (every byte compared).
 * Each reports the phases' seconds, the cycle's wall and CPU seconds, the 1-minute load average
 * and peak RSS.
 */
import { loadavg } from 'node:os';
import type { BenchEntry, BenchResult } from './harness.ts';
import { round, secondsSince } from './harness.ts';
import {
  encodeFdIoctl,
  encodeFinishIoctl,
  encodeSessionIoctl,
  LIVEUPDATE_IOCTL_CREATE_SESSION,
  LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
  LIVEUPDATE_SESSION_FINISH,
  LIVEUPDATE_SESSION_PRESERVE_FD,
  LIVEUPDATE_SESSION_RETRIEVE_FD,
} from '../src/abi/liveupdate-uapi.ts';
import { MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE, RLIMIT_NOFILE } from '../src/abi/uapi-fcntl.ts';
import { kexecExecute } from '../src/kexec/execute.ts';
import { kexecFileLoad } from '../src/kexec/file-load.ts';
import { mkImage } from '../src/kexec/image.ts';
import type { Kernel } from '../src/kernel/kernel.ts';
import { Machine } from '../src/kernel/machine.ts';
import { profileByName } from '../src/kernel/profile.ts';
import type { Process } from '../src/user/process.ts';
import { userspace } from '../src/user/userspace.ts';

const GiB = 2 ** 30;
const CMD = 'console=ttyS0 kho=on liveupdate=on';
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function cpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function check(what: string, r: number): number {
  if (r < 0) throw new Error(`${what}: ${r}`);
  return r;
}

function proc(k: Kernel, comm: string): Process {
  const u = userspace(k);
  const p = u.spawn(u.init, [comm]);
  if (typeof p === 'number') throw new Error(`spawn: ${p}`);
  return p;
}

function sessionIoctl(p: Process, fd: number, cmd: number, name: string): number {
  const b = encodeSessionIoctl({ name });
  check(name, p.ioctl(fd, cmd, b));
  return new DataView(b.buffer).getInt32(4, true);
}

function preserveFd(p: Process, sfd: number, fd: number, token: number): void {
  check(`preserve ${token}`, p.ioctl(sfd, LIVEUPDATE_SESSION_PRESERVE_FD, encodeFdIoctl({ fd, token })));
}

function retrieveFd(p: Process, sfd: number, token: number): number {
  const b = encodeFdIoctl({ token });
  check(`retrieve ${token}`, p.ioctl(sfd, LIVEUPDATE_SESSION_RETRIEVE_FD, b));
  return new DataView(b.buffer).getInt32(4, true);
}

function finish(p: Process, sfd: number): void {
  check('finish', p.ioctl(sfd, LIVEUPDATE_SESSION_FINISH, encodeFinishIoctl()));
}

/** lu_utils.c `create_and_preserve_memfd`: one page holding `text`+NUL, preserved, closed. */
function preserveTextMemfd(p: Process, sfd: number, token: number, text: string): void {
  const mfd = check('memfd_create', p.memfdCreate('test_mfd', 0));
  check('ftruncate', p.ftruncate(mfd, 4096));
  const m = p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
  if (typeof m === 'number') throw new Error(`mmap: ${m}`);
  m.write(0, utf8(`${text}\0`));
  m.unmap();
  preserveFd(p, sfd, mfd, token);
  p.close(mfd);
}

/** lu_utils.c `restore_and_verify_memfd`. */
function verifyTextMemfd(p: Process, sfd: number, token: number, text: string): void {
  const fd = retrieveFd(p, sfd, token);
  const m = p.mmap(4096, PROT_READ, MAP_SHARED, fd);
  if (typeof m === 'number') throw new Error(`mmap: ${m}`);
  const got = m.read(0, text.length + 1);
  m.unmap();
  p.close(fd);
  if (new TextDecoder().decode(got) !== `${text}\0`) throw new Error(`token ${token}: wrong data`);
}

/** lu_utils.c `luo_ensure_nofile_limit(n)`: RLIMIT_NOFILE of at least n + 32. */
function ensureNofile(p: Process, n: number): void {
  const lim = p.rlimitNofile();
  if (lim.cur >= n + 32) return;
  check('setrlimit', p.setrlimit(RLIMIT_NOFILE, { cur: n + 32, max: Math.max(lim.max, n + 32) }));
}

/** The selftests' `daemonize_and_wait`: a child keeps the fds, the parent exits. */
function holdAndExit(p: Process): void {
  const child = p.fork();
  if (typeof child === 'number') throw new Error(`fork: ${child}`);
  child.setsid();
  p.exit(0);
}

/** `kexec -l -s --reuse-cmdline` then `kexec -e`; the successor. */
function kexec(k: Kernel): { successor: Kernel; jumpS: number; bootS: number } {
  kexecFileLoad(k, { image: mkImage({ profile: k.profile, size: 12 << 20 }), cmdline: k.cmdline.raw });
  const r = kexecExecute(k.machine);
  if (r.report.findings.length !== 0) throw new Error(JSON.stringify(r.report.findings.slice(0, 3)));
  return {
    successor: r.successor,
    jumpS: r.timings.prepare + r.timings.copy + r.timings.sanitize,
    bootS: r.timings.boot,
  };
}

function boot(mem: number): Kernel {
  const m = Machine.create({ mem, nodes: 1, sanitize: true, seed: 0x6c756f });
  return m.coldBoot({ cmdline: CMD, profile: profileByName('kho-v4')! });
}

/** Stage 1 of a kexec selftest: the state session (memfd "2"), then `data(p, luo)`. */
function stage1(k: Kernel, state: string, stateToken: number, data: (p: Process, luo: number) => void): void {
  const p = proc(k, 'stage1');
  const luo = check('open', p.open('/dev/liveupdate', O_RDWR));
  const s = sessionIoctl(p, luo, LIVEUPDATE_IOCTL_CREATE_SESSION, state);
  preserveTextMemfd(p, s, stateToken, '2');
  data(p, luo);
  p.close(luo);
  holdAndExit(p);
}

/** Stage 2: the state session says 2, `data(q, luo)` verifies, then the state session finishes. */
function stage2(k: Kernel, state: string, stateToken: number, data: (q: Process, luo: number) => void): void {
  const q = proc(k, 'stage2');
  const luo = check('open', q.open('/dev/liveupdate', O_RDWR));
  const s = sessionIoctl(q, luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, state);
  verifyTextMemfd(q, s, stateToken, '2');
  data(q, luo);
  finish(q, s);
  q.exit(0);
}

function selftestCycle(
  state: string,
  stateToken: number,
  data1: (p: Process, luo: number) => void,
  data2: (q: Process, luo: number) => void,
  facts: BenchResult,
): BenchResult {
  const k = boot(GiB); // the selftests' VM: qemu -m 1G
  const c0 = cpuS();
  const t0 = process.hrtime.bigint();
  stage1(k, state, stateToken, data1);
  const s1 = secondsSince(t0);
  const j = kexec(k);
  const t2 = process.hrtime.bigint();
  stage2(j.successor, state, stateToken, data2);
  const s2 = secondsSince(t2);
  return {
    ...facts,
    stage1_s: round(s1),
    kexec_jump_s: round(j.jumpS),
    successor_boot_s: round(j.bootS),
    stage2_s: round(s2),
    cycle_s: round(secondsSince(t0)),
    cycle_cpu_s: round(cpuS() - c0),
    load_avg_1m: round(loadavg()[0]!, 2),
  };
}

const FILES = 500;
const SESSIONS = 2000;

function stressFiles(): BenchResult {
  return selftestCycle(
    'kexec_many_files_state',
    9999,
    (p, luo) => {
      ensureNofile(p, FILES);
      const s = sessionIoctl(p, luo, LIVEUPDATE_IOCTL_CREATE_SESSION, 'many_files_session');
      for (let i = 0; i < FILES; i++) preserveTextMemfd(p, s, i, `file-data-${i}`);
    },
    (q, luo) => {
      const s = sessionIoctl(q, luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, 'many_files_session');
      for (let i = 0; i < FILES; i++) verifyTextMemfd(q, s, i, `file-data-${i}`);
      finish(q, s);
      q.close(s);
    },
    { files: FILES },
  );
}

function stressSessions(): BenchResult {
  return selftestCycle(
    'kexec_many_state',
    999,
    (p, luo) => {
      ensureNofile(p, SESSIONS);
      for (let i = 0; i < SESSIONS; i++)
        sessionIoctl(p, luo, LIVEUPDATE_IOCTL_CREATE_SESSION, `many-test-${i}`);
    },
    (q, luo) => {
      ensureNofile(q, SESSIONS);
      for (let i = 0; i < SESSIONS; i++) {
        const s = sessionIoctl(q, luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, `many-test-${i}`);
        finish(q, s);
        q.close(s);
      }
    },
    { sessions: SESSIONS },
  );
}

const CHUNK = 1 << 20;

/** The bench's content of chunk `c` (1 MiB): every 32-bit word is its own index in the file, masked. */
function fillChunk(words: Uint32Array, c: number): void {
  const base = c * words.length;
  for (let i = 0; i < words.length; i++) words[i] = (base + i) ^ 0x5a5a5a5a;
}

/** Words of chunk `c` that differ from {@link fillChunk}'s. */
function badWords(words: Uint32Array, c: number): number {
  const base = c * words.length;
  let bad = 0;
  for (let i = 0; i < words.length; i++) if (words[i] !== ((base + i) ^ 0x5a5a5a5a) >>> 0) bad++;
  return bad;
}

function memfd1G(): BenchResult {
  const k = boot(4 * GiB);
  const p = proc(k, 'vmm');
  const luo = check('open', p.open('/dev/liveupdate', O_RDWR));
  const s = sessionIoctl(p, luo, LIVEUPDATE_IOCTL_CREATE_SESSION, 'guest-ram');
  const mfd = check('memfd_create', p.memfdCreate('guest-ram', 0));
  check('ftruncate', p.ftruncate(mfd, GiB));
  const buf = new Uint8Array(CHUNK);
  const words = new Uint32Array(buf.buffer);
  const tF = process.hrtime.bigint();
  for (let c = 0; c < GiB / CHUNK; c++) {
    fillChunk(words, c);
    if (p.write(mfd, buf) !== CHUNK) throw new Error('short write');
  }
  const fillS = secondsSince(tF);

  const c0 = cpuS();
  const t0 = process.hrtime.bigint();
  preserveFd(p, s, mfd, 0x1234);
  const preserveS = secondsSince(t0);
  p.close(mfd);
  p.close(luo);
  holdAndExit(p);
  const j = kexec(k);

  const tR = process.hrtime.bigint();
  const q = proc(j.successor, 'vmm');
  const l2 = check('open', q.open('/dev/liveupdate', O_RDWR));
  const s2 = sessionIoctl(q, l2, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, 'guest-ram');
  const fd = retrieveFd(q, s2, 0x1234);
  const retrieveS = secondsSince(tR);

  const tB = process.hrtime.bigint();
  const cB = cpuS();
  let bad = 0;
  for (let c = 0; c < GiB / CHUNK; c++) {
    if (q.pread(fd, buf, CHUNK, c * CHUNK) !== CHUNK) throw new Error('short read');
    bad += badWords(words, c);
  }
  const readS = secondsSince(tB);
  const readCpu = cpuS() - cB;
  finish(q, s2);
  const cycle = secondsSince(t0);
  const cpu = cpuS() - c0;
  if (bad !== 0) throw new Error(`${bad} words differ after the kexec`);
  return {
    folios: GiB / 4096,
    fill_s: round(fillS),
    preserve_s: round(preserveS),
    kexec_jump_s: round(j.jumpS),
    successor_boot_s: round(j.bootS),
    retrieve_s: round(retrieveS),
    read_back_s: round(readS),
    read_back_cpu_s: round(readCpu),
    cycle_s: round(cycle),
    cycle_cpu_s: round(cpu),
    touched_pages_after: k.machine.mem.touchedCount,
    load_avg_1m: round(loadavg()[0]!, 2),
  };
}

export const entries: BenchEntry[] = [
  {
    name: 'luo.stress_files',
    description:
      'luo_stress_files as uAPI calls on a 1 GiB machine, sanitizer on: 500 one-page memfds in one session, kexec, every fd retrieved and checked, sessions finished; seconds per phase',
    run: stressFiles,
  },
  {
    name: 'luo.stress_sessions',
    description:
      'luo_stress_sessions as uAPI calls on a 1 GiB machine, sanitizer on: 2000 empty sessions, kexec, each retrieved and finished; seconds per phase',
    run: stressSessions,
  },
  {
    name: 'luo.memfd_1G',
    description:
      'a 1 GiB memfd (262,144 folios) preserved, kexec -e (4 GiB machine, sanitizer on), retrieved and read back byte for byte: seconds per phase, peak RSS MiB (goals: cycle < 3 s, RSS < 1536 MiB)',
    run: memfd1G,
  },
];
