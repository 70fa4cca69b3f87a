/**
 * The JSON shapes of the `kho serve` API (docs/serve.md). The page (web/) imports these as
 * types only. Physical addresses are JSON numbers: exact, since they stay below 2^52.
 */

/** `GET /api/summary`. */
export interface SummaryJson {
  /** `machine`: a live simulated machine with a terminal; `inspect`: real data, read-only. */
  mode: 'machine' | 'inspect';
  /** Bumped after every command typed in the terminal; views refetch when it changes. */
  version: number;
  /** What is being shown, one line. */
  title: string;
  /** Running kernel (machine mode), or null. */
  kernel: {
    release: string;
    profile: string;
    cmdline: string;
    /** kexec count of the running kernel (0 after a cold boot). */
    generation: number;
    khoEnabled: boolean;
    khoBoot: boolean;
  } | null;
  /** Machine halted (panic) or no kernel running. */
  halted: boolean;
  /** Address span the map shows: [start, end). */
  span: { start: number; end: number };
  /** NUMA nodes and their RAM ranges (inspect mode: one pseudo node -1 per image range). */
  nodes: { nid: number; bytes: number; ranges: { start: number; end: number }[] }[];
  /** Who owns preserved memory, where known (index = owner id in the map). */
  owners: { id: number; name: string; kind: string; bytes: number }[];
  /** Preserved blocks per order (outgoing memory map). */
  orders: { order: number; count: number; bytes: number }[];
  preserved: { blocks: number; bytes: number; complete: boolean } | null;
  findings: { severity: string; code: string; message: string; at: string }[];
  /** Whether a LUO view has data. */
  luo: boolean;
}

/** Layers of the map, each binned as bytes per bin. */
export const MAP_LAYERS = [
  'ram',
  'scratch',
  'kernel',
  'segment',
  'poisoned',
  'incoming',
  'restored',
  'preserved',
  'tracker',
  'fdt',
] as const;

/** One map layer name. */
export type MapLayer = (typeof MAP_LAYERS)[number];

/** One item drawn individually when a view is small enough. */
export interface MapItem {
  kind: 'block' | 'tracker' | 'segment' | 'scratch' | 'fdt' | 'incoming' | 'kernel';
  start: number;
  size: number;
  /** Block order (blocks, incoming blocks). */
  order?: number;
  /** Owner id (blocks), -1 unknown. */
  owner?: number;
  /** Radix level 5..0 or v1 kind (tracker pages). */
  level?: number;
  /** Label: segment role, tracker kind, owner name. */
  label?: string;
  /** Incoming blocks: restored by a consumer in this kernel. */
  restored?: boolean;
}

/** `GET /api/map?start=&end=&bins=`. */
export interface MapJson {
  version: number;
  /** First bin's address (the requested start rounded down to `binSize`). */
  start: number;
  /** Bytes per bin: a power of two, at least 4096. */
  binSize: number;
  count: number;
  /** Bytes of each layer in each bin. */
  layers: Record<MapLayer, number[]>;
  /** NUMA node with the most RAM in each bin, -1 for none. */
  node: number[];
  /** Order with the most preserved bytes in each bin, -1 for none. */
  order: number[];
  /** Owner with the most preserved bytes in each bin, -1 for none or unknown. */
  owner: number[];
  /** Items intersecting the view, when there are at most `MAP_ITEM_LIMIT` of them; else null. */
  items: MapItem[] | null;
  /** How many items intersect the view. */
  itemCount: number;
}

/** `GET /api/page?addr=`. */
export interface PageJson {
  phys: number;
  pfn: number;
  /** NUMA node, -1 when not System RAM. */
  node: number;
  ram: boolean;
  /**
   * `touched`: stored bytes; `described`: generated content kept as a description (a pattern or
   * seeded random stream); `zero`: never written; `poisoned`: reads as 0xaa (sanitizer);
   * `absent`: not in the image.
   */
  state: 'touched' | 'described' | 'zero' | 'poisoned' | 'absent';
  /** `page->private` (hex) and refcount of the running kernel's `struct page`, when tracked. */
  pagePrivate: string | null;
  refcount: number | null;
  /** The preserved block containing the page (outgoing), if any. */
  block: { phys: number; order: number; owner: number; ownerName: string | null } | null;
  /** The predecessor's preserved block containing the page (what this kernel reserved). */
  incoming: { phys: number; order: number; restored: boolean } | null;
  /** A tracker page: its kind and level. */
  tracker: { kind: string; level: number } | null;
  /** Other layers at this page: scratch, kernel, segment role, fdt. */
  tags: string[];
  /** `hexdump -C` of the whole page (absent pages: null). */
  hexdump: string | null;
}

