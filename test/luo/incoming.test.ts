/**
 * The successor's checks of incoming LUO data (kernel/liveupdate/luo_core.c:
 * luo_early_startup(), luo_session.c: luo_session_deserialize(), luo_file.c,
 * kho_block.c): what panics at early boot with the kernel's message, and what makes every open
 * of /dev/liveupdate fail with EIO. The old kernel serializes, the test corrupts the hand-over
 * in memory, then the jump.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeLe64Prop } from '../../src/abi/kho-fdt.ts';
import { LUO_KHO_ENTRY_NAME } from '../../src/abi/luo.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { KernelPanic } from '../../src/kernel/boot.ts';
import { editRootFdt } from '../../src/kho/out-fdt.ts';
import { ERRNO } from '../../src/util/errno.ts';
import {
  boot,
  holdSessions,
  kexec,
  openLuo,
  proc,
  restoreMemfdText,
  retrieveFd,
  retrieveSession,
} from './helpers.ts';

/** A kernel with sessions `a` (one memfd, token 1) and `b` (two memfds), held across the jump. */
function prepared(profile = 'kho-v4', cmdline?: string): Kernel {
  return holdSessions(boot({ profile, ...(cmdline === undefined ? {} : { cmdline }) }));
}

/** kexec after the reboot serialization, with `tamper` editing the serialized state. */
function jumpWith(k: Kernel, tamper: (k: Kernel) => void): Kernel {
  return kexec(k, (old) => {
    assert.equal(old.luo.reboot(), 0);
    tamper(old);
  });
}

function panics(k: Kernel, tamper: (k: Kernel) => void, log: string): void {
  const m = k.machine;
  assert.throws(
    () => jumpWith(k, tamper),
    (e: unknown) =>
      e instanceof KernelPanic &&
      e.message ===
        `Kernel panic - not syncing: The incoming tree failed to initialize properly [${log.split('|')[1]!}], disabling live update` &&
      e.dmesg.has(log.split('|')[0]!),
  );
  assert.equal(m.kernel, null, 'the successor did not come up');
}

/** Every open of /dev/liveupdate fails with EIO (and keeps failing). */
function eioForever(k2: Kernel, log: string): void {
  const q = proc(k2);
  assert.equal(openLuo(q), -ERRNO.EIO);
  assert.equal(openLuo(q), -ERRNO.EIO);
  assert.ok(k2.dmesg.has(log), `${log}\n${k2.dmesg.text()}`);
}

const le = (mem: Kernel['machine']['mem'], at: number, v: number): void => {
  mem.writeU64(at, v);
};

