/**
 * The fault-injection core and its two capabilities (lib/fault-inject.c: should_fail_ex(),
 * fail_dump(), setup_fault_attr(); mm/failslab.c; mm/fail_page_alloc.c) and the boot
 * parameters that arm them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Machine } from '../../src/kernel/machine.ts';
import { parseKernelCmdline } from '../../src/kernel/cmdline.ts';
import { profileByName } from '../../src/kernel/profile.ts';
import { Buddy } from '../../src/mm/buddy.ts';
import { FailPageAlloc } from '../../src/mm/fail-page-alloc.ts';
import { Failslab, kmalloc, kmallocSizeClass } from '../../src/mm/failslab.ts';
import { FAULT_NOWARN, FaultAttr, parseFaultAttrSetup } from '../../src/mm/fault-inject.ts';
import {
  GFP_ATOMIC,
  GFP_HIGHUSER,
  GFP_KERNEL,
  GFP_NOWAIT,
  __GFP_HIGHMEM,
  __GFP_NOFAIL,
  __GFP_NOWARN,
} from '../../src/mm/gfp.ts';

interface Logged {
  level: string;
  text: string;
}

/** An attribute drawing `draws` in turn (each a number in [0, 1)), logging into `log`. */
function attr(draws: number[] = [0], log: Logged[] = []): FaultAttr {
  let i = 0;
  return new FaultAttr('failslab', {
    rand: () => draws[i++ % draws.length]!,
    log: (level, text) => log.push({ level, text }),
  });
}

/** The outcome of `n` calls of size `size`: F for a failure, . for a pass. */
function pattern(a: FaultAttr, n: number, size = 1, flags = 0): string {
  let s = '';
  for (let i = 0; i < n; i++) s += a.shouldFailEx(size, flags) ? 'F' : '.';
  return s;
}

describe('should_fail_ex', () => {
  it('probability 0 never fails and touches nothing; the defaults are interval 1, times 1, verbose 2', () => {
    const a = attr();
    assert.equal(a.armed, false);
    assert.equal(pattern(a, 5), '.....');
    assert.deepEqual([a.interval, a.times, a.space, a.verbose, a.count], [1n, 1, 0, 2n, 0n]);
  });

  it('probability 100 fails once with times 1, every time with times -1, n times with times n', () => {
    const a = attr();
    a.probability = 100n;
    assert.equal(a.armed, true);
    assert.equal(pattern(a, 4), 'F...');
    assert.equal(a.times, 0);
    a.times = -1;
    assert.equal(pattern(a, 4), 'FFFF');
    assert.equal(a.times, -1);
    a.times = 3;
    assert.equal(pattern(a, 5), 'FFF..');
  });

  it('interval N fails every N-th call that passed the other checks', () => {
    const a = attr();
    a.probability = 100n;
    a.times = -1;
    a.interval = 3n;
    assert.equal(pattern(a, 9), '..F..F..F');
    assert.equal(a.count, 9n);
    // interval 0 and 1 both mean every call; the counter stays untouched.
    a.interval = 0n;
    assert.equal(pattern(a, 2), 'FF');
    assert.equal(a.count, 9n);
  });

  it('space is a budget used up by the sizes before failures start', () => {
    const a = attr();
    a.probability = 100n;
    a.times = -1;
    a.space = 10;
    // 10 > 4 → 6; 6 > 4 → 2; 2 > 4 is false → fail (space stays 2).
    assert.equal(pattern(a, 4, 4), '..FF');
    assert.equal(a.space, 2);
    // Equal is not larger: a call of the budget's exact size fails.
    a.space = 4;
    assert.equal(pattern(a, 1, 4), 'F');
  });

  it('times is checked before space and interval: an exhausted attribute counts nothing', () => {
    const a = attr();
    a.probability = 100n;
    a.times = 0;
    a.space = 100;
    a.interval = 2n;
    assert.equal(pattern(a, 3), '...');
    assert.equal(a.space, 100);
    assert.equal(a.count, 0n);
  });

  it('the probability is compared with a draw below 100: p fails when the draw is < p', () => {
    const draws = [0.0, 0.29, 0.3, 0.99];
    const a = attr(draws);
    a.probability = 30n;
    a.times = -1;
    assert.equal(pattern(a, 4), 'FF..');
    const b = attr([0.99]);
    b.probability = 1000n; // above 100: always
    b.times = -1;
    assert.equal(pattern(b, 2), 'FF');
  });

  it('verbose 1 logs the notice at KERN_NOTICE with the values before the decrement', () => {
    const log: Logged[] = [];
    const a = attr([0], log);
    a.probability = 100n;
    a.verbose = 1n;
    a.times = 2;
    a.interval = 1n;
    assert.equal(a.shouldFailEx(8, 0), true);
    assert.deepEqual(log, [
      {
        level: 'notice',
        text: 'FAULT_INJECTION: forcing a failure.\nname failslab, interval 1, probability 100, space 0, times 2',
      },
    ]);
  });

  it('verbose 2 adds the call trace; verbose 0 and FAULT_NOWARN log nothing', () => {
    const log: Logged[] = [];
    const a = attr([0], log);
    a.probability = 100n;
    a.times = -1;
    assert.equal(a.shouldFailEx(8, 0, ['luo_session_alloc']), true);
    assert.equal(log.length, 2);
    assert.equal(log[1]!.level, 'warn');
    assert.equal(
      log[1]!.text,
      'Call Trace:\n <TASK>\n dump_stack_lvl\n should_fail_ex\n luo_session_alloc\n </TASK>',
    );
    log.length = 0;
    assert.equal(a.shouldFailEx(8, FAULT_NOWARN), true);
    a.verbose = 0n;
    assert.equal(a.shouldFailEx(8, 0), true);
    assert.deepEqual(log, []);
  });

  it('draws come from the machine seed: the same seed replays, another seed differs', () => {
    const run = (seed: number): string => {
      const a = new FaultAttr('x', {
        rand: Machine.create({ mem: 2 ** 30, nodes: 1, seed }).rng('fault-inject/x'),
        log: () => undefined,
      });
      a.probability = 50n;
      a.times = -1;
      return pattern(a, 64);
    };
    const one = run(7);
    assert.equal(run(7), one);
    assert.notEqual(run(8), one);
    const fails = one.split('').filter((c) => c === 'F').length;
    assert.ok(fails > 16 && fails < 48, one);
  });
});

