/**
 * Sequential-write mode, byte-compatible with libfdt's fdt_sw (fdt_create … fdt_finish).
 *
 * The blob is built in a fixed buffer exactly as libfdt lays it out while writing: header and
 * reservation map at the start (the map begins at 48, the header rounded up to a reservation
 * entry), the structure block growing up after the map, and the strings table growing DOWN from
 * the end of the buffer (so it holds names in reverse order of first use). A property name is
 * reused when it already occurs in the table, even as the tail of a longer name. `finish` appends
 * END, moves the strings right after the structure and rebases every name offset.
 */
import { allocBuffer, setBe32, setBe64, checkU64, findString, nameBytes } from './bytes.ts';
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_LAST_COMPATIBLE_VERSION,
  FDT_LAST_SUPPORTED_VERSION,
  FDT_MAGIC,
  FDT_PROP,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_V17_HEADER_SIZE,
  HDR_BOOT_CPUID_PHYS,
  HDR_LAST_COMP_VERSION,
  HDR_MAGIC,
  HDR_OFF_DT_STRINGS,
  HDR_OFF_DT_STRUCT,
  HDR_OFF_MEM_RSVMAP,
  HDR_SIZE_DT_STRINGS,
  HDR_SIZE_DT_STRUCT,
  HDR_TOTALSIZE,
  HDR_VERSION,
  tagAlign,
} from './constants.ts';
import { FdtError } from './errors.ts';
import { encodeText } from './text.ts';

/** Where the reservation map starts in sequential-write mode: the header rounded up to 16. */
const SW_HEADER_SIZE = (FDT_V17_HEADER_SIZE + FDT_RESERVE_ENTRY_SIZE - 1) & ~(FDT_RESERVE_ENTRY_SIZE - 1);

/** Largest buffer we accept (libfdt takes an int). */
const MAX_BUFSIZE = 0x7fffffff;

/** Options of `FdtSw.create` (libfdt's fdt_create_with_flags). */
export interface FdtSwOptions {
  /** FDT_CREATE_FLAG_NO_NAME_DEDUP: always append property names, never reuse. */
  noNameDedup?: boolean;
}

type SwState = 'memrsv' | 'struct' | 'done';

/** A blob under construction in sequential-write mode. */
export class FdtSw {
  #buf: Uint8Array;
  #offStruct = SW_HEADER_SIZE;
  #sizeStruct = 0;
  #sizeStrings = 0;
  #state: SwState = 'memrsv';
  #depth = 0;
  #rootDone = false;
  readonly #dedup: boolean;
  /** Positions (absolute) of PROP tokens, whose name offsets `finish` rebases. */
  #props: number[] = [];
  /** Name lookups already answered: name bytes (as a binary string) -> offset from buffer end. */
  #found = new Map<string, number>();
  /** Property names already encoded: name -> [bytes, binary-string key]. */
  #encoded = new Map<string, [Uint8Array, string]>();
  #bootCpuidPhys = 0;
  #result: Uint8Array | null = null;

  private constructor(bufsize: number, dedup: boolean) {
    this.#buf = allocBuffer(bufsize);
    this.#dedup = dedup;
  }

  /** fdt_create: start a blob in a zeroed buffer of `bufsize` bytes (FDT_ERR_NOSPACE if below 48). */
  static create(bufsize: number, options: FdtSwOptions = {}): FdtSw {
    if (!Number.isSafeInteger(bufsize) || bufsize < SW_HEADER_SIZE || bufsize > MAX_BUFSIZE) {
      throw new FdtError('FDT_ERR_NOSPACE', -1, `buffer size ${bufsize} cannot hold a devicetree`);
    }
    return new FdtSw(bufsize, options.noNameDedup !== true);
  }

  /**
   * The whole working buffer (live). After `finish` it holds exactly what libfdt's buffer holds:
   * the blob, then free space that still ends with the strings table's old copy (fdt_finish
   * moves the strings down without clearing their source).
   */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /** Bytes of the buffer (its size). */
  get bufsize(): number {
    return this.#buf.length;
  }

