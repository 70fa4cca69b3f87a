/**
 * The LUO selftests' user-space library (tools/testing/selftests/liveupdate/lib/lu_utils.c,
 * libliveupdate.h) as thin wrappers over the byte-level uAPI (include/uapi/linux/liveupdate.h):
 * each makes the system call through a {@link Process} and returns what it returns, a
 * descriptor, 0 or -errno (the raw call's result rather than -1 and errno).
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
} from '../abi/liveupdate-uapi.ts';
import { O_RDWR } from '../abi/uapi-fcntl.ts';
import { ERRNO } from '../util/errno.ts';
import type { Process } from './process.ts';

/** `LUO_DEVICE`. */
export const LUO_DEVICE = '/dev/liveupdate';

/** `luo_open_device()`: `open("/dev/liveupdate", O_RDWR)`. */
export function luoOpenDevice(p: Process): number {
  return p.open(LUO_DEVICE, O_RDWR);
}

function sessionIoctl(p: Process, fd: number, cmd: number, name: string | Uint8Array): number {
  const b = encodeSessionIoctl({ name });
  const r = p.ioctl(fd, cmd, b);
  return r < 0 ? r : new DataView(b.buffer).getInt32(4, true);
}

/** `luo_create_session(luo_fd, name)`: the new session's descriptor or -errno. */
export function luoCreateSession(p: Process, luoFd: number, name: string | Uint8Array): number {
  return sessionIoctl(p, luoFd, LIVEUPDATE_IOCTL_CREATE_SESSION, name);
}

/** `luo_retrieve_session(luo_fd, name)`: the handed-over session's descriptor or -errno. */
export function luoRetrieveSession(p: Process, luoFd: number, name: string | Uint8Array): number {
  return sessionIoctl(p, luoFd, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, name);
}

/** `luo_session_preserve_fd(session_fd, fd, token)`: 0 or -errno. */
export function luoSessionPreserveFd(
  p: Process,
  sessionFd: number,
  fd: number,
  token: bigint | number,
): number {
  return p.ioctl(sessionFd, LIVEUPDATE_SESSION_PRESERVE_FD, encodeFdIoctl({ fd, token }));
}

/** `luo_session_retrieve_fd(session_fd, token)`: the file's new descriptor or -errno. */
export function luoSessionRetrieveFd(p: Process, sessionFd: number, token: bigint | number): number {
  const b = encodeFdIoctl({ token });
  const r = p.ioctl(sessionFd, LIVEUPDATE_SESSION_RETRIEVE_FD, b);
  return r < 0 ? r : new DataView(b.buffer).getInt32(4, true);
}

/** `luo_session_finish(session_fd)`: 0 or -errno. */
export function luoSessionFinish(p: Process, sessionFd: number): number {
  return p.ioctl(sessionFd, LIVEUPDATE_SESSION_FINISH, encodeFinishIoctl());
}

/** `luo_get_session_name(session_fd, …)`: the name or -errno. */
export function luoGetSessionName(p: Process, sessionFd: number): string | number {
  const b = encodeGetNameIoctl();
  const r = p.ioctl(sessionFd, LIVEUPDATE_SESSION_GET_NAME, b);
  if (r < 0) return r;
  const d = decodeGetNameIoctl(b);
  return d.ok ? d.value.name : -ERRNO.EINVAL;
}
