/**
 * Live Update Orchestrator cycles, on a machine with the sanitizer on:
 * - `luo.stress_files`, `luo.stress_sessions`: the kernel's selftests as installed in the
 *   machine (/usr/lib/kselftests/liveupdate/luo_stress_files and luo_stress_sessions, see
 *   docs/luo-kernel.md): stage 1 (`-s 1`: 500 one-page memfds in one session, or 2000 empty
 *   sessions; a daemon child holds the fds), `kexec -e`, stage 2 (`-s 2`: everything retrieved,
 *   checked and finished; the pass line printed).
 * - `luo.memfd_1G`: one 1 GiB memfd (262,144 4 KiB folios) written with a pattern, preserved
 *   through the uAPI (the struct bytes of include/uapi/linux/liveupdate.h), carried across
 *   `kexec -e`, retrieved and read back (every word compared).
 * Each reports the phases' seconds, the cycle's wall and CPU seconds, the 1-minute load average
 * and peak RSS. */
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
import { O_RDWR } from '../src/abi/uapi-fcntl.ts';
import { kexecExecute } from '../src/kexec/execute.ts';
import { kexecFileLoad } from '../src/kexec/file-load.ts';
import { mkImage } from '../src/kexec/image.ts';
import type { Kernel } from '../src/kernel/kernel.ts';
import { Machine } from '../src/kernel/machine.ts';
import { profileByName } from '../src/kernel/profile.ts';
import type { Process } from '../src/user/process.ts';
import '../src/user/kselftests/liveupdate/install.ts';
import { runProgram } from '../src/user/programs.ts';
import { userspace } from '../src/user/userspace.ts';

const GiB = 2 ** 30;
const CMD = 'console=ttyS0 kho=on liveupdate=on';

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

/** The selftests' `daemonize_and_wait`: a child keeps the fds, the parent exits. */
function holdAndExit(p: Process): void {
  const child = p.fork();
  if (typeof child === 'number') throw new Error(`fork: ${child}`);
  child.setsid();
  p.exit(0);
}

/** `kexec -l -s --reuse-cmdline` then `kexec -e`; the successor. */
function kexec(k: Kernel): { successor: Kernel; jumpS: number; bootS: number } {
  kexecFileLoad(k, {
    image: mkImage({ profile: k.profile, size: 12 << 20 }),
    cmdline: k.cmdline.raw,
  });
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

const SELFTESTS = '/usr/lib/kselftests/liveupdate';

/**
 * A kexec selftest as run in the VM: `TEST -s 1` (its held-fd daemon keeps the sessions),
 * `kexec -l -s --reuse-cmdline` + `kexec -e`, then `TEST -s 2`, which must print `pass`.
 */
async function selftestCycle(test: string, pass: string): Promise<BenchResult> {
  const k = boot(GiB); // the selftests' VM: qemu -m 1G
  let out = '';
  const sink = (t: string | Uint8Array): void => {
    out += typeof t === 'string' ? t : new TextDecoder().decode(t);
  };
  const io = { stdout: sink, stderr: sink };
  const c0 = cpuS();
  const t0 = process.hrtime.bigint();
  const r1 = await runProgram(k, [`${SELFTESTS}/${test}`, '-s', '1'], io);
  if (r1?.status !== 0) throw new Error(`${test} -s 1: ${out}`);
  const s1 = secondsSince(t0);
  const j = kexec(k);
  const t2 = process.hrtime.bigint();
  out = '';
  const r2 = await runProgram(j.successor, [`${SELFTESTS}/${test}`, '-s', '2'], io);
  if (r2?.status !== 0 || !out.includes(pass)) throw new Error(`${test} -s 2: ${out}`);
  const s2 = secondsSince(t2);
  return {
    stage1_s: round(s1),
    kexec_jump_s: round(j.jumpS),
    successor_boot_s: round(j.bootS),
    stage2_s: round(s2),
    cycle_s: round(secondsSince(t0)),
    cycle_cpu_s: round(cpuS() - c0),
    load_avg_1m: round(loadavg()[0]!, 2),
  };
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
      '/usr/lib/kselftests/liveupdate/luo_stress_files -s 1, kexec -e, -s 2 on a 1 GiB machine, sanitizer on: 500 one-page memfds in one session, each retrieved and checked; seconds per phase',
    run: () => selftestCycle('luo_stress_files', '--- MANY-FILES KEXEC TEST PASSED (500 files) ---'),
  },
  {
    name: 'luo.stress_sessions',
    description:
      '/usr/lib/kselftests/liveupdate/luo_stress_sessions -s 1, kexec -e, -s 2 on a 1 GiB machine, sanitizer on: 2000 empty sessions, each retrieved and finished; seconds per phase',
    run: () =>
      selftestCycle('luo_stress_sessions', '--- MANY-SESSIONS KEXEC TEST PASSED (2000 sessions) ---'),
  },
  {
    name: 'luo.memfd_1G',
    description:
      'a 1 GiB memfd (262,144 folios) preserved, kexec -e (4 GiB machine, sanitizer on), retrieved and read back byte for byte: seconds per phase, peak RSS MiB (goals: cycle < 3 s, RSS < 1536 MiB)',
    run: memfd1G,
  },
];
