/** The radix tracker, FDTs, LUO and generations tabs: tables and text from the JSON API. */
import type {
  FdtJson,
  GenerationsJson,
  LuoFileJson,
  LuoJson,
  LuoSessionJson,
  RadixJson,
  RadixKeyJson,
} from '../src/serve/api-types.ts';
import { api } from './api.ts';
import { count, el, esc, hex, linkAddresses, linkHex, size } from './format.ts';

function addr(a: number | null): string {
  return a === null ? '–' : `<a href="#map?addr=${hex(a)}">${hex(a)}</a>`;
}

/** Radix tracker: levels, leaves with their fill, and a key lookup. */
export class RadixView {
  private readonly root: HTMLElement;
  private readonly body: HTMLElement;
  private readonly lookup: HTMLElement;

  constructor(root: HTMLElement) {
    this.root = root;
    const bar = el('div', 'toolbar', '<span>Block</span>');
    const a = el('input') as HTMLInputElement;
    a.placeholder = 'address';
    a.size = 20;
    const o = el('input') as HTMLInputElement;
    o.placeholder = 'order';
    o.size = 5;
    o.value = '0';
    const b = el('button', '', 'Key and path') as HTMLButtonElement;
    this.lookup = el('div');
    b.onclick = () => {
      void this.find(a.value.trim(), o.value.trim());
    };
    bar.append(a, o, b);
    this.body = el('div');
    root.append(bar, this.lookup, this.body);
  }

  private async find(a: string, o: string): Promise<void> {
    try {
      const k = await api<RadixKeyJson>('radix/key', { addr: a, order: o });
      const rows = k.path
        .map(
          (p) =>
            `<tr><td>${p.level === 0 ? 'leaf bit' : `level ${p.level}`}</td><td>${p.index}</td><td>${addr(p.node)}</td></tr>`,
        )
        .join('');
      this.lookup.innerHTML =
        `<p>order-${k.order} block ${addr(k.phys)}: key <code>${k.key}</code> — ${k.present ? '<b>preserved</b> (bit set)' : 'not in the tree'}</p>` +
        `<table><tr><th>step</th><th>index</th><th>node page</th></tr>${rows}</table>`;
    } catch (err) {
      this.lookup.innerHTML = `<p class="sev-error">${esc(err instanceof Error ? err.message : String(err))}</p>`;
    }
  }

  async refresh(): Promise<void> {
    const r = await api<RadixJson>('radix');
    if (r.format === null) {
      this.body.innerHTML = '<p class="muted">No memory map: KHO is off, or nothing was decoded.</p>';
      return;
    }
    const levels = r.levels
      .map(
        (l) =>
          `<tr><td>${r.format === 'radix' ? (l.level === 0 ? 'leaves (level 0)' : `level ${l.level}`) : `order ${l.level}`}</td><td>${count(l.pages)}</td><td>${size(l.pages * 4096)}</td></tr>`,
      )
      .join('');
    const leaves = r.leaves
      .slice(0, 512)
      .map((l) => {
        const fill = l.bits / 32768;
        const w = Math.max(1, Math.round(fill * 160));
        return `<tr><td>${addr(l.phys)}</td><td>${l.order < 0 ? '38–52' : l.order}</td><td>${l.order < 0 ? '' : `${addr(l.first)} + ${size(l.span)}`}</td><td>${count(l.bits)}</td><td><span class="bar" style="width:${w}px"></span> ${(fill * 100).toFixed(fill < 0.01 ? 3 : 1)}%</td></tr>`;
      })
      .join('');
    this.body.innerHTML =
      `<h3>Tree</h3><p>${r.format === 'radix' ? 'radix tree' : 'kho-v1 chunk list'}, root ${addr(r.root)}</p>` +
      `<table><tr><th>level</th><th>node pages</th><th>memory</th></tr>${levels}</table>` +
      `<h3>Leaves (${count(r.leafCount)}${r.leafCount > 512 ? ', first 512' : ''})</h3>` +
      `<table><tr><th>leaf page</th><th>order</th><th>covers</th><th>bits set</th><th>fill of 32768</th></tr>${leaves}</table>`;
  }
}

/** FDTs: the root and every sub-tree as annotated DTS, addresses linked to the map. */
export class FdtView {
  private readonly root: HTMLElement;

  constructor(root: HTMLElement) {
    this.root = root;
  }

  async refresh(): Promise<void> {
    const f = await api<FdtJson>('fdt');
    if (f.blobs.length === 0) {
      this.root.innerHTML = '<p class="muted">No KHO FDT: KHO is off on this kernel.</p>';
      return;
    }
    this.root.innerHTML = f.blobs
      .map(
        (b) =>
          `<h3 id="fdt-${b.side}-${esc(b.name === '/' ? 'root' : b.name)}">${b.side === 'out' ? 'outgoing' : 'incoming'} · ${esc(b.name === '/' ? 'root KHO FDT' : b.name)} <span class="muted">${b.kind}, ${addr(b.phys)}${b.size === null ? '' : `, ${size(b.size)}`}</span></h3>` +
          `<pre>${linkAddresses(esc(b.text))}</pre>`,
      )
      .join('');
  }
}

/** LUO: sessions with their files, tokens and memfd sizes, outgoing and incoming. */
export class LuoView {
  private readonly root: HTMLElement;

  constructor(root: HTMLElement) {
    this.root = root;
  }

