/**
 * `kho serve` over HTTP as any client sees it: the token (403 without it, WebSocket included),
 * other origins and Host names refused, no way out of the static folders (404), listening only
 * where asked, the terminal protocol, and the CLI's own messages.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootMachine, machineConfig } from '../../src/shell/machine-setup.ts';
import { ServeModel } from '../../src/serve/model.ts';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { Console } from '../../src/serve/terminal.ts';
import { isLoopback } from '../../src/serve/security.ts';
import type { MapJson, SummaryJson, TermServerMessage } from '../../src/serve/api-types.ts';
import { writeElfCore } from '../../src/inspect/elf-core.ts';

const TOKEN = 'a'.repeat(64);
let server: RunningServer;
let home: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw GET (no URL normalisation, any headers). */
function get(
  path: string,
  headers: Record<string, string> = {},
  host = '127.0.0.1',
  port = server.port,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** An HTTP upgrade attempt; resolves with the status line's code (101 when accepted). */
function upgrade(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: server.port,
      path,
      headers: {
        Host: `127.0.0.1:${server.port}`,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const api = async <T>(route: string): Promise<T> => {
  const r = await get(`/api/${route}${route.includes('?') ? '&' : '?'}token=${TOKEN}`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as T;
};

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'kho-serve-'));
  const cfg = machineConfig({ mem: '1G', nodes: '1' });
  if (typeof cfg === 'string') throw new Error(cfg);
  const machine = bootMachine(cfg);
  if (typeof machine === 'string') throw new Error(machine);
  const model = ServeModel.ofMachine(machine);
  server = await startServer({
    model,
    console: new Console(machine, cfg, model, home),
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
  });
});

after(async () => {
  await server.close();
  rmSync(home, { recursive: true, force: true });
});

test('every request needs the token: 403 without, with a wrong one, or from another origin', async () => {
  for (const path of ['/', '/api/summary', '/app/main.ts', '/vendor/xterm.mjs', '/api/map']) {
    assert.equal((await get(path)).status, 403, path);
    assert.equal((await get(`${path}?token=${'b'.repeat(64)}`)).status, 403, path);
  }
  assert.equal((await get(`/api/summary?token=${TOKEN}`)).status, 200);
  assert.equal((await get(`/api/summary?token=${TOKEN}`, { Origin: 'http://evil.example' })).status, 403);
  assert.equal(
    (await get(`/api/summary?token=${TOKEN}`, { Host: `evil.example:${server.port}` })).status,
    403,
  );
  assert.equal((await get(`/api/summary?token=${TOKEN}`, { Host: `127.0.0.1:1` })).status, 403);
});

