import assert from 'node:assert/strict';
import { MmError } from '../../src/mm/mm-error.ts';
import { test } from 'node:test';
import {
  configureModules,
  isLoaded,
  lsmod,
  ModuleCatalog,
  ModuleError,
  modprobe,
  rmmod,
  strerror,
  type KernelModule,
} from '../../src/kernel/module.ts';
import { defaultModuleCatalog } from '../../src/kernel/modules/catalog.ts';
import { bootMachine } from './helpers.ts';

const catalog = defaultModuleCatalog();

function thrown(fn: () => void): ModuleError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ModuleError, `expected ModuleError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ModuleError');
}

test('modprobe of an unknown module is the kmod FATAL line naming the release', () => {
  const { k } = bootMachine();
  const e = thrown(() => {
    modprobe(k, catalog, 'foo');
  });
  assert.equal(e.message, `modprobe: FATAL: Module foo not found in directory /lib/modules/${k.release}`);
  assert.equal(e.exitCode, 1);
});

test('rmmod of a module that is not loaded', () => {
  const { k } = bootMachine();
  const e = thrown(() => {
    rmmod(k, 'test_kho');
  });
  assert.equal(e.message, 'rmmod: ERROR: Module test_kho is not currently loaded');
});

test('an unknown parameter is ignored with the kernel line; a bad value fails the load', () => {
  const { k } = bootMachine();
  modprobe(k, catalog, 'test_kho', ['colour=blue']);
  assert.equal(isLoaded(k, 'test_kho'), true);
  assert.deepEqual(
    k.dmesg.records.filter((r) => r.text.includes('colour')).map((r) => `${r.level}: ${r.text}`),
    ["warn: test_kho: unknown parameter 'colour' ignored"],
  );
  rmmod(k, 'test_kho');
  const e2 = thrown(() => {
    modprobe(k, catalog, 'test_kho', ['max_mem=lots']);
  });
  assert.equal(e2.message, "modprobe: ERROR: could not insert 'test_kho': Invalid argument");
  assert.equal(e2.code, 'EINVAL');
  assert.equal(isLoaded(k, 'test_kho'), false);
});

test('modprobe loads once (a second modprobe is silent), dashes equal underscores, rmmod runs exit', () => {
  const { k } = bootMachine();
  modprobe(k, catalog, 'test-kho', ['max_mem=65536']);
  modprobe(k, catalog, 'test_kho');
  assert.deepEqual(
    lsmod(k).map((m) => m.name),
    ['test_kho'],
  );
  assert.deepEqual(k.debugfs.lookup('kho/out/sub_fdts') !== undefined, true);
  const subs = (): string[] => (k.debugfs.lookup('kho/out/sub_fdts') as { names(): string[] }).names();
  assert.ok(subs().includes('kho_test'));
  const before = k.kho.outFdt()!.length;
  rmmod(k, 'test_kho');
  assert.equal(isLoaded(k, 'test_kho'), false);
  assert.ok(!subs().includes('kho_test'));
  assert.ok(k.kho.outFdt()!.length < before);
  // Loadable again after removal.
  modprobe(k, catalog, 'test_kho', ['max_mem=65536']);
  assert.ok(subs().includes('kho_test'));
});

test('built-in modules run at boot with name.param= from the command line and cannot be removed', () => {
  const { k, started } = bootMachine({ builtin: ['test_kho'] });
  assert.deepEqual(started, [{ name: 'test_kho', builtin: true, result: 0 }]);
  assert.equal(lsmod(k)[0]!.params['max_mem'], '1048576');
  const e = thrown(() => {
    rmmod(k, 'test_kho');
  });
  assert.equal(e.message, 'rmmod: ERROR: Module test_kho is builtin.');
});

test('a module without exit is busy; a failing init is reported with strerror; a throwing init is EINVAL', () => {
  const { k } = bootMachine();
  const sticky: KernelModule = {
    name: 'sticky',
    description: '',
    params: [],
    paramSpecs: [],
    initcall: 6,
    init: () => 0,
  };
  const nomem: KernelModule = { ...sticky, name: 'nomem', init: () => -12 };
  const boom: KernelModule = {
    ...sticky,
    name: 'boom',
    init: () => {
      throw new RangeError('bad');
    },
  };
  const wide: KernelModule = {
    ...sticky,
    name: 'wide',
    init: () => {
      throw new MmError('ERANGE', 'u64 at 0x1000 is 0xffffffffffffffff, not below 2^53');
    },
  };
  const cat = new ModuleCatalog([sticky, nomem, boom, wide]);
  modprobe(k, cat, 'sticky');
  assert.equal(
    thrown(() => {
      rmmod(k, 'sticky');
    }).message,
    "rmmod: ERROR: could not remove 'sticky': Device or resource busy",
  );
  assert.equal(
    thrown(() => {
      modprobe(k, cat, 'nomem');
    }).message,
    "modprobe: ERROR: could not insert 'nomem': Cannot allocate memory",
  );
  assert.equal(
    thrown(() => {
      modprobe(k, cat, 'boom');
    }).code,
    'EINVAL',
  );
  // The JavaScript text never reaches the log; an errno the module did not handle keeps its text.
  assert.ok(k.dmesg.has('boom: init failed: Invalid argument'));
  assert.ok(!k.dmesg.has('bad'));
  assert.equal(
    thrown(() => {
      modprobe(k, cat, 'wide');
    }).message,
    "modprobe: ERROR: could not insert 'wide': Numerical result out of range",
  );
  assert.ok(k.dmesg.has('wide: init failed: Numerical result out of range'));
  assert.ok(!k.dmesg.has('u64 at'));
  assert.equal(strerror(-999), 'Unknown error 999');
});

test('configureModules rejects a built-in that is not in the catalog; modules-load.d failures are logged', () => {
  const { k } = bootMachine();
  assert.throws(() => {
    configureModules(k.machine, { catalog, builtin: ['nope'] });
  }, /built-in module nope is not in the catalog/);
  // /etc/modules-load.d naming a module that does not exist: boot goes on, the failure is logged.
  const { k: k2, started } = bootMachine({ modulesLoad: [{ name: 'nope' }] });
  assert.equal(started[0]!.result, -2);
  assert.ok(k2.dmesg.has("systemd-modules-load: Failed to insert module 'nope'"));
});
