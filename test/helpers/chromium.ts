/**
 * A headless Chromium (Debian's /usr/bin/chromium) driven over the Chrome DevTools Protocol on
 * its debugging pipe (fd 3 in, fd 4 out, NUL-separated JSON): no port, no browser download, no
 * automation library. Enough for the page tests and the bench: open a page, evaluate script,
 * type keys, take screenshots.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Where Debian installs the browser (scripts/test-deps.sh installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium';

/** Whether the browser is there. */
export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

/** One browser with one page. */
export class Chromium {
  private readonly proc: ChildProcess;
  private readonly out: Writable;
  private readonly profile: string;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly waiters: { method: string; fn: (params: Record<string, unknown>) => void }[] = [];
  private buf = '';
  private session = '';
  /** Console messages and uncaught exceptions of the page. */
  readonly errors: string[] = [];

  private constructor(proc: ChildProcess, profile: string) {
    this.proc = proc;
    this.profile = profile;
    this.out = proc.stdio[3] as Writable;
    (proc.stdio[4] as Readable).on('data', (chunk: Buffer) => {
      this.buf += chunk.toString('utf8');
      let nul = this.buf.indexOf('\0');
      while (nul >= 0) {
        this.dispatch(JSON.parse(this.buf.slice(0, nul)) as Record<string, unknown>);
        this.buf = this.buf.slice(nul + 1);
        nul = this.buf.indexOf('\0');
      }
    });
  }

  /** Start the browser and open a blank page of `width` × `height` CSS pixels. */
  static async launch(width = 1600, height = 900): Promise<Chromium> {
    const profile = mkdtempSync(join(tmpdir(), 'kho-chromium-'));
    const proc = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-extensions',
        '--remote-debugging-pipe',
        `--user-data-dir=${profile}`,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const c = new Chromium(proc, profile);
    const { targetId } = (await c.send('Target.createTarget', { url: 'about:blank' })) as {
      targetId: string;
    };
    const { sessionId } = (await c.send('Target.attachToTarget', { targetId, flatten: true })) as {
      sessionId: string;
    };
    c.session = sessionId;
    await c.page('Page.enable');
    await c.page('Runtime.enable');
    await c.page('Emulation.setDeviceMetricsOverride', {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    return c;
  }

  private dispatch(m: Record<string, unknown>): void {
    const id = m['id'];
    if (typeof id === 'number') {
      const p = this.pending.get(id);
      if (p === undefined) return;
      this.pending.delete(id);
      const err = m['error'] as { message?: string } | undefined;
      if (err !== undefined) p.reject(new Error(`${p.method}: ${err.message ?? 'failed'}`));
      else p.resolve((m['result'] ?? {}) as Record<string, unknown>);
      return;
    }
    const method = String(m['method']);
    const params = (m['params'] ?? {}) as Record<string, unknown>;
    if (method === 'Runtime.exceptionThrown') {
      const d = params['exceptionDetails'] as { exception?: { description?: string }; text?: string };
      this.errors.push(d.exception?.description ?? d.text ?? 'exception');
    }
    if (method === 'Runtime.consoleAPICalled' && params['type'] === 'error') {
      const args = (params['args'] ?? []) as { value?: string | number | boolean; description?: string }[];
      this.errors.push(args.map((a) => String(a.value ?? a.description ?? '')).join(' '));
    }
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      if (w.method === method) {
        this.waiters.splice(i, 1);
        w.fn(params);
        break;
      }
    }
  }

  /** A browser-level command. */
  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const msg = { id, method, params, ...(sessionId === undefined ? {} : { sessionId }) };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.out.write(`${JSON.stringify(msg)}\0`);
    });
  }

  /** A command to the page. */
  page(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.send(method, params, this.session);
  }

  private event(method: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new Error(`no ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({
        method,
        fn: (p) => {
          clearTimeout(t);
          resolve(p);
        },
      });
    });
  }

  /** Load `url` and wait for the load event. */
  async goto(url: string, timeoutMs = 15000): Promise<void> {
    const loaded = this.event('Page.loadEventFired', timeoutMs);
    await this.page('Page.navigate', { url });
    await loaded;
  }

  /** Evaluate `expression` in the page (promises awaited) and return its JSON value. */
  async eval<T>(expression: string): Promise<T> {
    const r = (await this.page('Runtime.evaluate', {
      expression,
      awaitPromise: true,
      returnByValue: true,
    })) as { result: { value?: unknown }; exceptionDetails?: { exception?: { description?: string } } };
    if (r.exceptionDetails !== undefined) {
      throw new Error(r.exceptionDetails.exception?.description ?? 'evaluation failed');
    }
    return r.result.value as T;
  }

  /** Wait until `expression` is truthy (polled every 50 ms). */
  async waitFor(expression: string, timeoutMs = 15000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (await this.eval<boolean>(`Boolean(${expression})`)) return;
      if (Date.now() > until) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Type text into the focused element as keyboard input, then press Enter. */
  async typeLine(text: string): Promise<void> {
    await this.page('Input.insertText', { text });
    await this.key('Enter', 13, '\r');
  }

  /** Press one key. */
  async key(key: string, code: number, text?: string): Promise<void> {
    const base = { key, code: key, windowsVirtualKeyCode: code, nativeVirtualKeyCode: code };
    await this.page('Input.dispatchKeyEvent', {
      type: 'keyDown',
      ...base,
      ...(text === undefined ? {} : { text }),
    });
    await this.page('Input.dispatchKeyEvent', { type: 'keyUp', ...base });
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Buffer> {
    const r = (await this.page('Page.captureScreenshot', { format: 'png' })) as { data: string };
    return Buffer.from(r.data, 'base64');
  }

  /** Close the browser and remove its profile. */
  async close(): Promise<void> {
    const exited = new Promise<void>((r) => {
      if (this.proc.exitCode !== null) r();
      else
        this.proc.once('exit', () => {
          r();
        });
    });
    try {
      await Promise.race([this.send('Browser.close'), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      // the browser may be gone already
    }
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
    rmSync(this.profile, { recursive: true, force: true });
  }
}
