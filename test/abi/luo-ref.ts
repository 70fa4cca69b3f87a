/**
 * The python references of the LUO ABI tests: ctypes layouts of the C declarations
 * (luo-abi-ref.py) and python3-libfdt's sequential writer for the luo-v1 tree (luo-v1-ref.py).
 * Both run under /usr/bin/python3, where scripts/test-deps.sh installs python3-libfdt.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CTYPES = fileURLToPath(new URL('./luo-abi-ref.py', import.meta.url));
const LIBFDT = fileURLToPath(new URL('./luo-v1-ref.py', import.meta.url));

/** A field value for ctypes: a number, a string for char arrays, or a nested structure. */
export type CValue = number | string | bigint | { [field: string]: CValue };

function jsonable(v: CValue): unknown {
  if (typeof v === 'bigint') return `u64:0x${v.toString(16)}`;
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonable(x)]));
  return v;
}

/** Lay out each [struct, fields] with ctypes; returns [sizeof, hex] per case. */
export function ctypes(cases: [string, Record<string, CValue>][]): [number, string][] {
  const input = JSON.stringify(cases.map(([n, f]) => [n, jsonable(f)]));
  return JSON.parse(execFileSync('/usr/bin/python3', [CTYPES], { input }).toString()) as [number, string][];
}

/** The luo-v1 FDT page as python3-libfdt writes it, per case. */
export function libfdtLuoV1(cases: { ln: number; session: number; flb: number | null }[]): string[] {
  const out = execFileSync('/usr/bin/python3', [LIBFDT], { input: JSON.stringify(cases) });
  return JSON.parse(out.toString()) as string[];
}
