/**
 * The page of `kho serve`: a header with the running kernel, the terminal (machine mode) and
 * the views in tabs. After every command the server announces a new state version over the
 * terminal's WebSocket, and the header and the visible view refetch.
 */
import type { SummaryJson } from '../src/serve/api-types.ts';
import { api } from './api.ts';
import { count, esc, size } from './format.ts';
import { MapView } from './map.ts';
import { FdtView, GenerationsView, LuoView, RadixView } from './views.ts';

type ViewName = 'map' | 'radix' | 'fdt' | 'luo' | 'generations';

function byId(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`page element #${id} is missing`);
  return e;
}

const map = new MapView(byId('view-map'));
const others = {
  radix: new RadixView(byId('view-radix')),
  fdt: new FdtView(byId('view-fdt')),
  luo: new LuoView(byId('view-luo')),
  generations: new GenerationsView(byId('view-generations')),
};
let active: ViewName = 'map';
let summary: SummaryJson | null = null;
/** Views whose data predates the last state change. */
const stale = new Set<ViewName>(['radix', 'fdt', 'luo', 'generations']);

function header(s: SummaryJson): void {
  byId('title').textContent = s.title;
  const k = s.kernel;
  const facts: string[] = [];
  if (k !== null) {
    facts.push(
      `${k.profile}, generation ${k.generation}`,
      `KHO ${k.khoEnabled ? 'on' : 'off'}${k.khoBoot ? ' (KHO boot)' : ''}`,
    );
  }
  if (s.halted) facts.push('halted');
  if (s.preserved !== null)
    facts.push(`${count(s.preserved.blocks)} preserved blocks, ${size(s.preserved.bytes)}`);
  const errors = s.findings.filter((f) => f.severity === 'error').length;
  if (errors > 0) facts.push(`${errors} error finding(s)`);
  byId('facts').innerHTML = esc(facts.join(' · '));
}

async function refreshView(v: ViewName): Promise<void> {
  stale.delete(v);
  if (v === 'map') {
    if (summary !== null) await map.refresh(summary);
    return;
  }
  await others[v].refresh();
}

async function refreshAll(): Promise<void> {
  summary = await api<SummaryJson>('summary');
  header(summary);
  for (const v of Object.keys(others) as ViewName[]) stale.add(v);
  stale.add('map');
  await refreshView(active);
  document.body.dataset['version'] = String(summary.version);
}

function show(v: ViewName): void {
  active = v;
  for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) {
    b.classList.toggle('active', b.dataset['view'] === v);
  }
  for (const name of ['map', 'radix', 'fdt', 'luo', 'generations']) byId(`view-${name}`).hidden = name !== v;
  if (stale.has(v)) void refreshView(v);
}

for (const b of document.querySelectorAll<HTMLButtonElement>('#tabs button')) {
  b.onclick = () => {
    show(b.dataset['view'] as ViewName);
  };
}

window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#map')) {
    show('map');
    map.fromHash(location.hash);
  }
});

await refreshAll();
await map.firstDraw;
performance.mark('kho-first-map');
// The terminal emulator (a third of the page's code) loads after the first map is drawn.
if ((summary as SummaryJson | null)?.mode === 'machine') {
  const { WebTerminal } = await import('./terminal.ts');
  byId('term-pane').hidden = false;
  const term = new WebTerminal(byId('terminal'), () => {
    void refreshAll();
  });
  term.focus();
}
document.body.dataset['ready'] = '1';
