/**
 * The memfd file handler (mm/memfd_luo.c): preserves a memfd's contents, size, position and
 * (memfd-v2) seals across kexec.
 *
 * PRESERVE_FD freezes the mapping (no size change from now on), pins every page of `[0, size)`
 * (holes get zeroed pages; pages in CMA, i.e. KHO scratch, are migrated first), preserves each
 * folio and writes a `memfd_luo_ser` (a preserved page) plus a preserved vmalloc array of
 * `memfd_luo_folio_ser` entries. At reboot `freeze` records the current file position. In the
 * next kernel RETRIEVE_FD builds a fresh memfd (name `""`) whose page cache is the handed-over
 * folios; FINISH of a session whose memfd was never retrieved frees those folios.
 *
 * `memfd-v2` (kho-v3, kho-v4) identifies a file by its inode for the duplicate check (two
 * opens of one memfd are one file, `memfd_luo_get_id()`) and hands over the seals; `memfd-v1`
 * (kho-v1, kho-v2: v7.0) hands over no seals, flags the folios with their real dirty/uptodate
 * state and has no `get_id` (its kernels have no duplicate check, `LuoFormat.doubleManagementCheck`).
 */
import {
  MEMFD_LUO_ALL_SEALS,
  MEMFD_LUO_FH_COMPATIBLE,
  MEMFD_LUO_FH_COMPATIBLE_V1,
  MEMFD_LUO_FOLIO_DIRTY,
  MEMFD_LUO_FOLIO_SER_SIZE,
  MEMFD_LUO_FOLIO_UPTODATE,
  memfdFoliosDescOffset,
  memfdLuoSerSize,
  writeMemfdFolioSer,
  type MemfdLuoVersion,
} from '../abi/memfd-luo.ts';
import { MFD_ALLOW_SEALING } from '../abi/uapi-fcntl.ts';
import { fput, type File } from '../kernel/fs/file.ts';
import { memfdAddSeals, memfdAllocFile, memfdGetSeals, shmemFile } from '../kernel/fs/memfd.ts';
import { SHMEM_FOLIO_DIRTY, SHMEM_FOLIO_UPTODATE } from '../mm/shmem.ts';
import { ERRNO, errPtrText } from '../util/errno.ts';
import type { Luo } from './luo-core.ts';
import type { LiveupdateFileHandler, LiveupdateFileOpArgs, LiveupdateFileOps } from './luo-file.ts';

const PAGE_SIZE = 4096;
/** More pages than UINT_MAX cannot be described (memfd-v2). */
const MAX_PAGES = 0xffff_ffff;

/** Statistics of the last preserve (for reports and tests). */
export interface MemfdLuoStats {
  /** Folios migrated out of CMA (KHO scratch) by the pin. */
  migrated: number;
}

/** The handler's private data of a preserved file: where the folio array sits in this kernel. */
interface Preserved {
  /** vmalloc address of the `memfd_luo_folio_ser` array (0 for an empty file). */
  va: number;
  nrFolios: number;
  /** Page indices pinned, for unpin. */
  lastIndex: number;
}

