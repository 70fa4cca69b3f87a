/**
 * `serve.map_4T`: the memory map of `kho serve` on a 4 TiB, 4-node machine (kho-v4) with 4 Mi
 * preserved order-0 blocks: a seeded random quarter of the pages of 16384 order-10
 * allocations spread over the nodes. Measured: the snapshot after a command (the hand-over
 * decoded from memory, layers indexed), the map API for the whole machine (about 2048 bins)
 * and for a 1 MiB zoom (256 page bins) around a preserved page, each the median of 5 answers
 * including JSON encoding; then the page's first render in headless Chromium (navigation
 * start to the first map drawn), when /usr/bin/chromium exists.
 */
import { gc, mulberry32, round, secondsSince, type BenchEntry, type BenchResult } from './harness.ts';
import { Machine } from '../src/kernel/machine.ts';
import { profileByName } from '../src/kernel/profile.ts';
import { GFP_KERNEL } from '../src/mm/gfp.ts';
import { ServeModel } from '../src/serve/model.ts';
import { startServer } from '../src/serve/server.ts';
import { Chromium, haveChromium } from '../test/helpers/chromium.ts';

const TiB = 2 ** 40;
const SEED = 0x6b686f;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Milliseconds of `fn` (including JSON encoding of its answer), median of `n`. */
function timeApi(model: ServeModel, route: string, q: string, n = 5): { ms: number; bytes: number } {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const r = model.handle(route, new URLSearchParams(q));
    if (r.status !== 200) throw new Error(`${route}?${q}: ${JSON.stringify(r.body)}`);
    bytes = JSON.stringify(r.body).length;
    times.push(secondsSince(t) * 1000);
  }
  return { ms: median(times), bytes };
}

async function map4T(): Promise<BenchResult> {
  const t0 = process.hrtime.bigint();
  const m = Machine.create({ mem: 4 * TiB, nodes: 4, seed: SEED });
  const k = m.coldBoot({ cmdline: 'kho=on', profile: profileByName('kho-v4')! });
  const boot = secondsSince(t0);
  const next = mulberry32(SEED);
  const tP = process.hrtime.bigint();
  let err = 0;
  let sample = 0;
  for (let b = 0; b < 16384; b++) {
    const base = k.buddy.alloc(10, GFP_KERNEL, b & 3);
    if (base === null) throw new Error('out of memory');
    for (let w = 0; w < 32; w++) {
      // 8 random pages of each 32: exactly a quarter.
      let mask = 0;
      let picked = 0;
      while (picked < 8) {
        const j = next() & 31;
        if ((mask & (1 << j)) !== 0) continue;
        mask |= 1 << j;
        const pfn = base + w * 32 + j;
        err |= k.kho.preserveFolio(pfn, 0);
        if (sample === 0) sample = pfn * 4096;
        picked++;
      }
    }
  }
  if (err !== 0) throw new Error(`preserve failed: ${err}`);
  const preserve = secondsSince(tP);
  gc();

  const model = ServeModel.ofMachine(m);
  const tS = process.hrtime.bigint();
  model.changed(); // what the console does after a command: snapshot and generation update
  const snapshot = secondsSince(tS);
  const summary = model.summary();
  const whole = timeApi(model, 'map', 'bins=2048');
  const zoomStart = sample - (sample % (1 << 20));
  const zoom = timeApi(model, 'map', `start=${zoomStart}&end=${zoomStart + (1 << 20)}&bins=256`);
  const page = timeApi(model, 'page', `addr=${sample}`);

  const out: BenchResult = {
    machine: '4 TiB, 4 nodes, kho-v4',
    preserved_blocks: summary.preserved?.blocks ?? 0,
    cold_boot_s: round(boot),
    preserve_s: round(preserve),
    snapshot_s: round(snapshot),
    map_whole_ms: round(whole.ms, 1),
    map_whole_kib: round(whole.bytes / 1024, 1),
    map_1MiB_ms: round(zoom.ms, 1),
    map_1MiB_kib: round(zoom.bytes / 1024, 1),
    page_ms: round(page.ms, 1),
  };
  if (haveChromium()) {
    const server = await startServer({ model, console: null, host: '127.0.0.1', port: 0, token: 'bench' });
    const browser = await Chromium.launch(1600, 900);
    try {
      await browser.goto(server.url);
      await browser.waitFor("document.body.dataset.ready === '1'", 60000);
      out['first_render_ms'] = round(
        await browser.eval<number>("performance.getEntriesByName('kho-first-map')[0].startTime"),
        1,
      );
    } finally {
      await browser.close();
      await server.close();
    }
  }
  out['loadavg_1m'] = Number((await import('node:os')).loadavg()[0]!.toFixed(2));
  return out;
}

export const entries: BenchEntry[] = [
  {
    name: 'serve.map_4T',
    description:
      'kho serve on a 4 TiB, 4-node machine with 4 Mi preserved order-0 blocks: snapshot after a command (s), map API whole machine and 1 MiB zoom (ms, median of 5, goal < 200), page first render in Chromium (ms, goal < 1000)',
    run: map4T,
  },
];
