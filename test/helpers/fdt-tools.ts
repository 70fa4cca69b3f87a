/** Run dtc / fdtget on blobs and DTS text through temporary files. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FdtNode, FdtTree } from '../../src/fdt/tree.ts';
import type { LibfdtNode } from './fdt-libfdt.ts';

/** A scratch directory removed by `done()`. */
export function scratch(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kho-fdt-'));
  return {
    dir,
    done: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Compile DTS text with dtc (extra args e.g. ['-V', '16']); returns the blob. */
export function dtcCompile(dir: string, name: string, dts: string, args: string[] = []): Uint8Array {
  const src = join(dir, `${name}.dts`);
  const out = join(dir, `${name}.dtb`);
  writeFileSync(src, dts);
  execFileSync('dtc', ['-q', '-I', 'dts', '-O', 'dtb', ...args, '-o', out, src], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Uint8Array(readFileSync(out));
}

/** Run dtc on a blob with the given output format; returns stdout (throws if dtc rejects it). */
export function dtcFromBlob(dir: string, name: string, blob: Uint8Array, format: 'dts' | 'dtb'): Buffer {
  const src = join(dir, `${name}.dtb`);
  writeFileSync(src, blob);
  // -f: dtc's semantic checks (e.g. missing reg for a unit address) are not format errors.
  return execFileSync('dtc', ['-q', '-f', '-I', 'dtb', '-O', format, src], {
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 28,
  });
}

/** fdtget -t bx (bytes as hex) of one property. */
export function fdtget(dir: string, name: string, blob: Uint8Array, path: string, prop: string): string {
  const src = join(dir, `${name}.dtb`);
  writeFileSync(src, blob);
  return execFileSync('fdtget', ['-t', 'bx', src, path, prop]).toString().trim();
}

/** Our tree in the python helper's form, for comparison with libfdt's view. */
export function asLibfdt(n: FdtNode): LibfdtNode {
  return [
    n.name,
    n.props.map((p) => [p.name, Buffer.from(p.value).toString('hex')]),
    n.children.map(asLibfdt),
  ];
}

/** Reservation entries as decimal strings (the python helper's form), for comparison. */
export function rsvAsStrings(t: FdtTree): [string, string][] {
  return t.memreserve.map((r) => [r.address.toString(), r.size.toString()]);
}
