/**
 * The HTTP server of `kho serve`: the page (`/`, `/app/…`, `/vendor/…`), the JSON API
 * (`/api/…`, answered by {@link ServeModel}) and the terminal WebSocket (`/ws`, the `ws`
 * package in no-server mode behind our own checks). Every request passes security.ts first.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TermClientMessage } from './api-types.ts';
import type { ServeModel } from './model.ts';
import { refuse, tokenCookie, type Gate } from './security.ts';
import { staticFile } from './static.ts';
import type { Console } from './terminal.ts';

/** What a server serves. */
export interface ServeOptions {
  model: ServeModel;
  /** The shared console (machine mode), null without a terminal. */
  console: Console | null;
  host: string;
  /** 0 picks a free port. */
  port: number;
  token: string;
}

/** A running server. */
export interface RunningServer {
  server: Server;
  host: string;
  port: number;
  /** The URL to open, with the token. */
  url: string;
  close(): Promise<void>;
}

const HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
};

/** Largest WebSocket message accepted from a page. */
const MAX_MESSAGE = 1 << 20;

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, { ...HEADERS, 'Content-Type': type, ...extra });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

/** A raw request path that tries to climb out (`/../`, encoded or not): always 404. */
function climbs(rawPath: string): boolean {
  let p: string;
  try {
    p = decodeURIComponent(rawPath);
  } catch {
    return true;
  }
  return p.split(/[/\\]/).some((seg) => seg === '..');
}

function parseMessage(data: Buffer): TermClientMessage | null {
  try {
    const m = JSON.parse(data.toString('utf8')) as { t?: unknown };
    switch (m.t) {
      case 'line': {
        const text = (m as { text?: unknown }).text;
        return typeof text === 'string' ? { t: 'line', text } : null;
      }
      case 'complete': {
        const { id, line } = m as { id?: unknown; line?: unknown };
        return typeof id === 'number' && typeof line === 'string' ? { t: 'complete', id, line } : null;
      }
      case 'interrupt':
        return { t: 'interrupt' };
      case 'eof':
        return { t: 'eof' };
      case 'resize':
        return { t: 'resize', cols: 0, rows: 0 };
      default:
        return null;
    }
  } catch {
    return null;
  }
}

/** Start serving; resolves once listening. Listen errors reject (e.g. EADDRINUSE). */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const gate: Gate = { token: opts.token, host: opts.host, port: opts.port };
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const raw = req.url ?? '/';
    const rawPath = raw.split('?')[0] ?? '/';
    if (climbs(rawPath)) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    const url = new URL(raw, 'http://localhost');
    const why = refuse(gate, req, url, false);
    if (why !== null) {
      send(res, 403, 'text/plain; charset=utf-8', `forbidden: ${why}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    const path = url.pathname;
    if (path.startsWith('/api/')) {
      let r: { status: number; body: unknown };
      try {
        r = opts.model.handle(path.slice('/api/'.length), url.searchParams);
      } catch (err) {
        r = {
          status: 500,
          body: { error: `the model could not answer: ${err instanceof Error ? err.message : String(err)}` },
        };
      }
      sendJson(res, r.status, r.body);
      return;
    }
    // The URL with the token: keep it in a cookie, then drop it from the address bar.
    if (url.searchParams.has('token') && (path === '/' || path === '/index.html')) {
      res.writeHead(302, { ...HEADERS, 'Set-Cookie': tokenCookie(gate), Location: '/' });
      res.end();
      return;
    }
    const file = staticFile(path);
    if (file === null) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    send(res, 200, file.type, file.body);
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const raw = req.url ?? '/';
    const url = new URL(raw, 'http://localhost');
    const why = url.pathname !== '/ws' ? 'no such endpoint' : refuse(gate, req, url, true);
    const con = opts.console;
    if (why !== null || con === null) {
      socket.end(
        `HTTP/1.1 ${why === 'no such endpoint' || con === null ? '404 Not Found' : '403 Forbidden'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const client = {
        send: (msg: unknown) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
        },
      };
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const msg = isBinary ? null : parseMessage(data);
        if (msg !== null) con.receive(client, msg);
      });
      ws.on('close', () => {
        con.detach(client);
      });
      ws.on('error', () => {
        con.detach(client);
      });
      con.attach(client);
    });
  };

  const server = createServer(handle);
  server.on('upgrade', upgrade);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const addr = server.address() as AddressInfo;
  gate.port = addr.port;
  const hostInUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    host: addr.address,
    port: addr.port,
    url: `http://${hostInUrl}:${addr.port}/?token=${opts.token}`,
    close: () =>
      new Promise<void>((done) => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections();
        server.close(() => {
          done();
        });
      }),
  };
}
