/** Shared helpers for the ABI tests. */
import assert from 'node:assert/strict';
import type { AbiResult } from '../../src/abi/errors.ts';
import type { AbiErrorCode } from '../../src/abi/errors.ts';

/** Lowercase hex of bytes, no separators. */
export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Bytes from hex (spaces allowed). */
export function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

/** Assert success and return the value. */
export function okValue<T>(r: AbiResult<T>): T {
  if (!r.ok) assert.fail(`expected success, got ${r.error.message}`);
  return r.value;
}

/** Assert failure with `code`. */
export function failsWith(r: AbiResult<unknown>, code: AbiErrorCode): void {
  if (r.ok) assert.fail(`expected ${code}, got success`);
  assert.equal(r.error.code, code, r.error.message);
}

/** A sparse page store with a reader and an allocator, for list walkers. */
export class FakeMemory {
  readonly pages = new Map<number, Uint8Array>();
  private nextFree: number;

  constructor(firstFree = 0x10000) {
    this.nextFree = firstFree;
  }

  alloc = (): number => {
    const p = this.nextFree;
    this.nextFree += 4096;
    return p;
  };

  write(phys: number, bytes: Uint8Array): void {
    const page = this.pages.get(phys) ?? new Uint8Array(4096);
    page.set(bytes.subarray(0, 4096));
    this.pages.set(phys, page);
  }

  read = (phys: number, len: number): Uint8Array | null => {
    const base = phys - (phys % 4096);
    const page = this.pages.get(base);
    if (page === undefined || phys - base + len > 4096) return null;
    return page.slice(phys - base, phys - base + len);
  };
}
