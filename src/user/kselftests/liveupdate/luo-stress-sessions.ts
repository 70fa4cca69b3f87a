/**
 * `luo_stress_sessions` (tools/testing/selftests/liveupdate/luo_stress_sessions.c): 2000 empty
 * sessions across one kexec (the session block chain; the FDT-era format ran out at 819
 * sessions with -ENOMEM); stage 2 retrieves and finishes each one.
 */
import { cMain, strerror, type Libc } from '../../libc.ts';
import { ERRNO } from '../../../util/errno.ts';
import { Kselftest } from '../kselftest.ts';
import {
  createStateFile,
  daemonizeAndWait,
  failExit,
  luoCreateSession,
  luoEnsureNofileLimit,
  luoRetrieveSession,
  luoSessionFinish,
  luoTest,
  msg,
  restoreAndReadStage,
  type LuTest,
} from './lu-utils.ts';

const NUM_SESSIONS = 2000;
const STATE_SESSION_NAME = 'kexec_many_state';
const STATE_MEMFD_TOKEN = 999;

function stage1(t: LuTest, luoFd: number): void {
  msg(t, '[STAGE 1] Increasing ulimit for open files...\n');
  const ret = luoEnsureNofileLimit(t.c, NUM_SESSIONS);
  if (ret === -ERRNO.EPERM) t.ksft.exitSkip('Insufficient privileges to set RLIMIT_NOFILE\n');
  if (ret < 0) t.ksft.exitFailMsg(`luo_ensure_nofile_limit failed: ${strerror(-ret)}\n`);
  msg(t, '[STAGE 1] Creating state file for next stage (2)...\n');
  createStateFile(t, luoFd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  msg(t, `[STAGE 1] Creating ${NUM_SESSIONS} sessions...\n`);
  for (let i = 0; i < NUM_SESSIONS; i++) {
    const name = `many-test-${i}`;
    if (luoCreateSession(t.c, luoFd, name) < 0)
      failExit(t, 'run_stage_1', 44, `luo_create_session for '${name}' at index ${i}`);
  }
  msg(t, `[STAGE 1] Successfully created ${NUM_SESSIONS} sessions.\n`);
  t.c.close(luoFd);
  daemonizeAndWait(t);
}

function stage2(t: LuTest, luoFd: number, stateFd: number): void {
  msg(t, '[STAGE 2] Starting post-kexec verification...\n');
  const stage = restoreAndReadStage(t, stateFd, STATE_MEMFD_TOKEN);
  if (stage !== 2) failExit(t, 'run_stage_2', 65, `Expected stage 2, but state file contains ${stage}`);
  msg(t, `[STAGE 2] Retrieving and finishing ${NUM_SESSIONS} sessions...\n`);
  for (let i = 0; i < NUM_SESSIONS; i++) {
    const name = `many-test-${i}`;
    const sfd = luoRetrieveSession(t.c, luoFd, name);
    if (sfd < 0) failExit(t, 'run_stage_2', 79, `luo_retrieve_session for '${name}' at index ${i}`);
    if (luoSessionFinish(t.c, sfd) < 0)
      failExit(t, 'run_stage_2', 84, `luo_session_finish for '${name}' at index ${i}`);
    t.c.close(sfd);
  }
  msg(t, '[STAGE 2] Finalizing state session...\n');
  if (luoSessionFinish(t.c, stateFd) < 0)
    failExit(t, 'run_stage_2', 92, 'luo_session_finish for state session');
  t.c.close(stateFd);
  msg(t, `\n--- MANY-SESSIONS KEXEC TEST PASSED (${NUM_SESSIONS} sessions) ---\n`);
}

/** The program's `main`. */
export const luoStressSessions = cMain((c: Libc, argv) =>
  luoTest({ c, ksft: new Kselftest(c) }, argv, STATE_SESSION_NAME, stage1, stage2),
);
