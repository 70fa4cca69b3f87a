/**
 * The `/dev/liveupdate` user-space ABI (include/uapi/linux/liveupdate.h): ioctl numbers and the
 * argument structures, byte for byte, shared by the kernel side (which copies them from and to
 * a process's memory) and the programs of the machine (which build them).
 *
 * Every command is `_IO(0xBA, nr)`: the code carries neither direction nor size, although a
 * structure is passed. Each structure starts with `u32 size`, which the caller sets to the size
 * it knows; the kernel handles larger and smaller sizes by the `copy_struct_from_user()` rule.
 *
 * | structure                                | bytes | layout (offset:size field)                          |
 * |------------------------------------------|-------|-----------------------------------------------------|
 * | `liveupdate_ioctl_create_session`        | 72    | 0:4 size, 4:4 fd (s32, out), 8:64 name (in)         |
 * | `liveupdate_ioctl_retrieve_session`      | 72    | same                                                |
 * | `liveupdate_session_preserve_fd`         | 16    | 0:4 size, 4:4 fd (s32, in), 8:8 token (in)          |
 * | `liveupdate_session_retrieve_fd`         | 16    | 0:4 size, 4:4 fd (s32, out), 8:8 token (in)         |
 * | `liveupdate_session_finish`              | 8     | 0:4 size, 4:4 reserved                              |
 * | `liveupdate_session_get_name`            | 72    | 0:4 size, 4:4 reserved, 8:64 name (out)             |
 */
import {
  getCString,
  getS32,
  getU32,
  getU64Big,
  need,
  putCString,
  putS32,
  putU32,
  putU64Big,
  strnlen,
  viewOf,
} from './bytes.ts';
import { decodeWith } from './errors.ts';
import type { AbiResult } from './errors.ts';
import { io } from './ioctl.ts';

/** `LIVEUPDATE_IOCTL_TYPE`, documented in Documentation/userspace-api/ioctl/ioctl-number.rst. */
export const LIVEUPDATE_IOCTL_TYPE = 0xba;
/** `LIVEUPDATE_SESSION_NAME_LENGTH`: a session name with its NUL (so at most 63 characters). */
export const LIVEUPDATE_SESSION_NAME_LENGTH = 64;

/** `LIVEUPDATE_CMD_BASE`: first command number of the device fd. */
export const LIVEUPDATE_CMD_BASE = 0x00;
/** `LIVEUPDATE_CMD_CREATE_SESSION`. */
export const LIVEUPDATE_CMD_CREATE_SESSION = 0x00;
/** `LIVEUPDATE_CMD_RETRIEVE_SESSION`. */
export const LIVEUPDATE_CMD_RETRIEVE_SESSION = 0x01;
/** `LIVEUPDATE_CMD_SESSION_BASE`: first command number of a session fd. */
export const LIVEUPDATE_CMD_SESSION_BASE = 0x40;
/** `LIVEUPDATE_CMD_SESSION_PRESERVE_FD`. */
export const LIVEUPDATE_CMD_SESSION_PRESERVE_FD = 0x40;
/** `LIVEUPDATE_CMD_SESSION_RETRIEVE_FD`. */
export const LIVEUPDATE_CMD_SESSION_RETRIEVE_FD = 0x41;
/** `LIVEUPDATE_CMD_SESSION_FINISH`. */
export const LIVEUPDATE_CMD_SESSION_FINISH = 0x42;
/** `LIVEUPDATE_CMD_SESSION_GET_NAME`. */
export const LIVEUPDATE_CMD_SESSION_GET_NAME = 0x43;

