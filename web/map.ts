/**
 * The physical memory map: a grid of cells in address order (64 per row), each cell a bin of a
 * power-of-two size that the server aggregates. The wheel zooms by two around the pointer
 * (from the whole machine down to one 4 KiB page per cell), dragging pans, a click selects a
 * cell; at page size a cell shows its page (address, `page->private`, hex). The view lives in
 * the URL hash (`#map?addr=0x…&bin=0x1000`), so addresses elsewhere link here.
 */
import type { MapItem, MapJson, PageJson, SummaryJson } from '../src/serve/api-types.ts';
import { api } from './api.ts';
import { count, el, esc, hex, size } from './format.ts';

const COLS = 64;
const GUTTER = 104;
const PAGE = 4096;

const COLOR = {
  hole: '#15171c',
  scratch: '#1f8a8a',
  kernel: '#6b7280',
  segment: '#ff9f1c',
  poisoned: '#5a2430',
  incoming: '#8b6cff',
  restored: '#3fb950',
  tracker: '#ff4fd8',
  fdt: '#39d0ff',
};
const NODE_TINT = ['#24344a', '#27402f', '#453a24', '#3e2a45', '#23403f', '#44282c', '#34361f', '#2c2f48'];
const OWNER_COLORS = ['#39d0ff', '#f2cc60', '#ff7b72', '#a5d6ff', '#d2a8ff', '#7ee787', '#ffa657', '#79c0ff'];

type Rgb = [number, number, number];

