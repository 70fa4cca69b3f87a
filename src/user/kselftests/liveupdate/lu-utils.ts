/**
 * The LUO selftests' helper library (tools/testing/selftests/liveupdate/lib/lu_utils.c and
 * libliveupdate.h) for programs of the machine written against the C library: the session and
 * file ioctls of src/user/libliveupdate.ts with `errno` set as the C wrappers leave it, a
 * one-page memfd preserved and verified through shared mappings, the state session that tells
 * stage 1 from stage 2, the held-fd daemon, and `luo_test()`.
 * Failures print what the kernel's library prints (`fail_exit()` names the C function and line
 * of the kernel's source, then `(errno: <strerror>)`).
 */
import { LIVEUPDATE_SESSION_NAME_LENGTH } from '../../../abi/liveupdate-uapi.ts';
import { MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE, RLIMIT_NOFILE } from '../../../abi/uapi-fcntl.ts';
import { ERRNO } from '../../../util/errno.ts';
import { cMain, strerror, type Libc } from '../../libc.ts';
import * as lib from '../../libliveupdate.ts';
import type { Program } from '../../programs.ts';
import { Kselftest } from '../kselftest.ts';

const { LUO_DEVICE } = lib;
const PAGE_SIZE = 4096;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A selftest program's process (C library view) and its kselftest reporter. */
export interface LuTest {
  readonly c: Libc;
  readonly ksft: Kselftest;
}

/** `ksft_print_msg()`. */
export function msg(t: LuTest, text: string): void {
  t.ksft.printMsg(text);
}

/**
 * `fail_exit(fmt…)`: `Bail out! [<func>:<line>] <msg> (errno: <strerror(errno)>)`, exit 1.
 * `func` and `line` are where the kernel's source calls it.
 */
export function failExit(t: LuTest, func: string, line: number, text: string): never {
  return t.ksft.exitFailMsg(`[${func}:${line}] ${text} (errno: ${strerror(t.c.errno)})\n`);
}

/** C `atoi()`: leading blanks, a sign, digits; 0 when there are none. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  return m === null ? 0 : Number.parseInt(m[1]!, 10) | 0;
}

/** A C string from bytes: up to the first NUL. */
function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return dec.decode(nul < 0 ? b : b.subarray(0, nul));
}

/** `snprintf(name, 64, "%.*s", 63, name)`: the name's bytes, cut to 63. */
function sessionName(name: string): Uint8Array {
  return enc.encode(name).subarray(0, LIVEUPDATE_SESSION_NAME_LENGTH - 1);
}

/** `luo_open_device()`. */
export function luoOpenDevice(c: Libc): number {
  return c.open(LUO_DEVICE, O_RDWR);
}

/** `luo_ensure_nofile_limit(min)`: RLIMIT_NOFILE of at least `min` + 32; 0 or -errno. */
export function luoEnsureNofileLimit(c: Libc, min: number): number {
  const want = min + 32;
  const hl = c.getrlimit(RLIMIT_NOFILE);
  if (hl === null) return -c.errno;
  if (hl.cur >= want) return 0;
  const lim = { cur: want, max: Math.max(hl.max, want) };
  return c.setrlimit(RLIMIT_NOFILE, lim) < 0 ? -c.errno : 0;
}

/** A library call's -errno as the C wrapper sees it: `ioctl()` set `errno` on the way. */
function withErrno<T>(c: Libc, r: T): T {
  if (typeof r === 'number' && r < 0) c.errno = -r;
  return r;
}

/** `luo_create_session(luo_fd, name)`: the session fd or -errno (the name cut to 63 bytes). */
export function luoCreateSession(c: Libc, luoFd: number, name: string): number {
  return withErrno(c, lib.luoCreateSession(c.proc, luoFd, sessionName(name)));
}

/** `luo_retrieve_session(luo_fd, name)`: the session fd or -errno. */
export function luoRetrieveSession(c: Libc, luoFd: number, name: string): number {
  return withErrno(c, lib.luoRetrieveSession(c.proc, luoFd, sessionName(name)));
}

/** `luo_session_preserve_fd(session_fd, fd, token)`: 0 or -errno. */
export function luoSessionPreserveFd(c: Libc, sfd: number, fd: number, token: number | bigint): number {
  return withErrno(c, lib.luoSessionPreserveFd(c.proc, sfd, fd, token));
}

/** `luo_session_retrieve_fd(session_fd, token)`: the file's new fd or -errno. */
export function luoSessionRetrieveFd(c: Libc, sfd: number, token: number | bigint): number {
  return withErrno(c, lib.luoSessionRetrieveFd(c.proc, sfd, token));
}

