/**
 * A readable, lossless JSON form of a devicetree (`kho fdt dump --json` / `kho fdt build`).
 *
 * Each property carries its value in exactly one tagged form, chosen the way dtc chooses its
 * DTS form: `string`/`strings` (NUL-terminated text), `cells` (big-endian u32s) or `bytes`
 * (hex); no value key means an empty property. Every form maps back to the same bytes, so
 * `jsonToTree(treeToJson(t))` equals `t`. The schema is documented in docs/fdt.md.
 */
import { guessValueKind, SLICE, writeHexBytes } from './dts.ts';
import { collectText, TextChunker, type TextSink } from '../util/text-sink.ts';
import type { FdtNode, FdtProperty, FdtReserveEntry, FdtTree } from './tree.ts';

/** The value of the `format` field: names the schema and its revision. */
export const FDT_JSON_FORMAT = 'kho-fdt/1';

/** A property in JSON form: `name` plus at most one value key; `comment` is ignored on input. */
export interface FdtJsonProp {
  name: string;
  string?: string;
  strings?: string[];
  cells?: string[];
  bytes?: string;
  comment?: string;
}

/** A node in JSON form. */
export interface FdtJsonNode {
  name: string;
  props: FdtJsonProp[];
  children: FdtJsonNode[];
}

/** A reservation entry; 64-bit values as `0x` hex strings. */
export interface FdtJsonReserve {
  address: string;
  size: string;
}

/** The whole document. */
export interface FdtJson {
  format: typeof FDT_JSON_FORMAT;
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  memreserve: FdtJsonReserve[];
  root: FdtJsonNode;
  comment?: string;
}

/** Bad JSON input: `path` says where (e.g. `root.children[0].props[2].cells[1]`). */
export class FdtJsonError extends Error {
  readonly path: string;
  /** The message without the path. */
  readonly detail: string;
  constructor(path: string, detail: string) {
    super(path === '' ? detail : `${path}: ${detail}`);
    this.name = 'FdtJsonError';
    this.path = path;
    this.detail = detail;
  }
}

/** Options for {@link treeToJson}. */
export interface TreeToJsonOptions {
  /** Returns a note to store in a property's `comment` (e.g. KHO decoding), or undefined. */
  comment?: (path: readonly string[], prop: FdtProperty) => string | undefined;
  /** A document-level `comment`. */
  docComment?: string;
}

// ---------------------------------------------------------------------------------------------
// tree → JSON

