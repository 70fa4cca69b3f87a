import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextArg, parameq, splitCmdline, splitInitArgs } from '../../src/kernel/cmdline-args.ts';

function names(s: string): [string, string | null][] {
  return splitCmdline(s).params.map((p) => [p.name, p.value]);
}

describe('next_arg tokenisation', () => {
  it('splits on any kernel whitespace and skips runs of it', () => {
    assert.deepEqual(names('  a=1\tb\n c=  \r\v\fd '), [
      ['a', '1'],
      ['b', null],
      ['c', ''],
      ['d', null],
    ]);
  });
  it('splits name and value at the first =', () => {
    assert.deepEqual(names('a=b=c'), [['a', 'b=c']]);
    assert.deepEqual(names('a='), [['a', '']]);
  });
  it('does not treat a leading = as the separator', () => {
    assert.deepEqual(names('=x'), [['=x', null]]);
    assert.deepEqual(names('=a=b'), [['=a', 'b']]);
  });
  it('removes quotes around a value', () => {
    assert.deepEqual(names('reserve_mem="1M:4K:a b" x=1'), [
      ['reserve_mem', '1M:4K:a b'],
      ['x', '1'],
    ]);
  });
  it('removes quotes around a whole parameter', () => {
    assert.deepEqual(names('"kho_scratch=1G,2G,3G" "bare word"'), [
      ['kho_scratch', '1G,2G,3G'],
      ['bare word', null],
    ]);
  });
  it('keeps quotes inside a word', () => {
    assert.deepEqual(names('a"b c"d'), [['a"b c"d', null]]);
    assert.deepEqual(names('x="a"b"'), [['x', 'a"b']]);
  });
  it('handles lone and unbalanced quotes without losing the rest', () => {
    assert.deepEqual(names('"'), [['', null]]);
    assert.deepEqual(names('a="'), [['a', '']]);
    assert.deepEqual(names('"a="'), [['a', '']]);
    assert.deepEqual(names('a="b c'), [['a', 'b c']]);
    assert.deepEqual(names('"a="b c"" d'), [
      ['a', 'b'],
      ['c""', null],
      ['d', null],
    ]);
  });
  it('nextArg returns the index of the next parameter', () => {
    const r = nextArg('ab=1   cd', 0);
    assert.deepEqual(r, { param: { name: 'ab', value: '1' }, next: 7 });
  });
});

describe('-- ends kernel parameters', () => {
  it('returns the rest for init', () => {
    const s = splitCmdline('kho=on -- single "x y" z=1');
    assert.deepEqual(s.params, [{ name: 'kho', value: 'on' }]);
    assert.equal(s.hasDashes, true);
    assert.equal(s.afterDashes, 'single "x y" z=1');
    assert.deepEqual(splitInitArgs(s.afterDashes), ['single', 'x y', 'z=1']);
  });
  it('only a bare -- counts', () => {
    assert.equal(splitCmdline('--=1 a').hasDashes, false);
    assert.equal(splitCmdline('"--" a').hasDashes, true);
  });
  it('a second -- in the init part drops what follows', () => {
    assert.deepEqual(splitInitArgs('a -- b'), ['a']);
  });
});

describe('parameq', () => {
  it('treats - and _ as equal', () => {
    assert.equal(parameq('kho-scratch', 'kho_scratch'), true);
    assert.equal(parameq('kho_scratch', 'kho_scratcH'), false);
    assert.equal(parameq('kho', 'kho_'), false);
  });
});
