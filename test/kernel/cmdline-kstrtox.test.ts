import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  kstrtobool,
  kstrtoull,
  kstrtouint,
  memparse,
  simpleStrtoull,
} from '../../src/kernel/params-kstrtox.ts';

describe('kstrtobool', () => {
  it('accepts the first character of y/t/1 and n/f/0 in any case', () => {
    for (const s of ['1', 'y', 'Y', 'yes', 't', 'T', 'true', 'yellow', '1abc']) {
      assert.deepEqual(kstrtobool(s), { ok: true, value: true }, s);
    }
    for (const s of ['0', 'n', 'N', 'no', 'f', 'F', 'false', 'nope', '0x1']) {
      assert.deepEqual(kstrtobool(s), { ok: true, value: false }, s);
    }
  });
  it('needs two characters for on/off', () => {
    assert.deepEqual(kstrtobool('on'), { ok: true, value: true });
    assert.deepEqual(kstrtobool('ON'), { ok: true, value: true });
    assert.deepEqual(kstrtobool('oN'), { ok: true, value: true });
    assert.deepEqual(kstrtobool('off'), { ok: true, value: false });
    assert.deepEqual(kstrtobool('oFFice'), { ok: true, value: false });
    assert.deepEqual(kstrtobool('o'), { ok: false, error: 'EINVAL' });
    assert.deepEqual(kstrtobool('ox'), { ok: false, error: 'EINVAL' });
  });
  it('accepts e/d by default and rejects them when disabled', () => {
    assert.deepEqual(kstrtobool('enable'), { ok: true, value: true });
    assert.deepEqual(kstrtobool('E'), { ok: true, value: true });
    assert.deepEqual(kstrtobool('disable'), { ok: true, value: false });
    assert.deepEqual(kstrtobool('D'), { ok: true, value: false });
    assert.deepEqual(kstrtobool('e', { enableDisable: false }), { ok: false, error: 'EINVAL' });
    assert.deepEqual(kstrtobool('d', { enableDisable: false }), { ok: false, error: 'EINVAL' });
  });
  it('rejects everything else', () => {
    for (const s of ['', ' 1', '2', 'maybe', '+1', '-', 'x']) {
      assert.deepEqual(kstrtobool(s), { ok: false, error: 'EINVAL' }, JSON.stringify(s));
    }
  });
});

describe('kstrtoull / kstrtouint', () => {
  it('parses decimal with an optional + and one trailing newline', () => {
    assert.deepEqual(kstrtouint('50'), { ok: true, value: 50 });
    assert.deepEqual(kstrtouint('+50'), { ok: true, value: 50 });
    assert.deepEqual(kstrtouint('007'), { ok: true, value: 7 });
    assert.deepEqual(kstrtouint('50\n'), { ok: true, value: 50 });
    assert.deepEqual(kstrtouint('4294967295'), { ok: true, value: 4294967295 });
  });
  it('rejects empty, signs, garbage and double newlines with EINVAL', () => {
    for (const s of ['', '+', '-1', 'abc', '12a', '0x10', ' 1', '1 ', '1\n\n', '++1']) {
      assert.deepEqual(kstrtouint(s), { ok: false, error: 'EINVAL' }, JSON.stringify(s));
    }
  });
  it('reports overflow as ERANGE', () => {
    assert.deepEqual(kstrtouint('4294967296'), { ok: false, error: 'ERANGE' });
    assert.deepEqual(kstrtoull('18446744073709551615', 10), { ok: true, value: 18446744073709551615n });
    assert.deepEqual(kstrtoull('18446744073709551616', 10), { ok: false, error: 'ERANGE' });
  });
  it('handles C notation with base 0 and 0x with base 16', () => {
    assert.deepEqual(kstrtoull('0x1f', 0), { ok: true, value: 31n });
    assert.deepEqual(kstrtoull('017', 0), { ok: true, value: 15n });
    assert.deepEqual(kstrtoull('0x1f', 16), { ok: true, value: 31n });
    assert.deepEqual(kstrtoull('1f', 16), { ok: true, value: 31n });
    assert.deepEqual(kstrtoull('08', 0), { ok: false, error: 'EINVAL' });
  });
});

describe('simple_strtoull', () => {
  it('stops at the first non-digit and reports the end', () => {
    assert.deepEqual(simpleStrtoull('123abc'), { value: 123n, end: 3 });
    assert.deepEqual(simpleStrtoull('0x1fz'), { value: 31n, end: 4 });
    assert.deepEqual(simpleStrtoull('0xz'), { value: 0n, end: 1 });
    assert.deepEqual(simpleStrtoull('089'), { value: 0n, end: 1 });
    assert.deepEqual(simpleStrtoull('-1'), { value: 0n, end: 0 });
    assert.deepEqual(simpleStrtoull('x', 0, 16), { value: 0n, end: 0 });
  });
  it('wraps on overflow', () => {
    assert.equal(simpleStrtoull('18446744073709551617').value, 1n);
  });
});

describe('memparse', () => {
  it('applies K M G T P E suffixes in any case', () => {
    assert.equal(memparse('1K').value, 1024n);
    assert.equal(memparse('1k').value, 1024n);
    assert.equal(memparse('16M').num, 16 * 1024 * 1024);
    assert.equal(memparse('2g').num, 2 * 2 ** 30);
    assert.equal(memparse('3T').num, 3 * 2 ** 40);
    assert.equal(memparse('1p').num, 2 ** 50);
    assert.equal(memparse('1E').value, 1n << 60n);
    assert.equal(memparse('4096').num, 4096);
  });
  it('uses C notation: 0x hex, leading 0 octal', () => {
    assert.equal(memparse('0x10M').num, 16 * 2 ** 20);
    assert.equal(memparse('010').num, 8);
    assert.equal(memparse('010K').num, 8 * 1024);
    assert.equal(memparse('0').num, 0);
  });
  it('reports consumed characters', () => {
    assert.deepEqual([memparse('16M,x').consumed, memparse('16M,x').end], [3, 3]);
    assert.equal(memparse('abc').consumed, 0);
    assert.equal(memparse('x,16M', 2).end, 5);
    // Only one suffix letter is consumed.
    assert.equal(memparse('1KK').end, 2);
  });
  it('consumes a suffix even without digits, as the C code does', () => {
    assert.deepEqual([memparse('K').value, memparse('K').consumed], [0n, 1]);
  });
  it('wraps modulo 2^64', () => {
    assert.equal(memparse('16E').value, 0n);
    assert.equal(memparse('17E').value, 1n << 60n);
  });
});
