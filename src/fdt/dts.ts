/**
 * Devicetree source text, exactly as `dtc -I dtb -O dts` (dtc 1.6.1) prints a blob.
 *
 * A blob carries no type information, so dtc guesses each property's form from its bytes:
 * a string (with `\0` between list elements), 32-bit cells, or bytes. This module repeats that
 * guess and dtc's formatting byte for byte, including the one tree change dtc's checks make
 * on the way (a `name` property equal to the node's base name is dropped as redundant).
 */
import { collectText, TextChunker, type TextSink } from '../util/text-sink.ts';
import type { FdtNode, FdtProperty, FdtTree } from './tree.ts';

/** How dtc shows a property value it has no type markers for. */
export type DtsValueKind = 'empty' | 'string' | 'cells' | 'bytes';

/** C-locale `isprint`: space through tilde. */
function isPrint(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

/** dtc's `isstring`: printable, NUL, or one of the escapable controls `\a\b\t\n\v\f\r`. */
function isStringByte(c: number): boolean {
  return isPrint(c) || c === 0 || (c >= 0x07 && c <= 0x0d);
}

/**
 * dtc's guess for an untyped value: a string when it ends in NUL, holds only string bytes and
 * at least as many non-NUL bytes as NULs; else cells when the length is a multiple of 4;
 * else bytes.
 */
export function guessValueKind(value: Uint8Array): DtsValueKind {
  const len = value.length;
  if (len === 0) return 'empty';
  let nul = 0;
  let notString = 0;
  for (let i = 0; i < len; i++) {
    const c = value[i]!;
    if (c === 0) nul++;
    else if (!isStringByte(c)) notString++;
  }
  if (value[len - 1] === 0 && notString === 0 && nul <= len - nul) return 'string';
  return (len & 3) === 0 ? 'cells' : 'bytes';
}

/** Escapes dtc uses inside a quoted string (every other byte there is printable). */
const ESCAPES: Readonly<Record<number, string>> = {
  0x00: '\\0',
  0x07: '\\a',
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0b: '\\v',
  0x0c: '\\f',
  0x0d: '\\r',
  0x22: '\\"',
  0x5c: '\\\\',
};

/** Value bytes formatted per piece, so a value of any size streams in bounded pieces. */
export const SLICE = 1 << 14;

/** `"..."` for a value guessed as a string; inner NULs print as `\0`, as dtc 1.6.1 does. */
function writeString(value: Uint8Array, emit: (s: string) => void): void {
  emit('"');
  const end = value.length - 1;
  for (let at = 0; at < end; at += SLICE) {
    let piece = '';
    for (let i = at, stop = Math.min(end, at + SLICE); i < stop; i++) {
      const c = value[i]!;
      piece += ESCAPES[c] ?? String.fromCharCode(c);
    }
    emit(piece);
  }
  emit('"');
}

/** `<0x01 0x1234>`: big-endian cells, at least two hex digits each (dtc's `0x%02x`). */
function writeCells(value: Uint8Array, emit: (s: string) => void): void {
  emit('<');
  for (let at = 0; at < value.length; at += SLICE) {
    const words: string[] = [];
    for (let i = at, stop = Math.min(value.length, at + SLICE); i < stop; i += 4) {
      const w = ((value[i]! << 24) | (value[i + 1]! << 16) | (value[i + 2]! << 8) | value[i + 3]!) >>> 0;
      words.push(`0x${w.toString(16).padStart(2, '0')}`);
    }
    emit((at === 0 ? '' : ' ') + words.join(' '));
  }
  emit('>');
}

/**
 * The bytes as two-digit hex, separated by spaces (`00 1f a0`), in pieces: the body of dtc's
 * `[…]` and of the JSON form's `bytes`.
 */
export function writeHexBytes(value: Uint8Array, emit: (s: string) => void): void {
  for (let at = 0; at < value.length; at += SLICE) {
    const parts: string[] = [];
    for (let i = at, stop = Math.min(value.length, at + SLICE); i < stop; i++) parts.push(HEX2[value[i]!]!);
    emit((at === 0 ? '' : ' ') + parts.join(' '));
  }
}

/** Two-digit lowercase hex of every byte value. */
const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Stream the text after a property's name: `;` for an empty value, else ` = VALUE;`. Large
 * values come in pieces of a few tens of KiB.
 */
export function writePropertyValue(value: Uint8Array, emit: (s: string) => void): void {
  switch (guessValueKind(value)) {
    case 'empty':
      emit(';');
      return;
    case 'string':
      emit(' = ');
      writeString(value, emit);
      break;
    case 'cells':
      emit(' = ');
      writeCells(value, emit);
      break;
    case 'bytes':
      emit(' = [');
      writeHexBytes(value, emit);
      emit(']');
      break;
  }
  emit(';');
}

/** The text after a property's name: `;` for an empty value, else ` = VALUE;`. */
export function formatPropertyValue(value: Uint8Array): string {
  return collectText((sink) => {
    writePropertyValue(value, sink);
  });
}

/** True when a value is exactly one NUL-terminated string (dtc's `data_is_one_string`). */
function isOneString(value: Uint8Array): boolean {
  const len = value.length;
  if (len === 0 || value[len - 1] !== 0) return false;
  return value.indexOf(0) === len - 1;
}

/** Characters dtc's checks accept in property names (`PROPNODECHARS`); node names add `@`. */
const PROP_NAME_CHARS = /^[a-zA-Z0-9,._+*#?-]*$/;
const NODE_NAME_CHARS = /^[a-zA-Z0-9,._+*#?@-]*$/;

/**
 * True when none of the error-level checks dtc runs before `name_properties` fails:
 * `duplicate_node_names`, `duplicate_property_names`, `node_name_chars`, `node_name_format`,
 * `property_name_chars`, `name_is_string`. dtc stops running checks after the first error, so
 * only then does it reach the pass that drops redundant `name` properties.
 */
function reachesNamePropertiesCheck(root: FdtNode): boolean {
  const stack: FdtNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (!NODE_NAME_CHARS.test(node.name)) return false;
    const at = node.name.indexOf('@');
    if (at >= 0 && node.name.indexOf('@', at + 1) >= 0) return false;
    const propNames = new Set<string>();
    let first: FdtProperty | undefined;
    for (const prop of node.props) {
      if (propNames.has(prop.name) || !PROP_NAME_CHARS.test(prop.name)) return false;
      propNames.add(prop.name);
      if (prop.name === 'name' && first === undefined) first = prop;
    }
    if (first !== undefined && !isOneString(first.value)) return false;
    const childNames = new Set<string>();
    for (const child of node.children) {
      if (childNames.has(child.name)) return false;
      childNames.add(child.name);
      stack.push(child);
    }
  }
  return true;
}

/**
 * dtc's `name_properties` check deletes a node's first `name` property when it equals the
 * base name (before `@`) plus NUL; it runs only when the checks before it passed.
 */
function redundantNameProps(root: FdtNode): Set<FdtProperty> {
  const drop = new Set<FdtProperty>();
  if (!reachesNamePropertiesCheck(root)) return drop;
  const stack: FdtNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const prop = node.props.find((p) => p.name === 'name');
    if (prop !== undefined) {
      const at = node.name.indexOf('@');
      const base = at < 0 ? node.name : node.name.slice(0, at);
      if (prop.value.length === base.length + 1 && latin1(prop.value, base.length) === base) drop.add(prop);
    }
    for (const child of node.children) stack.push(child);
  }
  return drop;
}

function latin1(bytes: Uint8Array, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** `/memreserve/\t0x%016llx 0x%016llx;` */
function formatMemreserve(address: bigint, size: bigint): string {
  const h = (x: bigint) => `0x${BigInt.asUintN(64, x).toString(16).padStart(16, '0')}`;
  return `/memreserve/\t${h(address)} ${h(size)};\n`;
}

/** A property annotation hook: a comment (without the leading space) for a property's line. */
export type DtsAnnotate = (path: readonly string[], prop: FdtProperty) => string | undefined;

/**
 * Stream a tree as `dtc -I dtb -O dts` (dtc 1.6.1) prints its blob: header line, blank line,
 * memreserve lines, then the nodes indented with tabs, properties before children and a blank
 * line before each child node. The text reaches `sink` in chunks of about 64 KiB, so a tree of
 * any depth or size prints with bounded memory (dtc prints a 40,000-deep blob as 1.6 GB).
 *
 * @param annotate optional hook returning a comment to append to a property's line; used by
 *   `kho fdt dump --kho`. `path` holds the node names from the root and is only valid during
 *   the call.
 */
export function writeDts(tree: FdtTree, sink: TextSink, annotate?: DtsAnnotate): void {
  const out = new TextChunker(sink);
  const emit = (s: string): void => {
    out.push(s);
  };
  emit('/dts-v1/;\n\n');
  for (const r of tree.memreserve) emit(formatMemreserve(r.address, r.size));
  const drop = redundantNameProps(tree.root);
  // Iterative walk: a valid blob may nest far deeper than the JS stack allows.
  type Frame = { node: FdtNode; indent: string; next: number };
  const path: string[] = [];
  const open = (node: FdtNode, indent: string): Frame => {
    emit(`${indent}${node.name === '' ? '/' : node.name} {\n`);
    for (const prop of node.props) {
      if (drop.has(prop)) continue;
      emit(`${indent}\t${prop.name}`);
      writePropertyValue(prop.value, emit);
      const note = annotate?.(path, prop);
      emit(note === undefined ? '\n' : ` ${note}\n`);
    }
    return { node, indent, next: 0 };
  };
  const stack: Frame[] = [open(tree.root, '')];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const child = top.node.children[top.next];
    if (child === undefined) {
      emit(`${top.indent}};\n`);
      stack.pop();
      path.pop();
      continue;
    }
    top.next++;
    emit('\n');
    path.push(child.name);
    stack.push(open(child, `${top.indent}\t`));
  }
  out.flush();
}

/**
 * The whole DTS text of a tree as one string (see {@link writeDts}); for trees whose text fits
 * in memory.
 */
export function toDts(tree: FdtTree, annotate?: DtsAnnotate): string {
  return collectText((sink) => {
    writeDts(tree, sink, annotate);
  });
}
