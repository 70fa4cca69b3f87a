/**
 * LUO test helpers: the selftests' library calls (lu_utils.c) as thin wrappers over the
 * byte-level uAPI, returning the fd or -errno.
 */
import {
  decodeGetNameIoctl,
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
import { MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE } from '../../src/abi/uapi-fcntl.ts';
import type { Process } from '../../src/user/process.ts';
import { utf8 } from '../user/helpers.ts';

export { boot, kexec, proc, text, utf8 } from '../user/helpers.ts';

/** `open("/dev/liveupdate", O_RDWR)`. */
export function openLuo(p: Process): number {
  return p.open('/dev/liveupdate', O_RDWR);
}

function sessionIoctl(p: Process, fd: number, cmd: number, name: string | Uint8Array): number {
  const b = encodeSessionIoctl({ name });
  const r = p.ioctl(fd, cmd, b);
  return r < 0 ? r : new DataView(b.buffer).getInt32(4, true);
}

/** `luo_create_session(luo_fd, name)`. */
export function createSession(p: Process, luoFd: number, name: string | Uint8Array): number {
  return sessionIoctl(p, luoFd, LIVEUPDATE_IOCTL_CREATE_SESSION, name);
}

/** `luo_retrieve_session(luo_fd, name)`. */
export function retrieveSession(p: Process, luoFd: number, name: string | Uint8Array): number {
  return sessionIoctl(p, luoFd, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, name);
}

/** `LIVEUPDATE_SESSION_PRESERVE_FD`. */
export function preserveFd(p: Process, sfd: number, fd: number, token: bigint | number): number {
  return p.ioctl(sfd, LIVEUPDATE_SESSION_PRESERVE_FD, encodeFdIoctl({ fd, token }));
}

/** `LIVEUPDATE_SESSION_RETRIEVE_FD`: the new fd or -errno. */
export function retrieveFd(p: Process, sfd: number, token: bigint | number): number {
  const b = encodeFdIoctl({ token });
  const r = p.ioctl(sfd, LIVEUPDATE_SESSION_RETRIEVE_FD, b);
  return r < 0 ? r : new DataView(b.buffer).getInt32(4, true);
}

/** `LIVEUPDATE_SESSION_FINISH`. */
export function finishSession(p: Process, sfd: number): number {
  return p.ioctl(sfd, LIVEUPDATE_SESSION_FINISH, encodeFinishIoctl());
}

/** `LIVEUPDATE_SESSION_GET_NAME`: the name or -errno. */
export function getSessionName(p: Process, sfd: number): string | number {
  const b = encodeGetNameIoctl();
  const r = p.ioctl(sfd, LIVEUPDATE_SESSION_GET_NAME, b);
  if (r < 0) return r;
  const d = decodeGetNameIoctl(b);
  return d.ok ? d.value.name : -1;
}

/** `create_and_preserve_memfd`: a one-page memfd holding `data`+NUL, preserved, then closed. */
export function createAndPreserveMemfd(
  p: Process,
  sfd: number,
  token: bigint | number,
  data: string,
): number {
  const mfd = p.memfdCreate('test_mfd', 0);
  if (mfd < 0) return mfd;
  let r = p.ftruncate(mfd, 4096);
  if (r < 0) return r;
  const m = p.mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd);
  if (typeof m === 'number') return m;
  m.write(0, utf8(`${data}\0`));
  m.unmap();
  r = preserveFd(p, sfd, mfd, token);
  p.close(mfd);
  return r;
}

/** `restore_and_verify_memfd`: the text in the retrieved memfd's first page, or -errno. */
export function restoreMemfdText(p: Process, sfd: number, token: bigint | number): string | number {
  const fd = retrieveFd(p, sfd, token);
  if (fd < 0) return fd;
  const m = p.mmap(4096, PROT_READ, MAP_SHARED, fd);
  if (typeof m === 'number') return m;
  const b = m.read(0, 4096);
  m.unmap();
  p.close(fd);
  const nul = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, nul < 0 ? b.length : nul));
}

/** `GET_NAME` argument helper for size tests. */
export const getNameArg = encodeGetNameIoctl;
