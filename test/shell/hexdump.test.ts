import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { hexdump, parseSizeArg } from '../../src/shell/hexdump.ts';
import { BufferSink } from '../../src/shell/io.ts';
import { term } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'kho-hexdump-'));
const RUNS = Math.max(40, Math.min(Number(process.env['FUZZ_RUNS'] ?? 80), 400));

function real(args: string[]): { out: string; err: string; status: number } {
  const r = spawnSync('/usr/bin/hexdump', args, { encoding: 'latin1' });
  return { out: r.stdout, err: r.stderr, status: r.status ?? -1 };
}

async function ours(
  data: Uint8Array,
  canonical: boolean,
  skip: number,
  length: number | null,
  noSqueeze = false,
): Promise<string> {
  const sink = new BufferSink();
  await hexdump(
    [{ size: data.length, readRange: (o, l) => data.subarray(o, o + l) }],
    { format: canonical ? 'canonical' : 'words', skip, length, noSqueeze },
    sink,
  );
  return Buffer.from(sink.bytes()).toString('latin1');
}

/** Bytes with runs of repeated 16-byte lines (to exercise `*`). */
const blobs = fc
  .array(
    fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      fc
        .record({ line: fc.uint8Array({ minLength: 16, maxLength: 16 }), n: fc.integer({ min: 1, max: 5 }) })
        .map(({ line, n }) => Uint8Array.from({ length: 16 * n }, (_, i) => line[i % 16]!)),
      fc.integer({ min: 1, max: 80 }).map((n) => new Uint8Array(n)),
    ),
    { maxLength: 6 },
  )
  .map((parts) => Uint8Array.from(parts.flatMap((p) => [...p])));

test('hexdump -C and the default format match /usr/bin/hexdump byte for byte', async () => {
  let i = 0;
  await fc.assert(
    fc.asyncProperty(
      blobs,
      fc.boolean(),
      fc.nat(300),
      fc.option(fc.nat(300), { nil: null }),
      fc.boolean(),
      async (data, canonical, skip, length, v) => {
        const f = join(dir, `in${i++}.bin`);
        writeFileSync(f, data);
        const args = [...(canonical ? ['-C'] : []), ...(v ? ['-v'] : [])];
        if (skip > 0) args.push('-s', String(skip));
        if (length !== null) args.push('-n', String(length));
        const r = real([...args, f]);
        assert.equal(r.status, 0);
        assert.equal(
          await ours(data, canonical, skip, length, v),
          r.out,
          `hexdump ${args.join(' ')} (${data.length} bytes)`,
        );
      },
    ),
    { numRuns: RUNS },
  );
});

test('hexdump edge cases: empty input, skip to or past the end, -n 0, zero runs', async () => {
  const cases: [Uint8Array, string[]][] = [
    [new Uint8Array(0), ['-C']],
    [new Uint8Array(0), ['-C', '-s', '5']],
    [new Uint8Array(39), ['-C', '-s', '39']],
    [new Uint8Array(39), ['-C', '-s', '40', '-n', '5']],
    [new Uint8Array(39), ['-C', '-n', '0']],
    [new Uint8Array(64), ['-C']],
    [new Uint8Array(40), []],
    [Uint8Array.from([0x61, 0x62, 0x63]), []],
  ];
  for (const [i, [data, args]] of cases.entries()) {
    const f = join(dir, `edge${i}.bin`);
    writeFileSync(f, data);
    const skip = args.includes('-s') ? Number(args[args.indexOf('-s') + 1]) : 0;
    const len = args.includes('-n') ? Number(args[args.indexOf('-n') + 1]) : null;
    assert.equal(await ours(data, args.includes('-C'), skip, len), real([...args, f]).out, args.join(' '));
  }
});

test('offset and length arguments parse as util-linux strtosize does', () => {
  assert.equal(parseSizeArg('010'), 8);
  assert.equal(parseSizeArg('0x10'), 16);
  assert.equal(parseSizeArg('1K'), 1024);
  assert.equal(parseSizeArg('1k'), 1024);
  assert.equal(parseSizeArg('1KiB'), 1024);
  assert.equal(parseSizeArg('1KB'), 1000);
  assert.equal(parseSizeArg('2M'), 2 * 1024 * 1024);
  assert.equal(parseSizeArg('2b'), null);
  assert.equal(parseSizeArg('-3'), null);
  assert.equal(parseSizeArg('1x'), null);
  assert.equal(parseSizeArg(''), null);
});

test('the hexdump command on host files matches the real tool, errors included', async () => {
  const t = term();
  const a = join(dir, 'a.txt');
  const b = join(dir, 'b.bin');
  writeFileSync(a, 'hello world, this is a test of hexdump\n');
  writeFileSync(b, new Uint8Array(100));
  for (const args of [
    ['-C', a],
    ['-C', '-s', '5', a, a],
    ['-Cn16', a],
    ['-C', '-n16', '-s16', b],
    ['-C', '-s', '0x10', '-n', '1K', b],
    [a, b],
    ['-C', '-v', b],
  ]) {
    const r = await t.run(`hexdump ${args.join(' ')}`);
    const want = real(args);
    assert.equal(r.out, want.out, args.join(' '));
    assert.equal(r.status, want.status, args.join(' '));
  }
  for (const args of [
    ['-C', '/tmp/kho-nonexistent'],
    ['-C', '-s', '1x', a],
    ['-C', '-n', '-3', a],
    ['-C', '/etc'],
  ]) {
    const r = await t.run(`hexdump ${args.join(' ')}`);
    const want = real(args);
    assert.equal(r.err, want.err, args.join(' '));
    assert.equal(r.out, want.out, args.join(' '));
    assert.equal(r.status, want.status, args.join(' '));
  }
});

test('hexdump of /dev/mem: physical offsets, untouched memory collapses to *', async () => {
  const t = term();
  await t.run('devmem 0x100000 32 0x64636261');
  const r = await t.run('hexdump -C -s 0x100000 -n 32 /dev/mem');
  assert.equal(
    r.out,
    '00100000  61 62 63 64 00 00 00 00  00 00 00 00 00 00 00 00  |abcd............|\n' +
      '00100010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n' +
      '00100020\n',
  );
  // A large untouched range is one line, a star and the end offset (and fast).
  const z = await t.run('hexdump -C -s 0x40000000 -n 0x10000000 /dev/mem');
  assert.equal(
    z.out,
    '40000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n50000000\n',
  );
  // The whole of /dev/mem: touched pages are dumped, the rest collapses; the last line is the end.
  const all = await t.run('hexdump -C /dev/mem | tail -n 1');
  assert.equal(all.out, `${t.session.machine.mem.limit.toString(16).padStart(8, '0')}\n`);
  const lines = (await t.run('hexdump -C /dev/mem')).out.split('\n');
  assert.ok(lines.includes('00100000  61 62 63 64 00 00 00 00  00 00 00 00 00 00 00 00  |abcd............|'));
});