/** `LIVEUPDATE_IOCTL_CREATE_SESSION` = 0xBA00. */
export const LIVEUPDATE_IOCTL_CREATE_SESSION = io(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_CREATE_SESSION);
/** `LIVEUPDATE_IOCTL_RETRIEVE_SESSION` = 0xBA01. */
export const LIVEUPDATE_IOCTL_RETRIEVE_SESSION = io(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_RETRIEVE_SESSION);
/** `LIVEUPDATE_SESSION_PRESERVE_FD` = 0xBA40. */
export const LIVEUPDATE_SESSION_PRESERVE_FD = io(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_PRESERVE_FD);
/** `LIVEUPDATE_SESSION_RETRIEVE_FD` = 0xBA41. */
export const LIVEUPDATE_SESSION_RETRIEVE_FD = io(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_RETRIEVE_FD);
/** `LIVEUPDATE_SESSION_FINISH` = 0xBA42. */
export const LIVEUPDATE_SESSION_FINISH = io(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_FINISH);
/** `LIVEUPDATE_SESSION_GET_NAME` = 0xBA43. */
export const LIVEUPDATE_SESSION_GET_NAME = io(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_GET_NAME);

/** Size of `struct liveupdate_ioctl_create_session` and `…_retrieve_session`. */
export const LIVEUPDATE_SESSION_IOCTL_SIZE = 72;
/** Size of `struct liveupdate_session_preserve_fd` and `…_retrieve_fd`. */
export const LIVEUPDATE_FD_IOCTL_SIZE = 16;
/** Size of `struct liveupdate_session_finish`. */
export const LIVEUPDATE_FINISH_IOCTL_SIZE = 8;
/** Size of `struct liveupdate_session_get_name`. */
export const LIVEUPDATE_GET_NAME_IOCTL_SIZE = 72;

/** One ioctl of the table: its code, structure size and `offsetofend` of its last field. */
export interface LiveupdateIoctl {
  /** The C name, e.g. `LIVEUPDATE_IOCTL_CREATE_SESSION`. */
  readonly name: string;
  /** The full command code. */
  readonly cmd: number;
  /** `sizeof` the argument structure (what the kernel copies). */
  readonly size: number;
  /** `offsetofend(struct, last field)`: a smaller `size` argument is -EINVAL. */
  readonly minSize: number;
  /** Which fd takes it. */
  readonly fd: 'device' | 'session';
}

/** Every ioctl, in command-number order (luo_ioctl_ops[] and luo_session_ioctl_ops[]). */
export const LIVEUPDATE_IOCTLS: readonly LiveupdateIoctl[] = [
  {
    name: 'LIVEUPDATE_IOCTL_CREATE_SESSION',
    cmd: LIVEUPDATE_IOCTL_CREATE_SESSION,
    size: LIVEUPDATE_SESSION_IOCTL_SIZE,
    minSize: LIVEUPDATE_SESSION_IOCTL_SIZE,
    fd: 'device',
  },
  {
    name: 'LIVEUPDATE_IOCTL_RETRIEVE_SESSION',
    cmd: LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
    size: LIVEUPDATE_SESSION_IOCTL_SIZE,
    minSize: LIVEUPDATE_SESSION_IOCTL_SIZE,
    fd: 'device',
  },
  {
    name: 'LIVEUPDATE_SESSION_PRESERVE_FD',
    cmd: LIVEUPDATE_SESSION_PRESERVE_FD,
    size: LIVEUPDATE_FD_IOCTL_SIZE,
    minSize: LIVEUPDATE_FD_IOCTL_SIZE,
    fd: 'session',
  },
  {
    name: 'LIVEUPDATE_SESSION_RETRIEVE_FD',
    cmd: LIVEUPDATE_SESSION_RETRIEVE_FD,
    size: LIVEUPDATE_FD_IOCTL_SIZE,
    minSize: LIVEUPDATE_FD_IOCTL_SIZE,
    fd: 'session',
  },
  {
    name: 'LIVEUPDATE_SESSION_FINISH',
    cmd: LIVEUPDATE_SESSION_FINISH,
    size: LIVEUPDATE_FINISH_IOCTL_SIZE,
    minSize: LIVEUPDATE_FINISH_IOCTL_SIZE,
    fd: 'session',
  },
  {
    name: 'LIVEUPDATE_SESSION_GET_NAME',
    cmd: LIVEUPDATE_SESSION_GET_NAME,
    size: LIVEUPDATE_GET_NAME_IOCTL_SIZE,
    minSize: LIVEUPDATE_GET_NAME_IOCTL_SIZE,
    fd: 'session',
  },
];

