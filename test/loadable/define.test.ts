import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDefinition, defineModule, parseParam } from '../../src/kernel/loadable/define.ts';

describe('module parameters are parsed as kernel/params.c does', () => {
  it('int: base 0, sign, 32-bit range', () => {
    assert.deepEqual(parseParam('int', '0x10'), { ok: true, value: 16 });
    assert.deepEqual(parseParam('int', '010'), { ok: true, value: 8 });
    assert.deepEqual(parseParam('int', '-5'), { ok: true, value: -5 });
    assert.deepEqual(parseParam('int', '2147483648'), { ok: false, errno: 'ERANGE' });
    assert.deepEqual(parseParam('int', '12abc'), { ok: false, errno: 'EINVAL' });
    assert.deepEqual(parseParam('int', null), { ok: false, errno: 'EINVAL' });
  });
  it('uint and ulong: no sign, ranges', () => {
    assert.deepEqual(parseParam('uint', '4294967295'), { ok: true, value: 4294967295 });
    assert.deepEqual(parseParam('uint', '4294967296'), { ok: false, errno: 'ERANGE' });
    assert.deepEqual(parseParam('uint', '-1'), { ok: false, errno: 'EINVAL' });
    assert.deepEqual(parseParam('ulong', String(2 ** 53)), { ok: false, errno: 'ERANGE' });
  });
  it('bool: kstrtobool, and a bare name means true', () => {
    assert.deepEqual(parseParam('bool', 'Y'), { ok: true, value: true });
    assert.deepEqual(parseParam('bool', 'off'), { ok: true, value: false });
    assert.deepEqual(parseParam('bool', null), { ok: true, value: true });
    assert.deepEqual(parseParam('bool', 'maybe'), { ok: false, errno: 'EINVAL' });
  });
  it('charp: any text up to 1024 characters', () => {
    assert.deepEqual(parseParam('charp', 'a b'), { ok: true, value: 'a b' });
    assert.deepEqual(parseParam('charp', 'x'.repeat(1025)), { ok: false, errno: 'ENOSPC' });
  });
});

describe('checkDefinition says what is wrong with a default export', () => {
  const init = (): number => 0;
  it('accepts a definition made by defineModule', () => {
    const def = defineModule({ name: 'ok_mod', params: { n: { type: 'uint', default: 3 } }, init });
    assert.equal(checkDefinition(def), null);
  });
  it('names each problem', () => {
    assert.match(checkDefinition(undefined)!, /default export is missing/);
    assert.match(checkDefinition(42)!, /default export is number/);
    assert.match(checkDefinition({ init })!, /has no name/);
    assert.match(checkDefinition({ name: 'bad name', init })!, /is not 1-55 letters/);
    assert.match(checkDefinition({ name: 'm' })!, /no init function/);
    assert.match(checkDefinition({ name: 'm', init, exit: 3 })!, /exit is not a function/);
    assert.match(
      checkDefinition({ name: 'm', init, params: { n: { default: 1 } } })!,
      /parameter 'n' has no type/,
    );
    assert.match(
      checkDefinition({ name: 'm', init, params: { n: { type: 'uint', default: -1 } } })!,
      /default -1 is not a uint/,
    );
    assert.match(
      checkDefinition({ name: 'm', init, params: { 'a-b': { type: 'bool', default: true } } })!,
      /C identifier/,
    );
  });
});