/** The memfd handler of `luo` for the profile's memfd version. */
export function memfdLuoHandler(luo: Luo, stats: MemfdLuoStats = { migrated: 0 }): LiveupdateFileHandler {
  const version: MemfdLuoVersion = luo.format.memfd;
  const v1 = version === 'memfd-v1';
  const kho = luo.kho;
  const mem = kho.ctx.mem;
  const descOff = memfdFoliosDescOffset(version);
  const nrOff = v1 ? 16 : 24;
  const log = (level: 'err' | 'warn', text: string): void => {
    luo.dmesg.log(level, `memfd_luo: ${text}`);
  };
  const vmalloc = (): NonNullable<typeof kho.ctx.vmalloc> => {
    const vm = kho.ctx.vmalloc;
    if (vm === null) throw new Error('memfd_luo: vmalloc is not up');
    return vm;
  };

  /** `memfd_luo_preserve_folios`: pin, preserve each folio, write and preserve the array. */
  const preserveFolios = (file: File, serPhys: number): Preserved | number => {
    const sh = file.inode.shmem!;
    const size = sh.size;
    if (size === 0) return { va: 0, nrFolios: 0, lastIndex: -1 };
    const lastIndex = Math.ceil(size / PAGE_SIZE) - 1;
    const pin = { migrated: 0 };
    const pfns = sh.pinFolios(lastIndex, pin);
    if (typeof pfns === 'number') {
      log('err', `failed to pin folios: ${pfns}`);
      return pfns;
    }
    stats.migrated = pin.migrated;
    const nr = pfns.length;
    const vm = vmalloc();
    const va = vm.vzalloc(nr * MEMFD_LUO_FOLIO_SER_SIZE);
    if (va === null) {
      sh.unpinFolios(pfns);
      return -ERRNO.ENOMEM;
    }
    const arr = new Uint8Array(nr * MEMFD_LUO_FOLIO_SER_SIZE);
    const view = new DataView(arr.buffer);
    for (let i = 0; i < nr; i++) {
      const pfn = pfns[i]!;
      const err = kho.preserveFolio(pfn, 0);
      if (err !== 0) {
        for (let j = i - 1; j >= 0; j--) kho.unpreserveFolio(pfns[j]!, 0);
        vm.vfree(va);
        sh.unpinFolios(pfns);
        return err;
      }
      let flags: number;
      if (v1) {
        const f = sh.flagsAt(i);
        flags =
          ((f & SHMEM_FOLIO_DIRTY) !== 0 ? MEMFD_LUO_FOLIO_DIRTY : 0) |
          ((f & SHMEM_FOLIO_UPTODATE) !== 0 ? MEMFD_LUO_FOLIO_UPTODATE : 0);
      } else {
        // memfd-v2 marks every folio dirty, and zeroes and marks uptodate the ones that were not.
        if ((sh.flagsAt(i) & SHMEM_FOLIO_UPTODATE) === 0) mem.fill(pfn * PAGE_SIZE, PAGE_SIZE, 0);
        sh.setFlags(i, SHMEM_FOLIO_DIRTY | SHMEM_FOLIO_UPTODATE);
        flags = MEMFD_LUO_FOLIO_DIRTY | MEMFD_LUO_FOLIO_UPTODATE;
      }
      writeMemfdFolioSer(view, i * MEMFD_LUO_FOLIO_SER_SIZE, { pfn, flags, index: i });
    }
    vm.write(va, arr);
    const err = kho.preserveVmalloc(va, serPhys + descOff);
    if (err !== 0) {
      for (let j = nr - 1; j >= 0; j--) kho.unpreserveFolio(pfns[j]!, 0);
      vm.vfree(va);
      sh.unpinFolios(pfns);
      return err;
    }
    return { va, nrFolios: nr, lastIndex };
  };

  const preserve = (args: LiveupdateFileOpArgs): number => {
    const file = args.file!;
    const sh = file.inode.shmem!;
    sh.frozen = true;
    const ser = kho.allocPreserve(memfdLuoSerSize(version));
    if (ser < 0) {
      sh.frozen = false;
      return ser;
    }
    const fail = (err: number): number => {
      kho.unpreserveFree(ser);
      sh.frozen = false;
      return err;
    };
    if (!v1) {
      const seals = memfdGetSeals(file);
      if (seals < 0) return fail(seals);
      if ((seals & ~MEMFD_LUO_ALL_SEALS) !== 0) return fail(-ERRNO.EOPNOTSUPP);
      if (Math.ceil(sh.size / PAGE_SIZE) > MAX_PAGES) return fail(-ERRNO.EFBIG);
      mem.writeU32(ser + 16, seals);
    }
    mem.writeU64(ser, file.pos);
    mem.writeU64(ser + 8, sh.size);
    const p = preserveFolios(file, ser);
    if (typeof p === 'number') return fail(p);
    mem.writeU64(ser + nrOff, p.nrFolios);
    args.privateData = p;
    args.serializedData = BigInt(ser);
    return 0;
  };

  const unpreserve = (args: LiveupdateFileOpArgs): void => {
    const file = args.file!;
    const sh = file.inode.shmem!;
    const p = args.privateData as Preserved;
    const ser = Number(args.serializedData);
    sh.frozen = false;
    if (p.nrFolios > 0) {
      kho.unpreserveVmalloc(ser + descOff);
      const vm = vmalloc();
      const arr = vm.read(p.va, p.nrFolios * MEMFD_LUO_FOLIO_SER_SIZE);
      const view = new DataView(arr.buffer, arr.byteOffset);
      for (let i = 0; i < p.nrFolios; i++) {
        const pfn =
          (view.getUint32(i * 16 + 4, true) & 0xfffff) * 0x1_0000_0000 + view.getUint32(i * 16, true);
        if (pfn === 0) continue;
        kho.unpreserveFolio(pfn, 0);
        sh.unpinAt(i);
      }
      vm.vfree(p.va);
    }
    kho.unpreserveFree(ser);
  };

  const freeze = (args: LiveupdateFileOpArgs): number => {
    if (args.serializedData === 0n || args.file === null) {
      luo.dmesg.warnOn('memfd_luo_freeze', 'no serialized data');
      return -ERRNO.EINVAL;
    }
    mem.writeU64(Number(args.serializedData), args.file.pos);
    return 0;
  };

  /** The handed-over folio array as bytes (restored and freed), or null. */
  const restoreArray = (ser: number, nr: number): Uint8Array | null => {
    const va = kho.restoreVmalloc(ser + descOff);
    if (va === null) return null;
    const vm = vmalloc();
    const arr = vm.read(
      va,
      Math.min(nr * MEMFD_LUO_FOLIO_SER_SIZE, vm.findVmArea(va)!.pages.length * PAGE_SIZE),
    );
    vm.vfree(va);
    return arr;
  };

  /**
   * `memfd_luo_retrieve`: a fresh memfd holding the handed-over folios. Every failure after the
   * `ser` check drops the file and restores and frees `ser` (`free_ser`, in every release), so
   * `finish` leaves a failed file alone.
   */
  const retrieve = (args: LiveupdateFileOpArgs): number => {
    const ser = Number(args.serializedData);
    if (ser === 0) return -ERRNO.EINVAL;
    const fail = (err: number, file: File | null): number => {
      if (file !== null) fput(file);
      kho.restoreFree(ser);
      return err;
    };
    const seals = v1 ? 0 : mem.readU32(ser + 16);
    if (!v1 && (seals & ~MEMFD_LUO_ALL_SEALS) !== 0) return fail(-ERRNO.EOPNOTSUPP, null);
    const file = memfdAllocFile(luo.fs, '', v1 ? 0 : MFD_ALLOW_SEALING);
    if (!v1) {
      const err = memfdAddSeals(file, seals);
      if (err < 0) {
        log('err', `failed to add seals: ${errPtrText(err)}`);
        return fail(err, file);
      }
    }
    const sh = file.inode.shmem!;
    file.pos = mem.readU64(ser);
    sh.size = mem.readU64(ser + 8);
    const nr = mem.readU64(ser + nrOff);
    if (nr > 0) {
      const arr = restoreArray(ser, nr);
      if (arr === null) return fail(-ERRNO.EINVAL, file);
      const err = retrieveFolios(sh, arr, nr);
      if (err !== 0) return fail(err, file);
    }
    args.file = file;
    kho.restoreFree(ser);
    return 0;
  };

  /** `memfd_luo_retrieve_folios`: each entry's folio into the new page cache at its index. */
  const retrieveFolios = (sh: NonNullable<File['inode']['shmem']>, arr: Uint8Array, nr: number): number => {
    const view = new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
    const n = Math.min(nr, Math.floor(arr.length / MEMFD_LUO_FOLIO_SER_SIZE));
    for (let i = 0; i < n; i++) {
      const hi = view.getUint32(i * 16 + 4, true);
      const pfn = (hi & 0xfffff) * 0x1_0000_0000 + view.getUint32(i * 16, true);
      if (pfn === 0) continue;
      const flags = hi >>> 20;
      const index = view.getUint32(i * 16 + 12, true) * 0x1_0000_0000 + view.getUint32(i * 16 + 8, true);
      const got = kho.restoreFolio(pfn * PAGE_SIZE);
      if (got === null) {
        log('err', `Unable to restore folio at physical address: ${(pfn * PAGE_SIZE).toString(16)}`);
        putRest(view, i + 1, n);
        return -ERRNO.EIO;
      }
      if (!sh.addToPageCache(index, got, flags & (SHMEM_FOLIO_DIRTY | SHMEM_FOLIO_UPTODATE))) {
        log('err', `shmem: failed to add to page cache folio index ${i}: ${-ERRNO.EEXIST}`);
        kho.ctx.buddy!.putPage(got);
        putRest(view, i + 1, n);
        return -ERRNO.EEXIST;
      }
    }
    return 0;
  };

  /** Restore and free the folios after a failed one (the kernel frees those not yet added). */
  const putRest = (view: DataView, from: number, n: number): void => {
    for (let j = from; j < n; j++) {
      const pfn = (view.getUint32(j * 16 + 4, true) & 0xfffff) * 0x1_0000_0000 + view.getUint32(j * 16, true);
      const got = kho.restoreFolio(pfn * PAGE_SIZE);
      if (got !== null) kho.ctx.buddy!.putPage(got);
    }
  };

  /**
   * `memfd_luo_finish`: only a file never retrieved has anything left to free; a failed
   * retrieve cleaned up after itself (`args->retrieve_status`, since f85b1c6af5bc in v7.0;
   * v6.19.0 tested `args->retrieved` and freed `ser` a second time).
   */
  const finish = (args: LiveupdateFileOpArgs): void => {
    if (args.retrieveStatus !== 0) return;
    const ser = Number(args.serializedData);
    if (ser === 0) return;
    const nr = mem.readU64(ser + nrOff);
    if (nr > 0) {
      const arr = restoreArray(ser, nr);
      if (arr !== null) {
        const view = new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
        const n = Math.min(nr, Math.floor(arr.length / MEMFD_LUO_FOLIO_SER_SIZE));
        for (let i = 0; i < n; i++) {
          const pfn =
            (view.getUint32(i * 16 + 4, true) & 0xfffff) * 0x1_0000_0000 + view.getUint32(i * 16, true);
          if (pfn === 0) continue;
          const got = kho.restoreFolio(pfn * PAGE_SIZE);
          if (got === null) {
            log('warn', `Unable to restore folio at physical address: ${(pfn * PAGE_SIZE).toString(16)}`);
            continue;
          }
          kho.ctx.buddy!.putPage(got);
        }
      }
    }
    kho.restoreFree(ser);
  };

  const ops: LiveupdateFileOps = {
    owner: 'memfd_luo',
    canPreserve: (_h, file) => shmemFile(file) && file.inode.nlink === 0,
    preserve,
    unpreserve,
    freeze,
    retrieve,
    finish,
    ...(v1 ? {} : { getId: (file: File) => file.inode }),
  };
  return { compatible: v1 ? MEMFD_LUO_FH_COMPATIBLE_V1 : MEMFD_LUO_FH_COMPATIBLE, ops };
}

/**
 * `memfd_luo_init` (late_initcall): register the handler; LUO being off (-EOPNOTSUPP) is not an
 * error. Returns the handler (registered or not).
 */
export function memfdLuoInit(luo: Luo): LiveupdateFileHandler {
  const h = memfdLuoHandler(luo);
  const err = luo.registerFileHandler(h);
  if (err !== 0 && err !== -ERRNO.EOPNOTSUPP)
    luo.dmesg.err(`memfd_luo: Could not register luo filesystem handler: ${errPtrText(err)}`);
  return h;
}