/** `luo_get_session_name(session_fd, …)`: the name, or -errno. */
export function luoGetSessionName(c: Libc, sfd: number): string | number {
  return withErrno(c, lib.luoGetSessionName(c.proc, sfd));
}

/** `luo_session_finish(session_fd)`: 0 or -errno. */
export function luoSessionFinish(c: Libc, sfd: number): number {
  return withErrno(c, lib.luoSessionFinish(c.proc, sfd));
}

/**
 * `create_and_preserve_memfd(session_fd, token, data)`: a one-page memfd `test_mfd` holding
 * `data` and a NUL (written through a shared mapping), preserved under `token`, then closed.
 * 0 or -errno (the last error, as the C code reads `errno`).
 */
export function createAndPreserveMemfd(c: Libc, sfd: number, token: number | bigint, data: string): number {
  const mfd = c.memfdCreate('test_mfd', 0);
  if (mfd < 0) return -c.errno;
  let ret = -1;
  done: {
    if (c.ftruncate(mfd, PAGE_SIZE) !== 0) break done;
    const map = c.mmap(PAGE_SIZE, PROT_WRITE, MAP_SHARED, mfd, 0);
    if (map === null) break done;
    map.write(0, enc.encode(`${data}\0`).subarray(0, PAGE_SIZE));
    map.unmap();
    ret = luoSessionPreserveFd(c, sfd, mfd, token);
    if (ret !== 0) break done;
    ret = 0;
  }
  if (ret !== 0 && c.errno !== 0) ret = -c.errno;
  c.close(mfd);
  return ret;
}

/**
 * `restore_and_verify_memfd(session_fd, token, expected)`: retrieve the memfd and compare its
 * first page, as a C string, with `expected` (null: no check). The open fd, or -errno
 * (`Data mismatch! …` is printed first on a mismatch).
 */
export function restoreAndVerifyMemfd(
  t: LuTest,
  sfd: number,
  token: number | bigint,
  expected: string | null,
): number {
  const { c } = t;
  const mfd = luoSessionRetrieveFd(c, sfd, token);
  if (mfd < 0) return mfd;
  let ret = -1;
  const map = c.mmap(PAGE_SIZE, PROT_READ, MAP_SHARED, mfd, 0);
  if (map !== null) {
    const got = cString(map.read(0, PAGE_SIZE));
    if (expected !== null && got !== expected) {
      msg(t, `Data mismatch! Expected '${expected}', Got '${got}'\n`);
      ret = -ERRNO.EINVAL;
    } else ret = mfd;
    map.unmap();
  }
  if (ret < 0 && c.errno !== 0) ret = -c.errno;
  if (ret < 0) c.close(mfd);
  return ret;
}

/**
 * `create_state_file(luo_fd, name, token, next_stage)`: session `name` with a memfd holding the
 * decimal `next`; the session fd stays open (closing it would unpreserve the session).
 */
export function createStateFile(t: LuTest, luoFd: number, name: string, token: number, next: number): void {
  const sfd = luoCreateSession(t.c, luoFd, name);
  if (sfd < 0) failExit(t, 'create_state_file', 209, 'luo_create_session for state tracking');
  if (createAndPreserveMemfd(t.c, sfd, token, String(next)) < 0)
    failExit(t, 'create_state_file', 213, 'create_and_preserve_memfd for state tracking');
}

/** `restore_and_read_stage(state_session_fd, token, &stage)`: the stage number in the state memfd. */
export function restoreAndReadStage(t: LuTest, stateFd: number, token: number): number {
  const mfd = restoreAndVerifyMemfd(t, stateFd, token, null);
  if (mfd < 0) failExit(t, 'restore_and_read_stage', 227, 'failed to restore state memfd');
  const buf = new Uint8Array(32);
  if (t.c.read(mfd, buf, buf.length - 1) < 0)
    failExit(t, 'restore_and_read_stage', 230, 'failed to read state mfd');
  t.c.close(mfd);
  return atoi(cString(buf));
}

/**
 * `daemonize_and_wait()`: fork a child that holds every session fd (setsid, stdio closed,
 * cwd `/`, sleeping for good), print its pid, and exit 0. The child keeps running after this
 * program ends, until the kernel goes away under it.
 */
