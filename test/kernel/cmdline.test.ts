import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseKernelCmdline } from '../../src/kernel/cmdline.ts';
import type { KernelCmdline } from '../../src/kernel/cmdline.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300);

function texts(c: KernelCmdline): string[] {
  return c.dmesg.map((d) => d.text);
}

const DEFAULT_SCALE = { kind: 'scale', scale: 200 } as const;

describe('kho=', () => {
  it('defaults to the config flag', () => {
    assert.equal(parseKernelCmdline('').kho, false);
    assert.equal(parseKernelCmdline('', { khoEnableDefault: true }).kho, true);
  });
  it('accepts kstrtobool values', () => {
    for (const [v, want] of [
      ['on', true],
      ['1', true],
      ['y', true],
      ['Yes', true],
      ['t', true],
      ['e', true],
      ['off', false],
      ['0', false],
      ['n', false],
      ['F', false],
      ['d', false],
    ] as const) {
      const c = parseKernelCmdline(`kho=${v}`, { khoEnableDefault: !want });
      assert.equal(c.kho, want, v);
      assert.ok(!texts(c).some((t) => t.startsWith('Malformed')), v);
    }
  });
  it('warns "Malformed early option" and keeps the value on bad input', () => {
    for (const bad of ['kho', 'kho=', 'kho=maybe', 'kho=o', 'kho=2']) {
      const c = parseKernelCmdline(`kho=on ${bad}`);
      assert.equal(c.kho, true, bad);
      assert.ok(texts(c).includes("Malformed early option 'kho'"), bad);
    }
  });
  it('last occurrence wins', () => {
    assert.equal(parseKernelCmdline('kho=on kho=off').kho, false);
    assert.equal(parseKernelCmdline('kho=off kho=on').kho, true);
  });
  it('dashes and underscores and quotes', () => {
    assert.equal(parseKernelCmdline('"kho=on"').kho, true);
    assert.equal(parseKernelCmdline('kho="on"').kho, true);
  });
  it('is an unknown parameter when KHO is not built in', () => {
    const c = parseKernelCmdline('kho=on', { kexecHandover: false });
    assert.equal(c.kho, false);
    assert.deepEqual(c.unknown, [{ name: 'kho', value: 'on' }]);
    assert.ok(
      texts(c).includes('Unknown kernel command line parameters "kho=on", will be passed to user space.'),
    );
  });
  it('is not passed to init when built in, even when malformed', () => {
    const c = parseKernelCmdline('kho kho_scratch=bad');
    assert.deepEqual(c.unknown, []);
    assert.deepEqual(c.initArgv, []);
  });
});

describe('kho_scratch= scale form', () => {
  it('defaults to 200%', () => {
    assert.deepEqual(parseKernelCmdline('').scratch, DEFAULT_SCALE);
  });
  it('50%', () => {
    const c = parseKernelCmdline('kho_scratch=50%');
    assert.deepEqual(c.scratch, { kind: 'scale', scale: 50 });
    assert.ok(texts(c).includes('KHO: scratch scale is 50%'));
  });
  it('accepts + and the 11-character maximum', () => {
    assert.deepEqual(parseKernelCmdline('kho_scratch=+7%').scratch, { kind: 'scale', scale: 7 });
    const c = parseKernelCmdline('kho_scratch=4294967295%');
    assert.deepEqual(c.scratch, { kind: 'scale', scale: 4294967295 });
    // The kernel prints the u32 with %d.
    assert.ok(texts(c).includes('KHO: scratch scale is -1%'));
  });
  it('rejects too long, non-numeric, empty and overflowing scales', () => {
    for (const bad of ['000000000050%', '+4294967295%', 'abc%', '%', '4294967296%', '-5%', '5 %', '0x10%']) {
      const c = parseKernelCmdline(`kho_scratch=${bad}`);
      assert.deepEqual(c.scratch, DEFAULT_SCALE, bad);
      assert.ok(texts(c).includes("Malformed early option 'kho_scratch'"), bad);
      assert.ok(!texts(c).some((t) => t.startsWith('KHO:')), bad);
    }
  });
  it('0% selects explicit sizes (all zero), as the kernel does', () => {
    assert.deepEqual(parseKernelCmdline('kho_scratch=0%').scratch, {
      kind: 'sizes',
      lowmem: 0,
      global: 0,
      pernode: 0,
    });
  });
});

