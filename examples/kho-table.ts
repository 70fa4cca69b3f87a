/**
 * kho_table: a KHO consumer that hands a table and its data to the next kernel.
 *
 * Each kernel allocates `nr_folios` folios of order `order`, fills them, lists them in a
 * vmalloc'ed table (one u64 `phys | order` per folio) and publishes a versioned header as the
 * sub-tree `kho_table`. The successor retrieves the header, checks its version, restores the
 * table and every folio, verifies the checksum, frees them, and hands over new data.
 */
import {
  ERRNO,
  GFP_KERNEL,
  KHO_VMALLOC_DESC_SIZE,
  addSubtree,
  allocPreserve,
  defineModule,
  folioAlloc,
  folioPhys,
  folioPut,
  folioSize,
  khoIsEnabled,
  physRead,
  physReadU32,
  physWrite,
  physWriteU32,
  preserveFolio,
  preserveVmalloc,
  prErr,
  prInfo,
  restoreFolio,
  restoreFree,
  restoreVmalloc,
  retrieveSubtree,
  vfree,
  vmalloc,
  vmRead,
  vmWrite,
  type Folio,
  type ModuleKernel,
} from 'kho';

const SUBTREE = 'kho_table';
const VERSION = 1;
// struct kho_table_hdr { u32 version; u32 nr; u32 csum; u32 pad; struct kho_vmalloc table; }
const HDR_SIZE = 16 + KHO_VMALLOC_DESC_SIZE;

function checksum(k: ModuleKernel, f: Folio, csum: number): number {
  for (const b of physRead(k, folioPhys(f), folioSize(f))) csum = Math.imul(csum ^ b, 0x01000193) >>> 0;
  return csum;
}

function save(k: ModuleKernel, nr: number, order: number): number {
  const hdr = allocPreserve(k, HDR_SIZE);
  const table = vmalloc(k, nr * 8);
  if (hdr < 0 || table === null) return -ERRNO.ENOMEM;
  let csum = 0x811c9dc5;
  const entries = new DataView(new ArrayBuffer(nr * 8));
  for (let i = 0; i < nr; i++) {
    const f = folioAlloc(k, GFP_KERNEL, order);
    if (f === null) return -ERRNO.ENOMEM;
    physWrite(k, folioPhys(f), new Uint8Array(folioSize(f)).fill((k.generation * 31 + i) & 0xff));
    csum = checksum(k, f, csum);
    entries.setBigUint64(i * 8, BigInt(folioPhys(f) + order), true);
    const rc = preserveFolio(k, f);
    if (rc !== 0) return rc;
  }
  vmWrite(k, table, new Uint8Array(entries.buffer));
  const rc = preserveVmalloc(k, table, hdr + 16);
  if (rc !== 0) return rc;
  physWriteU32(k, hdr, VERSION);
  physWriteU32(k, hdr + 4, nr);
  physWriteU32(k, hdr + 8, csum);
  prInfo(k, `preserved ${nr} folios of order ${order}`);
  return addSubtree(k, SUBTREE, hdr, HDR_SIZE);
}

function restore(k: ModuleKernel, hdr: number): number {
  const version = physReadU32(k, hdr);
  if (version !== VERSION) {
    prErr(k, `sub-tree version ${version}, expected ${VERSION}`);
    return -ERRNO.EINVAL;
  }
  const nr = physReadU32(k, hdr + 4);
  const table = restoreVmalloc(k, hdr + 16);
  if (table === null) return -ERRNO.ENOENT;
  const entries = new DataView(vmRead(k, table, nr * 8).buffer);
  let csum = 0x811c9dc5;
  for (let i = 0; i < nr; i++) {
    const f = restoreFolio(k, Number(entries.getBigUint64(i * 8, true) & ~0xfffn));
    if (f === null) return -ERRNO.ENOENT;
    csum = checksum(k, f, csum);
    folioPut(k, f);
  }
  const ok = csum === physReadU32(k, hdr + 8);
  vfree(k, table);
  restoreFree(k, hdr);
  if (!ok) prErr(k, 'checksum mismatch');
  else prInfo(k, `restored ${nr} folios, checksum ok`);
  return ok ? 0 : -ERRNO.EINVAL;
}

export default defineModule({
  name: 'kho_table',
  description: 'hands a vmalloc table and its folios to the next kernel',
  params: {
    nr_folios: { type: 'uint', default: 4, description: 'folios to hand over' },
    order: { type: 'uint', default: 2, description: 'order of each folio' },
  },
  init(k, p) {
    if (!khoIsEnabled(k)) return 0;
    const found = retrieveSubtree(k, SUBTREE);
    if (found.err === 0) {
      const rc = restore(k, found.phys);
      if (rc !== 0) return rc;
    } else if (found.err !== -ERRNO.ENOENT) return found.err;
    return save(k, p.nr_folios, p.order);
  },
});
