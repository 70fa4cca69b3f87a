/**
 * Release profiles: which kernel a simulated machine runs. A profile fixes the KHO ABI version,
 * the `uname -r` string, the debugfs flavour and how the model treats each kernel quirk
 * (docs/quirks.md): by default a profile behaves as the kernel does; options turn on the fixed
 * behaviour where a user would want it (docs/quirks.md lists them).
 */
import { KHO_ABI_VERSIONS, khoAbiVersion, type KhoAbiVersion, type KhoCompatible } from '../abi/versions.ts';

/** Quirk switches and debug options of one simulated kernel build. */
export interface KernelOptions {
  /** CONFIG_KEXEC_HANDOVER_DEBUG: preserve calls reject ranges that overlap scratch (kho_preserve_folio()). */
  khoDebug: boolean;
  /** CONFIG_KEXEC_HANDOVER_ENABLE_DEFAULT: KHO on without `kho=on`. */
  khoEnableDefault: boolean;
  /** Expose the current, full-length outgoing FDT in `out/fdt` instead of the creation-time length (kexec_handover_debugfs.c QUIRK). */
  fullOutFdt: boolean;
  /** Create `out/fdt` on KHO boots too (the kernel only creates it on cold boots, kho_init() QUIRK). */
  outFdtOnKhoBoot: boolean;
  /** Reserve preserved blocks with a 64-bit size (the baseline's 32-bit `1 << (o+12)` breaks orders ≥ 19, kho_memory_init() QUIRK). */
  reserve64: boolean;
  /** Round explicit `kho_scratch=` lowmem/global sizes up to 2 MiB (newer kernels do; scratch_size_update() QUIRK). */
  roundExplicitScratch: boolean;
  /** kho-v1 only: accept `echo 0 > out/active` as the usage document describes (mainline never had it). */
  v1ActiveFile: boolean;
  /** CONFIG_LIVEUPDATE (with CONFIG_LIVEUPDATE_MEMFD): `liveupdate=` is understood and LUO is built in. */
  liveupdate: boolean;
  /**
   * test_kho's folio loops stop on Ctrl-C (a pending fatal signal) and unwind with -EINTR; the
   * kernel's loops do not check for signals and run to the end (docs/quirks.md).
   */
  interruptibleTestKho: boolean;
  /**
   * The boot-time value of failslab's `ignore-gfp-wait` (mm/failslab.c: true). No boot parameter
   * sets it, so only a kernel built with `false` can inject slab failures into GFP_KERNEL
   * allocations before debugfs is up, e.g. LUO's at early boot (docs/fault-injection.md).
   */
  failslabIgnoreGfpWait: boolean;
}

/**
 * The Live Update Orchestrator of a release: its hand-over format and interface generation.
 * History (kernel tree and mailing list, docs/quirks.md): v6.19–v7.1 hand over the FDT-era
 * `luo-v1` (v7.0 added the `luo-flb` node; before v7.1 the reboot path calls `kho_finalize()`),
 * `memfd-v1` until seals were added (`memfd-v2`); the v7.2 rework brought `luo-v5` (sessions
 * and files in KHO blocks), GET_NAME, per-direction session ioctls and name checks.
 */
export interface LuoFormat {
  /** The `LUO` sub-tree: raw `struct luo_ser` (`luo-v5`) or the one-page FDT (`luo-v1`). */
  readonly abi: 'luo-v5' | 'luo-v1';
  /** luo-v1: the FDT has (and the successor requires) the `luo-flb` node. */
  readonly flbNode: boolean;
  /** The memfd handler's compatible. */
  readonly memfd: 'memfd-v2' | 'memfd-v1';
  /** `liveupdate_reboot()` calls `kho_finalize()` (-EAGAIN on failure). */
  readonly finalize: boolean;
  /** LIVEUPDATE_SESSION_GET_NAME exists. */
  readonly getName: boolean;
  /**
   * Session ioctls check the session's direction before anything else but the command code:
   * PRESERVE_FD only on outgoing sessions, RETRIEVE_FD and FINISH only on retrieved incoming
   * ones, else -EINVAL (luo_session.c: luo_ioctl_type_valid(), v7.2-rc1). Without it
   * (v6.19–v7.1) `luo_session_ioctl()` runs the command on either kind of session.
   */
  readonly directionChecks: boolean;
  /**
   * `luo_session_serialize_rwsem`: session calls hold it for reading, and a successful reboot
   * serialization keeps it for writing for good (luo_session.c: luo_session_serialize(),
   * v7.2-rc1). Without it (v6.19–v7.1) only the list rwsems and the session mutex are taken.
   */
  readonly serializeLock: boolean;
  /**
   * `luo_preserved_files`: luo_preserve_file() refuses with -EBUSY a file that a session already
   * preserves, or that was retrieved and is not finished yet (keyed by `luo_get_id()`; memfd:
   * the inode, `memfd_luo_get_id()`), and luo_retrieve_file() records what it retrieves
   * (luo_file.c, "liveupdate: prevent double management of files", v7.1-rc1). Without it
   * (v6.19–v7.0) a file can be preserved any number of times, in one session or several.
   */
  readonly doubleManagementCheck: boolean;
  /** CREATE_SESSION rejects an empty or unterminated name with -EINVAL. */
  readonly nameChecks: boolean;
}