function asciiOf(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** A property's JSON form, in the value form dtc would pick. */
export function propToJson(prop: FdtProperty): FdtJsonProp {
  const v = prop.value;
  switch (guessValueKind(v)) {
    case 'empty':
      return { name: prop.name };
    case 'string': {
      // dtc's string guess admits only ASCII bytes, so char codes are the bytes
      const parts = asciiOf(v, 0, v.length - 1).split('\0');
      return parts.length === 1
        ? { name: prop.name, string: parts[0]! }
        : { name: prop.name, strings: parts };
    }
    case 'cells': {
      const cells: string[] = [];
      for (let i = 0; i < v.length; i += 4) {
        const w = ((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0;
        cells.push(`0x${w.toString(16)}`);
      }
      return { name: prop.name, cells };
    }
    case 'bytes':
      return {
        name: prop.name,
        bytes: collectText((sink) => {
          writeHexBytes(v, sink);
        }),
      };
  }
}

const hex64 = (x: bigint): string => `0x${BigInt.asUintN(64, x).toString(16)}`;

/** The JSON form of a tree (a plain object; {@link writeTreeJson} streams the same document as text). */
export function treeToJson(tree: FdtTree, options: TreeToJsonOptions = {}): FdtJson {
  const { comment } = options;
  const convert = (node: FdtNode, path: readonly string[]): FdtJsonNode => ({
    name: node.name,
    props: node.props.map((p) => {
      const j = propToJson(p);
      const note = comment?.(path, p);
      if (note !== undefined) j.comment = note;
      return j;
    }),
    children: [],
  });
  const root = convert(tree.root, []);
  // iterative: blobs may nest deeper than the JS stack
  const stack: { node: FdtNode; json: FdtJsonNode; path: readonly string[] }[] = [
    { node: tree.root, json: root, path: [] },
  ];
  while (stack.length > 0) {
    const { node, json, path } = stack.pop()!;
    for (const child of node.children) {
      const childPath = comment === undefined ? path : [...path, child.name];
      const cj = convert(child, childPath);
      json.children.push(cj);
      stack.push({ node: child, json: cj, path: childPath });
    }
  }
  const doc: FdtJson = {
    format: FDT_JSON_FORMAT,
    version: tree.version,
    lastCompVersion: tree.lastCompVersion,
    bootCpuidPhys: tree.bootCpuidPhys,
    memreserve: tree.memreserve.map((r) => ({ address: hex64(r.address), size: hex64(r.size) })),
    root,
  };
  if (options.docComment !== undefined) doc.comment = options.docComment;
  return doc;
}

/**
 * One property on one line, streamed: `{ "name": "reg", "cells": ["0x0", "0x1000"] }`, the
 * same text as `propToJson` gives, with large values in pieces.
 */
function writePropJson(prop: FdtProperty, note: string | undefined, emit: (s: string) => void): void {
  emit(`{ "name": ${JSON.stringify(prop.name)}`);
  const v = prop.value;
  switch (guessValueKind(v)) {
    case 'empty':
      break;
    case 'string': {
      // dtc's string guess admits only ASCII bytes, so char codes are the bytes
      const list = v.indexOf(0) < v.length - 1;
      emit(list ? ', "strings": ["' : ', "string": "');
      const end = v.length - 1;
      for (let at = 0; at < end; at += SLICE) {
        const stop = Math.min(end, at + SLICE);
        let from = at;
        for (let i = at; i <= stop; i++) {
          if (i < stop && v[i] !== 0) continue;
          if (i > from) emit(JSON.stringify(asciiOf(v, from, i)).slice(1, -1));
          if (i < stop) emit('", "');
          from = i + 1;
        }
      }
      emit(list ? '"]' : '"');
      break;
    }
    case 'cells':
      emit(', "cells": [');
      for (let at = 0; at < v.length; at += SLICE) {
        const words: string[] = [];
        for (let i = at, stop = Math.min(v.length, at + SLICE); i < stop; i += 4) {
          const w = ((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0;
          words.push(`"0x${w.toString(16)}"`);
        }
        emit((at === 0 ? '' : ', ') + words.join(', '));
      }
      emit(']');
      break;
    case 'bytes':
      emit(', "bytes": "');
      writeHexBytes(v, emit);
      emit('"');
      break;
  }
  if (note !== undefined) emit(`, "comment": ${JSON.stringify(note)}`);
  emit(' }');
}

/**
 * Stream the JSON text of a tree (the document {@link treeToJson} builds): two-space
 * indentation, one property per line, trailing newline. Iterative, in chunks of about 64 KiB,
 * so trees of any depth and values of any size print with bounded memory.
 */
export function writeTreeJson(tree: FdtTree, sink: TextSink, options: TreeToJsonOptions = {}): void {
  const out = new TextChunker(sink);
  const emit = (s: string): void => {
    out.push(s);
  };
  emit('{\n');
  if (options.docComment !== undefined) emit(`  "comment": ${JSON.stringify(options.docComment)},\n`);
  emit(`  "format": ${JSON.stringify(FDT_JSON_FORMAT)},\n`);
  emit(`  "version": ${tree.version},\n`);
  emit(`  "lastCompVersion": ${tree.lastCompVersion},\n`);
  emit(`  "bootCpuidPhys": ${tree.bootCpuidPhys},\n`);
  if (tree.memreserve.length === 0) emit('  "memreserve": [],\n');
  else
    emit(
      `  "memreserve": [\n${tree.memreserve.map((r) => `    { "address": "${hex64(r.address)}", "size": "${hex64(r.size)}" }`).join(',\n')}\n  ],\n`,
    );
  emit('  "root": ');
  const path: string[] = [];
  type Frame = { node: FdtNode; ind: string; next: number };
  /** A node up to its children; returns null when it has none (it is closed already). */
  const open = (node: FdtNode, ind: string): Frame | null => {
    emit(`{\n${ind}  "name": ${JSON.stringify(node.name)},\n`);
    if (node.props.length === 0) emit(`${ind}  "props": [],\n`);
    else {
      emit(`${ind}  "props": [\n`);
      node.props.forEach((p, i) => {
        emit(`${ind}    `);
        writePropJson(p, options.comment?.(path, p), emit);
        emit(i === node.props.length - 1 ? '\n' : ',\n');
      });
      emit(`${ind}  ],\n`);
    }
    if (node.children.length === 0) {
      emit(`${ind}  "children": []\n${ind}}`);
      return null;
    }
    emit(`${ind}  "children": [\n`);
    return { node, ind, next: 0 };
  };
  const stack: Frame[] = [];
  const first = open(tree.root, '  ');
  if (first !== null) stack.push(first);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const child = top.node.children[top.next];
    if (child === undefined) {
      emit(`\n${top.ind}  ]\n${top.ind}}`);
      stack.pop();
      path.pop();
      continue;
    }
    emit(top.next === 0 ? `${top.ind}    ` : `,\n${top.ind}    `);
    top.next++;
    path.push(child.name);
    const frame = open(child, `${top.ind}    `);
    if (frame === null) path.pop();
    else stack.push(frame);
  }
  emit('\n}\n');
  out.flush();
}

/** The JSON text of a tree as one string (see {@link writeTreeJson}). */
export function formatTreeJson(tree: FdtTree, options: TreeToJsonOptions = {}): string {
  return collectText((sink) => {
    writeTreeJson(tree, sink, options);
  });
}

// ---------------------------------------------------------------------------------------------
// JSON → tree (validating)

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `${typeof x} ${JSON.stringify(x)}`;
}

function expectObj(x: unknown, path: string, allowed: readonly string[]): Obj {
  if (!isObj(x)) throw new FdtJsonError(path, `expected an object, got ${describe(x)}`);
  for (const k of Object.keys(x)) {
    if (!allowed.includes(k)) {
      throw new FdtJsonError(path, `unknown key ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
    }
  }
  return x;
}

function expectArray(x: unknown, path: string): unknown[] {
  if (!Array.isArray(x)) throw new FdtJsonError(path, `expected an array, got ${describe(x)}`);
  return x as unknown[];
}

function expectName(x: unknown, path: string): string {
  if (typeof x !== 'string') throw new FdtJsonError(path, `expected a string, got ${describe(x)}`);
  if (x.includes('\0')) throw new FdtJsonError(path, 'a name cannot contain NUL');
  return x;
}

const HEX = /^0[xX][0-9a-fA-F]+$/;
const DEC = /^[0-9]+$/;

/** An unsigned integer of `bits` bits from a JSON integer or a hex/decimal string. */
function expectUint(x: unknown, path: string, bits: 32 | 64): bigint {
  const what = `an unsigned ${bits}-bit integer (a number, or a string like "0x1f")`;
  let v: bigint;
  if (typeof x === 'number') {
    if (!Number.isSafeInteger(x) || x < 0)
      throw new FdtJsonError(path, `expected ${what}, got ${describe(x)}`);
    v = BigInt(x);
  } else if (typeof x === 'string' && (HEX.test(x) || DEC.test(x))) {
    v = BigInt(x);
  } else {
    throw new FdtJsonError(path, `expected ${what}, got ${describe(x)}`);
  }
  if (v >> BigInt(bits) !== 0n) throw new FdtJsonError(path, `${x} does not fit in ${bits} bits`);
  return v;
}

function expectU32Number(x: unknown, path: string): number {
  return Number(expectUint(x, path, 32));
}

const utf8 = new TextEncoder();

function stringBytes(s: unknown, path: string, out: number[]): void {
  if (typeof s !== 'string') throw new FdtJsonError(path, `expected a string, got ${describe(s)}`);
  if (s.includes('\0'))
    throw new FdtJsonError(path, 'a string cannot contain NUL (use "strings" or "bytes")');
  for (const b of utf8.encode(s)) out.push(b);
  out.push(0);
}

function hexToBytes(x: unknown, path: string): Uint8Array {
  if (typeof x !== 'string') throw new FdtJsonError(path, `expected a hex string, got ${describe(x)}`);
  const digits = x.replace(/[\s:]/g, '');
  if (!/^[0-9a-fA-F]*$/.test(digits)) throw new FdtJsonError(path, 'expected hex digits (e.g. "00 1f a0")');
  if (digits.length % 2 !== 0) throw new FdtJsonError(path, 'odd number of hex digits');
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const VALUE_KEYS = ['string', 'strings', 'cells', 'bytes'] as const;

function jsonToProp(x: unknown, path: string): FdtProperty {
  const o = expectObj(x, path, ['name', ...VALUE_KEYS, 'comment']);
  const name = expectName(o['name'], `${path}.name`);
  const present = VALUE_KEYS.filter((k) => k in o);
  if (present.length > 1) throw new FdtJsonError(path, `give one value form, not ${present.join(' and ')}`);
  const kind = present[0];
  if (kind === undefined) return { name, value: new Uint8Array(0) };
  const vpath = `${path}.${kind}`;
  const raw = o[kind];
  switch (kind) {
    case 'string': {
      const out: number[] = [];
      stringBytes(raw, vpath, out);
      return { name, value: Uint8Array.from(out) };
    }
    case 'strings': {
      const out: number[] = [];
      expectArray(raw, vpath).forEach((s, i) => {
        stringBytes(s, `${vpath}[${i}]`, out);
      });
      return { name, value: Uint8Array.from(out) };
    }
    case 'cells': {
      const cells = expectArray(raw, vpath);
      const value = new Uint8Array(cells.length * 4);
      const view = new DataView(value.buffer);
      cells.forEach((c, i) => {
        view.setUint32(i * 4, expectU32Number(c, `${vpath}[${i}]`), false);
      });
      return { name, value };
    }
    case 'bytes':
      return { name, value: hexToBytes(raw, vpath) };
  }
}

/** A node without its children (validated later, iteratively); error paths are relative. */
function jsonToNodeShallow(x: unknown): { node: FdtNode; children: unknown[] } {
  const o = expectObj(x, '', ['name', 'props', 'children', 'comment']);
  const name = expectName(o['name'], 'name');
  const props = o['props'] === undefined ? [] : expectArray(o['props'], 'props');
  const children = o['children'] === undefined ? [] : expectArray(o['children'], 'children');
  return {
    node: { name, props: props.map((p, i) => jsonToProp(p, `props[${i}]`)), children: [] },
    children,
  };
}

function jsonToReserve(x: unknown, path: string): FdtReserveEntry {
  const o = expectObj(x, path, ['address', 'size', 'comment']);
  const address = expectUint(o['address'], `${path}.address`, 64);
  const size = expectUint(o['size'], `${path}.size`, 64);
  if (size === 0n)
    throw new FdtJsonError(`${path}.size`, 'a reservation of size 0 would end the reservation map');
  return { address, size };
}

function optionalU32(o: Obj, key: string, fallback: number): number {
  return o[key] === undefined ? fallback : expectU32Number(o[key], key);
}

/**
 * Validate a parsed JSON value and turn it into a tree. Missing `version`,
 * `lastCompVersion`, `bootCpuidPhys`, `memreserve`, `props` and `children` take their usual
 * defaults (17, 16, 0, empty). Throws {@link FdtJsonError} naming the bad spot.
 */
export function jsonToTree(value: unknown): FdtTree {
  const o = expectObj(value, '', [
    'format',
    'version',
    'lastCompVersion',
    'bootCpuidPhys',
    'memreserve',
    'root',
    'comment',
  ]);
  if (o['format'] !== undefined && o['format'] !== FDT_JSON_FORMAT) {
    throw new FdtJsonError(
      'format',
      `expected ${JSON.stringify(FDT_JSON_FORMAT)}, got ${describe(o['format'])}`,
    );
  }
  if (o['root'] === undefined) throw new FdtJsonError('', 'missing "root" node');
  const memreserve =
    o['memreserve'] === undefined
      ? []
      : expectArray(o['memreserve'], 'memreserve').map((r, i) => jsonToReserve(r, `memreserve[${i}]`));
  // Node paths are a parent chain, spelled out only for an error: deep trees stay linear.
  type Chain = { parent: Chain | null; seg: string };
  const spell = (c: Chain | null): string => {
    const segs: string[] = [];
    for (let p = c; p !== null; p = p.parent) segs.push(p.seg);
    return segs.reverse().join('');
  };
  const shallow = (x: unknown, chain: Chain) => {
    try {
      return jsonToNodeShallow(x);
    } catch (err) {
      if (!(err instanceof FdtJsonError)) throw err;
      const at = spell(chain);
      throw new FdtJsonError(err.path === '' ? at : `${at}.${err.path}`, err.detail);
    }
  };
  const rootChain: Chain = { parent: null, seg: 'root' };
  const top = shallow(o['root'], rootChain);
  const stack: { node: FdtNode; children: unknown[]; chain: Chain }[] = [{ ...top, chain: rootChain }];
  while (stack.length > 0) {
    const { node, children, chain } = stack.pop()!;
    children.forEach((c, i) => {
      const childChain: Chain = { parent: chain, seg: `.children[${i}]` };
      const child = shallow(c, childChain);
      node.children.push(child.node);
      stack.push({ ...child, chain: childChain });
    });
  }
  return {
    version: optionalU32(o, 'version', 17),
    lastCompVersion: optionalU32(o, 'lastCompVersion', 16),
    bootCpuidPhys: optionalU32(o, 'bootCpuidPhys', 0),
    memreserve,
    root: top.node,
  };
}

/** Parse JSON text and validate it as a tree; syntax errors become {@link FdtJsonError} too. */
export function parseTreeJson(text: string): FdtTree {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FdtJsonError('', `not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return jsonToTree(value);
}
