/** Host file reads and host error texts (the pieces under every `kho` subcommand's file I/O). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { HostIoError, hostErrorText, hostIoError } from '../../src/util/host-errors.ts';
import { readHostFile, type ReadLimit } from '../../src/util/host-input.ts';
import { collectText, TextChunker } from '../../src/util/text-sink.ts';

const dir = mkdtempSync(join(tmpdir(), 'kho-host-io-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const file = (name: string, bytes: Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

test('host error texts are strerror texts, never Node codes', () => {
  assert.equal(hostErrorText({ code: 'ENOENT' }), 'No such file or directory');
  assert.equal(hostErrorText({ code: 'EISDIR' }), 'Is a directory');
  assert.equal(hostErrorText({ code: 'ESPIPE' }), 'Illegal seek');
  // An errno the table lacks: libuv's own wording, capitalised, without the code.
  const odd = Object.assign(new Error("EBADMSG: bad message, read 'x'"), { code: 'EBADMSG' });
  assert.equal(hostErrorText(odd), 'Bad message');
  const nul = Object.assign(new TypeError('path must be a string without null bytes'), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
  assert.equal(hostErrorText(nul), 'Invalid argument');
  assert.equal(hostErrorText(new RangeError('Array buffer allocation failed')), 'Cannot allocate memory');
  assert.equal(hostIoError('f', { code: 'EACCES' }).message, 'f: Permission denied');
});

test('readHostFile: the limit is inclusive; one byte more is refused with the reason', () => {
  const limit: ReadLimit = { max: 8, why: 'a test' };
  assert.deepEqual(readHostFile(file('eight', new Uint8Array(8).fill(7)), limit), new Uint8Array(8).fill(7));
  const nine = file('nine', new Uint8Array(9));
  assert.throws(
    () => readHostFile(nine, limit),
    (e: unknown) =>
      e instanceof HostIoError && e.message === `${nine}: File too large (a test: at most 8 bytes)`,
  );
  assert.throws(() => readHostFile(join(dir, 'none'), limit), /none: No such file or directory$/);
  assert.throws(() => readHostFile(dir, limit), /: Is a directory$/);
  assert.throws(() => readHostFile('a\0b', limit), / a\0b: Invalid argument$/);
});

test('readHostFile with a header: reads as far as the header claims, not further', () => {
  const bytes = new Uint8Array(100).map((_, i) => i);
  const p = file('claims', bytes);
  const claims = (n: number | null): ReadLimit => ({
    max: 64,
    why: 'a test',
    head: { bytes: 4, length: () => n },
  });
  assert.deepEqual(readHostFile(p, claims(10)), bytes.subarray(0, 10));
  assert.deepEqual(readHostFile(p, claims(2)), bytes.subarray(0, 4)); // never less than the header
  assert.throws(() => readHostFile(p, claims(null)), /File too large/); // unknown: up to max
  assert.throws(() => readHostFile(p, claims(80)), /File too large/);
  assert.deepEqual(readHostFile(file('short', bytes.subarray(0, 3)), claims(10)), bytes.subarray(0, 3));
});

test('TextChunker passes text on in order, in chunks of about the given size', () => {
  const chunks: string[] = [];
  const c = new TextChunker((s) => chunks.push(s), 10);
  for (let i = 0; i < 25; i++) c.push(String(i % 10));
  c.flush();
  assert.equal(chunks.join(''), '0123456789012345678901234');
  assert.ok(chunks.every((s) => s.length <= 10));
  assert.equal(
    collectText((sink) => {
      sink('a');
      sink('b');
    }),
    'ab',
  );
});
