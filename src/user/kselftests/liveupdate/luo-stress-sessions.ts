/**
 * `luo_stress_sessions` (tools/testing/selftests/liveupdate/luo_stress_sessions.c): 2000 empty
 * sessions across one kexec (the session block chain; the FDT-era format ran out at 819
 * sessions with -ENOMEM); stage 2 retrieves and finishes each one.
 */
import { strerror } from '../../libc.ts';
import { ERRNO } from '../../../util/errno.ts';
import * as lu from './lu-utils.ts';

const NUM_SESSIONS = 2000;
const STATE_SESSION_NAME = 'kexec_many_state';
const STATE_MEMFD_TOKEN = 999;

function stage1(t: lu.LuTest, luoFd: number): void {
  lu.msg(t, '[STAGE 1] Increasing ulimit for open files...\n');
  const ret = lu.luoEnsureNofileLimit(t.c, NUM_SESSIONS);
  if (ret === -ERRNO.EPERM) t.ksft.exitSkip('Insufficient privileges to set RLIMIT_NOFILE\n');
  if (ret < 0) t.ksft.exitFailMsg(`luo_ensure_nofile_limit failed: ${strerror(-ret)}\n`);
  lu.msg(t, '[STAGE 1] Creating state file for next stage (2)...\n');
  lu.createStateFile(t, luoFd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  lu.msg(t, `[STAGE 1] Creating ${NUM_SESSIONS} sessions...\n`);
  for (let i = 0; i < NUM_SESSIONS; i++) {
    const name = `many-test-${i}`;
    if (lu.luoCreateSession(t.c, luoFd, name) < 0)
      lu.failExit(t, 'run_stage_1', 44, `luo_create_session for '${name}' at index ${i}`);
  }
  lu.msg(t, `[STAGE 1] Successfully created ${NUM_SESSIONS} sessions.\n`);
  t.c.close(luoFd);
  lu.daemonizeAndWait(t);
}

function stage2(t: lu.LuTest, luoFd: number, stateFd: number): void {
  lu.beginStage2(t, stateFd, STATE_MEMFD_TOKEN, 65);
  lu.msg(t, `[STAGE 2] Retrieving and finishing ${NUM_SESSIONS} sessions...\n`);
  for (let i = 0; i < NUM_SESSIONS; i++) {
    const name = `many-test-${i}`;
    const sfd = lu.luoRetrieveSession(t.c, luoFd, name);
    if (sfd < 0) lu.failExit(t, 'run_stage_2', 79, `luo_retrieve_session for '${name}' at index ${i}`);
    if (lu.luoSessionFinish(t.c, sfd) < 0)
      lu.failExit(t, 'run_stage_2', 84, `luo_session_finish for '${name}' at index ${i}`);
    t.c.close(sfd);
  }
  lu.endStage2(t, stateFd, 92, `MANY-SESSIONS KEXEC TEST PASSED (${NUM_SESSIONS} sessions)`);
}

/** The program's `main`. */
export const luoStressSessions = lu.luoTestMain(STATE_SESSION_NAME, stage1, stage2);
