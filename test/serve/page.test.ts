/**
 * The page in a real headless browser (Debian's chromium over the DevTools pipe): the handover
 * typed into the page's terminal, then the map checked against `kho inspect` on a dump of the
 * same memory, the generations view, a zoom to one preserved page. One browser session; a
 * screenshot of every view is kept in test-artifacts/serve/ for a person to look at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { haveChromium } from '../helpers/chromium.ts';
import { openPage } from './page-session.ts';

interface InspectJson {
  preserved: { phys: string; order: number }[];
  preservedTotal: number;
}

test(
  'the page: terminal, map vs kho inspect, generations, zoom to a page',
  { skip: !haveChromium() && 'no chromium' },
  async () => {
    const page = await openPage({ sanitize: true }, 1600, 900);
    const { browser, home, run, shot } = page;
    const detailFor = async (addr: string): Promise<string> => {
      await browser.eval(`location.hash = '#map?addr=${addr}'`);
      await browser.waitFor(`document.querySelector('#page-title')?.textContent === 'Page ${addr}'`);
      return browser.eval<string>("document.querySelector('#view-map .detail').innerText");
    };
    try {
      await browser.goto(page.url);
      await browser.waitFor("document.body.dataset.ready === '1'");
      assert.match(
        await browser.eval<string>("document.getElementById('title').textContent"),
        /16 GiB, 2 node/,
      );
      await shot('1-map-cold-boot');

      await browser.eval("document.querySelector('.xterm-helper-textarea').focus()");
      await run('modprobe test_kho');
      await run('kexec -l -s --reuse-cmdline /boot/vmlinuz');
      await run(`dump-memory ${join(home, 'core.elf')}`);
      const screen = await browser.eval<string>("document.querySelector('.xterm-rows').innerText");
      assert.match(screen, /root@kho:~# modprobe test_kho/);

      // kho inspect on a dump of the same memory: the blocks the page must show.
      const r = spawnSync(
        process.execPath,
        ['src/cli/main.ts', 'inspect', '--image', join(home, 'core.elf'), '--json'],
        {
          encoding: 'utf8',
          maxBuffer: 64 << 20,
        },
      );
      const inspect = JSON.parse(r.stdout) as InspectJson;
      assert.ok(inspect.preservedTotal >= 3, `kho inspect reports ${inspect.preservedTotal} blocks`);
      const summary = await browser.eval<{ preserved: { blocks: number } }>(
        "fetch('/api/summary').then((r) => r.json())",
      );
      assert.equal(summary.preserved.blocks, inspect.preservedTotal);
      const sample = [...new Map(inspect.preserved.map((b) => [b.order, b])).values()].slice(0, 6);
      for (const b of sample) {
        const text = await detailFor(b.phys);
        assert.match(text, new RegExp(`preserved\\s+order-${b.order} block at ${b.phys}\\b`), text);
      }
      await shot('2-map-page-before-kexec');
      await browser.eval("location.hash = '#map'");
      await browser.eval("document.querySelector('#view-map button').click()");
      await shot('3-map-loaded');

      await browser.eval("document.querySelector('.xterm-helper-textarea').focus()");
      await run('kexec -e');
      await run('modprobe test_kho');
      await browser.waitFor("document.getElementById('facts').textContent.includes('generation 1')");
      // The successor reserved the same blocks (received from its predecessor).
      for (const b of sample.slice(0, 3)) {
        const text = await detailFor(b.phys);
        assert.match(text, new RegExp(`from predecessor\\s+order-${b.order} block at ${b.phys}\\b`), text);
      }
      // Zoom: one preserved page, its address in the detail panel.
      const one = inspect.preserved.find((b) => b.order === 0) ?? inspect.preserved[0]!;
      const text = await detailFor(one.phys);
      assert.match(text, new RegExp(`Page ${one.phys}\\b`));
      assert.match(text, /page->private/);
      await shot('4-map-page-after-kexec');

      for (const [tab, name] of [
        ['generations', '5-generations'],
        ['radix', '6-radix'],
        ['fdt', '7-fdts'],
        ['luo', '8-luo'],
      ] as const) {
        await browser.eval(`document.querySelector('#tabs button[data-view="${tab}"]').click()`);
        await browser.waitFor(`document.querySelector('#view-${tab}').innerText.trim().length > 0`);
        await shot(name);
      }
      const gens = await browser.eval<string[]>(
        "[...document.querySelectorAll('#view-generations .gen h4:first-child')].map((e) => e.textContent)",
      );
      assert.deepEqual(gens, ['#0 cold boot', '#1 kexec (running)']);
      assert.match(await browser.eval<string>("document.getElementById('view-fdt').innerText"), /kho-v4/);
      await browser.eval("location.hash = '#map'");
      await browser.eval('document.querySelector(\'#tabs button[data-view="map"]\').click()');
      await browser.eval("document.querySelector('#view-map button').click()");
      await shot('9-map-after-kexec');
      assert.deepEqual(browser.errors, []);
    } finally {
      await page.close();
    }
  },
);