/** `GET /api/radix`. */
export interface RadixJson {
  version: number;
  format: 'radix' | 'chunks' | null;
  root: number | null;
  /** Node pages per level (5 = root … 0 = leaves; v1: chunk/bitmap counts as levels). */
  levels: { level: number; pages: number }[];
  /** Leaves in address order (at most 4096): address, order, set bits of 32768, covered range. */
  leaves: { phys: number; order: number; bits: number; first: number; span: number }[];
  leafCount: number;
}

/** `GET /api/radix/key?addr=&order=`. */
export interface RadixKeyJson {
  phys: number;
  order: number;
  key: string;
  /** Index at each level from the root (level 5) down, the leaf bit last. */
  path: { level: number; index: number; node: number | null }[];
  bit: number;
  /** Whether the block is in the tree. */
  present: boolean;
}

/** `GET /api/fdt`. */
export interface FdtJson {
  version: number;
  blobs: {
    /** `out` (this kernel's hand-over) or `in` (from the predecessor). */
    side: 'out' | 'in';
    name: string;
    phys: number | null;
    size: number | null;
    kind: string;
    /** Annotated DTS (like `kho fdt dump --kho`), or a hexdump excerpt for non-FDT blobs. */
    text: string;
  }[];
}

/** One generation: a cold boot or a kexec'd kernel. */
export interface GenerationJson {
  index: number;
  kind: 'cold' | 'kexec';
  release: string;
  cmdline: string;
  /** kexec count the kernel booted with. */
  kexecCount: number;
  current: boolean;
  /** What it handed over at its jump (or holds preserved now, when current). */
  preserved: { blocks: number; bytes: number };
  /** What it received from its predecessor. */
  incoming: { blocks: number; bytes: number } | null;
  /** Received blocks restored by a consumer; lost: never restored (still reserved) or overwritten. */
  restored: { blocks: number; bytes: number } | null;
  lost: { blocks: number; bytes: number; overwrittenPages: number } | null;
  /** Sanitizer findings of the jump into this generation. */
  findings: { severity: string; kind: string; message: string }[];
  /** Wall seconds of the jump into this generation, per phase. */
  timings: { prepare: number; copy: number; sanitize: number; boot: number } | null;
  /** Pages poisoned at the jump into it (sanitizer), and successor reads of poisoned memory. */
  poisonedPages: number;
  unpreservedReads: number;
  /** Commands typed while it ran. */
  commands: { text: string; status: number; seconds: number }[];
}

/** `GET /api/generations`. */
export interface GenerationsJson {
  version: number;
  generations: GenerationJson[];
}

/** Messages from the page's terminal to the server (WebSocket, JSON text frames). */
export type TermClientMessage =
  | { t: 'line'; text: string }
  | { t: 'interrupt' }
  | { t: 'eof' }
  | { t: 'complete'; id: number; line: string }
  | { t: 'resize'; cols: number; rows: number };

/** Messages from the server to the page's terminal. */
export type TermServerMessage =
  | { t: 'out'; data: string }
  | { t: 'prompt'; prompt: string }
  | { t: 'busy' }
  | { t: 'complete'; id: number; matches: string[]; word: string }
  | { t: 'state'; version: number };

/** A file of a LUO session (`/api/luo`). */
export interface LuoFileJson {
  /** The token, `0x…`. */
  token: string;
  /** The handler's compatible (`memfd-v2`, …). */
  compatible: string;
  /** The memfd's size in bytes, null when not known (another handler). */
  size: number | null;
  /** `preserved` (outgoing); `not retrieved`, `retrieved`, `failed` (incoming); `handed over` (decoded from memory). */
  state: string;
}

/** A LUO session (`/api/luo`). */
export interface LuoSessionJson {
  name: string;
  /** `open` (outgoing); `available`, `retrieved` (incoming); `handed over` (decoded from memory). */
  state: string;
  /** Processes holding a descriptor of the session. */
  holders: { pid: number; comm: string }[];
  files: LuoFileJson[];
}

/** `/api/luo`: the Live Update Orchestrator's sessions. */
export interface LuoJson {
  version: number;
  /** LUO is on in this kernel (machine), or the hand-over has a `LUO` sub-tree (inspect). */
  available: boolean;
  mode: 'machine' | 'inspect';
  /** The hand-over format of this kernel (`luo-v5`, `luo-v1`). */
  format: string | null;
  /** The incoming live update number (null on a cold boot). */
  liveupdateNumber: number | null;
  /** Sessions this kernel will hand over (those still open at kexec -e). */
  outgoing: LuoSessionJson[];
  /** Sessions from the previous kernel (inspect mode: the decoded hand-over). */
  incoming: LuoSessionJson[];
  /** The incoming sessions were decoded from memory (not yet deserialized by the kernel). */
  incomingDecoded: boolean;
}
