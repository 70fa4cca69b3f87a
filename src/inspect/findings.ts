/**
 * Findings of `kho inspect`: every problem or notable fact found in handover data is one
 * `{severity, code, message, at}` record. Codes are stable (scripts match on them) and are listed
 * with their meaning in docs/inspect.md; messages are for humans and may change.
 */

/** How bad a finding is: `error` makes `kho inspect` exit 1, the others do not. */
export type Severity = 'error' | 'warning' | 'info';

/** The stable finding codes, with their default severity. */
export const FINDING_CODES = {
  // memory image
  'elf-header': 'error',
  'elf-segment': 'warning',
  'elf-overlap': 'info',
  'image-empty': 'warning',
  'no-image': 'info',
  // root FDT
  'fdt-missing': 'error',
  'fdt-found': 'info',
  'fdt-invalid': 'error',
  'fdt-truncated': 'error',
  'fdt-too-big': 'warning',
  'abi-unknown': 'error',
  'abi-mismatch': 'warning',
  'prop-missing': 'error',
  'prop-size': 'error',
  'memmap-empty': 'info',
  // pointers and walks
  'ptr-outside-image': 'error',
  'ptr-unaligned': 'error',
  'ptr-out-of-range': 'error',
  cycle: 'error',
  'bad-key': 'error',
  'walk-budget': 'error',
  'too-many-blocks': 'error',
  'v1-chunk': 'error',
  'v1-bitmap-start': 'warning',
  // the preserved set
  'misaligned-block': 'error',
  overlap: 'error',
  'preserved-in-scratch': 'error',
  'tracker-in-scratch': 'error',
  'tracker-preserved': 'warning',
  'fdt-in-scratch': 'error',
  'fdt-not-preserved': 'warning',
  // scratch
  'scratch-overlap': 'error',
  'scratch-entry': 'warning',
  'scratch-missing': 'info',
  // sub-trees
  'subtree-no-data': 'warning',
  'subtree-not-preserved': 'error',
  'subtree-in-scratch': 'error',
  'subtree-too-big': 'warning',
  'subtree-size': 'warning',
  'subtree-invalid': 'error',
  'reserve-mem-not-preserved': 'error',
  'test-kho-folio': 'error',
  'vmalloc-not-preserved': 'error',
  // Live Update Orchestrator (sub-tree LUO)
  'luo-invalid': 'error',
  'luo-block-count': 'error',
  'luo-too-long': 'error',
  'luo-file-count': 'error',
  'luo-duplicate': 'error',
  'luo-not-preserved': 'error',
  'luo-handler': 'info',
  'luo-flb': 'warning',
  'memfd-invalid': 'error',
  'memfd-folio': 'error',
} as const satisfies Record<string, Severity>;

/** One of the stable finding codes. */
export type FindingCode = keyof typeof FINDING_CODES;

/** One finding. */
export interface Finding {
  severity: Severity;
  code: FindingCode;
  message: string;
  /** Where: a physical address (`0x…`), an FDT path (`/name/prop`), a file offset, or `-`. */
  at: string;
}

/** Most findings kept per code: a hostile image must not produce millions of them. */
export const MAX_FINDINGS_PER_CODE = 50;

/** Collects findings, capped per code (the overflow is counted and summarised). */
export class Findings {
  readonly list: Finding[] = [];
  private readonly perCode = new Map<FindingCode, number>();

  /** Add a finding with the code's default severity unless `severity` is given. */
  add(code: FindingCode, message: string, at: string, severity?: Severity): void {
    const n = (this.perCode.get(code) ?? 0) + 1;
    this.perCode.set(code, n);
    if (n <= MAX_FINDINGS_PER_CODE) {
      this.list.push({ severity: severity ?? FINDING_CODES[code], code, message, at });
    }
  }

  /** Append a summary finding for each code that went over the cap. */
  finish(): Finding[] {
    for (const [code, n] of this.perCode) {
      if (n > MAX_FINDINGS_PER_CODE) {
        this.list.push({
          severity: FINDING_CODES[code],
          code,
          message: `${n - MAX_FINDINGS_PER_CODE} more '${code}' finding(s) not listed`,
          at: '-',
        });
      }
    }
    return this.list;
  }

  /** Whether any error was recorded (including those over the cap). */
  hasError(): boolean {
    return this.list.some((f) => f.severity === 'error');
  }
}

/** `0x…` lowercase hex of an address (the form used in `at` and in JSON). */
export function hexAddr(x: number): string {
  return `0x${x.toString(16)}`;
}
