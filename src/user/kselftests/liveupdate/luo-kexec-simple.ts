/**
 * `luo_kexec_simple` (tools/testing/selftests/liveupdate/luo_kexec_simple.c): one session with
 * one memfd across one kexec. Stage 1 preserves `"hello kexec world"` under token 0x1a in
 * `test-session` and leaves a daemon holding the sessions; stage 2 (`-s 2`, after the kexec)
 * retrieves and verifies it, finishes both sessions and prints the pass line.
 */
import { hexAlt } from '../../libc.ts';
import * as lu from './lu-utils.ts';

const TEST_SESSION_NAME = 'test-session';
const TEST_MEMFD_TOKEN = 0x1a;
const TEST_MEMFD_DATA = 'hello kexec world';
const STATE_SESSION_NAME = 'kexec_simple_state';
const STATE_MEMFD_TOKEN = 999;

function stage1(t: lu.LuTest, luoFd: number): void {
  lu.msg(t, '[STAGE 1] Starting pre-kexec setup...\n');
  lu.msg(t, '[STAGE 1] Creating state file for next stage (2)...\n');
  lu.createStateFile(t, luoFd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  lu.msg(t, `[STAGE 1] Creating session '${TEST_SESSION_NAME}' and preserving memfd...\n`);
  const sfd = lu.luoCreateSession(t.c, luoFd, TEST_SESSION_NAME);
  if (sfd < 0) lu.failExit(t, 'run_stage_1', 35, `luo_create_session for '${TEST_SESSION_NAME}'`);
  if (lu.createAndPreserveMemfd(t.c, sfd, TEST_MEMFD_TOKEN, TEST_MEMFD_DATA) < 0)
    lu.failExit(t, 'run_stage_1', 39, `create_and_preserve_memfd for token ${hexAlt(TEST_MEMFD_TOKEN)}`);
  t.c.close(luoFd);
  lu.daemonizeAndWait(t);
}

function stage2(t: lu.LuTest, luoFd: number, stateFd: number): void {
  lu.beginStage2(t, stateFd, STATE_MEMFD_TOKEN, 56);
  lu.msg(t, `[STAGE 2] Retrieving session '${TEST_SESSION_NAME}'...\n`);
  const sfd = lu.luoRetrieveSession(t.c, luoFd, TEST_SESSION_NAME);
  if (sfd < 0) lu.failExit(t, 'run_stage_2', 61, `luo_retrieve_session for '${TEST_SESSION_NAME}'`);
  lu.msg(t, `[STAGE 2] Restoring and verifying memfd (token ${hexAlt(TEST_MEMFD_TOKEN)})...\n`);
  const mfd = lu.restoreAndVerifyMemfd(t, sfd, TEST_MEMFD_TOKEN, TEST_MEMFD_DATA);
  if (mfd < 0)
    lu.failExit(t, 'run_stage_2', 68, `restore_and_verify_memfd for token ${hexAlt(TEST_MEMFD_TOKEN)}`);
  t.c.close(mfd);
  lu.msg(t, '[STAGE 2] Test data verified successfully.\n');
  lu.msg(t, '[STAGE 2] Finalizing test session...\n');
  if (lu.luoSessionFinish(t.c, sfd) < 0)
    lu.failExit(t, 'run_stage_2', 74, 'luo_session_finish for test session');
  t.c.close(sfd);
  lu.endStage2(t, stateFd, 79, `SIMPLE KEXEC TEST PASSED`);
}

/** The program's `main`. */
export const luoKexecSimple = lu.luoTestMain(STATE_SESSION_NAME, stage1, stage2);
