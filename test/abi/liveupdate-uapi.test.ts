import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbiError } from '../../src/abi/errors.ts';
import { io, iocDir, iocNr, iocSize, iocType, iow, iowr } from '../../src/abi/ioctl.ts';
import {
  decodeFdIoctl,
  decodeFinishIoctl,
  decodeGetNameIoctl,
  decodeSessionIoctl,
  encodeFdIoctl,
  encodeFinishIoctl,
  encodeGetNameIoctl,
  encodeSessionIoctl,
  LIVEUPDATE_IOCTLS,
  LIVEUPDATE_IOCTL_CREATE_SESSION,
  LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
  LIVEUPDATE_SESSION_FINISH,
  LIVEUPDATE_SESSION_GET_NAME,
  LIVEUPDATE_SESSION_PRESERVE_FD,
  LIVEUPDATE_SESSION_RETRIEVE_FD,
  liveupdateIoctl,
} from '../../src/abi/liveupdate-uapi.ts';
import { ctypes } from './luo-ref.ts';
import { failsWith, hex, okValue } from './abi-helpers.ts';

describe('liveupdate uAPI', () => {
  it('ioctl codes are _IO(0xBA, nr) without size or direction bits', () => {
    assert.deepEqual(
      [
        LIVEUPDATE_IOCTL_CREATE_SESSION,
        LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
        LIVEUPDATE_SESSION_PRESERVE_FD,
        LIVEUPDATE_SESSION_RETRIEVE_FD,
        LIVEUPDATE_SESSION_FINISH,
        LIVEUPDATE_SESSION_GET_NAME,
      ],
      [0xba00, 0xba01, 0xba40, 0xba41, 0xba42, 0xba43],
    );
    assert.deepEqual(
      LIVEUPDATE_IOCTLS.map((x) => [x.name, x.size, x.minSize, x.fd]),
      [
        ['LIVEUPDATE_IOCTL_CREATE_SESSION', 72, 72, 'device'],
        ['LIVEUPDATE_IOCTL_RETRIEVE_SESSION', 72, 72, 'device'],
        ['LIVEUPDATE_SESSION_PRESERVE_FD', 16, 16, 'session'],
        ['LIVEUPDATE_SESSION_RETRIEVE_FD', 16, 16, 'session'],
        ['LIVEUPDATE_SESSION_FINISH', 8, 8, 'session'],
        ['LIVEUPDATE_SESSION_GET_NAME', 72, 72, 'session'],
      ],
    );
    // A code with the same nr but size/direction bits is another command (ENOTTY in the kernel).
    const withSize = iowr(0xba, 0x00, 72);
    assert.equal(withSize, 0xc048ba00);
    assert.equal(iocNr(withSize), 0);
    assert.equal(iocType(withSize), 0xba);
    assert.equal(iocSize(withSize), 72);
    assert.equal(iocDir(withSize), 3);
    assert.equal(liveupdateIoctl(withSize), undefined);
    assert.equal(liveupdateIoctl(0xba42)?.name, 'LIVEUPDATE_SESSION_FINISH');
    assert.equal(iow(0x54, 0x13, 4), 0x40045413);
    assert.equal(io(0xba, 0x43), 0xba43);
    assert.throws(() => io(0x100, 0), AbiError);
  });

  it('argument structures match the C layout (ctypes)', () => {
    const ref = ctypes([
      ['liveupdate_ioctl_create_session', { size: 72, fd: -1, name: 'kexec_simple_state' }],
      ['liveupdate_session_preserve_fd', { size: 16, fd: 7, token: 0xfedc_ba98_7654_3210n }],
      ['liveupdate_session_finish', { size: 8, reserved: 0xdead }],
      ['liveupdate_session_get_name', { size: 72, reserved: 0, name: 'A'.repeat(63) }],
    ]);
    assert.deepEqual(
      ref.map((r) => r[0]),
      [72, 16, 8, 72],
    );
    assert.equal(hex(encodeSessionIoctl({ name: 'kexec_simple_state', fd: -1 })), ref[0]![1]);
    assert.equal(hex(encodeFdIoctl({ fd: 7, token: 0xfedc_ba98_7654_3210n })), ref[1]![1]);
    assert.equal(hex(encodeFinishIoctl({ reserved: 0xdead })), ref[2]![1]);
    assert.equal(hex(encodeGetNameIoctl({ name: 'A'.repeat(63) })), ref[3]![1]);
  });

  it('decoders read the fields back, and the name length as strnlen sees it', () => {
    const s = okValue(decodeSessionIoctl(encodeSessionIoctl({ name: 'X'.repeat(64), size: 100, fd: 3 })));
    assert.deepEqual([s.size, s.fd, s.nameLength, s.name], [100, 3, 64, 'X'.repeat(64)]);
    assert.equal(okValue(decodeSessionIoctl(encodeSessionIoctl({ name: '' }))).nameLength, 0);
    const f = okValue(decodeFdIoctl(encodeFdIoctl({ token: 0xffff_ffff_ffff_ffffn, fd: -9 })));
    assert.deepEqual(f, { size: 16, fd: -9, token: 0xffff_ffff_ffff_ffffn });
    assert.deepEqual(okValue(decodeFinishIoctl(encodeFinishIoctl())), { size: 8, reserved: 0 });
    const g = okValue(decodeGetNameIoctl(encodeGetNameIoctl({ reserved: 1, name: 'get-name-test-session' })));
    assert.deepEqual([g.reserved, g.name], [1, 'get-name-test-session']);
  });

  it('bad input: short buffers are TRUNCATED, values that do not fit throw AbiError', () => {
    failsWith(decodeSessionIoctl(new Uint8Array(71)), 'TRUNCATED');
    failsWith(decodeFdIoctl(new Uint8Array(15)), 'TRUNCATED');
    failsWith(decodeFinishIoctl(new Uint8Array(7)), 'TRUNCATED');
    failsWith(decodeGetNameIoctl(new Uint8Array(80), 9), 'TRUNCATED');
    assert.throws(() => encodeSessionIoctl({ name: 'X'.repeat(65) }), AbiError);
    assert.throws(() => encodeFdIoctl({ token: -1n }), AbiError);
    assert.throws(() => encodeFdIoctl({ token: 0, fd: 2 ** 31 }), AbiError);
  });
});
