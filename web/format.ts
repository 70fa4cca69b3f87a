/** Number formatting shared by the views. */

/** `0x…` lowercase hex. */
export function hex(x: number): string {
  return `0x${x.toString(16)}`;
}

/** Binary size: `4 KiB`, `1.5 GiB`, `0 B`. */
export function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const text = Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1);
  return `${text} ${units[u] ?? 'B'}`;
}

/** A count with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Escape text for innerHTML. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Make the physical addresses in (escaped) DTS text links to the memory map: hex numbers inside
 * the KHO notes (`/* … *\/`) that speak of a physical address or a first page.
 */
export function linkAddresses(escaped: string): string {
  return escaped.replace(/\/\*[^\n]*?\*\//g, (comment) =>
    /phys|first|addr/.test(comment)
      ? comment.replace(/\b0x[0-9a-f]{4,13}\b/g, (a) => `<a href="#map?addr=${a}">${a}</a>`)
      : comment,
  );
}

/** Make every `0x…` address in (escaped) text a link to the memory map. */
export function linkHex(escaped: string): string {
  return escaped.replace(/\b0x[0-9a-f]{4,13}\b/g, (a) => `<a href="#map?addr=${a}">${a}</a>`);
}

/** An element with optional class and HTML content. */
export function el(tag: string, cls = '', html = ''): HTMLElement {
  const e = document.createElement(tag);
  if (cls !== '') e.className = cls;
  if (html !== '') e.innerHTML = html;
  return e;
}