/** `struct liveupdate_ioctl_create_session` / `liveupdate_ioctl_retrieve_session`. */
export interface LiveupdateSessionIoctl {
  /** The `size` field. */
  size: number;
  /** Session fd (output). */
  fd: number;
  /** The 64 name bytes as stored (NUL-padded, or not NUL-terminated at all). */
  nameBytes: Uint8Array;
  /** The name up to its NUL (UTF-8), for display. */
  name: string;
  /** `strnlen(name, 64)`: 0 or 64 make CREATE_SESSION fail with -EINVAL. */
  nameLength: number;
}

/** Arguments of {@link encodeSessionIoctl}. */
export interface SessionIoctlArgs {
  /** Session name: string (UTF-8) or bytes, at most 64 (64 means no NUL, as a C caller can do). */
  name: string | Uint8Array;
  /** The `size` field (default: the structure size, 72). */
  size?: number;
  /** The `fd` field (default 0). */
  fd?: number;
}

/** Encode a create/retrieve-session argument (72 bytes). */
export function encodeSessionIoctl(a: SessionIoctlArgs): Uint8Array {
  const b = new Uint8Array(LIVEUPDATE_SESSION_IOCTL_SIZE);
  const v = viewOf(b);
  putU32(v, 0, a.size ?? LIVEUPDATE_SESSION_IOCTL_SIZE, 'liveupdate_ioctl_session', 'size');
  putS32(v, 4, a.fd ?? 0, 'liveupdate_ioctl_session', 'fd');
  putCString(b, 8, a.name, LIVEUPDATE_SESSION_NAME_LENGTH, 'liveupdate_ioctl_session', 'name');
  return b;
}

/** Decode a create/retrieve-session argument (needs 72 bytes). */
export function decodeSessionIoctl(b: Uint8Array, off = 0): AbiResult<LiveupdateSessionIoctl> {
  return decodeWith(() => {
    need(b, off, LIVEUPDATE_SESSION_IOCTL_SIZE, 'liveupdate_ioctl_session');
    const s = 'liveupdate_ioctl_session';
    return {
      size: getU32(b, off, s, 'size'),
      fd: getS32(b, off + 4, s, 'fd'),
      nameBytes: b.slice(off + 8, off + 8 + LIVEUPDATE_SESSION_NAME_LENGTH),
      name: getCString(b, off + 8, LIVEUPDATE_SESSION_NAME_LENGTH, s, 'name'),
      nameLength: strnlen(b, off + 8, LIVEUPDATE_SESSION_NAME_LENGTH),
    };
  });
}

/** `struct liveupdate_session_preserve_fd` / `liveupdate_session_retrieve_fd`. */
export interface LiveupdateFdIoctl {
  /** The `size` field. */
  size: number;
  /** The fd to preserve (input) or the retrieved fd (output). */
  fd: number;
  /** The caller's token (any u64). */
  token: bigint;
}

/** Encode a preserve/retrieve-fd argument (16 bytes). */
export function encodeFdIoctl(a: { token: bigint | number; fd?: number; size?: number }): Uint8Array {
  const b = new Uint8Array(LIVEUPDATE_FD_IOCTL_SIZE);
  const v = viewOf(b);
  putU32(v, 0, a.size ?? LIVEUPDATE_FD_IOCTL_SIZE, 'liveupdate_session_fd', 'size');
  putS32(v, 4, a.fd ?? 0, 'liveupdate_session_fd', 'fd');
  putU64Big(v, 8, a.token, 'liveupdate_session_fd', 'token');
  return b;
}