describe('luo-v5: early boot checks panic', () => {
  it('no LUO sub-tree: a cold LUO start', () => {
    const k = boot();
    const k2 = kexec(k, (old) => {
      old.kho.removeSubtree(old.luo.outPhys);
    });
    const q = proc(k2);
    assert.ok(openLuo(q) >= 0);
    assert.ok(!k2.dmesg.has('luo: Retrieved live update data'));
  });

  it('a broken blob-size: the retrieve error', () => {
    panics(
      prepared(),
      (k) => {
        editRootFdt(k.machine.mem, k.kho.fdtPhys, (rw) => {
          rw.setprop(rw.subnode(0, LUO_KHO_ENTRY_NAME), 'blob-size', new Uint8Array(4));
        });
      },
      "luo: failed to retrieve LUO state 'LUO' from KHO: -EINVAL|-EINVAL",
    );
  });

  it('a blob smaller than luo_ser', () => {
    panics(
      prepared(),
      (k) => {
        editRootFdt(k.machine.mem, k.kho.fdtPhys, (rw) => {
          rw.setprop(rw.subnode(0, LUO_KHO_ENTRY_NAME), 'blob-size', encodeLe64Prop(16));
        });
      },
      'luo: LUO state is too small (16 < 32)|-EINVAL',
    );
  });

  it('another compatible', () => {
    panics(
      prepared(),
      (k) => {
        k.machine.mem.write(k.luo.outPhys, new TextEncoder().encode('luo-v4'));
      },
      "luo: LUO state is incompatible with 'luo-v5'|-EINVAL",
    );
  });

  it('a session block with count 0 or above 51', () => {
    const at = (k: Kernel): number => k.machine.mem.readU64(k.luo.outPhys + 16);
    panics(
      prepared(),
      (k) => {
        le(k.machine.mem, at(k) + 8, 0);
      },
      'luo: Block contains invalid entry count: 0|-EINVAL',
    );
    panics(
      prepared(),
      (k) => {
        le(k.machine.mem, at(k) + 8, 52);
      },
      'luo: Block contains invalid entry count: 52|-EINVAL',
    );
  });

  it('a session chain pointer past the end of memory oopses the init task', () => {
    const k = prepared();
    assert.throws(
      () =>
        jumpWith(k, (old) => {
          le(old.machine.mem, old.luo.outPhys + 16, 2 ** 45);
        }),
      (e: unknown) =>
        e instanceof KernelPanic &&
        e.reason === 'Attempted to kill init! exitcode=0x00000009' &&
        e.dmesg.has('BUG: unable to handle page fault for address: ffffa88000000000'),
    );
  });

  it('a session chain that loops', () => {
    panics(
      prepared(),
      (k) => {
        const s = k.machine.mem.readU64(k.luo.outPhys + 16);
        le(k.machine.mem, s, s);
      },
      'luo: Block set is corrupted|-EINVAL',
    );
  });

  it('a successor with liveupdate off still parses (and panics on) the incoming data (kernel quirk)', () => {
    const k = prepared();
    assert.throws(
      () =>
        kexec(
          k,
          (old) => {
            assert.equal(old.luo.reboot(), 0);
            old.machine.mem.write(old.luo.outPhys, new TextEncoder().encode('luo-v9'));
          },
          'console=ttyS0 kho=on kho_scratch=64M,64M,32M',
        ),
      /The incoming tree failed to initialize properly \[-EINVAL\]/,
    );
  });

  it('a successor with liveupdate off and good data: sessions parsed but no device', () => {
    const k2 = kexec(prepared(), undefined, 'console=ttyS0 kho=on kho_scratch=64M,64M,32M');
    assert.ok(k2.dmesg.has('luo: Retrieved live update data, liveupdate number: 1'));
    assert.equal(openLuo(proc(k2)), -ERRNO.ENOENT);
  });
});

describe('luo-v5: deserialization failures make every open EIO', () => {
  const sessionEntry = (k: Kernel, i: number): number =>
    k.machine.mem.readU64(k.luo.outPhys + 16) + 16 + i * 80;

  it('a duplicate session name', () => {
    const k2 = jumpWith(prepared(), (k) => {
      k.machine.mem.write(sessionEntry(k, 1), new TextEncoder().encode('a\0'));
    });
    eioForever(k2, 'luo: Failed to insert session [a] -EEXIST');
  });

  it('a corrupt file block', () => {
    const k2 = jumpWith(prepared(), (k) => {
      const files = k.machine.mem.readU64(sessionEntry(k, 1) + 64);
      le(k.machine.mem, files + 8, 0);
    });
    eioForever(k2, 'luo: Failed to deserialize files for session [b] -EINVAL');
    assert.ok(k2.dmesg.has('luo: Block contains invalid entry count: 0'));
  });

  it('a file chain pointer past the end of memory: the opener oopses, the device stays busy', () => {
    const k2 = jumpWith(prepared(), (k) => {
      le(k.machine.mem, sessionEntry(k, 1) + 64, 2 ** 45);
    });
    const q = proc(k2);
    assert.equal(openLuo(q), -ERRNO.EFAULT);
    assert.ok(
      k2.dmesg.has('BUG: unable to handle page fault for address: ffffa88000000000'),
      k2.dmesg.text(),
    );
    assert.equal(openLuo(q), -ERRNO.EBUSY);
  });

  it('a compatible no handler has', () => {
    const k2 = jumpWith(prepared(), (k) => {
      const files = k.machine.mem.readU64(sessionEntry(k, 0) + 64);
      k.machine.mem.write(files + 16, new TextEncoder().encode('memfd-v9'));
    });
    eioForever(k2, "luo: No registered handler for compatible 'memfd-v9'");
  });

  it('a file count that does not match the blocks', () => {
    const k2 = jumpWith(prepared(), (k) => {
      le(k.machine.mem, sessionEntry(k, 1) + 72, 3);
    });
    eioForever(k2, 'luo: File count mismatch: expected 3, found 2');
  });

  it('sessions after a failed one stay out; the error is cached', () => {
    const k2 = jumpWith(prepared(), (k) => {
      k.machine.mem.write(sessionEntry(k, 1), new TextEncoder().encode('a\0'));
    });
    eioForever(k2, 'luo: Failed to insert session [a] -EEXIST');
    assert.equal(k2.luo.sessions.incoming.count, 1, 'session a was deserialized and leaked');
  });
});