describe('setup_fault_attr (failslab= / fail_page_alloc=)', () => {
  it('reads <interval>,<probability>,<space>,<times>', () => {
    assert.deepEqual(parseFaultAttrSetup('1,100,0,-1'), {
      interval: 1n,
      probability: 100n,
      space: 0,
      times: -1,
    });
    // vsscanf skips spaces before a number and ignores what follows the fourth.
    assert.deepEqual(parseFaultAttrSetup('10, 50,4096,3xyz'), {
      interval: 10n,
      probability: 50n,
      space: 4096,
      times: 3,
    });
    // %d keeps the low 32 bits; %lu wraps modulo 2^64.
    assert.deepEqual(parseFaultAttrSetup('18446744073709551617,1,4294967297,-4294967295'), {
      interval: 1n,
      probability: 1n,
      space: 1,
      times: 1,
    });
  });

  it('rejects fewer than four numbers, a sign on the unsigned fields and other separators', () => {
    for (const bad of ['', '1,100,0', '1,100,0,', '-1,100,0,1', '1,+100,0,1', '1;100;0;1', '1 ,100,0,1', 'x'])
      assert.equal(parseFaultAttrSetup(bad), null, bad);
  });

  it('a bad value logs the kernel warning and the parameter goes to init; the last good one wins', () => {
    const c = parseKernelCmdline(
      'failslab=1,100,0,-1 failslab=junk fail_page_alloc=2,3 fail-page-alloc=3,40,0,5 failslab',
    );
    assert.deepEqual(c.faultInject, {
      failslab: { interval: 1n, probability: 100n, space: 0, times: -1 },
      failPageAlloc: { interval: 3n, probability: 40n, space: 0, times: 5 },
    });
    assert.deepEqual(
      c.dmesg.filter((l) => l.text.startsWith('FAULT_INJECTION')),
      [
        { level: 'warn', text: 'FAULT_INJECTION: failed to parse arguments' },
        { level: 'warn', text: 'FAULT_INJECTION: failed to parse arguments' },
      ],
    );
    assert.deepEqual(c.initArgv, ['failslab']);
    assert.deepEqual(c.initEnvp.slice(2), ['failslab=junk', 'fail_page_alloc=2,3']);
  });

  it('a booted kernel has its attributes armed from the command line', () => {
    const m = Machine.create({ mem: 2 ** 30, nodes: 1 });
    const k = m.coldBoot({
      cmdline: 'failslab=5,100,64,7 fail_page_alloc=1,30,0,-1',
      profile: profileByName('kho-v4')!,
    });
    const fs = k.kho.ctx.failslab.attr;
    assert.deepEqual([fs.interval, fs.probability, fs.space, fs.times], [5n, 100n, 64, 7]);
    const fpa = k.buddy.failPageAlloc.attr;
    assert.deepEqual([fpa.interval, fpa.probability, fpa.space, fpa.times], [1n, 30n, 0, -1]);
  });
});

