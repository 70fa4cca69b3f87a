/**
 * Every errno of the /dev/liveupdate and session ioctls, through the byte-level uAPI, in the
 * kernel's check order (kernel/liveupdate/luo_core.c: luo_ioctl(), luo_session.c:
 * luo_session_ioctl()).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { iowr } from '../../src/abi/ioctl.ts';
import {
  encodeFdIoctl,
  encodeFinishIoctl,
  encodeGetNameIoctl,
  encodeSessionIoctl,
  LIVEUPDATE_IOCTL_CREATE_SESSION,
  LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
  LIVEUPDATE_SESSION_FINISH,
  LIVEUPDATE_SESSION_GET_NAME,
  LIVEUPDATE_SESSION_PRESERVE_FD,
  LIVEUPDATE_SESSION_RETRIEVE_FD,
} from '../../src/abi/liveupdate-uapi.ts';
import { FD_CLOEXEC, F_GETFD, FIOCLEX, O_RDONLY, O_RDWR, RLIMIT_NOFILE } from '../../src/abi/uapi-fcntl.ts';
import { PROFILE_NAMES } from '../../src/kernel/profile.ts';
import { Process } from '../../src/user/process.ts';
import { ERRNO } from '../../src/util/errno.ts';
import {
  boot,
  createAndPreserveMemfd,
  createSession,
  finishSession,
  getSessionName,
  kexec,
  openLuo,
  preserveFd,
  proc,
  restoreMemfdText,
  retrieveFd,
  retrieveSession,
} from './helpers.ts';

const { EINVAL, EFAULT, ENOTTY, E2BIG, EEXIST, ENOENT, EBUSY, EBADF, EMFILE } = ERRNO;

/** A struct buffer with its `size` field set to `size` (and `len` bytes of user memory). */
function sized(bytes: Uint8Array, size: number, len = bytes.length): Uint8Array {
  const b = new Uint8Array(len);
  b.set(bytes.subarray(0, Math.min(len, bytes.length)));
  new DataView(b.buffer).setUint32(0, size, true);
  return b;
}

