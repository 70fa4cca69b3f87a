/**
 * Devicetree source text, exactly as `dtc -I dtb -O dts` (dtc 1.6.1) prints a blob.
 *
 * A blob carries no type information, so dtc guesses each property's form from its bytes:
 * a string (with `\0` between list elements), 32-bit cells, or bytes. This module repeats that
 * guess and dtc's formatting byte for byte, including the one tree change dtc's checks make
 * on the way (a `name` property equal to the node's base name is dropped as redundant).
 */
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

/** `"..."` for a value guessed as a string; inner NULs print as `\0`, as dtc 1.6.1 does. */
function formatString(value: Uint8Array): string {
  let out = '"';
  for (let i = 0; i < value.length - 1; i++) {
    const c = value[i]!;
    out += ESCAPES[c] ?? String.fromCharCode(c);
  }
  return out + '"';
}

/** `<0x01 0x1234>`: big-endian cells, at least two hex digits each (dtc's `0x%02x`). */
function formatCells(value: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < value.length; i += 4) {
    const w = ((value[i]! << 24) | (value[i + 1]! << 16) | (value[i + 2]! << 8) | value[i + 3]!) >>> 0;
    words.push(`0x${w.toString(16).padStart(2, '0')}`);
  }
  return `<${words.join(' ')}>`;
}

/** `[00 1f]`: one two-digit hex byte each. */
function formatBytes(value: Uint8Array): string {
  const parts: string[] = [];
  for (const b of value) parts.push(b.toString(16).padStart(2, '0'));
  return `[${parts.join(' ')}]`;
}

/** The text after a property's name: `;` for an empty value, else ` = VALUE;`. */
export function formatPropertyValue(value: Uint8Array): string {
  switch (guessValueKind(value)) {
    case 'empty':
      return ';';
    case 'string':
      return ` = ${formatString(value)};`;
    case 'cells':
      return ` = ${formatCells(value)};`;
    case 'bytes':
      return ` = ${formatBytes(value)};`;
  }
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

/**
 * Print a tree as `dtc -I dtb -O dts` (dtc 1.6.1) prints its blob: header line, blank line,
 * memreserve lines, then the nodes indented with tabs, properties before children and a blank
 * line before each child node.
 *
 * @param tree the tree as read from the blob
 * @param annotate optional hook returning a comment (without the leading space) to append to a
 *   property's line; used by `kho fdt dump --kho`. Return `undefined` to add nothing.
 */
export function toDts(
  tree: FdtTree,
  annotate?: (path: readonly string[], prop: FdtProperty) => string | undefined,
): string {
  const out: string[] = ['/dts-v1/;\n\n'];
  for (const r of tree.memreserve) out.push(formatMemreserve(r.address, r.size));
  const drop = redundantNameProps(tree.root);
  // Iterative walk: a hostile blob may nest deeper than the JS stack allows.
  type Frame = { node: FdtNode; depth: number; path: string[]; next: number };
  const open = (node: FdtNode, depth: number, path: string[]): Frame => {
    const indent = '\t'.repeat(depth);
    out.push(`${indent}${node.name === '' ? '/' : node.name} {\n`);
    for (const prop of node.props) {
      if (drop.has(prop)) continue;
      const note = annotate?.(path, prop);
      out.push(`${indent}\t${prop.name}${formatPropertyValue(prop.value)}`);
      out.push(note === undefined ? '\n' : ` ${note}\n`);
    }
    return { node, depth, path, next: 0 };
  };
  const stack: Frame[] = [open(tree.root, 0, [])];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const child = top.node.children[top.next];
    if (child === undefined) {
      out.push(`${'\t'.repeat(top.depth)}};\n`);
      stack.pop();
      continue;
    }
    top.next++;
    out.push('\n');
    stack.push(open(child, top.depth + 1, annotate === undefined ? top.path : [...top.path, child.name]));
  }
  return out.join('');
}
