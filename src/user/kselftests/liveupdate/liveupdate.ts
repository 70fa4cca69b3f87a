/**
 * `liveupdate` (tools/testing/selftests/liveupdate/liveupdate.c): the one-boot LUO selftest, a
 * kselftest-harness program with fixture `liveupdate_device` and its fifteen cases (device
 * access, session names, memfd preservation, double preservation, many sessions and files).
 * The ASSERT/EXPECT lines carry the kernel source's line numbers, so a failure reads as the
 * kernel's test prints it.
 */
import {
  LIVEUPDATE_IOCTL_CREATE_SESSION,
  LIVEUPDATE_SESSION_IOCTL_SIZE,
} from '../../../abi/liveupdate-uapi.ts';
import { O_RDWR, SEEK_SET } from '../../../abi/uapi-fcntl.ts';
import { ERRNO } from '../../../util/errno.ts';
import { cMain, type Libc } from '../../libc.ts';
import { testHarnessMain, type Fixture, type HarnessTest, type TestMetadata } from '../harness.ts';
import {
  luoCreateSession,
  luoEnsureNofileLimit,
  luoGetSessionName,
  luoSessionPreserveFd,
} from './lu-utils.ts';

const LIVEUPDATE_DEV = '/dev/liveupdate';

/** FIXTURE(liveupdate_device). */
interface Self {
  fd1: number;
  fd2: number;
}

const dec = new TextDecoder();

/** `read_buf` as the C string the test compares. */
function cstr(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return dec.decode(nul < 0 ? b : b.subarray(0, nul));
}

/** Open the device into `self.fd1`; false (after SKIP) when it does not exist. */
function openDev(t: TestMetadata, self: Self, dot = ''): boolean {
  self.fd1 = t.c.open(LIVEUPDATE_DEV, O_RDWR);
  if (self.fd1 < 0 && t.c.errno === ERRNO.ENOENT) {
    t.skip(`${LIVEUPDATE_DEV} does not exist${dot}`);
    return false;
  }
  return true;
}

/** ASSERT_GE(self->fd1, 0) at `line`. */
function assertDev(t: TestMetadata, self: Self, line: number): void {
  t.check(line, true, 'self->fd1', self.fd1, '>=', '0', 0);
}

/** Write `s` and check the count (ASSERT_EQ(write(fd, s, strlen(s)), strlen(s))). */
function writeStr(t: TestMetadata, line: number, fd: number, fdName: string, s: string, sName: string): void {
  const n = t.c.write(fd, s);
  t.check(line, true, `write(${fdName}, ${sName}, strlen(${sName}))`, n, '==', `strlen(${sName})`, s.length);
}

/** lseek to 0, read up to 64 bytes and compare them with `s` (ASSERT_EQ, ASSERT_EQ, ASSERT_STREQ). */
function readBack(
  t: TestMetadata,
  lines: readonly [number, number, number],
  fd: number,
  fdName: string,
  s: string,
  sName: string,
): void {
  const c = t.c;
  t.check(lines[0], true, `lseek(${fdName}, 0, SEEK_SET)`, c.lseek(fd, 0, SEEK_SET), '==', '0', 0);
  const buf = new Uint8Array(64);
  const n = c.read(fd, buf);
  t.check(
    lines[1],
    true,
    `read(${fdName}, read_buf, sizeof(read_buf))`,
    n,
    '==',
    `strlen(${sName})`,
    s.length,
  );
  t.checkStreq(lines[2], true, cstr(buf), s);
}

function closeOk(t: TestMetadata, line: number, fd: number, name: string): void {
  t.check(line, true, `close(${name})`, t.c.close(fd), '==', '0', 0);
}

function createOk(t: TestMetadata, self: Self, line: number, name: string, varName: string): number {
  const fd = luoCreateSession(t.c, self.fd1, name);
  t.check(line, true, varName, fd, '>=', '0', 0);
  return fd;
}

function preserveOk(
  t: TestMetadata,
  line: number,
  sfd: number,
  sName: string,
  fd: number,
  fdName: string,
  token: number,
  tokStr: string,
): void {
  const r = luoSessionPreserveFd(t.c, sfd, fd, token);
  t.check(line, true, `luo_session_preserve_fd(${sName}, ${fdName}, ${tokStr})`, r, '==', '0', 0);
}

function memfd(t: TestMetadata, line: number, name: string, varName: string): number {
  const fd = t.c.memfdCreate(name, 0);
  t.check(line, true, varName, fd, '>=', '0', 0);
  return fd;
}

