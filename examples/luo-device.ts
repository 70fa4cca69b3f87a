/**
 * luo_device: a made-up device whose open files survive a live update through LUO.
 *
 * `/dev/luo_device` (a misc device) gives each open file 4 KiB of device registers in a folio.
 * Its LUO file handler (compatible `luo-device-v1`) hands a preserved file over as a
 * `struct luo_device_ser` in a preserved page: the registers' folio and the file position,
 * recorded at freeze. The next kernel's handler makes the file again on RETRIEVE_FD.
 * The module's user space (run by `kho check` after every boot) keeps a boot counter in the
 * registers: it retrieves the file, checks and bumps the counter, and preserves the file again.
 */
import {
  ERRNO,
  GFP_KERNEL,
  MISC_DYNAMIC_MINOR,
  MISC_MAJOR,
  O_RDWR,
  PAGE_SIZE,
  SEEK_CUR,
  SEEK_SET,
  __GFP_ZERO,
  allocPreserve,
  defineModule,
  filpOpen,
  folioAlloc,
  folioPhys,
  folioPut,
  liveupdateEnabled,
  liveupdateRegisterFileHandler,
  liveupdateUnregisterFileHandler,
  luoCreateSession,
  luoOpenDevice,
  luoRetrieveSession,
  luoSessionFinish,
  luoSessionPreserveFd,
  luoSessionRetrieveFd,
  miscDeregister,
  miscRegister,
  physRead,
  physReadU64,
  physWrite,
  physWriteU64,
  preserveFolio,
  prInfo,
  restoreFolio,
  restoreFree,
  unpreserveFolio,
  unpreserveFree,
  type File,
  type Folio,
  type LiveupdateFileHandler,
  type MiscDevice,
  type ModuleKernel,
} from 'kho';

// struct luo_device_ser { u64 regs_phys; u64 pos; }  (handler compatible "luo-device-v1")
const SER_SIZE = 16;
const SESSION = 'luo-device';
const TOKEN = 1;

function device(k: ModuleKernel): { dev: MiscDevice; fh: LiveupdateFileHandler } {
  const regs = (f: File): Folio | null =>
    (f.privateData ??= folioAlloc(k, GFP_KERNEL | __GFP_ZERO, 0)) as Folio | null;
  const dev: MiscDevice = {
    name: 'luo_device',
    minor: MISC_DYNAMIC_MINOR,
    fops: {
      read(f, n, pos) {
        const r = regs(f);
        return r === null
          ? -ERRNO.ENOMEM
          : physRead(k, folioPhys(r) + pos, Math.max(0, Math.min(n, PAGE_SIZE - pos)));
      },
      write(f, data, pos) {
        const r = regs(f);
        const len = Math.min(data.length, PAGE_SIZE - pos);
        if (r === null || len <= 0) return r === null ? -ERRNO.ENOMEM : -ERRNO.ENOSPC;
        physWrite(k, folioPhys(r) + pos, data.subarray(0, len));
        return len;
      },
      llseek: (f, off, whence) => {
        const pos = whence === SEEK_SET ? off : whence === SEEK_CUR ? f.pos + off : -1;
        return pos < 0 || pos > PAGE_SIZE ? -ERRNO.EINVAL : (f.pos = pos);
      },
      release: (f) => {
        if (f.privateData !== null) folioPut(k, f.privateData as Folio);
      },
    },
  };
  const fh: LiveupdateFileHandler = {
    compatible: 'luo-device-v1',
    ops: {
      canPreserve: (_h, f) => f.inode.rdev?.major === MISC_MAJOR && f.inode.rdev.minor === dev.minor,
      preserve(args) {
        const folio = regs(args.file!);
        const ser = allocPreserve(k, SER_SIZE);
        if (folio === null || ser < 0) return ser < 0 ? ser : -ERRNO.ENOMEM;
        const rc = preserveFolio(k, folio);
        if (rc !== 0) {
          unpreserveFree(k, ser);
          return rc;
        }
        physWriteU64(k, ser, folioPhys(folio));
        args.serializedData = BigInt(ser);
        return 0;
      },
      unpreserve(args) {
        unpreserveFolio(k, regs(args.file!)!);
        unpreserveFree(k, Number(args.serializedData));
      },
      freeze(args) {
        physWriteU64(k, Number(args.serializedData) + 8, args.file!.pos);
        return 0;
      },
      retrieve(args) {
        const ser = Number(args.serializedData);
        const folio = restoreFolio(k, physReadU64(k, ser));
        if (folio === null) return -ERRNO.EIO;
        const file = filpOpen(k, `/dev/${dev.name}`, O_RDWR);
        if (typeof file === 'number') {
          folioPut(k, folio);
          return file;
        }
        file.privateData = folio;
        file.pos = physReadU64(k, ser + 8);
        restoreFree(k, ser);
        args.file = file;
        prInfo(k, `retrieved a file, position ${file.pos}`);
        return 0;
      },
      finish(args) {
        if (args.retrieveStatus !== 0) return; // retrieved files own their registers
        const ser = Number(args.serializedData);
        const folio = restoreFolio(k, physReadU64(k, ser));
        if (folio !== null) folioPut(k, folio);
        restoreFree(k, ser);
      },
    },
  };
  return { dev, fh };
}

let mine: { dev: MiscDevice; fh: LiveupdateFileHandler } | null = null;

export default defineModule({
  name: 'luo_device',
  description: 'a device whose open files LUO hands to the next kernel',
  init(k) {
    if (!liveupdateEnabled(k)) return -ERRNO.EOPNOTSUPP;
    const d = device(k);
    let rc = miscRegister(k, d.dev);
    if (rc === 0) rc = liveupdateRegisterFileHandler(k, d.fh);
    if (rc !== 0) {
      miscDeregister(k, d.dev);
      return rc;
    }
    mine = d;
    return 0;
  },
  exit(k) {
    if (mine === null) return;
    liveupdateUnregisterFileHandler(k, mine.fh);
    miscDeregister(k, mine.dev);
  },
  // user space: retrieve the registers, check and bump the boot counter, preserve them again
  userspace(p) {
    const luo = luoOpenDevice(p);
    const old = luoRetrieveSession(p, luo, SESSION);
    let fd: number;
    let boots = 0;
    if (old === -ERRNO.ENOENT) fd = p.open('/dev/luo_device', O_RDWR);
    else {
      fd = luoSessionRetrieveFd(p, old, TOKEN);
      const buf = new Uint8Array(8);
      if (fd < 0 || p.lseek(fd, 0, SEEK_CUR) !== 8 || p.pread(fd, buf, 8, 0) !== 8) return 1;
      boots = Number(new DataView(buf.buffer).getBigUint64(0, true));
      if (luoSessionFinish(p, old) !== 0) return 2;
    }
    const b = new DataView(new ArrayBuffer(8));
    b.setBigUint64(0, BigInt(boots + 1), true);
    if (fd < 0 || p.lseek(fd, 0, SEEK_SET) !== 0 || p.write(fd, new Uint8Array(b.buffer)) !== 8) return 3;
    const s = luoCreateSession(p, luo, SESSION);
    if (s < 0 || luoSessionPreserveFd(p, s, fd, TOKEN) !== 0) return 4;
    p.close(fd); // the session holds the file; this process keeps the session open
    p.write(1, `boot ${boots + 1}: the device's registers crossed ${boots} kexec(s)\n`);
    return 0;
  },
});