export function daemonizeAndWait(t: LuTest): never {
  const { c } = t;
  msg(t, '[STAGE 1] Forking persistent child to hold sessions...\n');
  const child = c.fork();
  if (child === null) failExit(t, 'daemonize_and_wait', 245, 'fork failed');
  // The child's side: detach from the terminal and sleep (nothing more runs in it).
  if (child.setsid() < 0) child.exit(1);
  else {
    for (let fd = 0; fd <= 2; fd++) child.close(fd);
    child.chdir('/');
  }
  msg(t, `[STAGE 1] Child PID: ${child.pid}. Resources are pinned.\n`);
  msg(t, '[STAGE 1] You may now perform kexec reboot.\n');
  return c.exit(0);
}

/** `parse_stage_args()`: getopt "s:"; 1 by default. */
function parseStageArgs(t: LuTest, argv: readonly string[]): number {
  let stage = 1;
  const prog = argv[0] ?? '';
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue;
    for (let j = 1; j < a.length; j++) {
      const ch = a[j]!;
      if (ch !== 's') {
        t.c.eprintf(`${prog}: invalid option -- '${ch}'\n`);
        failExit(t, 'parse_stage_args', 283, 'Unknown argument');
      }
      let optarg = a.slice(j + 1);
      if (optarg === '') {
        if (i + 1 >= argv.length) {
          t.c.eprintf(`${prog}: option requires an argument -- 's'\n`);
          failExit(t, 'parse_stage_args', 283, 'Unknown argument');
        }
        optarg = argv[++i]!;
      }
      stage = atoi(optarg);
      if (stage !== 1 && stage !== 2) failExit(t, 'parse_stage_args', 280, 'Invalid stage argument');
      break;
    }
  }
  return stage;
}

/** Stage 1 of a kexec test: gets the open /dev/liveupdate fd. */
export type Stage1 = (t: LuTest, luoFd: number) => void;
/** Stage 2 of a kexec test: gets the /dev/liveupdate fd and the retrieved state session's fd. */
export type Stage2 = (t: LuTest, luoFd: number, stateFd: number) => void;

/**
 * `luo_test(argc, argv, state_session_name, stage1, stage2)`: `-s 1|2` (default 1), the
 * device (its absence skips), the stage the system is in (state session absent: 1, present: 2)
 * against the one asked for, then the stage's function. Exit status 0, or what the test exits with.
 */
export function luoTest(
  t: LuTest,
  argv: readonly string[],
  stateName: string,
  stage1: Stage1,
  stage2: Stage2,
): number {
  const target = parseStageArgs(t, argv);
  const luoFd = luoOpenDevice(t.c);
  if (luoFd < 0) t.ksft.exitSkip(`Failed to open ${LUO_DEVICE}. Is the luo module loaded?\n`);
  const stateFd = luoRetrieveSession(t.c, luoFd, stateName);
  let detected = 0;
  if (stateFd === -ERRNO.ENOENT) detected = 1;
  else if (stateFd >= 0) detected = 2;
  else failExit(t, 'luo_test', 311, 'Failed to check for state session');
  if (target !== detected) {
    t.ksft.exitFailMsg(
      `Stage mismatch Requested stage ${target}, but system is in stage ${detected}.\n` +
        `(State session ${stateName}: ${detected === 2 ? 'EXISTS' : 'MISSING'})\n`,
    );
  }
  if (target === 1) stage1(t, luoFd);
  else stage2(t, luoFd, stateFd);
  return 0;
}

/**
 * A kexec test's `main()`: `return luo_test(argc, argv, STATE_SESSION_NAME, run_stage_1,
 * run_stage_2);`.
 */
export function luoTestMain(stateName: string, stage1: Stage1, stage2: Stage2): Program {
  return cMain((c, argv) => luoTest({ c, ksft: new Kselftest(c) }, argv, stateName, stage1, stage2));
}

/**
 * The opening of every kexec test's stage 2: the message, then the stage number in the state
 * memfd must be 2 (else `fail_exit` at the test source's `line`).
 */
export function beginStage2(t: LuTest, stateFd: number, token: number, line: number): void {
  msg(t, '[STAGE 2] Starting post-kexec verification...\n');
  const stage = restoreAndReadStage(t, stateFd, token);
  if (stage !== 2) failExit(t, 'run_stage_2', line, `Expected stage 2, but state file contains ${stage}`);
}

/** The close of every kexec test's stage 2: finish the state session (else `fail_exit` at `line`), then the pass line. */
export function endStage2(t: LuTest, stateFd: number, line: number, passLine: string): void {
  msg(t, '[STAGE 2] Finalizing state session...\n');
  if (luoSessionFinish(t.c, stateFd) < 0)
    failExit(t, 'run_stage_2', line, 'luo_session_finish for state session');
  t.c.close(stateFd);
  msg(t, `\n--- ${passLine} ---\n`);
}