  async refresh(): Promise<void> {
    const l = await api<LuoJson>('luo');
    if (!l.available) {
      this.root.innerHTML =
        '<p class="muted">No Live Update Orchestrator here: boot with <code>liveupdate=on</code> (and KHO on) to get /dev/liveupdate.</p>';
      return;
    }
    const table = (sessions: LuoSessionJson[], empty: string): string => {
      if (sessions.length === 0) return `<p class="muted">${empty}</p>`;
      const rows: string[] = [];
      for (const s of sessions) {
        const held = s.holders.map((h) => `${esc(h.comm)} ${h.pid}`).join(', ');
        const span = Math.max(1, s.files.length);
        const first = s.files[0];
        const fileCells = (f: LuoFileJson | undefined): string =>
          f === undefined
            ? '<td colspan="4" class="muted">no files</td>'
            : `<td class="num">${esc(f.token)}</td><td>${esc(f.compatible)}</td>` +
              `<td class="num">${f.size === null ? '–' : `${count(f.size)} B${f.size >= 1024 ? ` <span class="muted">(${size(f.size)})</span>` : ''}`}</td><td>${esc(f.state)}</td>`;
        rows.push(
          `<tr class="luo-session"><td rowspan="${span}"><b>${esc(s.name)}</b></td><td rowspan="${span}">${esc(s.state)}</td>` +
            `<td rowspan="${span}">${held === '' ? '<span class="muted">–</span>' : held}</td>${fileCells(first)}</tr>`,
        );
        for (const f of s.files.slice(1)) rows.push(`<tr>${fileCells(f)}</tr>`);
      }
      return (
        '<table class="luo"><tr><th>session</th><th>state</th><th>held by</th><th>token</th><th>handler</th><th>size</th><th>file</th></tr>' +
        `${rows.join('')}</table>`
      );
    };
    const fmt = l.format === null ? '' : ` <span class="muted">(${esc(l.format)})</span>`;
    const num =
      l.liveupdateNumber === null
        ? 'cold boot: nothing handed over'
        : `live update number ${l.liveupdateNumber}`;
    this.root.innerHTML =
      (l.mode === 'machine'
        ? `<h3>Outgoing sessions${fmt}</h3><p class="muted">Handed over at the next <code>kexec -e</code> while a process holds them.</p>` +
          table(l.outgoing, 'none: create one with <code>luoctl create NAME</code>')
        : '') +
      `<h3>${l.mode === 'machine' ? 'Incoming sessions' : 'Sessions handed over'}</h3>` +
      `<p class="muted">${num}${l.incomingDecoded ? '; decoded from memory (the kernel reads them at the first open of /dev/liveupdate)' : ''}</p>` +
      table(l.incoming, 'none');
  }
}

/** Generations: a timeline of cold boots and kexecs. */
export class GenerationsView {
  private readonly root: HTMLElement;

  constructor(root: HTMLElement) {
    this.root = root;
  }

  async refresh(): Promise<void> {
    const g = await api<GenerationsJson>('generations');
    const bs = (x: { blocks: number; bytes: number } | null): string =>
      x === null ? '–' : `${count(x.blocks)} blocks, ${size(x.bytes)}`;
    const parts: string[] = [];
    for (const gen of g.generations) {
      if (gen.index > 0) {
        const t = gen.timings;
        parts.push(
          `<div class="arrow"><div>${gen.kind === 'kexec' ? `kexec -e${t === null ? '' : `<br><span class="muted">${ms(t.prepare + t.copy + t.sanitize + t.boot)}</span>`}` : 'power cycle'}<br>→</div></div>`,
        );
      }
      const rows: [string, string][] = [
        ['release', esc(gen.release)],
        ['kexec count', String(gen.kexecCount)],
        [gen.current ? 'preserved now' : 'handed over', bs(gen.preserved)],
        ['received', bs(gen.incoming)],
        ['restored', bs(gen.restored)],
      ];
      if (gen.lost !== null)
        rows.push([
          'lost',
          `${bs(gen.lost)}${gen.lost.overwrittenPages > 0 ? `, ${count(gen.lost.overwrittenPages)} pages overwritten` : ''}`,
        ]);
      if (gen.timings !== null) {
        const t = gen.timings;
        rows.push([
          'jump phases',
          `prepare ${ms(t.prepare)}, copy ${ms(t.copy)}, sanitize ${ms(t.sanitize)}, boot ${ms(t.boot)}`,
        ]);
      }
      if (gen.poisonedPages > 0) rows.push(['poisoned', `${count(gen.poisonedPages)} pages`]);
      if (gen.unpreservedReads > 0) rows.push(['stale reads', count(gen.unpreservedReads)]);
      const findings = gen.findings
        .map((f) => `<li class="sev-${f.severity}">${esc(f.kind)}: ${linkHex(esc(f.message))}</li>`)
        .join('');
      const cmds = gen.commands
        .map(
          (c) =>
            `<li><code>${esc(c.text)}</code> <span class="muted">→ ${c.status}, ${ms(c.seconds)}</span></li>`,
        )
        .join('');
      parts.push(
        `<div class="gen${gen.current ? ' current' : ''}"><h4>#${gen.index} ${gen.kind === 'cold' ? 'cold boot' : 'kexec'}${gen.current ? ' (running)' : ''}</h4>` +
          `<dl class="kv">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>` +
          (findings === '' ? '' : `<h4>sanitizer</h4><ul>${findings}</ul>`) +
          (cmds === '' ? '' : `<h4>commands</h4><ul>${cmds}</ul>`) +
          '</div>',
      );
    }
    this.root.innerHTML = `<div class="timeline">${parts.join('')}</div>`;
  }
}

function ms(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms` : `${s.toFixed(2)} s`;
}