describe('/dev/liveupdate ioctls (luo-v5)', () => {
  const k = boot();
  const p = proc(k, 'ioctl_test');
  const luo = openLuo(p);

  it('opens once: a second open is EBUSY until the first closes', () => {
    assert.ok(luo >= 0);
    const q = proc(k);
    assert.equal(openLuo(q), -EBUSY);
    assert.equal(q.open('/dev/liveupdate', O_RDONLY), -EBUSY);
  });

  it('an unknown command number is EINVAL before the argument is read', () => {
    assert.equal(p.ioctl(luo, 0xba02, null), -EINVAL);
    assert.equal(p.ioctl(luo, LIVEUPDATE_SESSION_PRESERVE_FD, encodeFdIoctl({ token: 1 })), -EINVAL);
  });

  it('the size is read first: a NULL or short argument is EFAULT', () => {
    assert.equal(p.ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, null), -EFAULT);
    assert.equal(p.ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, new Uint8Array(3)), -EFAULT);
  });

  it('the right number with other type, direction or size bits is ENOTTY (ENOIOCTLCMD)', () => {
    const arg = encodeSessionIoctl({ name: 'x' });
    assert.equal(p.ioctl(luo, 0xbb00, arg), -ENOTTY);
    assert.equal(p.ioctl(luo, iowr(0xba, 0, 72), arg), -ENOTTY);
  });

  it('size below the struct is EINVAL; a larger size needs zeros past 72 (E2BIG) and readable memory (EFAULT)', () => {
    const arg = encodeSessionIoctl({ name: 'size-rule' });
    assert.equal(p.ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, sized(arg, 71)), -EINVAL);
    const tail = sized(arg, 80, 80);
    tail[79] = 1;
    assert.equal(p.ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, tail), -E2BIG);
    assert.equal(p.ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, sized(arg, 80, 76)), -EFAULT);
  });

  it('a zero tail past the struct is accepted and the reply copies back only 72 bytes', () => {
    const b = sized(encodeSessionIoctl({ name: 'big-struct' }), 96, 96);
    b.fill(0xee, 72, 96);
    b.fill(0, 72, 96);
    assert.equal(p.ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, b), 0);
    const fd = new DataView(b.buffer).getInt32(4, true);
    assert.ok(fd > luo);
    assert.equal(p.fcntl(fd, F_GETFD), FD_CLOEXEC, 'session fds are close-on-exec');
    assert.ok(b.subarray(72).every((x) => x === 0));
  });

  it('CREATE_SESSION: empty or unterminated names are EINVAL, duplicates EEXIST', () => {
    assert.equal(createSession(p, luo, ''), -EINVAL);
    assert.equal(createSession(p, luo, new Uint8Array(64).fill(0x58)), -EINVAL);
    assert.ok(createSession(p, luo, 'A'.repeat(63)) >= 0);
    assert.ok(createSession(p, luo, 'dup') >= 0);
    assert.equal(createSession(p, luo, 'dup'), -EEXIST);
  });

  it('CREATE_SESSION reserves the fd first: RLIMIT_NOFILE exhausted is EMFILE', () => {
    // A forked child shares the open device; with fd 0 taken and a limit of 1 nothing is free.
    const r = p.fork();
    assert.ok(r instanceof Process);
    assert.equal(luo, 0);
    assert.equal(r.setrlimit(RLIMIT_NOFILE, { cur: 1, max: 4096 }), 0);
    assert.equal(createSession(r, luo, ''), -EMFILE, 'EMFILE comes before the name check');
    r.exit(0);
  });

  it('RETRIEVE_SESSION on a cold boot is ENOENT (whatever the name)', () => {
    assert.equal(retrieveSession(p, luo, 'dup'), -ENOENT);
    assert.equal(retrieveSession(p, luo, ''), -ENOENT);
  });

  it('a reply that cannot be written back is EFAULT and destroys the new session', () => {
    const ro = Process.readOnly(encodeSessionIoctl({ name: 'ro-reply' }));
    const before = p.files.count;
    assert.equal(p.ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, ro), -EFAULT);
    assert.equal(p.files.count, before, 'no fd was installed');
    assert.ok(createSession(p, luo, 'ro-reply') >= 0, 'the name is free again');
  });

  it('VFS-generic ioctls never reach LUO', () => {
    const fd = createSession(p, luo, 'generic');
    assert.equal(p.ioctl(fd, FIOCLEX, null), 0);
    assert.equal(p.ioctl(luo, FIOCLEX, null), 0);
  });
});