describe('luo-v5: the FLB page is not validated', () => {
  it('a garbage FLB page neither panics nor fails the open; the sessions come back', () => {
    const k2 = jumpWith(prepared(), (k) => {
      const page = k.luo.flbs.pagePhys;
      le(k.machine.mem, page, 0xdead);
      le(k.machine.mem, page + 8, 100000);
      k.machine.mem.write(page + 16, new Uint8Array(64).fill(0xff));
    });
    const q = proc(k2);
    const l = openLuo(q);
    assert.ok(l >= 0, `open: ${l}`);
    const b = retrieveSession(q, l, 'b');
    assert.ok(b >= 0);
    assert.equal(restoreMemfdText(q, b, 3), 'three');
  });
});

describe('luo-v5: memfd data problems fail RETRIEVE_FD, for good', () => {
  it('a folio that was not preserved', () => {
    const k2 = jumpWith(prepared(), (k) => {
      // Point the folio entry of token 1 at a page KHO does not know.
      const mem = k.machine.mem;
      const files = mem.readU64(mem.readU64(k.luo.outPhys + 16) + 16 + 64);
      const ser = mem.readU64(files + 16 + 48);
      const chunk = mem.readU64(ser + 32);
      const arr = mem.readU64(chunk + 8);
      mem.writeU64(arr, k.kernelImage.base / 4096 + 1);
    });
    const q = proc(k2);
    const luo = openLuo(q);
    assert.ok(luo >= 0);
    const s = retrieveSession(q, luo, 'a');
    assert.equal(retrieveFd(q, s, 1), -ERRNO.EIO);
    assert.equal(retrieveFd(q, s, 1), -ERRNO.EIO, 'the error is remembered');
    assert.ok(k2.dmesg.has('memfd_luo: Unable to restore folio at physical address:'));
  });
});

describe('luo-v1: FDT checks panic', () => {
  it('a wrong root compatible', () => {
    panics(
      prepared('kho-v3'),
      (k) => {
        const mem = k.machine.mem;
        const blob = mem.read(k.luo.outPhys, 4096);
        const at = Buffer.from(blob).indexOf('luo-v1');
        mem.write(k.luo.outPhys + at, new TextEncoder().encode('luo-v0'));
      },
      "luo: FDT 'LUO' is incompatible with 'luo-v1' [1]|-EINVAL",
    );
  });

  it('no luo-flb node (a v6.19 hand-over to a v7.0+ kernel)', () => {
    panics(
      prepared('kho-v3'),
      (k) => {
        const mem = k.machine.mem;
        const blob = mem.read(k.luo.outPhys, 4096);
        const at = Buffer.from(blob).indexOf('luo-flb\0');
        mem.write(k.luo.outPhys + at, new TextEncoder().encode('luo-xyz'));
      },
      'luo: Unable to get FLB node [luo-flb]|-ENOENT',
    );
  });
});

describe('with KHO off', () => {
  it('liveupdate=on is switched off and there is no /dev/liveupdate', () => {
    const k = boot({ cmdline: 'console=ttyS0 liveupdate=on' });
    assert.ok(k.dmesg.has('luo: Disabling liveupdate because KHO is disabled'));
    assert.equal(openLuo(proc(k)), -ERRNO.ENOENT);
  });
});