describe('should_failslab and should_fail_alloc_page filters', () => {
  const armed = <T extends { attr: FaultAttr }>(x: T): T => {
    x.attr.probability = 100n;
    x.attr.times = -1;
    x.attr.verbose = 0n;
    return x;
  };

  it('failslab: GFP_KERNEL is left alone while ignore-gfp-wait is Y; __GFP_NOFAIL always', () => {
    const fs = armed(new Failslab({ rand: () => 0, log: () => undefined }));
    assert.equal(fs.shouldFailslab(64, GFP_KERNEL), 0);
    assert.equal(fs.shouldFailslab(64, GFP_ATOMIC), -12);
    assert.equal(fs.shouldFailslab(64, GFP_NOWAIT), -12);
    assert.equal(fs.shouldFailslab(64, GFP_ATOMIC | __GFP_NOFAIL), 0);
    fs.ignoreGfpReclaim = false;
    assert.equal(fs.shouldFailslab(64, GFP_KERNEL), -12);
    assert.equal(kmalloc(fs, 200, GFP_KERNEL, []), false);
  });

  it('failslab: __GFP_NOWARN fails silently; kmalloc passes the size class as the object size', () => {
    const log: Logged[] = [];
    const fs = new Failslab({ rand: () => 0, log: (level, text) => log.push({ level, text }) });
    fs.attr.probability = 100n;
    fs.attr.verbose = 1n;
    fs.attr.times = -1;
    fs.ignoreGfpReclaim = false;
    assert.equal(fs.shouldFailslab(64, GFP_KERNEL | __GFP_NOWARN), -12);
    assert.deepEqual(log, []);
    assert.deepEqual([24, 65, 200, 257, 9000].map(kmallocSizeClass), [32, 96, 256, 512, 9000]);
    fs.attr.space = 300;
    assert.equal(kmalloc(fs, 200, GFP_KERNEL, []), true); // 300 > 256: 44 left
    assert.equal(fs.attr.space, 44);
    assert.equal(kmalloc(fs, 24, GFP_KERNEL, []), true); // 44 > 32: 12 left
    assert.equal(kmalloc(fs, 24, GFP_KERNEL, []), false);
  });

  it('fail_page_alloc: min-order 1, highmem and allocations that may sleep are skipped by default', () => {
    const fpa = armed(new FailPageAlloc({ rand: () => 0, log: () => undefined }));
    assert.equal(fpa.shouldFailAllocPage(GFP_ATOMIC, 0), false);
    assert.equal(fpa.shouldFailAllocPage(GFP_ATOMIC, 1), true);
    assert.equal(fpa.shouldFailAllocPage(GFP_KERNEL, 3), false);
    assert.equal(fpa.shouldFailAllocPage(GFP_ATOMIC | __GFP_HIGHMEM, 3), false);
    assert.equal(fpa.shouldFailAllocPage(GFP_ATOMIC | __GFP_NOFAIL, 3), false);
    fpa.ignoreGfpReclaim = false;
    fpa.ignoreGfpHighmem = false;
    fpa.minOrder = 0;
    assert.equal(fpa.shouldFailAllocPage(GFP_HIGHUSER, 0), true);
    // The size is the page count: with a space of 5 an order-2 call (4 pages) passes, 1 left.
    fpa.attr.space = 5;
    assert.equal(fpa.shouldFailAllocPage(GFP_KERNEL, 2), false);
    assert.equal(fpa.attr.space, 1);
  });

  it('the buddy allocator returns NULL without the allocation-failure warning, and recovers', () => {
    const lines: string[] = [];
    const fpa = new FailPageAlloc({ rand: () => 0, log: (_l, t) => lines.push(t) });
    const b = new Buddy([{ startPfn: 0, endPfn: 4096, nid: 0 }], {
      failPageAlloc: fpa,
      log: (l) => lines.push(l),
    });
    b.freeRange(0, 4096);
    const free = b.nrFreePages;
    fpa.attr.probability = 100n;
    fpa.attr.verbose = 1n;
    assert.equal(b.alloc(2, GFP_ATOMIC), null);
    assert.equal(b.nrFreePages, free);
    assert.deepEqual(lines, [
      'FAULT_INJECTION: forcing a failure.\nname fail_page_alloc, interval 1, probability 100, space 0, times 1',
    ]);
    // times was 1: the next allocation succeeds.
    const pfn = b.alloc(2, GFP_ATOMIC);
    assert.notEqual(pfn, null);
    assert.equal(b.nrFreePages, free - 4);
  });
});