describe('session ioctls (luo-v5)', () => {
  const k = boot();
  const p = proc(k, 'session_test');
  const luo = openLuo(p);
  const s = createSession(p, luo, 'outgoing');

  it('command numbers outside 0x40..0x43 are EINVAL', () => {
    assert.equal(p.ioctl(s, LIVEUPDATE_IOCTL_CREATE_SESSION, encodeSessionIoctl({ name: 'x' })), -EINVAL);
    assert.equal(p.ioctl(s, 0xba44, encodeFdIoctl({ token: 1 })), -EINVAL);
  });

  it('NULL argument is EFAULT; wrong type bits ENOTTY (checked before the direction)', () => {
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, null), -EFAULT);
    assert.equal(p.ioctl(s, 0xbb42, encodeFinishIoctl()), -ENOTTY);
    assert.equal(p.ioctl(s, iowr(0xba, 0x41, 16), encodeFdIoctl({ token: 1 })), -ENOTTY);
  });

  it('FINISH and RETRIEVE_FD are EINVAL on an outgoing session, even with a good argument', () => {
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_FINISH, encodeFinishIoctl()), -EINVAL);
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, encodeFdIoctl({ token: 1 })), -EINVAL);
  });

  it('size below the minimum is EINVAL; nonzero bytes past the struct E2BIG', () => {
    const mfd = p.memfdCreate('m', 0);
    assert.equal(
      p.ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, sized(encodeFdIoctl({ fd: mfd, token: 5 }), 15)),
      -EINVAL,
    );
    const big = sized(encodeFdIoctl({ fd: mfd, token: 5 }), 24, 24);
    big[20] = 1;
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, big), -E2BIG);
    p.close(mfd);
  });

  it('PRESERVE_FD: EBADF, ENOENT for a file no handler takes, EEXIST for a token used in the session', () => {
    assert.equal(preserveFd(p, s, 999, 1), -EBADF);
    const nul = p.open('/dev/null', O_RDWR);
    assert.equal(preserveFd(p, s, nul, 0xdead), -ENOENT);
    const mfd = p.memfdCreate('tok', 0);
    assert.equal(preserveFd(p, s, mfd, 0x1111), 0);
    const m2 = p.memfdCreate('tok2', 0);
    assert.equal(preserveFd(p, s, m2, 0x1111), -EEXIST);
  });

  it('PRESERVE_FD: the same memfd (also through another open of it) is EBUSY in any session', () => {
    const s2 = createSession(p, luo, 'other');
    const mfd = p.memfdCreate('twice', 0);
    assert.equal(preserveFd(p, s, mfd, 0x2222), 0);
    assert.equal(preserveFd(p, s2, mfd, 0x2222), -EBUSY);
    assert.equal(preserveFd(p, s, mfd, 0x3333), -EBUSY);
    const again = p.open(`/proc/self/fd/${mfd}`, O_RDWR);
    assert.ok(again >= 0);
    assert.equal(preserveFd(p, s2, again, 0x4444), -EBUSY, 'memfd-v2 identifies the inode');
  });

  it('PRESERVE_FD whose reply faults is EFAULT but the file stays preserved', () => {
    const mfd = p.memfdCreate('kept', 0);
    const ro = Process.readOnly(encodeFdIoctl({ fd: mfd, token: 0x5555 }));
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_PRESERVE_FD, ro), -EFAULT);
    assert.ok(k.dmesg.has('luo: The file was successfully preserved, but response to user failed'));
    const m2 = p.memfdCreate('kept2', 0);
    assert.equal(preserveFd(p, s, m2, 0x5555), -EEXIST);
  });

  it('GET_NAME: reserved must be 0; the table declares the 16-byte retrieve_fd struct (kernel quirk)', () => {
    assert.equal(getSessionName(p, s), 'outgoing');
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_GET_NAME, encodeGetNameIoctl({ reserved: 1 })), -EINVAL);
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_GET_NAME, sized(encodeGetNameIoctl(), 15)), -EINVAL);
    const short = sized(encodeGetNameIoctl(), 16, 16);
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_GET_NAME, short), 0);
    assert.equal(new TextDecoder().decode(short.subarray(8, 16)), 'outgoing');
    assert.equal(
      p.ioctl(s, LIVEUPDATE_SESSION_GET_NAME, encodeGetNameIoctl({ name: 'stale-name-bytes' })),
      -E2BIG,
    );
  });
});

describe('incoming sessions (luo-v5)', () => {
  const k0 = boot();
  const p0 = proc(k0);
  const l0 = openLuo(p0);
  const s0 = createSession(p0, l0, 'carried');
  const mfd = p0.memfdCreate('x', 0);
  preserveFd(p0, s0, mfd, 7);
  const s1 = createSession(p0, l0, 'faulty-reply');
  preserveFd(p0, s1, p0.memfdCreate('y', 0), 8);
  const k = kexec(k0);
  const p = proc(k);
  const luo = openLuo(p);

  it('RETRIEVE_SESSION twice is EINVAL; PRESERVE_FD on it EINVAL; FINISH ignores reserved', () => {
    const s = retrieveSession(p, luo, 'carried');
    assert.ok(s >= 0);
    assert.equal(retrieveSession(p, luo, 'carried'), -EINVAL);
    assert.equal(preserveFd(p, s, p.memfdCreate('y', 0), 8), -EINVAL);
    assert.equal(retrieveFd(p, s, 99), -ENOENT);
    const fd = retrieveFd(p, s, 7);
    assert.ok(fd >= 0);
    assert.equal(retrieveFd(p, s, 7) >= 0, true, 'a second retrieve returns the same file again');
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_FINISH, encodeFinishIoctl({ reserved: 0xffff })), 0);
    assert.equal(retrieveFd(p, s, 7), -ENOENT, 'nothing is left after FINISH');
  });

  it('RETRIEVE_FD whose reply faults is EFAULT; the file stays retrieved and can be asked for again', () => {
    const s = retrieveSession(p, luo, 'faulty-reply');
    assert.ok(s >= 0);
    const count = p.files.count;
    assert.equal(
      p.ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, Process.readOnly(encodeFdIoctl({ token: 8 }))),
      -EFAULT,
    );
    assert.equal(p.files.count, count);
    assert.ok(retrieveFd(p, s, 8) >= 0);
    p.close(s);
  });

  it('RETRIEVE_SESSION whose reply faults is EFAULT and the release finishes the session (kernel quirk)', () => {
    const k1 = kexec(boot(), (old) => {
      const q = proc(old);
      const l = openLuo(q);
      const ss = createSession(q, l, 'lost-on-fault');
      preserveFd(q, ss, q.memfdCreate('z', 0), 1);
      q.close(l);
    });
    const q = proc(k1);
    const l = openLuo(q);
    const ro = Process.readOnly(encodeSessionIoctl({ name: 'lost-on-fault' }));
    assert.equal(q.ioctl(l, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, ro), -EFAULT);
    assert.equal(retrieveSession(q, l, 'lost-on-fault'), -ENOENT);
  });
});