describe('kho_scratch= size form', () => {
  it('16M,512M,256M', () => {
    const c = parseKernelCmdline('kho_scratch=16M,512M,256M');
    assert.deepEqual(c.scratch, { kind: 'sizes', lowmem: 16 << 20, global: 512 << 20, pernode: 256 << 20 });
    assert.ok(texts(c).includes('KHO: scratch areas: lowmem: 16MiB global: 512MiB pernode: 256MiB'));
  });
  it('0,1G,0 is valid (zero fields are allowed)', () => {
    const c = parseKernelCmdline('kho_scratch=0,1G,0');
    assert.deepEqual(c.scratch, { kind: 'sizes', lowmem: 0, global: 2 ** 30, pernode: 0 });
    assert.ok(texts(c).includes('KHO: scratch areas: lowmem: 0MiB global: 1024MiB pernode: 0MiB'));
  });
  it('C notation: 0x hex and leading-0 octal', () => {
    assert.deepEqual(parseKernelCmdline('kho_scratch=0x10M,010M,0x1000').scratch, {
      kind: 'sizes',
      lowmem: 16 << 20,
      global: 8 << 20,
      pernode: 4096,
    });
  });
  it('small sizes print as 0MiB', () => {
    const c = parseKernelCmdline('kho_scratch=4K,1,1');
    assert.ok(texts(c).includes('KHO: scratch areas: lowmem: 0MiB global: 0MiB pernode: 0MiB'));
  });
  it('rejects the old two-field form, four fields, zero sum and trailing garbage', () => {
    for (const bad of [
      '512M,512M',
      '1G,2G,3G,4G',
      '0,0,0',
      '16E,0,0',
      '8E,8E,0',
      '256M,512M,512Mfoobar',
      '1G,,1G',
      ',1G,1G',
      '1G,1G,',
      '1G 1G 1G',
      'abc',
      '',
      '-1,1,1',
    ]) {
      const c = parseKernelCmdline(`kho_scratch=50% kho_scratch=${bad}`);
      assert.deepEqual(c.scratch, { kind: 'scale', scale: 50 }, bad);
      assert.ok(texts(c).includes("Malformed early option 'kho_scratch'"), bad);
    }
  });
  it('a bare kho_scratch is malformed', () => {
    const c = parseKernelCmdline('kho_scratch');
    assert.ok(texts(c).includes("Malformed early option 'kho_scratch'"));
  });
  it('last occurrence wins between the forms', () => {
    assert.deepEqual(parseKernelCmdline('kho_scratch=1G,1G,1G kho_scratch=30%').scratch, {
      kind: 'scale',
      scale: 30,
    });
    assert.deepEqual(parseKernelCmdline('kho_scratch=30% kho_scratch=1M,2M,3M').scratch, {
      kind: 'sizes',
      lowmem: 1 << 20,
      global: 2 << 20,
      pernode: 3 << 20,
    });
  });
  it('kho-scratch with a dash is the same parameter', () => {
    const c = parseKernelCmdline('kho-scratch=25%');
    assert.deepEqual(c.scratch, { kind: 'scale', scale: 25 });
    const bad = parseKernelCmdline('kho-scratch=x');
    assert.ok(texts(bad).includes("Malformed early option 'kho-scratch'"));
  });
  it('a suffix with no digits counts as a field of 0 (memparse quirk)', () => {
    assert.deepEqual(parseKernelCmdline('kho_scratch=K,1M,K').scratch, {
      kind: 'sizes',
      lowmem: 0,
      global: 1 << 20,
      pernode: 0,
    });
  });
});

