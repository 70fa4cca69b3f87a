/** The page's client of the JSON API (the token travels in the session cookie). */

/** GET /api/<route> as JSON; throws with the server's message on an error status. */
export async function api<T>(route: string, params: Record<string, string | number> = {}): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) q.set(k, typeof v === 'number' ? `0x${v.toString(16)}` : v);
  const qs = q.toString();
  const res = await fetch(`/api/${route}${qs === '' ? '' : `?${qs}`}`);
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}