function rgb(hexColor: string): Rgb {
  const n = parseInt(hexColor.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function css(c: Rgb): string {
  return `rgb(${Math.round(c[0])},${Math.round(c[1])},${Math.round(c[2])})`;
}

/** Colour of preserved blocks of `order`: gold for order 0 to red for 18 and up. */
function orderRgb(order: number): Rgb {
  const t = Math.min(order, 18) / 18;
  const h = ((((52 - 112 * t) % 360) + 360) % 360) / 360;
  const s = 0.9;
  const l = 0.62 - 0.1 * t;
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  const p = 2 * l - q;
  const f = (x: number): number => {
    const u = x < 0 ? x + 1 : x > 1 ? x - 1 : x;
    if (u < 1 / 6) return p + (q - p) * 6 * u;
    if (u < 1 / 2) return q;
    if (u < 2 / 3) return p + (q - p) * (2 / 3 - u) * 6;
    return p;
  };
  return [f(h + 1 / 3) * 255, f(h) * 255, f(h - 1 / 3) * 255];
}

function orderColor(order: number): string {
  return css(orderRgb(order));
}

function mix(base: Rgb, top: Rgb, alpha: number): Rgb {
  const a = Math.min(1, Math.max(0, alpha));
  return [
    base[0] + (top[0] - base[0]) * a,
    base[1] + (top[1] - base[1]) * a,
    base[2] + (top[2] - base[2]) * a,
  ];
}

interface View {
  start: number;
  bin: number;
}

/** The map tab. */
export class MapView {
  private readonly root: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly info: HTMLElement;
  private readonly rangeText: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly tip: HTMLElement;
  private summary: SummaryJson | null = null;
  private view: View = { start: 0, bin: PAGE };
  private data: MapJson | null = null;
  private selected: number | null = null;
  private byOwner = false;
  private rows = 32;
  private drag: { x: number; y: number; start: number } | null = null;
  private loading = 0;
  /** Resolves once the first map has been drawn (for the first-render figure). */
  readonly firstDraw: Promise<void>;
  private drawn: () => void = () => undefined;

  constructor(root: HTMLElement) {
    this.root = root;
    this.firstDraw = new Promise((r) => {
      this.drawn = r;
    });
    const bar = el('div', 'toolbar');
    const button = (label: string, title: string, fn: () => void): void => {
      const b = el('button', '', esc(label)) as HTMLButtonElement;
      b.title = title;
      b.onclick = fn;
      bar.append(b);
    };
    button('Whole machine', 'show all of physical memory', () => {
      this.setView(this.wholeView());
    });
    button('−', 'zoom out', () => {
      this.zoom(1, this.centerAddr());
    });
    button('+', 'zoom in', () => {
      this.zoom(-1, this.centerAddr());
    });
    const go = el('input') as HTMLInputElement;
    go.placeholder = 'address, e.g. 0x1000000';
    go.size = 22;
    go.onkeydown = (e) => {
      if (e.key === 'Enter') location.hash = `#map?addr=${go.value.trim()}`;
    };
    bar.append(go);
    const own = el('button', '', 'Colour by owner') as HTMLButtonElement;
    own.onclick = () => {
      this.byOwner = !this.byOwner;
      own.textContent = this.byOwner ? 'Colour by order' : 'Colour by owner';
      this.draw();
    };
    bar.append(own);
    this.rangeText = el('span', 'range');
    bar.append(this.rangeText);
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'map';
    this.legend = el('div', 'legend');
    this.info = el('div', 'muted');
    this.detail = el('div', 'detail');
    this.tip = el('div');
    this.tip.id = 'tip';
    this.tip.hidden = true;
    document.body.append(this.tip);
    root.append(bar, this.canvas, this.legend, this.info, this.detail);
    this.canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      if (e.shiftKey) this.pan(Math.sign(e.deltaY) * 4);
      else this.zoom(e.deltaY > 0 ? 1 : -1, this.addrAt(e.offsetX, e.offsetY) ?? this.centerAddr());
    });
    this.canvas.addEventListener('mousedown', (e) => {
      this.drag = { x: e.offsetX, y: e.offsetY, start: this.view.start };
    });
    this.canvas.addEventListener('mousemove', (e) => {
      this.hover(e);
    });
    this.canvas.addEventListener('mouseleave', () => {
      this.tip.hidden = true;
    });
    window.addEventListener('mouseup', (e) => {
      const d = this.drag;
      this.drag = null;
      if (d === null || e.target !== this.canvas) return;
      if (Math.abs(e.offsetY - d.y) < 4 && Math.abs(e.offsetX - d.x) < 4)
        this.select(this.cellAt(e.offsetX, e.offsetY));
    });
    new ResizeObserver(() => {
      this.draw();
    }).observe(this.canvas);
  }

  private wholeView(): View {
    const end = this.summary?.span.end ?? PAGE;
    let bin = PAGE;
    while (bin * COLS * this.rows < end) bin *= 2;
    return { start: 0, bin };
  }

  private centerAddr(): number {
    return this.view.start + (this.view.bin * COLS * this.rows) / 2;
  }

  private setView(v: View, select: number | null = null): void {
    const rowBytes = v.bin * COLS;
    const start = Math.max(0, Math.floor(v.start / rowBytes) * rowBytes);
    this.view = { start, bin: v.bin };
    this.selected = select;
    history.replaceState(null, '', `#map?start=${hex(start)}&bin=${hex(v.bin)}`);
    void this.load();
  }

  /** Zoom out (dir 1) or in (-1) by a factor of two, keeping `addr` in view. */
  private zoom(dir: number, addr: number): void {
    const whole = this.wholeView().bin;
    const bin = Math.min(whole, Math.max(PAGE, dir > 0 ? this.view.bin * 2 : this.view.bin / 2));
    if (bin === this.view.bin) return;
    this.setView({ start: bin === whole ? 0 : addr - (bin * COLS * this.rows) / 2, bin });
  }

  private pan(rows: number): void {
    this.setView({ start: Math.max(0, this.view.start + rows * this.view.bin * COLS), bin: this.view.bin });
  }

  /** Show `addr` at page size, selected (links from other views). */
  showAddress(addr: number, bin = PAGE): void {
    const b = Math.max(PAGE, bin);
    const start = addr - (b * COLS * this.rows) / 2;
    const rowBytes = b * COLS;
    const aligned = Math.max(0, Math.floor(start / rowBytes) * rowBytes);
    this.setView({ start: aligned, bin: b }, Math.floor((addr - aligned) / b));
  }

  /** Follow the URL hash (`#map?addr=…` or `#map?start=…&bin=…`). */
  fromHash(hash: string): void {
    const q = new URLSearchParams(hash.replace(/^#map\??/, ''));
    const num = (k: string): number | null => {
      const v = q.get(k);
      return v === null || !/^(0x[0-9a-f]+|[0-9]+)$/i.test(v) ? null : Number(v);
    };
    const addr = num('addr');
    const bin = num('bin');
    const start = num('start');
    if (addr !== null) this.showAddress(addr, bin ?? PAGE);
    else if (start !== null && bin !== null && bin >= PAGE && (bin & (bin - 1)) === 0)
      this.setView({ start, bin });
    else this.setView(this.wholeView());
  }

  /** New state: refetch the summary-dependent parts and the bins. */
  async refresh(summary: SummaryJson): Promise<void> {
    const first = this.summary === null;
    this.summary = summary;
    this.legendHtml();
    if (first) this.fromHash(location.hash.startsWith('#map') ? location.hash : '');
    else await this.load();
  }

  private async load(): Promise<void> {
    const ticket = ++this.loading;
    const spanEnd = Math.ceil((this.summary?.span.end ?? PAGE) / this.view.bin) * this.view.bin;
    const end = Math.max(
      this.view.start + this.view.bin,
      Math.min(this.view.start + this.view.bin * COLS * this.rows, spanEnd),
    );
    const data = await api<MapJson>('map', {
      start: this.view.start,
      end,
      bins: Math.ceil((end - this.view.start) / this.view.bin),
    });
    if (ticket !== this.loading) return;
    this.data = data;
    this.draw();
    if (this.selected !== null) await this.showDetail(this.selected);
  }

  private legendHtml(): void {
    const s = this.summary;
    if (s === null) return;
    const sw = (c: string, label: string): string =>
      `<span><span class="swatch" style="background:${c}"></span>${label}</span>`;
    const parts = s.nodes.map((n) =>
      sw(NODE_TINT[Math.max(n.nid, 0) % NODE_TINT.length]!, n.nid < 0 ? 'image' : `node ${n.nid} RAM`),
    );
    parts.push(sw(COLOR.hole, 'hole'), sw(COLOR.scratch, 'scratch (CMA)'), sw(COLOR.kernel, 'kernel image'));
    parts.push(sw(COLOR.segment, 'kexec segment'), sw(COLOR.poisoned, 'poisoned'));
    parts.push(sw(COLOR.incoming, 'reserved from predecessor'), sw(COLOR.restored, 'restored'));
    for (const o of s.orders) parts.push(sw(orderColor(o.order), `order ${o.order} (${count(o.count)})`));
    parts.push(sw(COLOR.tracker, 'radix node page'), sw(COLOR.fdt, 'KHO FDT'));
    if (this.byOwner)
      s.owners.forEach((o) =>
        parts.push(sw(OWNER_COLORS[o.id % OWNER_COLORS.length]!, `owner ${esc(o.name)}`)),
      );
    this.legend.innerHTML = parts.join('');
  }

  private geometry(): { w: number; h: number; cw: number; ch: number } {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    const cw = (w - GUTTER) / COLS;
    return { w, h, cw, ch: h / this.rows };
  }

  private cellAt(x: number, y: number): number | null {
    const g = this.geometry();
    if (x < GUTTER) return null;
    const c = Math.floor((x - GUTTER) / g.cw);
    const r = Math.floor(y / g.ch);
    const i = r * COLS + c;
    return this.data === null || i < 0 || i >= this.data.count ? null : i;
  }

  private addrAt(x: number, y: number): number | null {
    const i = this.cellAt(x, y);
    return i === null || this.data === null ? null : this.data.start + i * this.data.binSize;
  }

  /** The colour of bin `i`. */
  private cellColor(d: MapJson, i: number): string {
    const L = d.layers;
    const f = (v: number | undefined): number => (v ?? 0) / d.binSize;
    const alpha = (v: number | undefined): number => (f(v) > 0 ? 0.4 + 0.6 * Math.sqrt(f(v)) : 0);
    const ram = L.ram[i] ?? 0;
    let c = rgb(ram === 0 ? COLOR.hole : NODE_TINT[Math.max(d.node[i] ?? 0, 0) % NODE_TINT.length]!);
    if ((L.poisoned[i] ?? 0) > 0) c = mix(c, rgb(COLOR.poisoned), alpha(L.poisoned[i]) * 0.9);
    if ((L.scratch[i] ?? 0) > 0) c = mix(c, rgb(COLOR.scratch), alpha(L.scratch[i]) * 0.8);
    if ((L.kernel[i] ?? 0) > 0) c = mix(c, rgb(COLOR.kernel), alpha(L.kernel[i]));
    if ((L.incoming[i] ?? 0) > 0) {
      const restored = (L.restored[i] ?? 0) * 2 >= (L.incoming[i] ?? 0);
      c = mix(c, rgb(restored ? COLOR.restored : COLOR.incoming), alpha(L.incoming[i]));
    }
    if ((L.preserved[i] ?? 0) > 0) {
      const owner = d.owner[i] ?? -1;
      const top =
        this.byOwner && owner >= 0
          ? rgb(OWNER_COLORS[owner % OWNER_COLORS.length]!)
          : orderRgb(d.order[i] ?? 0);
      c = mix(c, top, alpha(L.preserved[i]));
    }
    if ((L.segment[i] ?? 0) > 0) c = mix(c, rgb(COLOR.segment), alpha(L.segment[i]));
    if ((L.tracker[i] ?? 0) > 0) c = mix(c, rgb(COLOR.tracker), Math.max(0.85, alpha(L.tracker[i])));
    if ((L.fdt[i] ?? 0) > 0) c = rgb(COLOR.fdt);
    return css(c);
  }

  private draw(): void {
    const d = this.data;
    const dpr = window.devicePixelRatio || 1;
    const g = this.geometry();
    if (g.w === 0) return;
    this.canvas.width = Math.round(g.w * dpr);
    this.canvas.height = Math.round(g.h * dpr);
    const ctx = this.canvas.getContext('2d');
    if (ctx === null || d === null) return;
    ctx.scale(dpr, dpr);
    ctx.fillStyle = '#0b0d11';
    ctx.fillRect(0, 0, g.w, g.h);
    ctx.font = '11px ui-monospace, monospace';
    ctx.textBaseline = 'middle';
    const gap = g.cw > 5 ? 1 : 0;
    for (let i = 0; i < d.count; i++) {
      const r = Math.floor(i / COLS);
      const c = i % COLS;
      const x = GUTTER + c * g.cw;
      const y = r * g.ch;
      if (c === 0) {
        ctx.fillStyle = '#8a93a3';
        ctx.fillText(hex(d.start + i * d.binSize).padStart(14), 2, y + g.ch / 2);
      }
      ctx.fillStyle = this.cellColor(d, i);
      ctx.fillRect(x, y, g.cw - gap, g.ch - gap);
      if ((d.layers.scratch[i] ?? 0) > 0 && (d.layers.preserved[i] ?? 0) > 0) {
        ctx.fillStyle = COLOR.scratch;
        ctx.fillRect(x, y, Math.max(2, g.cw / 4), Math.max(2, g.ch / 4));
      }
      if (i === this.selected) {
        ctx.strokeStyle = '#ffffff';
        ctx.lineWidth = 2;
        ctx.strokeRect(x + 1, y + 1, g.cw - gap - 2, g.ch - gap - 2);
      }
    }
    // Block starts: a dark notch at the left edge of the cell where a block begins, so that
    // neighbouring blocks of one order stay apart at page size.
    ctx.fillStyle = '#0b0d11';
    for (const it of d.items ?? []) {
      if ((it.kind !== 'block' && it.kind !== 'incoming') || it.start < d.start) continue;
      const i = (it.start - d.start) / d.binSize;
      if (!Number.isInteger(i) || i >= d.count) continue;
      ctx.fillRect(GUTTER + (i % COLS) * g.cw, Math.floor(i / COLS) * g.ch, 2, g.ch - gap);
    }
    const end = d.start + d.count * d.binSize;
    this.rangeText.textContent = `[${hex(d.start)}, ${hex(end)}) · ${size(d.binSize)} per cell`;
    this.info.textContent =
      d.items === null
        ? `${count(d.itemCount)} items in view (zoom in to list them) · wheel: zoom, shift+wheel or drag: scroll, click: details`
        : `${count(d.itemCount)} items in view · click a cell for details`;
    this.drawn();
  }

  private hover(e: MouseEvent): void {
    const d = this.data;
    if (this.drag !== null && d !== null) {
      const g = this.geometry();
      const rows = Math.round((this.drag.y - e.offsetY) / g.ch);
      if (rows !== 0) {
        this.drag.y = e.offsetY;
        this.pan(rows);
      }
      return;
    }
    const i = this.cellAt(e.offsetX, e.offsetY);
    if (i === null || d === null) {
      this.tip.hidden = true;
      return;
    }
    const a = d.start + i * d.binSize;
    const lines = [`${hex(a)} – ${hex(a + d.binSize - 1)}  (${size(d.binSize)})`];
    const node = d.node[i] ?? -1;
    if ((d.layers.ram[i] ?? 0) === 0) lines.push('hole (no RAM)');
    else if (node >= 0) lines.push(`node ${node}`);
    for (const [name, v] of Object.entries(d.layers))
      if (name !== 'ram' && v[i] !== 0) lines.push(`${name}: ${size(v[i]!)}`);
    const order = d.order[i] ?? -1;
    if (order >= 0) lines.push(`mostly order ${order}`);
    const owner = d.owner[i] ?? -1;
    if (owner >= 0) lines.push(`owner: ${this.summary?.owners[owner]?.name ?? owner}`);
    this.tip.textContent = lines.join('\n');
    this.tip.hidden = false;
    this.tip.style.left = `${e.clientX + 14}px`;
    this.tip.style.top = `${e.clientY + 14}px`;
  }

  private select(i: number | null): void {
    this.selected = i;
    this.draw();
    if (i !== null) void this.showDetail(i);
  }

  private itemLine(it: MapItem): string {
    const owner =
      it.owner !== undefined && it.owner >= 0 ? ` · ${esc(this.summary?.owners[it.owner]?.name ?? '')}` : '';
    const what =
      it.kind === 'block'
        ? `preserved order-${it.order ?? 0} block${owner}`
        : it.kind === 'incoming'
          ? `from predecessor, order ${it.order ?? 0}, ${it.restored === true ? 'restored' : 'not restored'}`
          : it.kind === 'tracker'
            ? `${it.label ?? 'tracker'} (level ${it.level ?? '?'})`
            : `${it.kind}${it.label !== undefined ? `: ${esc(it.label)}` : ''}`;
    return `<dt><a href="#map?addr=${hex(it.start)}">${hex(it.start)}</a></dt><dd>${size(it.size)} ${what}</dd>`;
  }

  private async showDetail(i: number): Promise<void> {
    const d = this.data;
    if (d === null) return;
    const a = d.start + i * d.binSize;
    const items = (d.items ?? [])
      .filter((it) => it.start < a + d.binSize && it.start + it.size > a)
      .slice(0, 40);
    let left = `<h3>${hex(a)} – ${hex(a + d.binSize - 1)}</h3><dl class="kv">`;
    for (const [name, v] of Object.entries(d.layers))
      if (v[i] !== 0) left += `<dt>${name}</dt><dd>${size(v[i]!)}</dd>`;
    left += '</dl>';
    if (items.length > 0)
      left += `<h3>Items</h3><dl class="kv">${items.map((it) => this.itemLine(it)).join('')}</dl>`;
    if (d.binSize > PAGE) {
      this.detail.innerHTML = `<div>${left}<p><button id="zoom-cell">Zoom into this cell</button></p></div><div></div>`;
      const b = this.detail.querySelector<HTMLButtonElement>('#zoom-cell');
      if (b !== null) {
        b.onclick = () => {
          let bin = d.binSize;
          while (bin > PAGE && bin * COLS * this.rows > d.binSize * 2) bin /= 2;
          this.setView({ start: a, bin });
        };
      }
      return;
    }
    const p = await api<PageJson>('page', { addr: a });
    const kv: [string, string][] = [
      ['page', `${hex(p.phys)} (pfn ${hex(p.pfn)})`],
      ['node', p.node < 0 ? (p.ram ? '–' : 'not RAM') : String(p.node)],
      ['content', p.state],
      ['page->private', p.pagePrivate ?? '–'],
      ['refcount', p.refcount === null ? '–' : String(p.refcount)],
    ];
    if (p.block !== null)
      kv.push([
        'preserved',
        `order-${p.block.order} block at ${hex(p.block.phys)}${p.block.ownerName !== null ? ` (${p.block.ownerName})` : ''}`,
      ]);
    if (p.incoming !== null)
      kv.push([
        'from predecessor',
        `order-${p.incoming.order} block at ${hex(p.incoming.phys)}, ${p.incoming.restored ? 'restored' : 'not restored'}`,
      ]);
    if (p.tracker !== null) kv.push(['tracker', `${p.tracker.kind}, level ${p.tracker.level}`]);
    if (p.tags.length > 0) kv.push(['also', p.tags.join(', ')]);
    const pageHtml = `<h3 id="page-title">Page ${hex(p.phys)}</h3><dl class="kv">${kv.map(([k, v]) => `<dt>${k}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
    this.detail.innerHTML = `<div>${pageHtml}${items.length > 0 ? `<h3>Items</h3><dl class="kv">${items.map((it) => this.itemLine(it)).join('')}</dl>` : ''}</div><pre class="hex">${esc(p.hexdump ?? 'not in the image')}</pre>`;
  }
}
