/**
 * dtc 1.6.1's FATAL ERROR texts for truncated and inconsistent blobs (flattree.c:
 * dt_from_blob()), compared with /usr/bin/dtc on the same files; and the truncated debugfs
 * out/fdt (the kernel sizes it at kho_init) fails as dtc fails, followed by one line saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { term } from './helpers.ts';

const KHO = '/sys/kernel/debug/kho';

function realDtc(file: string): { err: string; status: number | null } {
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
  return { err: r.stderr, status: r.status };
}

test('truncated and inconsistent blobs: the same FATAL ERROR as dtc 1.6.1', async () => {
  const d = mkdtempSync(join(tmpdir(), 'kho-dtc-trunc-'));
  const src = join(d, 'src.dts');
  writeFileSync(src, '/dts-v1/;\n/ { compatible = "kho-v4"; sub { x = <1>; }; };\n');
  const ok = spawnSync('dtc', ['-I', 'dts', '-O', 'dtb', '-o', join(d, 'ok.dtb'), src], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const blob = readFileSync(join(d, 'ok.dtb'));
  const cases: Record<string, Buffer> = {};
  for (const n of [0, 2, 4, 6, 8, 20, 39, 40, 56, blob.length - 1]) cases[`cut${n}`] = blob.subarray(0, n);
  const withWord = (off: number, v: number): Buffer => {
    const b = Buffer.from(blob);
    b.writeUInt32BE(v, off);
    return b;
  };
  cases['magic'] = withWord(0, 0x12345678);
  cases['size-small'] = withWord(4, 20);
  cases['size-big'] = withWord(4, 4096);
  cases['off-struct'] = withWord(8, 1000);
  cases['off-strings'] = withWord(12, 1000);
  cases['off-rsvmap'] = withWord(16, 1000);
  cases['size-strings'] = withWord(32, 1000);
  cases['size-struct'] = withWord(36, 1000);
  cases['first-token'] = withWord(blob.readUInt32BE(8), 9);
  const t = term();
  for (const [name, bytes] of Object.entries(cases)) {
    const f = join(d, `${name}.dtb`);
    writeFileSync(f, bytes);
    const want = realDtc(f);
    assert.match(want.err, /^FATAL ERROR: /, name);
    const got = await t.run(`dtc -I dtb -O dts ${f}`);
    assert.equal(got.err, want.err, name);
    assert.equal(got.status, want.status, name);
  }
});

test('dtc on the truncated out/fdt: dtc fails as dtc does, then one line says why', async () => {
  const d = mkdtempSync(join(tmpdir(), 'kho-dtc-outfdt-'));
  const t = term({}, d);
  assert.equal((await t.run('modprobe test_kho max_mem=65536')).status, 0);
  const k = t.session.kernel;
  const header = k.machine.mem.read(k.kho.fdtPhys, 8);
  const total = new DataView(header.buffer, header.byteOffset).getUint32(4);
  const fileLen = k.kho.ctx.outFdtLen;
  assert.ok(total > fileLen);
  assert.equal((await t.run(`cp ${KHO}/out/fdt fdt.dtb`)).status, 0);
  const want = realDtc(join(d, 'fdt.dtb'));
  assert.equal(want.err, `FATAL ERROR: EOF before reading ${total} bytes of DT blob\n`);
  const got = await t.run(`dtc -I dtb -O dts ${KHO}/out/fdt`);
  assert.equal(got.status, 1);
  assert.equal(
    got.err,
    want.err +
      `note: ${KHO}/out/fdt is truncated: header says ${total} bytes, file has ${fileLen}; the kernel sizes this file at kho_init (kernel/liveupdate/kexec_handover.c: kho_init()), so sub-trees added later are cut off\n`,
  );
  // The copy on the host is the same bytes; dtc on it gets no hint (not the debugfs file).
  assert.equal((await t.run('dtc -I dtb -O dts fdt.dtb')).err, want.err);
});
