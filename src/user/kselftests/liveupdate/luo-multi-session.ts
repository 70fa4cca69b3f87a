/**
 * `luo_multi_session` (tools/testing/selftests/liveupdate/luo_multi_session.c): two empty
 * sessions and two sessions with one and two memfds across one kexec; stage 2 retrieves all
 * four, verifies the three memfds, finishes every session and prints the pass line.
 */
import { hexAlt } from '../../libc.ts';
import * as lu from './lu-utils.ts';

const SESSION_EMPTY_1 = 'multi-test-empty-1';
const SESSION_EMPTY_2 = 'multi-test-empty-2';
const SESSION_FILES_1 = 'multi-test-files-1';
const SESSION_FILES_2 = 'multi-test-files-2';
const MFD1_TOKEN = 0x1001;
const MFD2_TOKEN = 0x2002;
const MFD3_TOKEN = 0x3003;
const MFD1_DATA = 'Data for session files 1';
const MFD2_DATA = 'First file for session files 2';
const MFD3_DATA = 'Second file for session files 2';
const STATE_SESSION_NAME = 'kexec_multi_state';
const STATE_MEMFD_TOKEN = 998;

/** Create session `name` or fail at the kernel source's `line`. */
function create(t: lu.LuTest, luoFd: number, name: string, line: number): number {
  const fd = lu.luoCreateSession(t.c, luoFd, name);
  if (fd < 0) lu.failExit(t, 'run_stage_1', line, `luo_create_session for '${name}'`);
  return fd;
}

function preserve(t: lu.LuTest, sfd: number, token: number, data: string, line: number): void {
  if (lu.createAndPreserveMemfd(t.c, sfd, token, data) < 0)
    lu.failExit(t, 'run_stage_1', line, `create_and_preserve_memfd for token ${hexAlt(token)}`);
}

function stage1(t: lu.LuTest, luoFd: number): void {
  lu.msg(t, '[STAGE 1] Starting pre-kexec setup for multi-session test...\n');
  lu.msg(t, '[STAGE 1] Creating state file for next stage (2)...\n');
  lu.createStateFile(t, luoFd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  lu.msg(t, `[STAGE 1] Creating empty sessions '${SESSION_EMPTY_1}' and '${SESSION_EMPTY_2}'...\n`);
  create(t, luoFd, SESSION_EMPTY_1, 44);
  create(t, luoFd, SESSION_EMPTY_2, 48);
  lu.msg(t, `[STAGE 1] Creating session '${SESSION_FILES_1}' with one memfd...\n`);
  const f1 = create(t, luoFd, SESSION_FILES_1, 55);
  preserve(t, f1, MFD1_TOKEN, MFD1_DATA, 57);
  lu.msg(t, `[STAGE 1] Creating session '${SESSION_FILES_2}' with two memfds...\n`);
  const f2 = create(t, luoFd, SESSION_FILES_2, 66);
  preserve(t, f2, MFD2_TOKEN, MFD2_DATA, 68);
  preserve(t, f2, MFD3_TOKEN, MFD3_DATA, 72);
  t.c.close(luoFd);
  lu.daemonizeAndWait(t);
}

function retrieve(t: lu.LuTest, luoFd: number, name: string, line: number): number {
  const fd = lu.luoRetrieveSession(t.c, luoFd, name);
  if (fd < 0) lu.failExit(t, 'run_stage_2', line, `luo_retrieve_session for '${name}'`);
  return fd;
}

function verify(t: lu.LuTest, sfd: number, token: number, data: string, line: number): void {
  const mfd = lu.restoreAndVerifyMemfd(t, sfd, token, data);
  if (mfd < 0) lu.failExit(t, 'run_stage_2', line, `restore_and_verify_memfd for token ${hexAlt(token)}`);
  t.c.close(mfd);
}

function finish(t: lu.LuTest, sfd: number, name: string, line: number): void {
  if (lu.luoSessionFinish(t.c, sfd) < 0)
    lu.failExit(t, 'run_stage_2', line, `luo_session_finish for '${name}'`);
  t.c.close(sfd);
}

function stage2(t: lu.LuTest, luoFd: number, stateFd: number): void {
  lu.beginStage2(t, stateFd, STATE_MEMFD_TOKEN, 90);
  lu.msg(t, '[STAGE 2] Retrieving all sessions...\n');
  const e1 = retrieve(t, luoFd, SESSION_EMPTY_1, 97);
  const e2 = retrieve(t, luoFd, SESSION_EMPTY_2, 101);
  const f1 = retrieve(t, luoFd, SESSION_FILES_1, 105);
  const f2 = retrieve(t, luoFd, SESSION_FILES_2, 109);
  lu.msg(t, `[STAGE 2] Verifying contents of session '${SESSION_FILES_1}'...\n`);
  verify(t, f1, MFD1_TOKEN, MFD1_DATA, 115);
  lu.msg(t, `[STAGE 2] Verifying contents of session '${SESSION_FILES_2}'...\n`);
  verify(t, f2, MFD2_TOKEN, MFD2_DATA, 123);
  verify(t, f2, MFD3_TOKEN, MFD3_DATA, 128);
  lu.msg(t, '[STAGE 2] Test data verified successfully.\n');
  lu.msg(t, '[STAGE 2] Finalizing all test sessions...\n');
  finish(t, e1, SESSION_EMPTY_1, 135);
  finish(t, e2, SESSION_EMPTY_2, 139);
  finish(t, f1, SESSION_FILES_1, 143);
  finish(t, f2, SESSION_FILES_2, 147);
  lu.endStage2(t, stateFd, 152, `MULTI-SESSION KEXEC TEST PASSED`);
}

/** The program's `main`. */
export const luoMultiSession = lu.luoTestMain(STATE_SESSION_NAME, stage1, stage2);
