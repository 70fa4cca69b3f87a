/**
 * The kernel's LUO selftests as programs of the machine (/usr/lib/kselftests/liveupdate/):
 * every liveupdate.c case passes, the four kexec tests pass across `kexec -e` (one through the
 * real `kho run`), with the kernel's exact lines; the FDT-era format runs out of sessions at
 * the 820th with -ENOMEM; sessions nobody holds at the jump are gone, and stage 2 then fails as
 * the kernel's test does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { encodeKhoBlock } from '../../src/abi/kho-block.ts';
import { encodeKhoVmallocChunk } from '../../src/abi/kho-vmalloc.ts';
import {
  encodeLuoFileSer,
  encodeLuoSer,
  encodeLuoSessionSer,
  LUO_FILE_SER_SIZE,
  LUO_SESSION_SER_SIZE,
} from '../../src/abi/luo.ts';
import { encodeMemfdFolioArray, encodeMemfdLuoSer } from '../../src/abi/memfd-luo.ts';
import { O_RDWR } from '../../src/abi/uapi-fcntl.ts';
import '../../src/user/kselftests/liveupdate/install.ts';
import { userspace } from '../../src/user/userspace.ts';
import { ERRNO } from '../../src/util/errno.ts';
import { term, type TestTerm } from '../shell/helpers.ts';
import { openLuo, retrieveSession } from './helpers.ts';

const DIR = '/usr/lib/kselftests/liveupdate';
const CMDLINE = 'kho=on liveupdate=on';
const CASES = [
  'basic_open_close',
  'exclusive_open',
  'create_duplicate_session',
  'create_distinct_sessions',
  'preserve_memfd',
  'preserve_multiple_memfds',
  'preserve_complex_scenario',
  'preserve_unsupported_fd',
  'prevent_double_preservation',
  'create_session_no_null_termination',
  'create_session_empty_name',
  'get_session_name',
  'get_session_name_max_length',
  'preserve_many_sessions',
  'preserve_many_files',
];
const TOTALS0 = '# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:0 error:0\n';

/** Stage 1's last lines: the daemon's pid, then the kexec hint. */
function daemonLines(out: string): number {
  const m =
    /^# \[STAGE 1\] Forking persistent child to hold sessions\.\.\.\n# \[STAGE 1\] Child PID: (\d+)\. Resources are pinned\.\n# \[STAGE 1\] You may now perform kexec reboot\.\n$/m.exec(
      out,
    );
  assert.ok(m !== null, `stage 1 ends with the daemon lines:\n${out}`);
  return Number(m[1]);
}

/** Stage 1, `kexec -l -s --reuse-cmdline /boot/vmlinuz`, `kexec -e`, stage 2 in one machine. */
async function kexecCycle(
  t: TestTerm,
  test: string,
): Promise<{ s1: string; s2: { status: number; out: string; err: string } }> {
  const s1 = await t.run(`${DIR}/${test} -s 1`);
  assert.equal(s1.status, 0, s1.out + s1.err);
  const pid = daemonLines(s1.out);
  // The held-fd daemon outlives its parent, detached, without a terminal.
  const daemon = userspace(t.session.kernel).process(pid);
  assert.ok(daemon !== undefined && daemon.state === 'running');
  assert.equal(daemon.ppid, 1);
  assert.equal(daemon.sid, pid);
  assert.deepEqual(
    daemon.files
      .entries()
      .map((e) => e.fd)
      .filter((fd) => fd <= 2),
    [],
  );
  assert.equal((await t.run('kexec -l -s --reuse-cmdline /boot/vmlinuz')).status, 0);
  const k = await t.run('kexec -e');
  assert.equal(k.status, 0, k.err);
  return { s1: s1.out, s2: await t.run(`${DIR}/${test} -s 2`) };
}