describe('reserve_mem=', () => {
  it('parses size:align:name and may repeat', () => {
    const c = parseKernelCmdline('reserve_mem=12M:4096:oops reserve_mem=0x100000:2M:trace');
    assert.deepEqual(c.reserveMem, [
      { name: 'oops', size: 12 << 20, align: 4096 },
      { name: 'trace', size: 1 << 20, align: 2 << 20 },
    ]);
    assert.deepEqual(c.unknown, []);
  });
  it('raises small or empty alignments to SMP_CACHE_BYTES', () => {
    const c = parseKernelCmdline('reserve_mem=1M::a reserve_mem=1M:0:b reserve_mem=1M:8:c');
    assert.deepEqual(
      c.reserveMem.map((r) => r.align),
      [64, 64, 64],
    );
  });
  it('does not require a power-of-two alignment', () => {
    assert.equal(parseKernelCmdline('reserve_mem=1M:3000:x').reserveMem[0]?.align, 3000);
  });
  it('takes the rest of the value as the name, colons and quoted spaces included', () => {
    const c = parseKernelCmdline('reserve_mem=1M:4K:a:b reserve_mem="1M:4K:c d"');
    assert.deepEqual(
      c.reserveMem.map((r) => r.name),
      ['a:b', 'c d'],
    );
  });
  it('rejects malformed values with the kernel message', () => {
    for (const bad of [
      '',
      '0:4K:x',
      ':4K:x',
      '1M',
      '1M:4K',
      '1M-4K:x',
      '1M:4K:',
      '1M:4K:   ',
      '1M:4K:0123456789abcdef',
      '1M:4Kx:name',
    ]) {
      const c = parseKernelCmdline(`reserve_mem=${bad}`);
      assert.deepEqual(c.reserveMem, [], bad);
      assert.ok(texts(c).includes('reserve_mem: empty or malformed parameter'), bad);
      assert.deepEqual(c.unknown, [], bad);
    }
  });
  it('accepts a 15-character name', () => {
    assert.equal(parseKernelCmdline('reserve_mem=1M:4K:0123456789abcde').reserveMem.length, 1);
  });
  it('rejects a reused name', () => {
    const c = parseKernelCmdline('reserve_mem=1M:4K:x reserve_mem=2M:4K:x');
    assert.deepEqual(c.reserveMem, [{ name: 'x', size: 1 << 20, align: 4096 }]);
    assert.ok(texts(c).includes('reserve_mem: name "x" was already used'));
  });
  it('holds at most 8 entries', () => {
    const line = Array.from({ length: 10 }, (_, i) => `reserve_mem=1M:4K:r${i}`).join(' ');
    const c = parseKernelCmdline(line);
    assert.equal(c.reserveMem.length, 8);
    assert.equal(texts(c).filter((t) => t === 'reserve_mem: no more room for reserved memory').length, 2);
  });
  it('a bare reserve_mem is an unknown parameter passed to init', () => {
    const c = parseKernelCmdline('reserve_mem');
    assert.deepEqual(c.initArgv, ['reserve_mem']);
  });
});

