import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { EXAMPLES, lineOf } from '../loadable/helpers.ts';

const FORGETFUL = `${EXAMPLES}kho-forgetful.ts`;

const kho = (args: string[]) =>
  spawnSync(process.execPath, ['src/cli/main.ts', 'check', ...args], { encoding: 'utf8' });
const SMALL = ['--mem', '2G', '--nodes', '1', '--cmdline', 'kho=on kho_scratch=64M,64M,32M'];

describe('kho check (command line)', () => {
  it('the broken example: exit 1, the finding names the page and the function, the verdict', () => {
    const r = kho([FORGETFUL, '--generations', '1', ...SMALL]);
    const read = lineOf(FORGETFUL, 'physRead(k, phys,');
    const alloc = lineOf(FORGETFUL, 'allocPages(k,');
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(
      r.stdout,
      /^kho check .*kho-forgetful\.ts: module kho_forgetful, profile kho-v4, 1 kexec, 2 GiB \/ 1 node, seed 1, sanitizer on$/m,
    );
    assert.match(r.stdout, /^ {2}gen 1: error unpreserved-read at 0x[0-9a-f]+$/m);
    assert.match(
      r.stdout,
      new RegExp(`\\n {4}read_message \\(kho-forgetful\\.ts:${read}\\) read 0x[0-9a-f]+, a page`),
    );
    assert.ok(
      r.stdout.includes(
        `\n      gen 0: allocated by save_message (kho-forgetful.ts:${alloc}) [kho_forgetful]\n`,
      ),
    );
    assert.match(r.stdout, /^verdict: FAIL \(2 kernels, 1 error, 0 warnings\)$/m);
  });

  it('--json with two profiles and module parameters; a clean run exits 0', () => {
    const r = kho([
      `${EXAMPLES}kho-table.ts`,
      'nr_folios=2',
      'order=0',
      '--generations',
      '2',
      '--profile',
      'kho-v2,kho-v4',
      '--json',
      ...SMALL,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      reports: {
        profile: string;
        verdict: string;
        machine: { cmdline: string };
        generations: { restored: { pages: number } }[];
      }[];
    };
    assert.equal(out.ok, true);
    assert.deepEqual(
      out.reports.map((x) => [x.profile, x.verdict]),
      [
        ['kho-v2', 'pass'],
        ['kho-v4', 'pass'],
      ],
    );
    assert.match(out.reports[0]!.machine.cmdline, /kho_table\.nr_folios=2 kho_table\.order=0$/);
    assert.equal(
      out.reports[0]!.generations[1]!.restored.pages,
      4,
      'two order-0 folios, the table page, the header',
    );
  });

  it('usage errors exit 2 with one line', () => {
    for (const [args, msg] of [
      [['/nonexistent/mod.ts'], 'kho check: /nonexistent/mod.ts: No such file or directory\n'],
      [
        [`${EXAMPLES}kho-table.ts`, '--profile', 'kho-v9'],
        'kho check: --profile: unknown profile "kho-v9" (known: kho-v1, kho-v2, kho-v3, kho-v4, all)\n',
      ],
      [
        [`${EXAMPLES}kho-table.ts`, '--nodes', 'x'],
        'kho check: --nodes: expected an integer from 1 to 64, got "x"\n',
      ],
    ] as const) {
      const r = kho([...args]);
      assert.equal(r.status, 2);
      assert.equal(r.stderr, msg);
    }
  });
});
