/**
 * The `kho` command's host I/O as a user meets it in a Unix shell: stdin from slow or bursty
 * producers, special files (/dev/zero, FIFOs with endless writers), bounded reads, slow
 * readers, readers that go away (SIGPIPE, as coreutils), and write errors. Pipelines run in
 * bash so that the descriptors are the ones a shell makes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildBlob } from '../../src/fdt/convert.ts';
import type { FdtNode } from '../../src/fdt/tree.ts';
import { fdtTree } from '../../src/fdt/tree.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kho-cli-io-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Run a bash script with `$KHO` = the command; returns status, stdout, stderr. */
function sh(script: string, input?: string) {
  const r = spawnSync('bash', ['-c', `KHO="$NODE $MAIN"; ${script}`], {
    encoding: 'utf8',
    env: { ...process.env, NODE: process.execPath, MAIN, D: dir },
    ...(input === undefined ? {} : { input }),
    maxBuffer: 1 << 28,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const NO_INTERNALS = /\n\s+at |\bERR_[A-Z_]+|\bE[A-Z]{3,}\b|RangeError|TypeError|internal error/;

const small = buildBlob(
  fdtTree({
    name: '',
    props: [{ name: 'compatible', value: new TextEncoder().encode('kho-v4\0') }],
    children: [{ name: 'a', props: [{ name: 'b', value: Uint8Array.of(0, 0, 0, 1) }], children: [] }],
  }),
);
writeFileSync(join(dir, 'small.dtb'), small);
const wide: FdtNode[] = Array.from({ length: 20000 }, (_, i) => ({
  name: `n${i}`,
  props: [{ name: 'x', value: new Uint8Array(64) }],
  children: [],
}));
writeFileSync(join(dir, 'big.dtb'), buildBlob(fdtTree({ name: '', props: [], children: wide })));

test('stdin from a slow producer (the first byte after start-up) and a bursty one', () => {
  let r = sh('(sleep 1; cat "$D/small.dtb") | $KHO fdt check -');
  assert.equal(r.err, '');
  assert.equal(r.out, 'valid\n');
  assert.equal(r.status, 0);
  r = sh('(head -c 20 "$D/small.dtb"; sleep 0.5; tail -c +21 "$D/small.dtb") | $KHO fdt dump - | head -n 1');
  assert.equal(r.out, '/dts-v1/;\n');
  r = sh('(sleep 1; echo "cat /proc/cmdline") | $KHO run -q --mem 64M --nodes 1 -');
  assert.equal(r.err, '');
  assert.equal(r.out, 'kho=on\n');
  assert.equal(r.status, 0);
});

test('/dev/zero and /dev/urandom: one line, bounded memory', () => {
  // /usr/bin/time -f %M: peak RSS in KiB, on stderr after the command's own lines.
  const peak = (err: string): number => Number(/(\d+)\n$/.exec(err)![1]);
  let r = sh('/usr/bin/time -f %M $KHO fdt check /dev/zero');
  assert.equal(r.out, 'invalid: FDT_ERR_BADMAGIC at offset 0: magic 0x0 is not 0xd00dfeed\n');
  assert.equal(r.status, 1);
  assert.ok(peak(r.err) < 200 * 1024, r.err);
  for (const dev of ['/dev/zero', '/dev/urandom']) {
    r = sh(`/usr/bin/time -f %M $KHO inspect --fdt ${dev}`);
    const lines = r.err.trimEnd().split('\n');
    assert.equal(
      lines[0],
      `kho inspect: ${dev}: File too large (a root KHO FDT fits in one page: at most 65536 bytes)`,
    );
    assert.equal(lines.length, 3, r.err); // the line, time's status note, the RSS figure
    assert.ok(peak(r.err) < 200 * 1024, r.err);
  }
});

test('FIFOs with endless writers: read as far as the format reaches, then stop', () => {
  const fifo = join(dir, 'fifo');
  spawnSync('mkfifo', [fifo]);
  // A valid blob followed by an endless stream: the blob's totalsize is where reading stops.
  let r = sh('(cat "$D/small.dtb"; cat /dev/zero) > "$D/fifo" & $KHO fdt check "$D/fifo"; wait');
  assert.equal(r.out, 'valid\n');
  assert.equal(r.status, 0);
  r = sh('cat /dev/zero > "$D/fifo" 2>/dev/null & $KHO inspect --fdt "$D/fifo"; s=$?; wait; exit $s');
  assert.match(r.err, /^kho inspect: \S+fifo: File too large \(a root KHO FDT fits in one page/);
  assert.equal(r.status, 2);
});

test('bounds of whole-file reads: a huge script is refused at once', () => {
  const script = join(dir, 'huge.sh');
  writeFileSync(script, '');
  truncateSync(script, (64 << 20) + 1); // sparse: no disk used
  const r = sh(`$KHO run "${script}"`);
  assert.equal(r.err, `kho run: ${script}: File too large (a script: at most 67108864 bytes)\n`);
  assert.equal(r.status, 2);
});

test('a slow reader gets every byte; a reader that leaves ends us by SIGPIPE, quietly', () => {
  const want = sh('dtc -q -I dtb -O dts "$D/big.dtb" | md5sum').out;
  let r = sh('$KHO fdt dump "$D/big.dtb" | (sleep 1; md5sum)');
  assert.equal(r.out, want);
  assert.equal(r.err, '');
  r = sh('$KHO fdt dump --json "$D/big.dtb" | (sleep 1; wc -c)');
  assert.ok(Number(r.out) > 1 << 20, r.out);
  r = sh('$KHO fdt dump "$D/big.dtb" | head -c 10; echo " ${PIPESTATUS[0]}"');
  assert.equal(r.out, '/dts-v1/;\n 141\n'); // 128 + SIGPIPE, as `cat big | head -c 10` gives
  assert.equal(r.err, '');
});

test('a write error on stdout is one line, exit 1 (coreutils: write error)', () => {
  const r = sh('$KHO fdt dump "$D/big.dtb" > /dev/full');
  assert.equal(r.err, 'kho fdt: write error: No space left on device\n');
  assert.equal(r.status, 1);
});

test('host-side errors read as the tools print them: one line, exit 2, no Node codes', () => {
  mkdirSync(join(dir, 'adir'));
  const cases: [string, string][] = [
    ['$KHO inspect --fdt /nonexistent', 'kho inspect: /nonexistent: No such file or directory\n'],
    ['$KHO run "$D/adir"', `kho run: ${dir}/adir: Is a directory\n`],
    ['$KHO fdt check "$D/small.dtb/x"', `kho fdt: ${dir}/small.dtb/x: Not a directory\n`],
    ['$KHO mkimage -o "$D/missing/x.img"', `kho mkimage: ${dir}/missing/x.img: No such file or directory\n`],
    ['$KHO inspect --image "$D/adir"', `kho inspect: ${dir}/adir: Is a directory\n`],
    [
      '$KHO inspect --fdt "$D/small.dtb" --scratch /nonexistent',
      'kho inspect: /nonexistent: No such file or directory\n',
    ],
  ];
  for (const [cmd, err] of cases) {
    const r = sh(cmd);
    assert.equal(r.err, err, cmd);
    assert.equal(r.status, 2, cmd);
    assert.doesNotMatch(r.err, NO_INTERNALS, cmd);
  }
});
