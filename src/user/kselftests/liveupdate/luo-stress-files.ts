/**
 * `luo_stress_files` (tools/testing/selftests/liveupdate/luo_stress_files.c): 500 memfds in one
 * session across one kexec (the file block chain of the hand-over); stage 2 verifies each one.
 */
import * as lu from './lu-utils.ts';

const NUM_FILES = 500;
const STATE_SESSION_NAME = 'kexec_many_files_state';
const STATE_MEMFD_TOKEN = 9999;
const TEST_SESSION_NAME = 'many_files_session';

function stage1(t: lu.LuTest, luoFd: number): void {
  lu.msg(t, '[STAGE 1] Creating state file for next stage (2)...\n');
  lu.createStateFile(t, luoFd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  lu.msg(t, `[STAGE 1] Creating test session '${TEST_SESSION_NAME}'...\n`);
  const sfd = lu.luoCreateSession(t.c, luoFd, TEST_SESSION_NAME);
  if (sfd < 0) lu.failExit(t, 'run_stage_1', 31, 'luo_create_session');
  lu.msg(t, `[STAGE 1] Preserving ${NUM_FILES} files...\n`);
  for (let i = 0; i < NUM_FILES; i++) {
    if (lu.createAndPreserveMemfd(t.c, sfd, i, `file-data-${i}`) < 0)
      lu.failExit(t, 'run_stage_1', 39, `create_and_preserve_memfd for index ${i}`);
  }
  lu.msg(t, `[STAGE 1] Successfully preserved ${NUM_FILES} files.\n`);
  t.c.close(luoFd);
  lu.daemonizeAndWait(t);
}

function stage2(t: lu.LuTest, luoFd: number, stateFd: number): void {
  lu.beginStage2(t, stateFd, STATE_MEMFD_TOKEN, 58);
  lu.msg(t, `[STAGE 2] Retrieving test session '${TEST_SESSION_NAME}'...\n`);
  const sfd = lu.luoRetrieveSession(t.c, luoFd, TEST_SESSION_NAME);
  if (sfd < 0) lu.failExit(t, 'run_stage_2', 65, 'luo_retrieve_session');
  lu.msg(t, `[STAGE 2] Verifying ${NUM_FILES} files...\n`);
  for (let i = 0; i < NUM_FILES; i++) {
    const fd = lu.restoreAndVerifyMemfd(t, sfd, i, `file-data-${i}`);
    if (fd < 0) lu.failExit(t, 'run_stage_2', 75, `restore_and_verify_memfd for index ${i}`);
    t.c.close(fd);
  }
  lu.msg(t, '[STAGE 2] Finishing test session...\n');
  if (lu.luoSessionFinish(t.c, sfd) < 0)
    lu.failExit(t, 'run_stage_2', 81, 'luo_session_finish for test session');
  t.c.close(sfd);
  lu.endStage2(t, stateFd, 86, `MANY-FILES KEXEC TEST PASSED (${NUM_FILES} files)`);
}

/** The program's `main`. */
export const luoStressFiles = lu.luoTestMain(STATE_SESSION_NAME, stage1, stage2);