describe('liveupdate (liveupdate.c): every case passes', () => {
  let t: TestTerm;
  before(() => {
    t = term({ cmdline: CMDLINE });
  });

  it('the whole program: TAP 13, 15 ok lines in the kernel order, PASSED 15 / 15, exit 0', async () => {
    const r = await t.run(`${DIR}/liveupdate`);
    assert.equal(r.status, 0, r.out + r.err);
    assert.equal(r.err, '');
    const expected =
      'TAP version 13\n1..15\n# Starting 15 tests from 1 test cases.\n' +
      CASES.map(
        (c, i) =>
          `#  RUN           liveupdate_device.${c} ...\n#            OK  liveupdate_device.${c}\nok ${i + 1} liveupdate_device.${c}\n`,
      ).join('') +
      '# PASSED: 15 / 15 tests passed.\n# Totals: pass:15 fail:0 xfail:0 xpass:0 skip:0 error:0\n';
    assert.equal(r.out, expected);
    // Every test child is gone and /dev/liveupdate is free again.
    const u = userspace(t.session.kernel);
    assert.deepEqual(
      u.processes().filter((p) => p.comm === 'liveupdate'),
      [],
    );
  });

  for (const c of CASES) {
    it(c, async () => {
      const r = await t.run(`${DIR}/liveupdate -t ${c}`);
      assert.equal(r.status, 0, r.out + r.err);
      assert.match(r.out, new RegExp(`^ok 1 liveupdate_device\\.${c}$`, 'm'));
      assert.match(r.out, /^# PASSED: 1 \/ 1 tests passed\.$/m);
    });
  }

  it('a failing ASSERT prints the harness lines with liveupdate.c line numbers and exits 1', async () => {
    // Another process holds /dev/liveupdate: every open in the tests is EBUSY.
    const u = userspace(t.session.kernel);
    const holder = u.spawn(u.init, ['holder']);
    assert.ok(typeof holder !== 'number');
    assert.ok(openLuo(holder) >= 0);
    const r = await t.run(`${DIR}/liveupdate -t basic_open_close -t exclusive_open`);
    holder.exit(0);
    assert.equal(r.status, 1);
    assert.equal(
      r.out,
      'TAP version 13\n1..2\n# Starting 2 tests from 1 test cases.\n' +
        '#  RUN           liveupdate_device.basic_open_close ...\n' +
        '#          FAIL  liveupdate_device.basic_open_close\n' +
        'not ok 1 liveupdate_device.basic_open_close\n' +
        '#  RUN           liveupdate_device.exclusive_open ...\n' +
        '#          FAIL  liveupdate_device.exclusive_open\n' +
        'not ok 2 liveupdate_device.exclusive_open\n' +
        '# FAILED: 0 / 2 tests passed.\n# Totals: pass:0 fail:2 xfail:0 xpass:0 skip:0 error:0\n',
    );
    assert.equal(
      r.err,
      '# liveupdate.c:67:basic_open_close:Expected self->fd1 (-1) >= 0 (0)\n' +
        '# basic_open_close: Test terminated by assertion\n' +
        '# liveupdate.c:86:exclusive_open:Expected self->fd1 (-1) >= 0 (0)\n' +
        '# exclusive_open: Test terminated by assertion\n',
    );
  });

  it('-l lists the fixture and its tests; a bad option prints the usage and exits 1', async () => {
    const l = await t.run(`${DIR}/liveupdate -l`);
    assert.equal(l.status, 4);
    assert.match(l.err, /^# FIXTURE {12}VARIANT {19}TEST\nglobal {2}/);
    assert.match(l.err, /^liveupdate_device {30}basic_open_close$/m);
    const bad = await t.run(`${DIR}/liveupdate -x`);
    assert.equal(bad.status, 1);
    assert.match(
      bad.err,
      /: invalid option -- 'x'\nUsage: \/usr\/lib\/kselftests\/liveupdate\/liveupdate \[-h\|-l\]/,
    );
  });
});

describe("without /dev/liveupdate the selftests skip as the kernel's do", () => {
  it('liveupdate=off: every case is SKIP (exit 0); a kexec test prints 1..0 # SKIP and exits 4', async () => {
    const t = term({ cmdline: 'kho=on liveupdate=off' });
    const r = await t.run(`${DIR}/liveupdate -t preserve_memfd`);
    assert.equal(r.status, 0);
    assert.match(r.out, /^ok 1 liveupdate_device\.preserve_memfd # SKIP \/dev\/liveupdate does not exist$/m);
    assert.match(r.out, /^# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0$/m);
    assert.equal(r.err, '#      SKIP      /dev/liveupdate does not exist\n');
    const s = await t.run(`${DIR}/luo_kexec_simple`);
    assert.equal(s.status, 4);
    assert.equal(s.out, '1..0 # SKIP Failed to open /dev/liveupdate. Is the luo module loaded?\n');
  });
});

describe('the kexec selftests pass across kexec -e on the default profile', () => {
  it('luo_kexec_simple through the real CLI: kho run prints the pass line and exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kho-selftest-'));
    try {
      const script = join(dir, 'simple.sh');
      writeFileSync(
        script,
        `${DIR}/luo_kexec_simple -s 1\nkexec -l -s --reuse-cmdline /boot/vmlinuz\nkexec -e\n${DIR}/luo_kexec_simple -s 2\n`,
      );
      const r = spawnSync(process.execPath, ['src/cli/main.ts', 'run', '--cmdline', CMDLINE, script], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.ok(
        r.stdout.endsWith(
          `root@kho:~# ${DIR}/luo_kexec_simple -s 2\n` +
            '# [STAGE 2] Starting post-kexec verification...\n' +
            "# [STAGE 2] Retrieving session 'test-session'...\n" +
            '# [STAGE 2] Restoring and verifying memfd (token 0x1a)...\n' +
            '# [STAGE 2] Test data verified successfully.\n' +
            '# [STAGE 2] Finalizing test session...\n' +
            '# [STAGE 2] Finalizing state session...\n' +
            '# \n--- SIMPLE KEXEC TEST PASSED ---\n',
        ),
        r.stdout,
      );
      assert.match(
        r.stdout,
        /# \[STAGE 1\] Starting pre-kexec setup\.\.\.\n# \[STAGE 1\] Creating state file for next stage \(2\)\.\.\.\n# \[STAGE 1\] Creating session 'test-session' and preserving memfd\.\.\.\n# \[STAGE 1\] Forking persistent child/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('luo_multi_session', async () => {
    const { s1, s2 } = await kexecCycle(term({ cmdline: CMDLINE }), 'luo_multi_session');
    assert.ok(
      s1.startsWith(
        '# [STAGE 1] Starting pre-kexec setup for multi-session test...\n' +
          '# [STAGE 1] Creating state file for next stage (2)...\n' +
          "# [STAGE 1] Creating empty sessions 'multi-test-empty-1' and 'multi-test-empty-2'...\n" +
          "# [STAGE 1] Creating session 'multi-test-files-1' with one memfd...\n" +
          "# [STAGE 1] Creating session 'multi-test-files-2' with two memfds...\n",
      ),
    );
    assert.equal(s2.status, 0, s2.out + s2.err);
    assert.equal(
      s2.out,
      '# [STAGE 2] Starting post-kexec verification...\n' +
        '# [STAGE 2] Retrieving all sessions...\n' +
        "# [STAGE 2] Verifying contents of session 'multi-test-files-1'...\n" +
        "# [STAGE 2] Verifying contents of session 'multi-test-files-2'...\n" +
        '# [STAGE 2] Test data verified successfully.\n' +
        '# [STAGE 2] Finalizing all test sessions...\n' +
        '# [STAGE 2] Finalizing state session...\n' +
        '# \n--- MULTI-SESSION KEXEC TEST PASSED ---\n',
    );
  });

  it('luo_stress_files (500 memfds in one session)', async () => {
    const { s1, s2 } = await kexecCycle(term({ cmdline: CMDLINE }), 'luo_stress_files');
    assert.match(
      s1,
      /^# \[STAGE 1\] Preserving 500 files\.\.\.\n# \[STAGE 1\] Successfully preserved 500 files\.\n/m,
    );
    assert.equal(s2.status, 0, s2.out + s2.err);
    assert.equal(
      s2.out,
      '# [STAGE 2] Starting post-kexec verification...\n' +
        "# [STAGE 2] Retrieving test session 'many_files_session'...\n" +
        '# [STAGE 2] Verifying 500 files...\n' +
        '# [STAGE 2] Finishing test session...\n' +
        '# [STAGE 2] Finalizing state session...\n' +
        '# \n--- MANY-FILES KEXEC TEST PASSED (500 files) ---\n',
    );
  });

  it('luo_stress_sessions (2000 sessions: the session blocks chain)', async () => {
    const { s1, s2 } = await kexecCycle(term({ cmdline: CMDLINE }), 'luo_stress_sessions');
    assert.ok(
      s1.startsWith(
        '# [STAGE 1] Increasing ulimit for open files...\n' +
          '# [STAGE 1] Creating state file for next stage (2)...\n' +
          '# [STAGE 1] Creating 2000 sessions...\n' +
          '# [STAGE 1] Successfully created 2000 sessions.\n',
      ),
    );
    assert.equal(s2.status, 0, s2.out + s2.err);
    assert.equal(
      s2.out,
      '# [STAGE 2] Starting post-kexec verification...\n' +
        '# [STAGE 2] Retrieving and finishing 2000 sessions...\n' +
        '# [STAGE 2] Finalizing state session...\n' +
        '# \n--- MANY-SESSIONS KEXEC TEST PASSED (2000 sessions) ---\n',
    );
  });

  it('luo_kexec_simple with do_kexec.sh between the stages', async () => {
    const t = term({ cmdline: CMDLINE });
    assert.equal((await t.run(`${DIR}/luo_kexec_simple -s 1`)).status, 0);
    const k = await t.run(`${DIR}/do_kexec.sh`);
    assert.equal(k.status, 0, k.err);
    assert.match(k.out, /kexec_core: Starting new kernel/);
    const s2 = await t.run(`${DIR}/luo_kexec_simple -s 2`);
    assert.equal(s2.status, 0, s2.out + s2.err);
    assert.ok(s2.out.endsWith('# \n--- SIMPLE KEXEC TEST PASSED ---\n'));
    // KERNEL= picks another image; a missing one fails the script under set -e.
    const bad = await t.run(`KERNEL=/boot/none ${DIR}/do_kexec.sh`);
    assert.equal(bad.status, 1);
    assert.equal(bad.err, "Cannot open `/boot/none': No such file or directory\n");
  });
});

describe("the kexec selftests fail as the kernel's do", () => {
  it('luo-v1 (kho-v3 profile): luo_stress_sessions stage 1 fails at the 820th session with -ENOMEM', async () => {
    const t = term({ cmdline: CMDLINE, profile: 'kho-v3' });
    const r = await t.run(`${DIR}/luo_stress_sessions -s 1`);
    assert.equal(r.status, 1);
    assert.equal(
      r.out,
      '# [STAGE 1] Increasing ulimit for open files...\n' +
        '# [STAGE 1] Creating state file for next stage (2)...\n' +
        '# [STAGE 1] Creating 2000 sessions...\n' +
        "Bail out! [run_stage_1:44] luo_create_session for 'many-test-818' at index 818 (errno: Cannot allocate memory)\n" +
        TOTALS0,
    );
  });

  it('closing every fd of the sessions before kexec -e leaves nothing to retrieve; stage 2 then reports stage 1', async () => {
    const t = term({ cmdline: CMDLINE });
    const s1 = await t.run(`${DIR}/luo_kexec_simple -s 1`);
    const pid = daemonLines(s1.out);
    // The daemon goes (its fds close, last holder of both sessions): they are unpreserved.
    userspace(t.session.kernel).process(pid)!.exit(0);
    assert.equal((await t.run('kexec -l -s --reuse-cmdline /boot/vmlinuz')).status, 0);
    assert.equal((await t.run('kexec -e')).status, 0);
    const s2 = await t.run(`${DIR}/luo_kexec_simple -s 2`);
    assert.equal(s2.status, 1);
    assert.equal(
      s2.out,
      'Bail out! Stage mismatch Requested stage 2, but system is in stage 1.\n' +
        '(State session kexec_simple_state: MISSING)\n' +
        TOTALS0,
    );
    const p = userspace(t.session.kernel).spawn(userspace(t.session.kernel).init, ['check']);
    assert.ok(typeof p !== 'number');
    const luo = p.open('/dev/liveupdate', O_RDWR);
    assert.ok(luo >= 0);
    assert.equal(retrieveSession(p, luo, 'test-session'), -ERRNO.ENOENT);
    assert.equal(retrieveSession(p, luo, 'kexec_simple_state'), -ERRNO.ENOENT);
    p.exit(0);
  });

  it('stage 2 on a cold boot, stage 1 after stage 1, and a bad -s', async () => {
    const t = term({ cmdline: CMDLINE });
    const cold = await t.run(`${DIR}/luo_multi_session -s 2`);
    assert.equal(cold.status, 1);
    assert.equal(
      cold.out,
      'Bail out! Stage mismatch Requested stage 2, but system is in stage 1.\n(State session kexec_multi_state: MISSING)\n' +
        TOTALS0,
    );
    const bad = await t.run(`${DIR}/luo_multi_session -s 3`);
    assert.equal(bad.status, 1);
    assert.equal(
      bad.out,
      `Bail out! [parse_stage_args:280] Invalid stage argument (errno: Success)\n${TOTALS0}`,
    );
    // Stage 1 twice in one boot: the state session exists but is outgoing, so retrieval
    // (incoming only) says ENOENT and stage 1 runs again; creating it again is EEXIST.
    assert.equal((await t.run(`${DIR}/luo_multi_session -s 1`)).status, 0);
    const again = await t.run(`${DIR}/luo_multi_session -s 1`);
    assert.equal(again.status, 1);
    assert.match(
      again.out,
      /^Bail out! \[create_state_file:209\] luo_create_session for state tracking \(errno: File exists\)$/m,
    );
  });
});

describe('the hand-over of the real luo_kexec_simple stage 1, page by page', () => {
  it('luo_ser, the session block, both file blocks, memfd_luo_ser, the folio array and the data', async () => {
    const t = term({ cmdline: CMDLINE });
    assert.equal((await t.run(`${DIR}/luo_kexec_simple -s 1`)).status, 0);
    const k = t.session.kernel;
    assert.equal(k.luo.reboot(), 0, 'the reboot path serializes what the daemon holds');
    const mem = k.machine.mem;
    const page = (phys: number, len = 4096): string => Buffer.from(mem.read(phys, len)).toString('hex');
    const padded = (b: Uint8Array): string => Buffer.from(b).toString('hex').padEnd(8192, '0');
    const ser = k.luo.outPhys;
    const S = mem.readU64(ser + 16);
    const F = k.luo.flbs.pagePhys;
    assert.equal(page(ser, 16), '6c756f2d76350000' + '0100000000000000', '"luo-v5", liveupdate number 1');
    assert.equal(
      page(ser, 32),
      Buffer.from(encodeLuoSer({ liveupdateNum: 1, sessionsPa: S, flbsPa: F })).toString('hex'),
    );
    const A = mem.readU64(S + 16 + 64);
    const B = mem.readU64(S + 16 + 80 + 64);
    assert.equal(
      page(S),
      Buffer.from(
        encodeKhoBlock(0, LUO_SESSION_SER_SIZE, [
          encodeLuoSessionSer({ name: 'kexec_simple_state', files: A, count: 1 }),
          encodeLuoSessionSer({ name: 'test-session', files: B, count: 1 }),
        ]),
      ).toString('hex'),
    );
    for (const [blk, token, data] of [
      [A, 999, '2'],
      [B, 0x1a, 'hello kexec world'],
    ] as const) {
      const M = mem.readU64(blk + 16 + 48);
      assert.equal(
        page(blk),
        Buffer.from(
          encodeKhoBlock(0, LUO_FILE_SER_SIZE, [
            encodeLuoFileSer({ compatible: 'memfd-v2', data: M, token }),
          ]),
        ).toString('hex'),
      );
      const C = mem.readU64(M + 32);
      const serBytes = encodeMemfdLuoSer({
        pos: 0,
        size: 4096,
        seals: 1,
        nrFolios: 1,
        folios: { first: C, totalPages: 1, flags: 1, order: 0 },
      });
      assert.equal(page(M), padded(serBytes), 'memfd_luo_ser in a zeroed page of its own');
      const FA = mem.readU64(C + 8);
      assert.equal(page(C), Buffer.from(encodeKhoVmallocChunk(0, [FA])).toString('hex'));
      const pfn = Number(mem.readU64Big(FA) & ((1n << 52n) - 1n));
      assert.equal(page(FA), padded(encodeMemfdFolioArray([{ pfn, flags: 3, index: 0 }])));
      assert.equal(page(pfn * 4096), padded(new TextEncoder().encode(`${data}\0`)));
    }
  });
});

describe('on the FDT-era profiles', () => {
  it('kho-v3: the liveupdate cases of the v7.2 interface fail as on such a kernel; the nine older ones pass', async () => {
    const t = term({ cmdline: CMDLINE, profile: 'kho-v3' });
    const r = await t.run(`${DIR}/liveupdate`);
    assert.equal(r.status, 1);
    const failed = [...r.out.matchAll(/^not ok \d+ liveupdate_device\.(\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(failed, [
      'create_session_no_null_termination',
      'create_session_empty_name',
      'get_session_name',
      'get_session_name_max_length',
      'preserve_many_sessions',
      'preserve_many_files',
    ]);
    assert.match(r.out, /^# FAILED: 9 \/ 15 tests passed\.$/m);
    assert.match(
      r.err,
      /^# liveupdate\.c:488:preserve_many_sessions:Expected session_fds\[i\] \(-12\) >= 0 \(0\)$/m,
    );
  });

  it('kho-v2 (luo-v1, memfd-v1): luo_kexec_simple passes; luo_stress_files stops at the 129th file with ENOSPC', async () => {
    const { s2 } = await kexecCycle(term({ cmdline: CMDLINE, profile: 'kho-v2' }), 'luo_kexec_simple');
    assert.equal(s2.status, 0, s2.out + s2.err);
    assert.ok(s2.out.endsWith('# \n--- SIMPLE KEXEC TEST PASSED ---\n'));
    const t = term({ cmdline: CMDLINE, profile: 'kho-v2' });
    const r = await t.run(`${DIR}/luo_stress_files -s 1`);
    assert.equal(r.status, 1);
    assert.ok(
      r.out.endsWith(
        '# [STAGE 1] Preserving 500 files...\n' +
          'Bail out! [run_stage_1:39] create_and_preserve_memfd for index 128 (errno: No space left on device)\n' +
          TOTALS0,
      ),
      r.out,
    );
  });
});

it('ls -l /proc/PID/fd of the held-fd daemon shows the two sessions and no terminal', async () => {
  const t = term({ cmdline: CMDLINE });
  const pid = daemonLines((await t.run(`${DIR}/luo_kexec_simple -s 1`)).out);
  const ls = await t.run(`ls -l /proc/${pid}/fd`);
  assert.equal(ls.status, 0, ls.err);
  const links = [...ls.out.matchAll(/ (\d+) -> (.*)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(links, [
    '4 anon_inode:[luo_session] kexec_simple_state',
    '5 anon_inode:[luo_session] test-session',
  ]);
});