/** Decode a preserve/retrieve-fd argument (needs 16 bytes). */
export function decodeFdIoctl(b: Uint8Array, off = 0): AbiResult<LiveupdateFdIoctl> {
  return decodeWith(() => {
    const s = 'liveupdate_session_fd';
    need(b, off, LIVEUPDATE_FD_IOCTL_SIZE, s);
    return {
      size: getU32(b, off, s, 'size'),
      fd: getS32(b, off + 4, s, 'fd'),
      token: getU64Big(b, off + 8, s, 'token'),
    };
  });
}

/** `struct liveupdate_session_finish`. */
export interface LiveupdateFinishIoctl {
  size: number;
  /** "Must be zero" in the header, but FINISH does not check it. */
  reserved: number;
}

/** Encode a finish argument (8 bytes). */
export function encodeFinishIoctl(a: { size?: number; reserved?: number } = {}): Uint8Array {
  const b = new Uint8Array(LIVEUPDATE_FINISH_IOCTL_SIZE);
  const v = viewOf(b);
  putU32(v, 0, a.size ?? LIVEUPDATE_FINISH_IOCTL_SIZE, 'liveupdate_session_finish', 'size');
  putU32(v, 4, a.reserved ?? 0, 'liveupdate_session_finish', 'reserved');
  return b;
}

/** Decode a finish argument (needs 8 bytes). */
export function decodeFinishIoctl(b: Uint8Array, off = 0): AbiResult<LiveupdateFinishIoctl> {
  return decodeWith(() => {
    const s = 'liveupdate_session_finish';
    need(b, off, LIVEUPDATE_FINISH_IOCTL_SIZE, s);
    return { size: getU32(b, off, s, 'size'), reserved: getU32(b, off + 4, s, 'reserved') };
  });
}

/** `struct liveupdate_session_get_name`. */
export interface LiveupdateGetNameIoctl {
  size: number;
  /** Must be 0 (-EINVAL otherwise). */
  reserved: number;
  /** The 64 name bytes. */
  nameBytes: Uint8Array;
  /** The name up to its NUL (UTF-8). */
  name: string;
}

/** Encode a get-name argument (72 bytes). */
export function encodeGetNameIoctl(
  a: { size?: number; reserved?: number; name?: string | Uint8Array } = {},
): Uint8Array {
  const b = new Uint8Array(LIVEUPDATE_GET_NAME_IOCTL_SIZE);
  const v = viewOf(b);
  const s = 'liveupdate_session_get_name';
  putU32(v, 0, a.size ?? LIVEUPDATE_GET_NAME_IOCTL_SIZE, s, 'size');
  putU32(v, 4, a.reserved ?? 0, s, 'reserved');
  putCString(b, 8, a.name ?? '', LIVEUPDATE_SESSION_NAME_LENGTH, s, 'name');
  return b;
}

/** Decode a get-name argument (needs 72 bytes). */
export function decodeGetNameIoctl(b: Uint8Array, off = 0): AbiResult<LiveupdateGetNameIoctl> {
  return decodeWith(() => {
    const s = 'liveupdate_session_get_name';
    need(b, off, LIVEUPDATE_GET_NAME_IOCTL_SIZE, s);
    return {
      size: getU32(b, off, s, 'size'),
      reserved: getU32(b, off + 4, s, 'reserved'),
      nameBytes: b.slice(off + 8, off + 8 + LIVEUPDATE_SESSION_NAME_LENGTH),
      name: getCString(b, off + 8, LIVEUPDATE_SESSION_NAME_LENGTH, s, 'name'),
    };
  });
}

/** The ioctl of a code, or undefined (codes with other type, size or direction bits are not). */
export function liveupdateIoctl(cmd: number): LiveupdateIoctl | undefined {
  return LIVEUPDATE_IOCTLS.find((x) => x.cmd === cmd);
}