const LUO_V5: LuoFormat = {
  abi: 'luo-v5',
  flbNode: false,
  memfd: 'memfd-v2',
  finalize: false,
  getName: true,
  directionChecks: true,
  serializeLock: true,
  doubleManagementCheck: true,
  nameChecks: true,
};
const LUO_V1: LuoFormat = {
  abi: 'luo-v1',
  flbNode: true,
  memfd: 'memfd-v2',
  finalize: false,
  getName: false,
  directionChecks: false,
  serializeLock: false,
  doubleManagementCheck: true,
  nameChecks: false,
};

/**
 * LUO of each profile: kho-v4 luo-v5; kho-v3 luo-v1 + memfd-v2; kho-v2 memfd-v1 and no
 * duplicate-file check (v7.0); kho-v1 also finalizes.
 */
const LUO_FORMATS: Record<KhoCompatible, LuoFormat> = {
  'kho-v1': { ...LUO_V1, memfd: 'memfd-v1', finalize: true, doubleManagementCheck: false },
  'kho-v2': { ...LUO_V1, memfd: 'memfd-v1', doubleManagementCheck: false },
  'kho-v3': LUO_V1,
  'kho-v4': LUO_V5,
};

/** A kernel release the model can run. */
export interface ReleaseProfile {
  /** Profile name as given to `--profile` (the ABI compatible string). */
  readonly name: KhoCompatible;
  /** `uname -r` of this simulated build (synthetic: the real releases are not pinned down, docs/quirks.md). */
  readonly release: string;
  readonly abi: KhoAbiVersion;
  /** The Live Update Orchestrator's format and interface. */
  readonly luo: LuoFormat;
  readonly options: KernelOptions;
}

const RELEASES: Record<KhoCompatible, string> = {
  'kho-v1': '7.0.0-kho-v1',
  'kho-v2': '7.1.0-kho-v2',
  'kho-v3': '7.2.0-kho-v3',
  'kho-v4': '7.3.0-kho-v4',
};

/** Kernel behaviour by default: every quirk as the kernel has it, DEBUG off. */
export const DEFAULT_OPTIONS: KernelOptions = {
  khoDebug: false,
  khoEnableDefault: false,
  fullOutFdt: false,
  outFdtOnKhoBoot: false,
  reserve64: false,
  roundExplicitScratch: false,
  v1ActiveFile: true,
  liveupdate: true,
  interruptibleTestKho: true,
  failslabIgnoreGfpWait: true,
};

/** Names accepted by `--profile`, newest last. */
export const PROFILE_NAMES: readonly KhoCompatible[] = KHO_ABI_VERSIONS.map((v) => v.compatible);

/** The default profile name (the spec's baseline). */
export const DEFAULT_PROFILE: KhoCompatible = 'kho-v4';

/** Build a profile by name, with option overrides; null for an unknown name. */
export function profileByName(name: string, overrides: Partial<KernelOptions> = {}): ReleaseProfile | null {
  const abi = khoAbiVersion(name);
  if (abi === null) return null;
  return {
    name: abi.compatible,
    release: RELEASES[abi.compatible],
    abi,
    luo: LUO_FORMATS[abi.compatible],
    options: { ...DEFAULT_OPTIONS, ...overrides },
  };
}

/** The profile of a `uname -r` string built by the model, or null for a release the model does not know. */
export function profileByRelease(release: string): ReleaseProfile | null {
  const entry = Object.entries(RELEASES).find(([, r]) => r === release);
  return entry === undefined ? null : profileByName(entry[0]);
}
