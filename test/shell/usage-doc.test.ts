/**
 * The kernel's KHO usage document (Documentation/admin-guide/mm/kho.rst) with its own example
 * sizes, `kho=on kho_scratch=16M,512M,256M`, on the default machine (16 GiB, 2 nodes): the
 * successor boots in the 16 MiB lowmem scratch area, shrinking its swiotlb as
 * kernel/dma/swiotlb.c: swiotlb_init_remap() does, and shows /sys/kernel/debug/kho/in/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferSink } from '../../src/shell/io.ts';
import { bootMachine, createSession, machineConfig } from '../../src/shell/machine-setup.ts';
import { runScript } from '../../src/shell/script.ts';

const CMDLINE = 'kho=on kho_scratch=16M,512M,256M';

/** "Perform a KHO kexec" and "Abort a KHO exec", verbatim but for --reuse-cmdline. */
const KHO_V1_DOC = `echo 1 > /sys/kernel/debug/kho/out/finalize
cat /sys/kernel/debug/kho/out/fdt > /dev/null
ls /sys/kernel/debug/kho/out/sub_fdts/
echo 0 > /sys/kernel/debug/kho/out/active
echo 1 > /sys/kernel/debug/kho/out/finalize
kexec -l /boot/vmlinuz --initrd /boot/initrd.img --reuse-cmdline -s
kexec -e
ls /sys/kernel/debug/kho/in/
dmesg
`;

/** The current document has no finalize step. */
const KHO_V4_DOC = KHO_V1_DOC.split('\n')
  .filter((l) => !/finalize|active/.test(l))
  .join('\n');

async function run(script: string, profile: string) {
  const cfg = machineConfig({ cmdline: CMDLINE, profile });
  if (typeof cfg === 'string') throw new Error(cfg);
  const m = bootMachine(cfg);
  if (typeof m === 'string') throw new Error(m);
  const out = new BufferSink();
  const err = new BufferSink();
  const s = createSession(m, cfg, { stdout: out, stderr: err, home: '/tmp' });
  const r = await runScript(s, script, { transcript: out, errors: err, name: 'kho.rst' });
  return { ...r, out: out.text(), err: err.text(), session: s };
}

/** The successor's swiotlb lines: three failures, then the shrink to 8 MiB. */
function assertSwiotlbShrink(out: string): void {
  const lines = out
    .split('\n')
    .filter((l) => l.includes('IO TLB'))
    .map((l) => l.replace(/^\[[ 0-9.]+\] /, ''));
  assert.deepEqual(lines, [
    'software IO TLB: area num 16.',
    'software IO TLB: swiotlb_memblock_alloc: Failed to allocate 67108864 bytes tlb structure',
    'software IO TLB: swiotlb_memblock_alloc: Failed to allocate 33554432 bytes tlb structure',
    'software IO TLB: swiotlb_memblock_alloc: Failed to allocate 16777216 bytes tlb structure',
    'software IO TLB: SWIOTLB bounce buffer size adjusted 32768 -> 4096 slabs',
    lines[5]!,
  ]);
  assert.match(
    lines[5]!,
    /^software IO TLB: mapped \[mem 0x00000000[0-9a-f]{8}-0x00000000[0-9a-f]{8}\] \(8MB\)$/,
  );
}

test('kho-v4: the document (no finalize step) hands over on the default machine', async () => {
  const r = await run(KHO_V4_DOC, 'kho-v4');
  assert.equal(r.status, 0, r.err);
  assert.equal(r.session.kernel.kho.isKhoBoot(), true);
  assert.match(r.out, /# ls \/sys\/kernel\/debug\/kho\/in\/\nfdt\nsub_fdts\n/);
  assertSwiotlbShrink(r.out);
});

test('kho-v1: the document verbatim (with --reuse-cmdline) hands over on the default machine', async () => {
  const r = await run(KHO_V1_DOC, 'kho-v1');
  assert.equal(r.status, 0, r.err);
  assert.equal(r.session.kernel.kho.isKhoBoot(), true);
  assert.match(r.out, /# ls \/sys\/kernel\/debug\/kho\/in\/\nfdt\nsub_fdts\n/);
  assertSwiotlbShrink(r.out);
});
