/** `/api/luo` without a browser: the running kernel's sessions, and `--inspect` data. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { inspectHandover } from '../../src/inspect/inspect.ts';
import { PhysMemImage } from '../../src/inspect/memory-image.ts';
import type { LuoJson } from '../../src/serve/api-types.ts';
import { ServeModel } from '../../src/serve/model.ts';
import { inspectSnapshot } from '../../src/serve/snapshot.ts';
import { LUOCTL_PATH } from '../../src/user/luoctl/luoctl.ts';
import { runProgramSync } from '../../src/user/programs.ts';
import '../../src/user/rootfs.ts';
import { boot, kexec } from '../user/helpers.ts';

function luoctl(k: Parameters<typeof runProgramSync>[0], ...args: string[]): void {
  let err = '';
  const r = runProgramSync(k, [LUOCTL_PATH, ...args], {
    stdout: () => undefined,
    stderr: (t) => (err += String(t)),
  });
  assert.equal(r?.status, 0, err);
}

function luo(m: ServeModel): LuoJson {
  const r = m.handle('luo', new URLSearchParams());
  assert.equal(r.status, 200);
  return r.body as LuoJson;
}

it('lists outgoing sessions with holders, then incoming ones decoded from memory and from the kernel', () => {
  const k = boot();
  const m = ServeModel.ofMachine(k.machine);
  assert.deepEqual(luo(m).outgoing, []);
  assert.equal(luo(m).available, true);
  luoctl(k, 'create', 'vm');
  luoctl(k, 'preserve', 'vm', '7', '--size', '12345');
  m.changed();
  const out = luo(m).outgoing.find((s) => s.name === 'vm')!;
  assert.equal(out.state, 'open');
  assert.deepEqual(
    out.holders.map((h) => h.comm),
    ['luoctl'],
  );
  assert.deepEqual(out.files, [{ token: '0x7', compatible: 'memfd-v2', size: 12345, state: 'preserved' }]);

  const k2 = kexec(k);
  m.changed();
  let j = luo(m);
  assert.equal(j.liveupdateNumber, 1);
  assert.equal(j.incomingDecoded, true);
  assert.deepEqual(
    j.incoming.find((s) => s.name === 'vm'),
    {
      name: 'vm',
      state: 'handed over',
      holders: [],
      files: [{ token: '0x7', compatible: 'memfd-v2', size: 12345, state: 'handed over' }],
    },
  );
  luoctl(k2, 'list'); // the first open: the kernel deserializes
  m.changed();
  j = luo(m);
  assert.equal(j.incomingDecoded, false);
  assert.deepEqual(j.incoming, [
    {
      name: 'vm',
      state: 'available',
      holders: [],
      files: [{ token: '0x7', compatible: 'memfd-v2', size: 12345, state: 'not retrieved' }],
    },
  ]);

  // --inspect: the same hand-over decoded from an image is "handed over".
  const image = new PhysMemImage(k2.machine.mem);
  const report = inspectHandover({
    image: { image, kind: 'memory', source: 'test' },
    fdtPhys: k2.kho.ctx.incoming!.fdtPhys,
  });
  const i = luo(ServeModel.ofSnapshot(inspectSnapshot(report, image, 'test')));
  assert.equal(i.mode, 'inspect');
  assert.equal(i.liveupdateNumber, 1);
  assert.deepEqual(i.outgoing, []);
});

it('says when LUO is off', () => {
  const k = boot({ cmdline: 'console=ttyS0 kho=on' });
  const j = luo(ServeModel.ofMachine(k.machine));
  assert.equal(j.available, false);
});
