/**
 * The LUO view in a real headless browser: sessions made with luoctl in the page's terminal
 * appear with their tokens, memfd sizes and holder; after kexec -e they are incoming (decoded
 * from memory until the first open of /dev/liveupdate, then the kernel's own list). A
 * screenshot of each state is kept in test-artifacts/serve/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haveChromium } from '../helpers/chromium.ts';
import type { LuoJson } from '../../src/serve/api-types.ts';
import { openPage } from './page-session.ts';

test(
  'the LUO view: outgoing sessions from luoctl, incoming after kexec -e',
  { skip: !haveChromium() && 'no chromium' },
  async () => {
    const page = await openPage({ mem: '2G', nodes: '1', cmdline: 'kho=on liveupdate=on' }, 1400, 800);
    const { browser, run, shot } = page;
    const view = (): Promise<string> => browser.eval<string>("document.getElementById('view-luo').innerText");
    const luo = (): Promise<LuoJson> => browser.eval<LuoJson>("fetch('/api/luo').then((r) => r.json())");
    try {
      await browser.goto(page.url);
      await browser.waitFor("document.body.dataset.ready === '1'");
      await browser.eval('document.querySelector(\'#tabs button[data-view="luo"]\').click()');
      await browser.waitFor("document.getElementById('view-luo').innerText.includes('Outgoing sessions')");
      assert.match(await view(), /none: create one with luoctl create NAME/);
      await browser.eval("document.querySelector('.xterm-helper-textarea').focus()");
      await run('luoctl create vm-1');
      await run('luoctl preserve vm-1 0x1a --data "hello kexec world"');
      await run('luoctl preserve vm-1 2 --size 1M');
      await run('luoctl create empty');
      // The view refreshes after every command.
      await browser.waitFor("document.getElementById('view-luo').innerText.includes('empty')");
      const out = await view();
      assert.match(out, /vm-1\s+open\s+luoctl \d+\s+0x1a\s+memfd-v2\s+17 B\s+preserved/);
      assert.match(out, /0x2\s+memfd-v2\s+1,048,576 B \(1 MiB\)\s+preserved/);
      assert.match(out, /empty\s+open\s+luoctl \d+\s+no files/);
      let j = await luo();
      assert.deepEqual(
        j.outgoing.map((s) => [s.name, s.files.map((f) => f.token)]),
        [
          ['vm-1', ['0x1a', '0x2']],
          ['empty', []],
          ['luoctl', ['0x0']],
        ],
        "luoctl's catalog session is rewritten last after every change",
      );
      assert.deepEqual(
        j.outgoing[0]!.files.map((f) => f.size),
        [17, 1 << 20],
      );
      await shot('luo-1-outgoing');

      await run('kexec -l -s --reuse-cmdline /boot/vmlinuz');
      await run('kexec -e');
      await browser.waitFor("document.getElementById('view-luo').innerText.includes('live update number 1')");
      j = await luo();
      assert.equal(j.incomingDecoded, true, 'not yet deserialized: decoded from memory');
      assert.deepEqual(
        j.incoming
          .filter((s) => s.name !== 'luoctl')
          .map((s) => [s.name, s.state, s.files.map((f) => [f.token, f.size])]),
        [
          [
            'vm-1',
            'handed over',
            [
              ['0x1a', 17],
              ['0x2', 1 << 20],
            ],
          ],
          ['empty', 'handed over', []],
        ],
      );
      await run('luoctl retrieve vm-1');
      await run('luoctl read vm-1 0x1a');
      await browser.waitFor("document.getElementById('view-luo').innerText.includes('retrieved')");
      j = await luo();
      assert.equal(j.incomingDecoded, false);
      assert.deepEqual(
        j.incoming.map((s) => [s.name, s.state, s.files.map((f) => [f.token, f.size, f.state])]),
        [
          [
            'vm-1',
            'retrieved',
            [
              ['0x1a', 17, 'retrieved'],
              ['0x2', 1 << 20, 'not retrieved'],
            ],
          ],
          ['empty', 'available', []],
        ],
      );
      assert.match(await view(), /vm-1\s+retrieved\s+luoctl \d+\s+0x1a\s+memfd-v2\s+17 B\s+retrieved/);
      await shot('luo-2-incoming');
      assert.deepEqual(browser.errors, []);
    } finally {
      await page.close();
    }
  },
);
