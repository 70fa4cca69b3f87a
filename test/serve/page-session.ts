/**
 * The page tests' setup: a booted machine behind `kho serve`'s server and console, one
 * headless browser on the page, and the steps every test takes (type a command and wait for
 * the views to update, keep a screenshot in test-artifacts/serve/).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootMachine, machineConfig, type MachineCliOptions } from '../../src/shell/machine-setup.ts';
import { ServeModel } from '../../src/serve/model.ts';
import { startServer } from '../../src/serve/server.ts';
import { Console } from '../../src/serve/terminal.ts';
import { Chromium } from '../helpers/chromium.ts';

/** Where screenshots go. */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'serve');

/** A page on a served machine. */
export interface PageSession {
  browser: Chromium;
  /** The console's host directory (a fresh temp dir). */
  home: string;
  url: string;
  /** Type `line` into the page's terminal and wait until the views saw the new state. */
  run: (line: string) => Promise<void>;
  /** Save a screenshot as `<name>.png`. */
  shot: (name: string) => Promise<void>;
  close: () => Promise<void>;
}

/** Boot a machine with `opts`, serve it and open the page in a `width`×`height` browser. */
export async function openPage(opts: MachineCliOptions, width: number, height: number): Promise<PageSession> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const home = mkdtempSync(join(tmpdir(), 'kho-serve-page-'));
  const cfg = machineConfig(opts);
  if (typeof cfg === 'string') throw new Error(cfg);
  const machine = bootMachine(cfg);
  if (typeof machine === 'string') throw new Error(machine);
  const model = ServeModel.ofMachine(machine);
  const con = new Console(machine, cfg, model, home);
  const server = await startServer({
    model,
    console: con,
    host: '127.0.0.1',
    port: 0,
    token: 'page-test-token',
  });
  const browser = await Chromium.launch(width, height);
  const version = (): Promise<number> => browser.eval<number>('Number(document.body.dataset.version)');
  return {
    browser,
    home,
    url: server.url,
    run: async (line) => {
      const before = await version();
      await browser.typeLine(line);
      await browser.waitFor(`Number(document.body.dataset.version) > ${before}`, 60000);
    },
    shot: async (name) => {
      writeFileSync(join(ARTIFACTS, `${name}.png`), await browser.screenshot());
    },
    close: async () => {
      await browser.close();
      await server.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
