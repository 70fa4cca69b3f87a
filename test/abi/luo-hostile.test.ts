/**
 * Hostile bytes into every LUO decoder: each returns a result (never throws, never a RangeError),
 * and list walkers stop on loops and overlong chains.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AbiError } from '../../src/abi/errors.ts';
import type { AbiResult } from '../../src/abi/errors.ts';
import {
  decodeFdIoctl,
  decodeFinishIoctl,
  decodeGetNameIoctl,
  decodeSessionIoctl,
} from '../../src/abi/liveupdate-uapi.ts';
import {
  decodeLuoFileSer,
  decodeLuoFlbPage,
  decodeLuoSer,
  decodeLuoSessionSer,
  walkLuoFiles,
  walkLuoSessions,
} from '../../src/abi/luo.ts';
import {
  decodeLuoV1FileArray,
  decodeLuoV1Fdt,
  decodeLuoV1SessionArea,
  writeLuoV1Fdt,
} from '../../src/abi/luo-v1.ts';
import { decodeMemfdFolioArray, decodeMemfdFolioSer, decodeMemfdLuoSer } from '../../src/abi/memfd-luo.ts';

const bytes = fc.uint8Array({ maxLength: 200 });

function settles(r: AbiResult<unknown>): void {
  if (!r.ok) assert.ok(r.error instanceof AbiError);
}

describe('LUO decoders on hostile bytes', () => {
  it('never throw', () => {
    fc.assert(
      fc.property(bytes, fc.nat(300), (b, n) => {
        settles(decodeSessionIoctl(b));
        settles(decodeFdIoctl(b));
        settles(decodeFinishIoctl(b));
        settles(decodeGetNameIoctl(b));
        settles(decodeLuoSer(b));
        settles(decodeLuoSessionSer(b));
        settles(decodeLuoFileSer(b));
        settles(decodeLuoFlbPage(b));
        settles(decodeMemfdLuoSer(b));
        settles(decodeMemfdLuoSer(b, 'memfd-v1'));
        settles(decodeMemfdFolioSer(b));
        settles(decodeMemfdFolioArray(b, n));
        settles(decodeLuoV1Fdt(b));
        settles(decodeLuoV1SessionArea(b));
        settles(decodeLuoV1FileArray(b, n));
      }),
      { numRuns: 500 },
    );
  });

  it('a luo-v1 FDT with flipped bytes still decodes or fails cleanly', () => {
    const page = writeLuoV1Fdt({ liveupdateNum: 4n, sessionHeader: 0x1000, flbHeader: 0x2000 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(400), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (flips) => {
          const b = page.slice();
          for (const [at, v] of flips) b[at] = v;
          settles(decodeLuoV1Fdt(b));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('block walkers on random memory end with a result', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4096 * 4, maxLength: 4096 * 4 }), fc.nat(3), (mem, first) => {
        const read = (p: number, len: number): Uint8Array | null =>
          p % 4096 === 0 && p >= 0x1000 && p + len <= 0x1000 + mem.length
            ? mem.slice(p - 0x1000, p - 0x1000 + len)
            : null;
        settles(walkLuoSessions(0x1000 + first * 0x1000, read));
        settles(walkLuoFiles(0x1000 + first * 0x1000, read));
      }),
      { numRuns: 100 },
    );
  });
});