describe('the whole line', () => {
  it('keeps raw, splits at -- and lists unknown parameters', () => {
    const line = 'console=ttyS0 kho=on foo=bar baz test_kho.max_mem=2G -- single x=1';
    const c = parseKernelCmdline(line);
    assert.equal(c.raw, line);
    assert.equal(c.procCmdline(), `${line}\n`);
    assert.deepEqual(c.initArgs, ['single', 'x=1']);
    assert.deepEqual(c.initArgv, ['baz', 'single', 'x=1']);
    assert.deepEqual(c.initEnvp, ['HOME=/', 'TERM=linux', 'foo=bar']);
    assert.deepEqual(
      c.unknown.map((p) => p.name),
      ['foo', 'baz'],
    );
    assert.deepEqual(texts(c), [
      `Kernel command line: ${line}`,
      'Unknown kernel command line parameters "baz foo=bar", will be passed to user space.',
    ]);
    assert.equal(c.param('test_kho.max_mem'), '2G');
    assert.equal(c.param('missing'), undefined);
    assert.equal(c.param('baz'), null);
  });
  it('parameters after -- are not kernel parameters', () => {
    const c = parseKernelCmdline('-- kho=on kho_scratch=bad');
    assert.equal(c.kho, false);
    assert.deepEqual(texts(c), ['Kernel command line: -- kho=on kho_scratch=bad']);
  });
  it('early messages come before the "Kernel command line" line, setup messages after', () => {
    const c = parseKernelCmdline('reserve_mem=bad kho=x');
    assert.deepEqual(texts(c), [
      "Malformed early option 'kho'",
      'Kernel command line: reserve_mem=bad kho=x',
      'reserve_mem: empty or malformed parameter',
    ]);
  });
  it('a repeated environment variable replaces the first', () => {
    const c = parseKernelCmdline('A=1 B=2 A=3');
    assert.deepEqual(c.initEnvp, ['HOME=/', 'TERM=linux', 'A=3', 'B=2']);
  });
  it('cuts at NUL and at COMMAND_LINE_SIZE - 1', () => {
    assert.equal(parseKernelCmdline('kho=on\0kho=off').kho, true);
    const long = `kho=on ${'x'.repeat(3000)}`;
    assert.equal(parseKernelCmdline(long).raw.length, 2047);
    assert.equal(parseKernelCmdline('abcdef', { commandLineSize: 4 }).raw, 'abc');
  });
  it('liveupdate= only with LUO built in', () => {
    assert.equal(parseKernelCmdline('liveupdate=on', { liveupdate: true }).liveupdate, true);
    assert.equal(parseKernelCmdline('liveupdate=on').liveupdate, false);
    assert.deepEqual(parseKernelCmdline('liveupdate=on').unknown, [{ name: 'liveupdate', value: 'on' }]);
    const bad = parseKernelCmdline('liveupdate=zz', { liveupdate: true });
    assert.ok(texts(bad).includes("Malformed early option 'liveupdate'"));
  });
  it('knownParams are handled silently', () => {
    const c = parseKernelCmdline('mything=1', { knownParams: ['mything'] });
    assert.deepEqual(c.unknown, []);
  });
});

describe('garbage never throws', () => {
  const alphabet = fc.constantFrom(
    ...'kho_scratch=reserve_mem:,%" \t\n-+0123456789xXKMGTPEkmgtpe'.split(''),
    '\0',
    'é',
    '\u00a0',
  );
  it('random strings over a parameter-ish alphabet', () => {
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 80 }), (chars) => {
        const c = parseKernelCmdline(chars.join(''));
        assert.equal(typeof c.kho, 'boolean');
        assert.ok(c.reserveMem.length <= 8);
      }),
      { numRuns: RUNS },
    );
  });
  it('random unicode strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (s) => {
        parseKernelCmdline(s, { liveupdate: true });
      }),
      { numRuns: RUNS },
    );
  });
  it('structured kho_scratch values keep scale/sizes consistent', () => {
    const field = fc.oneof(
      fc.nat().map(String),
      fc.tuple(fc.nat(1023), fc.constantFrom('', 'K', 'M', 'G', 'T', 'P', 'E')).map(([n, s]) => `${n}${s}`),
    );
    fc.assert(
      fc.property(fc.array(field, { minLength: 1, maxLength: 4 }), (fields) => {
        const c = parseKernelCmdline(`kho_scratch=${fields.join(',')}`);
        if (fields.length !== 3) {
          assert.deepEqual(c.scratch, DEFAULT_SCALE);
        } else if (c.scratch.kind === 'sizes') {
          assert.ok(c.scratch.lowmem + c.scratch.global + c.scratch.pernode > 0);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