const TESTS: HarnessTest<Self>[] = [
  {
    name: 'basic_open_close',
    fn: (t, self) => {
      if (!openDev(t, self, '.')) return;
      assertDev(t, self, 67);
      closeOk(t, 68, self.fd1, 'self->fd1');
      self.fd1 = -1;
    },
  },
  {
    name: 'exclusive_open',
    fn: (t, self) => {
      if (!openDev(t, self, '.')) return;
      assertDev(t, self, 86);
      self.fd2 = t.c.open(LIVEUPDATE_DEV, O_RDWR);
      t.check(88, false, 'self->fd2', self.fd2, '<', '0', 0);
      t.check(89, false, 'errno', t.c.errno, '==', 'EBUSY', ERRNO.EBUSY);
    },
  },
  {
    name: 'create_duplicate_session',
    fn: (t, self) => {
      if (!openDev(t, self)) return;
      assertDev(t, self, 106);
      const s1 = createOk(t, self, 109, 'duplicate-session-test', 'session_fd1');
      const s2 = luoCreateSession(t.c, self.fd1, 'duplicate-session-test');
      t.check(112, false, 'session_fd2', s2, '<', '0', 0);
      t.check(113, false, '-session_fd2', -s2, '==', 'EEXIST', ERRNO.EEXIST);
      closeOk(t, 115, s1, 'session_fd1');
    },
  },
  {
    name: 'create_distinct_sessions',
    fn: (t, self) => {
      if (!openDev(t, self)) return;
      assertDev(t, self, 131);
      const s1 = createOk(t, self, 134, 'distinct-session-1', 'session_fd1');
      const s2 = createOk(t, self, 137, 'distinct-session-2', 'session_fd2');
      closeOk(t, 139, s1, 'session_fd1');
      closeOk(t, 140, s2, 'session_fd2');
    },
  },
  {
    name: 'preserve_memfd',
    fn: (t, self) => {
      const str = 'hello liveupdate';
      if (!openDev(t, self)) return;
      assertDev(t, self, 158);
      const s = createOk(t, self, 161, 'preserve-memfd-test', 'session_fd');
      const m = memfd(t, 164, 'test-memfd', 'mem_fd');
      writeStr(t, 166, m, 'mem_fd', str, 'test_str');
      preserveOk(t, 167, s, 'session_fd', m, 'mem_fd', 0x1234, '0x1234');
      closeOk(t, 168, s, 'session_fd');
      readBack(t, [170, 171, 172], m, 'mem_fd', str, 'test_str');
      closeOk(t, 173, m, 'mem_fd');
    },
  },
  {
    name: 'preserve_multiple_memfds',
    fn: (t, self) => {
      const str1 = 'data for memfd one';
      const str2 = 'data for memfd two';
      if (!openDev(t, self)) return;
      assertDev(t, self, 193);
      const s = createOk(t, self, 196, 'preserve-multi-memfd-test', 'session_fd');
      const m1 = memfd(t, 199, 'test-memfd-1', 'mem_fd1');
      const m2 = memfd(t, 201, 'test-memfd-2', 'mem_fd2');
      writeStr(t, 203, m1, 'mem_fd1', str1, 'test_str1');
      writeStr(t, 204, m2, 'mem_fd2', str2, 'test_str2');
      preserveOk(t, 206, s, 'session_fd', m1, 'mem_fd1', 0xaaaa, '0xAAAA');
      preserveOk(t, 207, s, 'session_fd', m2, 'mem_fd2', 0xbbbb, '0xBBBB');
      readBack(t, [210, 211, 212], m1, 'mem_fd1', str1, 'test_str1');
      readBack(t, [215, 216, 217], m2, 'mem_fd2', str2, 'test_str2');
      closeOk(t, 219, m1, 'mem_fd1');
      closeOk(t, 220, m2, 'mem_fd2');
      closeOk(t, 221, s, 'session_fd');
    },
  },
  {
    name: 'preserve_complex_scenario',
    fn: (t, self) => {
      const data1 = 'data for session 1';
      const data2 = 'data for session 2';
      if (!openDev(t, self)) return;
      assertDev(t, self, 241);
      const s1 = createOk(t, self, 244, 'complex-session-1', 'session_fd1');
      const s2 = createOk(t, self, 246, 'complex-session-2', 'session_fd2');
      const d1 = memfd(t, 249, 'data1', 'mem_fd_data1');
      writeStr(t, 250, d1, 'mem_fd_data1', data1, 'data1');
      const e1 = memfd(t, 253, 'empty1', 'mem_fd_empty1');
      const d2 = memfd(t, 256, 'data2', 'mem_fd_data2');
      writeStr(t, 257, d2, 'mem_fd_data2', data2, 'data2');
      const e2 = memfd(t, 260, 'empty2', 'mem_fd_empty2');
      preserveOk(t, 262, s1, 'session_fd1', d1, 'mem_fd_data1', 0x1111, '0x1111');
      preserveOk(t, 263, s1, 'session_fd1', e1, 'mem_fd_empty1', 0x2222, '0x2222');
      preserveOk(t, 264, s2, 'session_fd2', d2, 'mem_fd_data2', 0x3333, '0x3333');
      preserveOk(t, 265, s2, 'session_fd2', e2, 'mem_fd_empty2', 0x4444, '0x4444');
      readBack(t, [267, 268, 269], d1, 'mem_fd_data1', data1, 'data1');
      readBack(t, [272, 273, 274], d2, 'mem_fd_data2', data2, 'data2');
      const buf = new Uint8Array(64);
      for (const [fd, name, l] of [
        [e1, 'mem_fd_empty1', 276],
        [e2, 'mem_fd_empty2', 279],
      ] as const) {
        t.check(l, true, `lseek(${name}, 0, SEEK_SET)`, t.c.lseek(fd, 0, SEEK_SET), '==', '0', 0);
        t.check(l + 1, true, `read(${name}, read_buf, sizeof(read_buf))`, t.c.read(fd, buf), '==', '0', 0);
      }
      closeOk(t, 282, d1, 'mem_fd_data1');
      closeOk(t, 283, e1, 'mem_fd_empty1');
      closeOk(t, 284, d2, 'mem_fd_data2');
      closeOk(t, 285, e2, 'mem_fd_empty2');
      closeOk(t, 286, s1, 'session_fd1');
      closeOk(t, 287, s2, 'session_fd2');
    },
  },
  {
    name: 'preserve_unsupported_fd',
    fn: (t, self) => {
      if (!openDev(t, self)) return;
      assertDev(t, self, 306);
      const s = createOk(t, self, 309, 'unsupported-fd-test', 'session_fd');
      const u = t.c.open('/dev/null', O_RDWR);
      t.check(312, true, 'unsupported_fd', u, '>=', '0', 0);
      const ret = luoSessionPreserveFd(t.c, s, u, 0xdead);
      t.check(315, false, 'ret', ret, '==', '-ENOENT', -ERRNO.ENOENT);
      closeOk(t, 317, u, 'unsupported_fd');
      closeOk(t, 318, s, 'session_fd');
    },
  },
  {
    name: 'prevent_double_preservation',
    fn: (t, self) => {
      if (!openDev(t, self)) return;
      assertDev(t, self, 336);
      const s1 = createOk(t, self, 339, 'double-preserve-session-1', 'session_fd1');
      const s2 = createOk(t, self, 341, 'double-preserve-session-2', 'session_fd2');
      const m = memfd(t, 344, 'test-memfd', 'mem_fd');
      preserveOk(t, 347, s1, 'session_fd1', m, 'mem_fd', 0x1111, '0x1111');
      let ret = luoSessionPreserveFd(t.c, s2, m, 0x2222);
      t.check(351, false, 'ret', ret, '==', '-EBUSY', -ERRNO.EBUSY);
      ret = luoSessionPreserveFd(t.c, s1, m, 0x3333);
      t.check(355, false, 'ret', ret, '==', '-EBUSY', -ERRNO.EBUSY);
      closeOk(t, 357, m, 'mem_fd');
      closeOk(t, 358, s1, 'session_fd1');
      closeOk(t, 359, s2, 'session_fd2');
    },
  },
  {
    name: 'create_session_no_null_termination',
    fn: (t, self) => {
      if (!openDev(t, self)) return;
      assertDev(t, self, 375);
      // The whole 64-byte name is 'X', no NUL (built by hand, as the test does).
      const args = new Uint8Array(LIVEUPDATE_SESSION_IOCTL_SIZE);
      new DataView(args.buffer).setUint32(0, LIVEUPDATE_SESSION_IOCTL_SIZE, true);
      args.fill(0x58, 8);
      const r = t.c.ioctl(self.fd1, LIVEUPDATE_IOCTL_CREATE_SESSION, args);
      t.check(381, false, 'ioctl(self->fd1, LIVEUPDATE_IOCTL_CREATE_SESSION, &args)', r, '<', '0', 0);
      t.check(382, false, 'errno', t.c.errno, '==', 'EINVAL', ERRNO.EINVAL);
    },
  },
  {
    name: 'create_session_empty_name',
    fn: (t, self) => {
      if (!openDev(t, self)) return;
      assertDev(t, self, 398);
      const s = luoCreateSession(t.c, self.fd1, '');
      t.check(401, false, 'session_fd', s, '==', '-EINVAL', -ERRNO.EINVAL);
    },
  },
  {
    name: 'get_session_name',
    fn: (t, self) => {
      const name = 'get-name-test-session';
      if (!openDev(t, self)) return;
      assertDev(t, self, 419);
      const s = createOk(t, self, 422, name, 'session_fd');
      getNameCheck(t, [424, 425], s, name);
      closeOk(t, 427, s, 'session_fd');
    },
  },
  {
    name: 'get_session_name_max_length',
    fn: (t, self) => {
      const name = 'A'.repeat(63);
      if (!openDev(t, self)) return;
      assertDev(t, self, 448);
      const s = createOk(t, self, 451, name, 'session_fd');
      getNameCheck(t, [453, 454], s, name);
      closeOk(t, 456, s, 'session_fd');
    },
  },
  {
    name: 'preserve_many_sessions',
    fn: (t, self) => {
      const MANY_SESSIONS = 2000;
      if (!openDev(t, self)) return;
      assertDev(t, self, 476);
      const ret = luoEnsureNofileLimit(t.c, MANY_SESSIONS);
      if (ret === -ERRNO.EPERM) {
        t.skip('Insufficient privileges to set RLIMIT_NOFILE');
        return;
      }
      t.check(481, true, 'ret', ret, '==', '0', 0);
      const fds: number[] = [];
      for (let i = 0; i < MANY_SESSIONS; i++) {
        fds.push(luoCreateSession(t.c, self.fd1, `many-session-${i}`));
        t.check(488, true, 'session_fds[i]', fds[i]!, '>=', '0', 0);
      }
      for (const fd of fds) closeOk(t, 492, fd, 'session_fds[i]');
    },
  },
  {
    name: 'preserve_many_files',
    fn: (t, self) => {
      const MANY_FILES = 500;
      if (!openDev(t, self)) return;
      assertDev(t, self, 511);
      const s = createOk(t, self, 514, 'many-files-test', 'session_fd');
      const ret = luoEnsureNofileLimit(t.c, MANY_FILES + 10);
      if (ret === -ERRNO.EPERM) {
        t.skip('Insufficient privileges to set RLIMIT_NOFILE');
        return;
      }
      t.check(519, true, 'ret', ret, '==', '0', 0);
      const fds: number[] = [];
      for (let i = 0; i < MANY_FILES; i++) {
        fds.push(memfd(t, 523, 'test-memfd', 'mem_fds[i]'));
        t.check(
          524,
          true,
          'luo_session_preserve_fd(session_fd, mem_fds[i], i)',
          luoSessionPreserveFd(t.c, s, fds[i]!, i),
          '==',
          '0',
          0,
        );
      }
      for (const fd of fds) closeOk(t, 528, fd, 'mem_fds[i]');
      closeOk(t, 530, s, 'session_fd');
    },
  },
];

