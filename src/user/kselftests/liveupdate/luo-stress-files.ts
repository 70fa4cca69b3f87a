/**
 * `luo_stress_files` (tools/testing/selftests/liveupdate/luo_stress_files.c): 500 memfds in one
 * session across one kexec (the file block chain of the hand-over); stage 2 verifies each one.
 */
import { cMain, type Libc } from '../../libc.ts';
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

const NUM_FILES = 500;
const STATE_SESSION_NAME = 'kexec_many_files_state';
const STATE_MEMFD_TOKEN = 9999;
const TEST_SESSION_NAME = 'many_files_session';

function stage1(t: LuTest, luoFd: number): void {
  msg(t, '[STAGE 1] Creating state file for next stage (2)...\n');
  createStateFile(t, luoFd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  msg(t, `[STAGE 1] Creating test session '${TEST_SESSION_NAME}'...\n`);
  const sfd = luoCreateSession(t.c, luoFd, TEST_SESSION_NAME);
  if (sfd < 0) failExit(t, 'run_stage_1', 31, 'luo_create_session');
  msg(t, `[STAGE 1] Preserving ${NUM_FILES} files...\n`);
  for (let i = 0; i < NUM_FILES; i++) {
    if (createAndPreserveMemfd(t.c, sfd, i, `file-data-${i}`) < 0)
      failExit(t, 'run_stage_1', 39, `create_and_preserve_memfd for index ${i}`);
  }
  msg(t, `[STAGE 1] Successfully preserved ${NUM_FILES} files.\n`);
  t.c.close(luoFd);
  daemonizeAndWait(t);
}

function stage2(t: LuTest, luoFd: number, stateFd: number): void {
  msg(t, '[STAGE 2] Starting post-kexec verification...\n');
  const stage = restoreAndReadStage(t, stateFd, STATE_MEMFD_TOKEN);
  if (stage !== 2) failExit(t, 'run_stage_2', 58, `Expected stage 2, but state file contains ${stage}`);
  msg(t, `[STAGE 2] Retrieving test session '${TEST_SESSION_NAME}'...\n`);
  const sfd = luoRetrieveSession(t.c, luoFd, TEST_SESSION_NAME);
  if (sfd < 0) failExit(t, 'run_stage_2', 65, 'luo_retrieve_session');
  msg(t, `[STAGE 2] Verifying ${NUM_FILES} files...\n`);
  for (let i = 0; i < NUM_FILES; i++) {
    const fd = restoreAndVerifyMemfd(t, sfd, i, `file-data-${i}`);
    if (fd < 0) failExit(t, 'run_stage_2', 75, `restore_and_verify_memfd for index ${i}`);
    t.c.close(fd);
  }
  msg(t, '[STAGE 2] Finishing test session...\n');
  if (luoSessionFinish(t.c, sfd) < 0) failExit(t, 'run_stage_2', 81, 'luo_session_finish for test session');
  t.c.close(sfd);
  msg(t, '[STAGE 2] Finalizing state session...\n');
  if (luoSessionFinish(t.c, stateFd) < 0)
    failExit(t, 'run_stage_2', 86, 'luo_session_finish for state session');
  t.c.close(stateFd);
  msg(t, `\n--- MANY-FILES KEXEC TEST PASSED (${NUM_FILES} files) ---\n`);
}

/** The program's `main`. */
export const luoStressFiles = cMain((c: Libc, argv) =>
  luoTest({ c, ksft: new Kselftest(c) }, argv, STATE_SESSION_NAME, stage1, stage2),
);
