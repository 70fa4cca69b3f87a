/**
 * busybox `devmem ADDRESS [WIDTH [VALUE]]`: read (printed as `0x%0*llX`, width/4 digits) or write
 * 8/16/32/64 bits of physical memory (width letters b/h/w/l too; default 32). The model's
 * /dev/mem is not restricted (no CONFIG_STRICT_DEVMEM); addresses past the end fail mmap.
 */
import type { ShellCommand } from '../command.ts';

const USAGE =
  'BusyBox v1.36.1 (Debian 1:1.36.1-3) multi-call binary.\n\n' +
  'Usage: devmem ADDRESS [WIDTH [VALUE]]\n\n' +
  'Read/write from physical address\n\n' +
  '\tADDRESS\tAddress to act upon\n' +
  '\tWIDTH\tWidth (8/16/...)\n' +
  '\tVALUE\tData to be written\n';

/** `bb_strtoull(s, NULL, 0)`: decimal, 0x hex or 0 octal, the whole string; null if not. */
export function strtoull(s: string): bigint | null {
  if (!/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(s)) return null;
  const v = s.length > 1 && s.startsWith('0') && !/^0[xX]/.test(s) ? BigInt(`0o${s.slice(1)}`) : BigInt(s);
  return v < 1n << 64n ? v : null;
}

export const devmem: ShellCommand = {
  name: 'devmem',
  usage: 'devmem ADDRESS [WIDTH [VALUE]]',
  summary: 'read/write physical memory (busybox devmem)',
  run(args, ctx) {
    const a0 = args[0];
    if (a0 === undefined || args.length > 3) {
      ctx.stderr.write(USAGE);
      return 1;
    }
    const addrBig = strtoull(a0);
    let width = 32;
    const w = args[1];
    if (w !== undefined) {
      if (/^[0-9]/.test(w) || w.length > 1) {
        if (!/^[0-9]+$/.test(w)) {
          ctx.stderr.write(`devmem: invalid number '${w}'\n`);
          return 1;
        }
        width = Number(w);
      } else width = { b: 8, h: 16, w: 32, l: 64 }[w.toLowerCase()] ?? 0;
    }
    const valBig = args[2] === undefined ? null : strtoull(args[2]);
    if (addrBig === null || (args[2] !== undefined && valBig === null)) {
      ctx.stderr.write(USAGE);
      return 1;
    }
    if (width !== 8 && width !== 16 && width !== 32 && width !== 64) {
      ctx.stderr.write('devmem: bad width\n');
      return 1;
    }
    const mem = ctx.session.machine.mem;
    const bytes = width / 8;
    if (addrBig + BigInt(bytes) > BigInt(mem.limit)) {
      ctx.stderr.write('devmem: mmap: Invalid argument\n');
      return 1;
    }
    const addr = Number(addrBig);
    if (valBig === null) {
      let v = 0n;
      for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(mem.readU8(addr + i));
      ctx.stdout.write(
        `0x${v
          .toString(16)
          .toUpperCase()
          .padStart(width / 4, '0')}\n`,
      );
      return 0;
    }
    // The store truncates VALUE to WIDTH bits, little-endian.
    let v = valBig;
    for (let i = 0; i < bytes; i++) {
      mem.writeU8(addr + i, Number(v & 0xffn));
      v >>= 8n;
    }
    return 0;
  },
};