/** ASSERT_EQ(luo_get_session_name(…), 0) and ASSERT_STREQ(name_buf, expected). */
function getNameCheck(
  t: TestMetadata,
  lines: readonly [number, number],
  sfd: number,
  expected: string,
): void {
  const got = luoGetSessionName(t.c, sfd);
  t.check(
    lines[0],
    true,
    'luo_get_session_name(session_fd, name_buf, sizeof(name_buf))',
    typeof got === 'number' ? got : 0,
    '==',
    '0',
    0,
  );
  t.checkStreq(lines[1], true, typeof got === 'string' ? got : '', expected);
}

/** FIXTURE(liveupdate_device) with FIXTURE_SETUP / FIXTURE_TEARDOWN. */
export const LIVEUPDATE_DEVICE: Fixture<Self> = {
  name: 'liveupdate_device',
  create: () => ({ fd1: -1, fd2: -1 }),
  setup: (_t, self) => {
    self.fd1 = -1;
    self.fd2 = -1;
  },
  teardown: (t: TestMetadata, self) => {
    if (self.fd1 >= 0) t.c.close(self.fd1);
    if (self.fd2 >= 0) t.c.close(self.fd2);
  },
  tests: TESTS,
};

/** The program's `main` (TEST_HARNESS_MAIN). */
export const liveupdate = cMain((c: Libc, argv) =>
  testHarnessMain(c, argv, 'liveupdate.c', LIVEUPDATE_DEVICE),
);