test('the URL with the token sets an HttpOnly SameSite=Strict cookie that then suffices', async () => {
  const r = await get(`/?token=${TOKEN}`);
  assert.equal(r.status, 302);
  const cookie = String(r.headers['set-cookie']);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const pair = cookie.split(';')[0]!;
  const page = await get('/', { Cookie: pair });
  assert.equal(page.status, 200);
  assert.match(page.body, /<script type="module" src="\/app\/main.ts">/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  // TypeScript is served as JavaScript with its types stripped.
  const js = await get('/app/format.ts', { Cookie: pair });
  assert.match(String(js.headers['content-type']), /text\/javascript/);
  assert.doesNotMatch(js.body, /\(x: number\): string/);
  assert.match(js.body, /export function hex\(x/);
});

test('static serving cannot leave its folder: /../ paths are 404', async () => {
  for (const path of [
    '/../package.json',
    '/../../etc/passwd',
    '/app/../package.json',
    '/app/../../package.json',
    '/app/%2e%2e/package.json',
    '/app/..%2fpackage.json',
    '/app/%2e%2e%2f%2e%2e%2fpackage.json',
    '/app/..\\..\\package.json',
    '/vendor/../package.json',
    '/app/tsconfig.json',
    '/app/nosuchfile.ts',
  ]) {
    const r = await get(`${path}?token=${TOKEN}`);
    assert.equal(r.status, 404, path);
    assert.doesNotMatch(r.body, /"name": "kho"|root:x:0/);
  }
});

test('the WebSocket needs the token and our origin (403), and runs the shell', async () => {
  const origin = `http://127.0.0.1:${server.port}`;
  assert.equal(await upgrade('/ws', { Origin: origin }), 403);
  assert.equal(await upgrade(`/ws?token=${TOKEN}`, { Origin: 'http://evil.example' }), 403);
  assert.equal(await upgrade(`/ws?token=${TOKEN}`, {}), 403);
  assert.equal(await upgrade(`/nows?token=${TOKEN}`, { Origin: origin }), 404);
  assert.equal(await upgrade(`/ws?token=${TOKEN}`, { Origin: origin }), 101);

  // Node's WebSocket (undici) takes headers as an extension of the protocols argument.
  const init = { headers: { Origin: origin } } as unknown as string[];
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${TOKEN}`, init);
  const got: TermServerMessage[] = [];
  const until = (pred: (m: TermServerMessage) => boolean): Promise<TermServerMessage> =>
    new Promise((resolve) => {
      const hit = got.find(pred);
      if (hit !== undefined) {
        resolve(hit);
        return;
      }
      ws.addEventListener('message', function on(ev) {
        const m = JSON.parse(String(ev.data)) as TermServerMessage;
        if (pred(m)) {
          ws.removeEventListener('message', on);
          resolve(m);
        }
      });
    });
  ws.addEventListener('message', (ev) => got.push(JSON.parse(String(ev.data)) as TermServerMessage));
  await until((m) => m.t === 'prompt');
  const v0 = (await api<SummaryJson>('summary')).version;
  ws.send(JSON.stringify({ t: 'line', text: 'echo hello from $HOME' }));
  await until((m) => m.t === 'out' && m.data.includes(`hello from ${home}`));
  const state = await until((m) => m.t === 'state');
  assert.ok(state.t === 'state' && state.version > v0);
  ws.send(JSON.stringify({ t: 'line', text: 'echo "open' }));
  assert.equal(
    ((await until((m) => m.t === 'prompt' && m.prompt === '> ')) as { prompt: string }).prompt,
    '> ',
  );
  ws.send(JSON.stringify({ t: 'interrupt' }));
  await until((m) => m.t === 'out' && m.data.includes('^C'));
  ws.send(JSON.stringify({ t: 'complete', id: 7, line: 'modp' }));
  const c = await until((m) => m.t === 'complete');
  assert.deepEqual(c, { t: 'complete', id: 7, matches: ['modprobe '], word: 'modp' });
  ws.send('not json');
  ws.send(JSON.stringify({ t: 'line', text: 'echo $?' }));
  await until((m) => m.t === 'out' && m.data === '130\n');
  ws.close();
});

test('the API: map bins add up to the summary, pages, radix keys, bad parameters are 400', async () => {
  const s = await api<SummaryJson>('summary');
  assert.equal(s.mode, 'machine');
  assert.ok(s.preserved !== null && s.preserved.blocks >= 2);
  const m = await api<MapJson>('map?bins=100');
  assert.equal(m.binSize, 16 * 1024 * 1024);
  assert.equal(m.start, 0);
  assert.equal(
    m.layers.preserved.reduce((a, b) => a + b, 0),
    s.preserved.bytes,
  );
  assert.equal(
    m.layers.ram.reduce((a, b) => a + b, 0),
    s.nodes.reduce((a, n) => a + n.bytes, 0),
  );
  const fdt = m.items?.find((i) => i.kind === 'fdt');
  assert.ok(fdt !== undefined);
  const page = await api<{
    phys: number;
    block: { order: number; ownerName: string } | null;
    hexdump: string;
  }>(`page?addr=0x${fdt.start.toString(16)}`);
  assert.equal(page.phys, fdt.start);
  assert.equal(page.block?.ownerName, 'KHO FDT');
  assert.match(page.hexdump, /d0 0d fe ed/);
  const key = await api<{ present: boolean; key: string }>(
    `radix/key?addr=0x${fdt.start.toString(16)}&order=0`,
  );
  assert.equal(key.present, true);
  assert.equal(key.key, `0x${(2 ** 52 + fdt.start / 4096).toString(16)}`);
  for (const bad of [
    'map?bins=0',
    'map?start=zz',
    'map?start=0x10&end=0x10',
    'page?addr=-1',
    'radix/key?addr=0x1001&order=0',
  ]) {
    const r = await get(`/api/${bad}&token=${TOKEN}`);
    assert.equal(r.status, 400, bad);
    assert.match((JSON.parse(r.body) as { error: string }).error, /\w/);
  }
  assert.equal((await get(`/api/nothing?token=${TOKEN}`)).status, 404);
});

test('it listens only where asked: 127.0.0.1, not 127.0.0.2 nor ::1', async () => {
  assert.equal(server.host, '127.0.0.1');
  for (const host of ['127.0.0.2', '::1']) {
    const err = await new Promise<string>((resolve) => {
      const s = connect({ host, port: server.port });
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => {
        resolve(e.code ?? 'error');
      });
    });
    assert.notEqual(err, 'connected', host);
  }
  assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('[::1]') && isLoopback('localhost'));
  assert.ok(!isLoopback('0.0.0.0') && !isLoopback('192.0.2.1') && !isLoopback('::'));
});

test('kho serve: bad options exit 2, a foreign --host warns and fails cleanly', () => {
  const kho = (args: string[]) =>
    spawnSync(process.execPath, ['src/cli/main.ts', 'serve', ...args], { encoding: 'utf8' });
  let r = kho(['--port', 'x']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'kho serve: --port: expected 0..65535, got "x"\n');
  r = kho(['--mem', '3Q', '--port', '0']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^kho serve: --mem: /);
  r = kho(['--inspect', '--port', '0']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'kho serve: give --fdt FILE and/or --image FILE\n');
  r = kho(['--host', '192.0.2.1', '--port', '0', '--mem', '1G', '--nodes', '1']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /warning: listening on 192\.0\.2\.1, not loopback: .*terminal.*files/);
  assert.match(r.stderr, /192\.0\.2\.1 is not an address of this host\n$/);
});

test('kho serve --inspect serves a real image read-only, and stops on SIGINT with exit 0', async () => {
  const cfg = machineConfig({ mem: '1G', nodes: '1' });
  if (typeof cfg === 'string') throw new Error(cfg);
  const machine = bootMachine(cfg);
  if (typeof machine === 'string') throw new Error(machine);
  const core = join(home, 'core.elf');
  writeElfCore(machine.mem, machine.topology.ramRanges(), core);
  const child = spawn(
    process.execPath,
    ['src/cli/main.ts', 'serve', '--inspect', '--image', core, '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]{64})/.exec(out);
      if (m !== null) resolve(m[0]);
    });
    child.on('exit', () => {
      reject(new Error(`exited: ${out}`));
    });
  });
  const u = new URL(url);
  const port = Number(u.port);
  const token = u.searchParams.get('token')!;
  const r = await get(`/api/summary?token=${token}`, { Host: `127.0.0.1:${port}` }, '127.0.0.1', port);
  const s = JSON.parse(r.body) as SummaryJson;
  assert.equal(s.mode, 'inspect');
  assert.equal(s.kernel, null);
  assert.equal(s.preserved?.blocks, 2);
  assert.equal((await get(`/api/summary`, { Host: `127.0.0.1:${port}` }, '127.0.0.1', port)).status, 403);
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', (c) => {
      resolve(c);
    });
    child.kill('SIGINT');
  });
  assert.equal(code, 0);
});
