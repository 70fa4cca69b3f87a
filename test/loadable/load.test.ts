import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { boot, createMachine, dmesg, kexec, ModuleLoadError, type Machine } from '../../src/index.ts';
import { moduleRuns } from '../../src/kernel/loadable/handle.ts';
import { moduleDir, moduleFile } from './helpers.ts';

const SMALL = { mem: '2G', cmdline: 'console=ttyS0 kho=on kho_scratch=64M,64M,32M' };

function booted(files: string[], cmdline = SMALL.cmdline): Machine {
  const m = createMachine({ ...SMALL, cmdline, modules: files });
  boot(m);
  return m;
}

function lines(m: Machine, needle: string): string[] {
  return dmesg(m)
    .split('\n')
    .filter((l) => l.includes(needle))
    .map((l) => l.replace(/^\[[ \d.]+\] /, ''));
}

/** The ModuleLoadError a load of `source` fails with. */
function loadError(source: string | null, name = 'mod.ts'): ModuleLoadError {
  const file = source === null ? join(moduleDir({}), name) : moduleFile(source, name);
  try {
    createMachine({ ...SMALL, modules: [file] });
  } catch (e) {
    assert.ok(e instanceof ModuleLoadError, `not a ModuleLoadError: ${String(e)}`);
    assert.doesNotMatch(e.reason, /ERR_|\n| {4}at /, 'no Node codes or stacks');
    return e;
  }
  assert.fail('the load succeeded');
}

describe('module files: a fresh instance of the code in every kernel', () => {
  it('module-level variables and relatively imported files start over after each kexec', () => {
    const dir = moduleDir({
      'seen.ts': 'export const seen: number[] = [];\n',
      'mod.ts': `import { defineModule, prInfo } from 'kho';
import { seen } from './seen.ts';
let boots = 0;
export default defineModule({
  name: 'fresh',
  init(k) {
    boots++;
    seen.push(k.generation);
    prInfo(k, \`boots=\${boots} seen=\${seen.length} gen=\${k.generation}\`);
    return 0;
  },
});
`,
    });
    const m = booted([join(dir, 'mod.ts')]);
    kexec(m);
    const r = kexec(m);
    assert.equal(r.generation, 2);
    assert.deepEqual(lines(m, 'fresh:'), ['fresh: boots=1 seen=1 gen=2']);
  });

  it('typed parameters come from name.param= on the command line; a bad value fails init', () => {
    const src = `import { defineModule, prInfo } from 'kho';
export default defineModule({
  name: 'typed',
  params: { n: { type: 'uint', default: 7 }, on: { type: 'bool', default: false }, s: { type: 'charp', default: 'x' } },
  init(k, p) { prInfo(k, \`n=\${p.n + 1} on=\${p.on} s=\${p.s}\`); return 0; },
});
`;
    const f = moduleFile(src);
    assert.deepEqual(lines(booted([f]), 'typed:'), ['typed: n=8 on=false s=x']);
    assert.deepEqual(lines(booted([f], `${SMALL.cmdline} typed.n=0x10 typed.on typed.s=hi`), 'typed:'), [
      'typed: n=17 on=true s=hi',
    ]);
    const bad = booted([f], `${SMALL.cmdline} typed.n=abc`);
    assert.deepEqual(lines(bad, 'typed').slice(-2), [
      "typed: `abc' invalid for parameter `n'",
      'initcall typed_init returned -22',
    ]);
  });
});

describe('hostile module files fail with a clear reason and nothing else', () => {
  it('a missing file', () => {
    const e = loadError(null);
    assert.equal(e.code, 'ENOENT');
  });
  it('a syntax error names the file and line', () => {
    const e = loadError(
      'import { defineModule } from "kho";\nexport default defineModule({ name: "x", init( { return 0; } });\n',
    );
    assert.equal(e.code, 'ENOEXEC');
    assert.match(e.reason, /^mod\.ts:2(:\d+)?: /);
  });
  it('TypeScript that type stripping cannot erase (an enum)', () => {
    const e = loadError('enum A { x }\nexport default { name: "x", init: () => 0 };\n');
    assert.equal(e.code, 'ENOEXEC');
    assert.match(e.reason, /^mod\.ts:1/);
  });
  it('a wrong default export', () => {
    assert.match(loadError('export const init = () => 0;\n').reason, /default export is missing/);
    assert.match(loadError('export default { name: "x" };\n').reason, /no init function/);
  });
  it('a throw while the file loads', () => {
    const e = loadError('function boom(): never { throw new Error("no"); }\nboom();\nexport default {};\n');
    assert.match(e.reason, /^boom \(mod\.ts:1\): module code threw Error: no while loading$/);
  });
  it('a missing import and a top-level await', () => {
    assert.match(
      loadError('import { x } from "./nope.ts";\nexport default { name: "a", init: () => x };\n').reason,
      /cannot find .*nope\.ts/,
    );
    assert.match(
      loadError('await Promise.resolve();\nexport default { name: "a", init: () => 0 };\n').reason,
      /top-level await/,
    );
  });

  it('a throw in init is an oops in dmesg with the module functions; the machine goes on', () => {
    const f = moduleFile(`import { defineModule } from 'kho';
function restore_state(depth: number): number {
  if (depth === 0) throw new TypeError('bad state');
  return restore_state(depth - 1);
}
export default defineModule({ name: 'thrower', init() { return restore_state(1); } });
`);
    const m = booted([f]);
    const log = lines(m, '');
    assert.ok(log.includes('Oops: thrower: init threw TypeError: bad state'), log.join('\n'));
    assert.ok(log.includes('  restore_state (mod.ts:3)'));
    assert.ok(log.includes('  init (mod.ts:6)'));
    assert.ok(log.includes('initcall thrower_init returned -14'));
    assert.ok(!dmesg(m).includes('file://'), 'no raw stack text');
    assert.equal(moduleRuns(m.kernel!).get('thrower')!.threw!.frames[0]!.fn, 'restore_state');
    assert.equal(kexec(m).generation, 1); // still a working machine
  });

  it('init that returns something other than 0 or -errno is -EINVAL', () => {
    const m = booted([moduleFile(`export default { name: 'odd', init: () => 'yes' };\n`)]);
    assert.deepEqual(lines(m, 'odd'), [
      'odd: init returned yes, not 0 or -errno; taken as -EINVAL',
      'initcall odd_init returned -22',
    ]);
  });
});

describe('JavaScript state that would cross a kexec is refused', () => {
  it('a handle kept on globalThis is stale in the next kernel, and the global is reported', () => {
    const f = moduleFile(`import { defineModule, khoIsEnabled, type ModuleKernel } from 'kho';
const g = globalThis as { keptHandle?: ModuleKernel };
export default defineModule({
  name: 'leaky',
  init(k) {
    if (g.keptHandle !== undefined) khoIsEnabled(g.keptHandle);
    g.keptHandle = k;
    return 0;
  },
});
`);
    const m = booted([f]);
    assert.deepEqual(lines(m, 'leaky:'), [
      "leaky: init left 'keptHandle' on globalThis: JavaScript state must not cross a kexec (hand it over through KHO)",
    ]);
    kexec(m);
    const log = lines(m, 'leaky');
    assert.ok(
      log.includes(
        'leaky: kernel handle of boot 0 used in boot 1: module state must cross a kexec through KHO or LUO, not in JavaScript',
      ),
    );
    assert.ok(log.some((l) => l.startsWith('Oops: leaky: init threw StaleHandleError')));
    delete (globalThis as { keptHandle?: unknown }).keptHandle;
  });
});
