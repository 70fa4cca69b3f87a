/**
 * The checks `dtc -I dtb` (dtc 1.6.1, flattree.c: dt_from_blob()) makes while reading a blob,
 * in its order and with its `FATAL ERROR:` texts: magic, size field, the whole `totalsize`
 * bytes, block offsets and sizes, the first structure token. A blob that passes them goes on
 * to the tree reader; one that fails is reported as dtc reports it.
 */
import { FDT_BEGIN_NODE, FDT_MAGIC } from './constants.ts';
import { be32 } from './header.ts';

/** `FDT_V1_SIZE`: the seven header words of a version 1 blob. */
const FDT_V1_SIZE = 7 * 4;

/** The message dtc 1.6.1 dies with for `blob` (without `FATAL ERROR: `), or null. */
export function dtcBlobError(blob: Uint8Array): string | null {
  if (blob.length < 4) return 'EOF reading DT blob magic number';
  if (be32(blob, 0) !== FDT_MAGIC) return 'Blob has incorrect magic number';
  if (blob.length < 8) return 'EOF reading DT blob size';
  const totalsize = be32(blob, 4);
  // dtc prints it with %d.
  if (totalsize < FDT_V1_SIZE) return `DT blob size (${totalsize | 0}) is too small`;
  if (blob.length < totalsize) return `EOF before reading ${totalsize | 0} bytes of DT blob`;
  const offDt = be32(blob, 8);
  const offStr = be32(blob, 12);
  const offRsv = be32(blob, 16);
  const version = be32(blob, 20);
  if (offRsv >= totalsize) return 'Mem Reserve structure offset exceeds total size';
  if (offDt >= totalsize) return 'DT structure offset exceeds total size';
  if (offStr > totalsize) return 'String table offset exceeds total size';
  if (version >= 3) {
    const sizeStr = blob.length >= 36 ? be32(blob, 32) : 0;
    if (offStr + sizeStr > 0xffff_ffff || offStr + sizeStr > totalsize)
      return 'String table extends past total size';
  }
  if (version >= 17) {
    const sizeDt = blob.length >= 40 ? be32(blob, 36) : 0;
    if (offDt + sizeDt > 0xffff_ffff || offDt + sizeDt > totalsize)
      return 'Structure block extends past total size';
  }
  // flat_read_mem_reserve() walks the map first; then the first structure word.
  const first = offDt + 4 <= totalsize ? be32(blob, offDt) : null;
  if (first !== null && first !== FDT_BEGIN_NODE) {
    return `Device tree blob doesn't begin with FDT_BEGIN_NODE (begins with 0x${first.toString(16).padStart(8, '0')})`;
  }
  return null;
}