describe('FDT-era interface (kho-v3 profile: luo-v1)', () => {
  const k = boot({ profile: 'kho-v3' });
  const p = proc(k);
  const luo = openLuo(p);

  it('has no GET_NAME, no direction checks and no name checks', () => {
    const s = createSession(p, luo, '');
    assert.ok(s >= 0, 'an empty name was accepted before v7.2');
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_GET_NAME, encodeGetNameIoctl()), -EINVAL);
    assert.equal(p.ioctl(s, LIVEUPDATE_SESSION_RETRIEVE_FD, encodeFdIoctl({ token: 1 })), -ENOENT);
    const long = createSession(p, luo, new Uint8Array(64).fill(0x41));
    assert.ok(long >= 0, 'an unterminated name is cut to 63 bytes');
    assert.equal(createSession(p, luo, 'A'.repeat(63)), -EEXIST);
  });

  it('the 820th session is ENOMEM (the 16-page array holds 819)', () => {
    assert.equal(p.setrlimit(RLIMIT_NOFILE, { cur: 2000, max: 4096 }), 0);
    // Two sessions exist already.
    for (let n = 2; n < 819; n++) assert.ok(createSession(p, luo, `s-${n}`) >= 0, `session ${n + 1}`);
    assert.equal(createSession(p, luo, 'one-too-many'), -ERRNO.ENOMEM);
  });
});

/**
 * Session ioctls on the wrong kind of session, per release. v7.2 (kho-v4) rejects them in
 * luo_session.c: luo_ioctl_type_valid() and serializes session calls against the reboot with
 * `luo_session_serialize_rwsem` (both merged for v7.2-rc1). The FDT-era kernels (kho-v1..v3:
 * v6.19–v7.1) have neither: luo_session_ioctl() hands the command to luo_session_preserve_fd(),
 * luo_session_retrieve_fd() or luo_session_finish() whatever the session's direction.
 */
const DIRECTION_CHECKED: Record<string, boolean> = {
  'kho-v1': false,
  'kho-v2': false,
  'kho-v3': false,
  'kho-v4': true,
};

