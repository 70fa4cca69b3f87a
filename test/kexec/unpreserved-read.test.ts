import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GFP_KERNEL } from '../../src/mm/gfp.ts';
import { kexecExecute, sanitizerReports } from '../../src/kexec/execute.ts';
import { kexecFileLoad } from '../../src/kexec/file-load.ts';
import { UNPRESERVED_READ_REPORT_LIMIT } from '../../src/kexec/sanitizer.ts';
import { POISON_WORD } from '../../src/hw/physical-memory.ts';
import { booted, GiB, imageOf, profile } from './kexec-helpers.ts';

const CMD = 'console=ttyS0 kho=on';

/** A kernel with one preserved and one unpreserved (but written) folio, jumped with the sanitizer on. */
function jumped(sanitize: boolean) {
  const { m, k } = booted({ mem: 2 * GiB, sanitize });
  const kept = k.buddy.alloc(0, GFP_KERNEL)!;
  const lost = k.buddy.alloc(0, GFP_KERNEL)!;
  m.mem.writeU32(kept * 4096, 0x1234);
  m.mem.writeU32(lost * 4096, 0x5678); // written, never preserved: stale after the jump
  assert.equal(k.kho.preserveFolio(kept, 0), 0);
  kexecFileLoad(k, { image: imageOf('kho-v4'), cmdline: CMD });
  const r = kexecExecute(m);
  return { m, s: r.successor, report: r.report, kept, lost };
}

describe('sanitizer page-access tracking (reads of never-preserved memory)', () => {
  it('a successor reading an unpreserved page gets the poison pattern and a finding, once per page', () => {
    const { m, s, report, kept, lost } = jumped(true);
    assert.equal(report.unpreservedReads, 0, 'booting the successor reads no stale memory');
    assert.equal(m.mem.readU32(kept * 4096), 0x1234); // preserved: intact, no finding
    assert.equal(report.findings.length, 0);

    assert.equal(m.mem.readU32(lost * 4096), POISON_WORD);
    m.mem.read(lost * 4096 + 100, 8); // same page again: counted, not listed twice
    const f = report.findings.filter((x) => x.kind === 'unpreserved-read');
    assert.equal(f.length, 1);
    assert.equal(f[0]!.phys, lost * 4096);
    assert.equal(f[0]!.severity, 'error');
    assert.equal(report.unpreservedReads, 2);
    assert.ok(s.dmesg.has(`kexec sanitizer: read of unpreserved memory at 0x${(lost * 4096).toString(16)}`));
    assert.equal(sanitizerReports(m).at(-1), report);
  });

  it('memory the successor writes first is its own: no finding', () => {
    const { m, report, lost } = jumped(true);
    m.mem.writeU32(lost * 4096 + 8, 7);
    assert.equal(m.mem.readU32(lost * 4096 + 8), 7);
    assert.equal(report.unpreservedReads, 0);
  });

  it('only distinct pages up to the limit are listed; every read is counted', () => {
    const { m, report, lost } = jumped(true);
    // Pages near the unpreserved one that nobody preserved (the whole complement is poisoned).
    let listed = 0;
    for (let i = 0; i < UNPRESERVED_READ_REPORT_LIMIT + 10; i++) {
      const pfn = lost + 512 + i;
      if (m.mem.isPoisoned(pfn)) {
        m.mem.readU8(pfn * 4096);
        listed++;
      }
    }
    assert.ok(listed > UNPRESERVED_READ_REPORT_LIMIT, `only ${listed} poisoned pages found`);
    assert.equal(
      report.findings.filter((x) => x.kind === 'unpreserved-read').length,
      UNPRESERVED_READ_REPORT_LIMIT,
    );
    assert.equal(report.unpreservedReads, listed);
  });

  it('without the sanitizer nothing is poisoned or tracked, and a cold reboot stops tracking', () => {
    const off = jumped(false);
    assert.equal(off.m.mem.readU32(off.lost * 4096), 0x5678); // stale data, silently (as on hardware)
    assert.equal(off.report.unpreservedReads, 0);

    const on = jumped(true);
    on.m.coldBoot({ cmdline: CMD, profile: profile() });
    assert.equal(on.m.mem.readU32(on.lost * 4096), 0); // power-on: memory cleared
    assert.equal(on.report.unpreservedReads, 0);
  });
});
