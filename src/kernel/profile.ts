/**
 * Release profiles: which kernel a simulated machine runs. A profile fixes the KHO ABI version,
 * the `uname -r` string, the debugfs flavour and how the model treats each kernel quirk
 * (spec §13): by default a profile behaves as the kernel does; options turn on the fixed
 * behaviour where a user would want it (docs/quirks.md lists them).
 */
import { KHO_ABI_VERSIONS, khoAbiVersion, type KhoAbiVersion, type KhoCompatible } from '../abi/versions.ts';

/** Quirk switches and debug options of one simulated kernel build. */
export interface KernelOptions {
  /** CONFIG_KEXEC_HANDOVER_DEBUG: preserve calls reject ranges that overlap scratch (spec §3.3). */
  khoDebug: boolean;
  /** CONFIG_KEXEC_HANDOVER_ENABLE_DEFAULT: KHO on without `kho=on`. */
  khoEnableDefault: boolean;
  /** Expose the current, full-length outgoing FDT in `out/fdt` instead of the creation-time length (spec §6.1 QUIRK). */
  fullOutFdt: boolean;
  /** Create `out/fdt` on KHO boots too (the kernel only creates it on cold boots, spec §6.1 QUIRK). */
  outFdtOnKhoBoot: boolean;
  /** Reserve preserved blocks with a 64-bit size (the baseline's 32-bit `1 << (o+12)` breaks orders ≥ 19, spec §4.7 QUIRK). */
  reserve64: boolean;
  /** Round explicit `kho_scratch=` lowmem/global sizes up to 2 MiB (newer kernels do; spec §2.2 QUIRK). */
  roundExplicitScratch: boolean;
  /** kho-v1 only: accept `echo 0 > out/active` as the usage document describes (mainline never had it). */
  v1ActiveFile: boolean;
}

/** A kernel release the model can run. */
export interface ReleaseProfile {
  /** Profile name as given to `--profile` (the ABI compatible string). */
  readonly name: KhoCompatible;
  /** `uname -r` of this simulated build (synthetic: the real releases are not pinned down, spec §14). */
  readonly release: string;
  readonly abi: KhoAbiVersion;
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
    options: { ...DEFAULT_OPTIONS, ...overrides },
  };
}

/** The profile of a `uname -r` string built by the model, or null for a release the model does not know. */
export function profileByRelease(release: string): ReleaseProfile | null {
  const entry = Object.entries(RELEASES).find(([, r]) => r === release);
  return entry === undefined ? null : profileByName(entry[0]);
}