describe('wrong-direction session ioctls and the serialization lock, per profile', () => {
  it('every profile has a row', () => {
    assert.deepEqual(Object.keys(DIRECTION_CHECKED), [...PROFILE_NAMES]);
  });

  for (const profile of PROFILE_NAMES) {
    const checked = DIRECTION_CHECKED[profile]!;

    it(`${profile}: RETRIEVE_FD and FINISH on an outgoing session`, () => {
      const k = boot({ profile });
      const p = proc(k);
      const luo = openLuo(p);
      const s = createSession(p, luo, 'out');
      assert.equal(createAndPreserveMemfd(p, s, 1, 'first'), 0);
      const empty = p.memfdCreate('empty', 0);
      assert.equal(preserveFd(p, s, empty, 3), 0);
      if (checked) {
        assert.equal(retrieveFd(p, s, 2), -EINVAL);
        assert.equal(retrieveFd(p, s, 1), -EINVAL);
        assert.equal(retrieveFd(p, s, 3), -EINVAL);
        assert.equal(finishSession(p, s), -EINVAL);
        assert.equal(createAndPreserveMemfd(p, s, 1, 'again'), -EEXIST, 'the file is still preserved');
        assert.ok(!k.dmesg.has('kho_restore'));
      } else {
        // luo_retrieve_file(): no such token.
        assert.equal(retrieveFd(p, s, 2), -ENOENT);
        // memfd_luo_retrieve(): kho_restore_vmalloc() refuses pages this kernel preserved.
        assert.equal(retrieveFd(p, s, 1), -EINVAL);
        assert.ok(k.dmesg.has('has no KHO magic'));
        // An empty memfd needs no restore: a fresh memfd comes back.
        const fd = retrieveFd(p, s, 3);
        assert.ok(fd >= 0, `RETRIEVE_FD of an empty memfd gave ${fd}`);
        // luo_file_finish() drops every file and restore-frees the array this kernel
        // preserved: a warning, and the page stays preserved.
        const array = k.luo.sessions.outgoing.byKey.get('out')!.fileSet.arrayPhys;
        assert.equal(finishSession(p, s), 0);
        assert.ok(k.dmesg.has(`WARNING: kho_restore_free: restore of ${array.toString(16)} failed`));
        assert.equal(retrieveFd(p, s, 1), -ENOENT, 'the files are gone');
        assert.equal(createAndPreserveMemfd(p, s, 1, 'again'), 0, 'the token is free again');
      }
      // The session still hands over what it holds at the reboot.
      const k2 = kexec(k);
      const q = proc(k2);
      const r = retrieveSession(q, openLuo(q), 'out');
      assert.ok(r >= 0);
      assert.equal(restoreMemfdText(q, r, 1), checked ? 'first' : 'again');
      assert.equal(finishSession(q, r), 0);
    });

    it(`${profile}: PRESERVE_FD on a retrieved incoming session`, () => {
      const k0 = boot({ profile });
      const p0 = proc(k0);
      const l0 = openLuo(p0);
      assert.equal(createAndPreserveMemfd(p0, createSession(p0, l0, 'in'), 7, 'carried'), 0);
      assert.ok(createSession(p0, l0, 'bare') >= 0);
      const k = kexec(k0);
      const p = proc(k);
      const luo = openLuo(p);
      const bare = retrieveSession(p, luo, 'bare');
      // FDT era: luo_preserve_file() gets as far as the handler lookup; the array it allocated
      // for the empty set goes again through luo_free_files_mem() (an unpreserve, no warning).
      assert.equal(preserveFd(p, bare, p.open('/dev/null', O_RDWR), 1), checked ? -EINVAL : -ENOENT);
      assert.ok(!k.dmesg.has('kho_restore'));
      const r = retrieveSession(p, luo, 'in');
      assert.ok(r >= 0);
      if (checked) {
        assert.equal(createAndPreserveMemfd(p, r, 8, 'new'), -EINVAL);
        assert.equal(createAndPreserveMemfd(p, r, 7, 'dup'), -EINVAL);
      } else {
        // luo_preserve_file() adds the file to the incoming set.
        assert.equal(createAndPreserveMemfd(p, r, 8, 'new'), 0);
        assert.equal(createAndPreserveMemfd(p, r, 7, 'dup'), -EEXIST);
        assert.equal(retrieveFd(p, r, 8), -EINVAL, 'its data was preserved by this kernel');
      }
      assert.equal(restoreMemfdText(p, r, 7), 'carried');
      assert.equal(finishSession(p, r), 0);
      assert.equal(retrieveFd(p, r, 7), -ENOENT, 'nothing is left after FINISH');
    });

    it(`${profile}: session calls after a successful reboot serialization`, () => {
      const k = boot({ profile });
      const p = proc(k);
      const luo = openLuo(p);
      const s = createSession(p, luo, 'late');
      assert.equal(k.luo.reboot(), 0);
      if (checked) {
        assert.throws(() => createSession(p, luo, 'too-late'), /blocked for more than 120 seconds/);
        assert.throws(() => preserveFd(p, s, p.memfdCreate('m', 0), 1), /blocked/);
      } else {
        assert.ok(createSession(p, luo, 'too-late') >= 0, 'no luo_session_serialize_rwsem');
        assert.equal(preserveFd(p, s, p.memfdCreate('m', 0), 1), 0);
      }
    });
  }
});