  /** Header `boot_cpuid_phys` to write (libfdt: fdt_set_boot_cpuid_phys on the buffer). */
  setBootCpuidPhys(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu > 0xffffffff) {
      throw new FdtError('FDT_ERR_BADVALUE', -1, `boot_cpuid_phys ${cpu} is not a u32`);
    }
    this.#bootCpuidPhys = cpu;
  }

  #expect(state: SwState, what: string): void {
    if (this.#state !== state) {
      throw new FdtError(
        'FDT_ERR_BADSTATE',
        -1,
        `${what} is not allowed ${this.#state === 'done' ? 'after finish' : `in the ${this.#state} phase`}`,
      );
    }
  }

  /** fdt_add_reservemap_entry: one (address, size) entry, before finishReservemap. */
  addReservemapEntry(address: number | bigint, size: number | bigint): void {
    this.#expect('memrsv', 'addReservemapEntry');
    checkU64(address, 'address');
    checkU64(size, 'size');
    this.#addRsv(address, size);
  }

  #addRsv(address: number | bigint, size: number | bigint): void {
    const off = this.#offStruct;
    if (off + FDT_RESERVE_ENTRY_SIZE > this.#buf.length) {
      throw new FdtError('FDT_ERR_NOSPACE', off, 'no room for a reservation entry');
    }
    setBe64(this.#buf, off, address);
    setBe64(this.#buf, off + 8, size);
    this.#offStruct = off + FDT_RESERVE_ENTRY_SIZE;
  }

  /** fdt_finish_reservemap: write the terminating entry; the structure block starts after it. */
  finishReservemap(): void {
    this.#expect('memrsv', 'finishReservemap');
    this.#addRsv(0, 0);
    this.#state = 'struct';
  }

  /** fdt_grab_space_: reserve `len` bytes at the top of the structure block; returns their position. */
  #grab(len: number): number {
    const offset = this.#sizeStruct;
    const spaceleft = this.#buf.length - this.#offStruct - this.#sizeStrings;
    if (offset + len > spaceleft) {
      throw new FdtError(
        'FDT_ERR_NOSPACE',
        this.#offStruct + offset,
        `no room for ${len} more structure bytes`,
      );
    }
    this.#sizeStruct = offset + len;
    return this.#offStruct + offset;
  }

  /** fdt_begin_node: open a node (the first one is the root, whose name must be empty). */
  beginNode(name: string): void {
    this.#expect('struct', 'beginNode');
    const nb = nameBytes(name, 'node name');
    if (this.#depth === 0) {
      if (this.#rootDone) throw new FdtError('FDT_ERR_BADSTRUCTURE', -1, 'a second root node');
      if (nb.length !== 0) throw new FdtError('FDT_ERR_BADSTRUCTURE', -1, 'the root node name must be empty');
    }
    const p = this.#grab(4 + tagAlign(nb.length + 1));
    setBe32(this.#buf, p, FDT_BEGIN_NODE);
    this.#buf.set(nb, p + 4);
    this.#buf[p + 4 + nb.length] = 0;
    this.#depth++;
  }

  /** fdt_end_node: close the innermost open node. */
  endNode(): void {
    this.#expect('struct', 'endNode');
    if (this.#depth === 0) throw new FdtError('FDT_ERR_BADSTRUCTURE', -1, 'endNode without an open node');
    setBe32(this.#buf, this.#grab(4), FDT_END_NODE);
    this.#depth--;
    if (this.#depth === 0) this.#rootDone = true;
  }

  /** fdt_add_string_: prepend to the strings table; returns the (negative) offset from the end. */
  #addString(s: Uint8Array): number {
    const offset = this.#sizeStrings + s.length + 1;
    const structTop = this.#offStruct + this.#sizeStruct;
    if (this.#buf.length - offset < structTop) {
      throw new FdtError(
        'FDT_ERR_NOSPACE',
        structTop,
        `no room for the string table entry of ${s.length + 1} bytes`,
      );
    }
    const at = this.#buf.length - offset;
    this.#buf.set(s, at);
    this.#buf[at + s.length] = 0;
    this.#sizeStrings = offset;
    return -offset;
  }

  /** fdt_find_add_string_: reuse the first occurrence of `s` NUL in the table, else prepend. */
  #findAddString(s: Uint8Array, key: string): { off: number; allocated: boolean } {
    const cached = this.#found.get(key);
    if (cached !== undefined) return { off: cached, allocated: false };
    const end = this.#buf.length;
    const p = findString(this.#buf, end - this.#sizeStrings, this.#sizeStrings, s);
    if (p >= 0) {
      this.#found.set(key, p - end);
      return { off: p - end, allocated: false };
    }
    const off = this.#addString(s);
    // The new string sits lowest, so it is now the first match for itself and its tails.
    for (const [k] of this.#found) if (key.endsWith(k)) this.#found.set(k, off + key.length - k.length);
    this.#found.set(key, off);
    return { off, allocated: true };
  }

  /** fdt_property: add a property with raw value bytes to the open node. */
  property(name: string, value: Uint8Array): void {
    this.#expect('struct', 'property');
    if (this.#depth === 0) throw new FdtError('FDT_ERR_BADSTRUCTURE', -1, 'property outside any node');
    if (!(value instanceof Uint8Array))
      throw new FdtError('FDT_ERR_BADVALUE', -1, `value of ${name} is not bytes`);
    let enc = this.#encoded.get(name);
    if (enc === undefined) {
      const b = nameBytes(name, 'property name');
      let key = '';
      for (let i = 0; i < b.length; i++) key += String.fromCharCode(b[i]!);
      enc = [b, key];
      this.#encoded.set(name, enc);
    }
    const nb = enc[0];
    let nameoff: number;
    let allocated: boolean;
    if (this.#dedup) {
      ({ off: nameoff, allocated } = this.#findAddString(nb, enc[1]));
    } else {
      nameoff = this.#addString(nb);
      allocated = true;
    }
    let p: number;
    try {
      p = this.#grab(12 + tagAlign(value.length));
    } catch (e) {
      // Roll the new name back out of the table (its bytes stay in the buffer, as in libfdt).
      if (allocated) {
        this.#sizeStrings -= nb.length + 1;
        this.#found.clear();
      }
      throw e;
    }
    setBe32(this.#buf, p, FDT_PROP);
    setBe32(this.#buf, p + 4, value.length);
    setBe32(this.#buf, p + 8, nameoff);
    const buf = this.#buf;
    // TypedArray.set has a high fixed cost; most values are a few cells.
    if (value.length <= 32) for (let i = 0; i < value.length; i++) buf[p + 12 + i] = value[i]!;
    else buf.set(value, p + 12);
    this.#props.push(p);
  }

  /** A string property (value = UTF-8 bytes plus NUL). */
  propertyString(name: string, value: string): void {
    const b = encodeText(value);
    const v = new Uint8Array(b.length + 1);
    v.set(b);
    this.property(name, v);
  }

  /** A one-cell big-endian u32 property. */
  propertyU32(name: string, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new FdtError('FDT_ERR_BADVALUE', -1, `${name}: ${value} is not a u32`);
    }
    const v = new Uint8Array(4);
    setBe32(v, 0, value);
    this.property(name, v);
  }

  /** A big-endian u64 property. */
  propertyU64(name: string, value: number | bigint): void {
    checkU64(value, name);
    const v = new Uint8Array(8);
    setBe64(v, 0, value);
    this.property(name, v);
  }

  /**
   * fdt_resize (sequential-write mode): move the work into a new zeroed buffer of `bufsize`
   * bytes, structure at the start and strings at the new end.
   */
  resize(bufsize: number): void {
    if (this.#state === 'done') throw new FdtError('FDT_ERR_BADSTATE', -1, 'resize after finish');
    const head = this.#offStruct + this.#sizeStruct;
    const tail = this.#sizeStrings;
    if (!Number.isSafeInteger(bufsize) || bufsize < 0 || bufsize > MAX_BUFSIZE || head + tail > bufsize) {
      throw new FdtError('FDT_ERR_NOSPACE', -1, `buffer size ${bufsize} cannot hold ${head + tail} bytes`);
    }
    const nb = allocBuffer(bufsize);
    nb.set(this.#buf.subarray(0, head));
    nb.set(this.#buf.subarray(this.#buf.length - tail), bufsize - tail);
    this.#buf = nb;
  }

  /**
   * fdt_finish: append END, move the strings after the structure, fix name offsets and the
   * header. Returns the finished blob (totalsize bytes; a copy).
   */
  finish(): Uint8Array {
    if (this.#result !== null) return this.#result.slice();
    this.#expect('struct', 'finish');
    if (this.#depth !== 0)
      throw new FdtError('FDT_ERR_BADSTRUCTURE', -1, `finish with ${this.#depth} node(s) still open`);
    if (!this.#rootDone) throw new FdtError('FDT_ERR_BADSTRUCTURE', -1, 'finish without a root node');
    const b = this.#buf;
    setBe32(b, this.#grab(4), FDT_END);
    const oldStr = b.length - this.#sizeStrings;
    const newStr = this.#offStruct + this.#sizeStruct;
    b.copyWithin(newStr, oldStr, oldStr + this.#sizeStrings);
    for (const p of this.#props) {
      const nameoff =
        ((b[p + 8]! << 24) | (b[p + 9]! << 16) | (b[p + 10]! << 8) | b[p + 11]!) + this.#sizeStrings;
      setBe32(b, p + 8, nameoff);
    }
    const totalsize = newStr + this.#sizeStrings;
    setBe32(b, HDR_MAGIC, FDT_MAGIC);
    setBe32(b, HDR_TOTALSIZE, totalsize);
    setBe32(b, HDR_OFF_DT_STRUCT, this.#offStruct);
    setBe32(b, HDR_OFF_DT_STRINGS, newStr);
    setBe32(b, HDR_OFF_MEM_RSVMAP, SW_HEADER_SIZE);
    setBe32(b, HDR_VERSION, FDT_LAST_SUPPORTED_VERSION);
    setBe32(b, HDR_LAST_COMP_VERSION, FDT_LAST_COMPATIBLE_VERSION);
    setBe32(b, HDR_BOOT_CPUID_PHYS, this.#bootCpuidPhys);
    setBe32(b, HDR_SIZE_DT_STRINGS, this.#sizeStrings);
    setBe32(b, HDR_SIZE_DT_STRUCT, this.#sizeStruct);
    this.#state = 'done';
    this.#result = b.slice(0, totalsize);
    return this.#result.slice();
  }
}
