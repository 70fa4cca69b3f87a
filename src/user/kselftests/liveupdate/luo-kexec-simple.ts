/**
 * `luo_kexec_simple` (tools/testing/selftests/liveupdate/luo_kexec_simple.c): one session with
 * one memfd across one kexec. Stage 1 preserves `"hello kexec world"` under token 0x1a in
 * `test-session` and leaves a daemon holding the sessions; stage 2 (`-s 2`, after the kexec)
 * retrieves and verifies it, finishes both sessions and prints the pass line.
 */
import { cMain, hexAlt, type Libc } from '../../libc.ts';
import { Kselftest } from '../kselftest.ts';
import {
  createAndPreserveMemfd,
  createStateFile,
  daemonizeAndWait,
  failExit,
  luoCreateSession,
  luoRetrieveSession,
  luoSessionFinish,
  luoTest,
  msg,
  restoreAndReadStage,
  restoreAndVerifyMemfd,
  type LuTest,
} from './lu-utils.ts';

const TEST_SESSION_NAME = 'test-session';
const TEST_MEMFD_TOKEN = 0x1a;
const TEST_MEMFD_DATA = 'hello kexec world';
const STATE_SESSION_NAME = 'kexec_simple_state';
const STATE_MEMFD_TOKEN = 999;

function stage1(t: LuTest, luoFd: number): void {
  msg(t, '[STAGE 1] Starting pre-kexec setup...\n');
  msg(t, '[STAGE 1] Creating state file for next stage (2)...\n');
  createStateFile(t, luoFd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  msg(t, `[STAGE 1] Creating session '${TEST_SESSION_NAME}' and preserving memfd...\n`);
  const sfd = luoCreateSession(t.c, luoFd, TEST_SESSION_NAME);
  if (sfd < 0) failExit(t, 'run_stage_1', 35, `luo_create_session for '${TEST_SESSION_NAME}'`);
  if (createAndPreserveMemfd(t.c, sfd, TEST_MEMFD_TOKEN, TEST_MEMFD_DATA) < 0)
    failExit(t, 'run_stage_1', 39, `create_and_preserve_memfd for token ${hexAlt(TEST_MEMFD_TOKEN)}`);
  t.c.close(luoFd);
  daemonizeAndWait(t);
}

function stage2(t: LuTest, luoFd: number, stateFd: number): void {
  msg(t, '[STAGE 2] Starting post-kexec verification...\n');
  const stage = restoreAndReadStage(t, stateFd, STATE_MEMFD_TOKEN);
  if (stage !== 2) failExit(t, 'run_stage_2', 56, `Expected stage 2, but state file contains ${stage}`);
  msg(t, `[STAGE 2] Retrieving session '${TEST_SESSION_NAME}'...\n`);
  const sfd = luoRetrieveSession(t.c, luoFd, TEST_SESSION_NAME);
  if (sfd < 0) failExit(t, 'run_stage_2', 61, `luo_retrieve_session for '${TEST_SESSION_NAME}'`);
  msg(t, `[STAGE 2] Restoring and verifying memfd (token ${hexAlt(TEST_MEMFD_TOKEN)})...\n`);
  const mfd = restoreAndVerifyMemfd(t, sfd, TEST_MEMFD_TOKEN, TEST_MEMFD_DATA);
  if (mfd < 0)
    failExit(t, 'run_stage_2', 68, `restore_and_verify_memfd for token ${hexAlt(TEST_MEMFD_TOKEN)}`);
  t.c.close(mfd);
  msg(t, '[STAGE 2] Test data verified successfully.\n');
  msg(t, '[STAGE 2] Finalizing test session...\n');
  if (luoSessionFinish(t.c, sfd) < 0) failExit(t, 'run_stage_2', 74, 'luo_session_finish for test session');
  t.c.close(sfd);
  msg(t, '[STAGE 2] Finalizing state session...\n');
  if (luoSessionFinish(t.c, stateFd) < 0)
    failExit(t, 'run_stage_2', 79, 'luo_session_finish for state session');
  t.c.close(stateFd);
  msg(t, '\n--- SIMPLE KEXEC TEST PASSED ---\n');
}

/** The program's `main`. */
export const luoKexecSimple = cMain((c: Libc, argv) =>
  luoTest({ c, ksft: new Kselftest(c) }, argv, STATE_SESSION_NAME, stage1, stage2),
);
