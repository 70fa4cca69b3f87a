/**
 * Names and value encodings of the KHO root FDT (kernel/liveupdate/kexec_handover.c: kho_init(),
 * kho_add_subtree()). The FDT container itself is big-endian, but every KHO scalar inside a property is a raw
 * CPU-endian (little-endian) u64.
 */
import { AbiError, decodeWith } from './errors.ts';
import type { AbiResult } from './errors.ts';
import { getU64, putU64, viewOf } from './bytes.ts';

/** Root property: string list naming the ABI version (`kho-v1` … `kho-v4`). */
export const KHO_FDT_PROP_COMPATIBLE = 'compatible';
/** Root property: LE64 physical address of the memory map (radix root page, or v1 first chunk). */
export const KHO_FDT_PROP_MEMORY_MAP = 'preserved-memory-map';
/** Sub-node property (v2+): LE64 physical address of the blob. */
export const KHO_FDT_PROP_PRESERVED_DATA = 'preserved-data';
/** Sub-node property (v3+): LE64 size of the blob in bytes. */
export const KHO_FDT_PROP_BLOB_SIZE = 'blob-size';
/** Sub-node property (v1): LE64 physical address of the sub-FDT. */
export const KHO_FDT_PROP_SUB_FDT = 'fdt';

/** The root FDT lives in one page and must fit in it. */
export const KHO_FDT_MAX_SIZE = 4096;
/** Length of every LE64 property value. */
export const KHO_LE64_PROP_SIZE = 8;

/** Encode a KHO scalar property value: 8 bytes, little-endian. */
export function encodeLe64Prop(x: number): Uint8Array {
  const b = new Uint8Array(KHO_LE64_PROP_SIZE);
  putU64(viewOf(b), 0, x, 'kho-fdt', 'le64');
  return b;
}

/**
 * Decode a KHO scalar property value. The kernel requires exactly 8 bytes (`len != sizeof(u64)`
 * is an error), so any other length is BAD_LENGTH.
 */
export function decodeLe64Prop(value: Uint8Array, name = 'le64'): AbiResult<number> {
  return decodeWith(() => {
    if (value.length !== KHO_LE64_PROP_SIZE) {
      throw new AbiError('BAD_LENGTH', name, 0, `must be ${KHO_LE64_PROP_SIZE} bytes, is ${value.length}`);
    }
    return getU64(value, 0, name, 'value');
  });
}

/** Encode a string property (the text plus its NUL), e.g. `compatible = "kho-v4"` → 7 bytes. */
export function encodeStringProp(s: string): Uint8Array {
  const text = new TextEncoder().encode(s);
  const b = new Uint8Array(text.length + 1);
  b.set(text);
  return b;
}

/** Encode a string list property: each string followed by its NUL. */
export function encodeStringListProp(list: readonly string[]): Uint8Array {
  const parts = list.map(encodeStringProp);
  const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    b.set(p, off);
    off += p.length;
  }
  return b;
}

/**
 * Decode a string list property as libfdt walks it: NUL-terminated strings back to back. A last
 * string without its NUL is not a member (libfdt stops there), so it is dropped.
 */
export function decodeStringListProp(value: Uint8Array): string[] {
  const out: string[] = [];
  const dec = new TextDecoder('utf-8', { fatal: false });
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === 0) {
      out.push(dec.decode(value.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

/** `fdt_stringlist_contains`: does the list property contain exactly `s`? */
export function stringListContains(value: Uint8Array, s: string): boolean {
  return decodeStringListProp(value).includes(s);
}
