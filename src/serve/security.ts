/**
 * Who may talk to `kho serve`: whoever holds the per-run secret token (printed in the URL, as
 * notebook servers do). The token comes as `?token=` or, once the page loaded, as an HttpOnly
 * SameSite=Strict cookie; everything else gets 403, WebSocket included. Requests from other
 * origins are refused (a page elsewhere cannot drive the terminal), and on a loopback address
 * the Host header must name the server (no DNS rebinding).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** A fresh secret: 32 random bytes as hex. */
export function newToken(): string {
  return randomBytes(32).toString('hex');
}

/** Whether `host` (an address or name) is loopback. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The cookie that carries the token (one per port, so two servers do not mix). */
export function cookieName(port: number): string {
  return `kho-serve-${port}`;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** Why a request is refused (403), or null when it may go on. */
export interface Gate {
  token: string;
  /** The address the server is bound to. */
  host: string;
  port: number;
}

/** The reason to refuse `req`, or null. `url` is the parsed request URL. */
export function refuse(gate: Gate, req: IncomingMessage, url: URL, upgrade: boolean): string | null {
  const hostHeader = req.headers.host ?? '';
  if (isLoopback(gate.host)) {
    const name = hostHeader.replace(/:\d+$/, '');
    const port = /:(\d+)$/.exec(hostHeader)?.[1];
    if (!isLoopback(name) || port !== String(gate.port)) return 'unexpected Host header';
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${hostHeader}`) return 'cross-origin request';
  if (upgrade && origin === undefined) return 'WebSocket without Origin';
  const given = url.searchParams.get('token') ?? cookie(req, cookieName(gate.port));
  if (given === null || !sameSecret(given, gate.token)) return 'missing or wrong token';
  return null;
}

/** The Set-Cookie value that keeps the token for the page's own requests. */
export function tokenCookie(gate: Gate): string {
  return `${cookieName(gate.port)}=${gate.token}; HttpOnly; SameSite=Strict; Path=/`;
}
