/** bash's builtin `echo [-neE] [ARG]...`. */
import type { ShellCommand } from '../command.ts';

/** Interpret `echo -e` escapes; `stop` is set by `\c` (no further output). */
export function echoEscapes(s: string): { text: string; stop: boolean } {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const d = s[++i]!;
    switch (d) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'a':
        out += '\x07';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case 'e':
      case 'E':
        out += '\x1b';
        break;
      case '\\':
        out += '\\';
        break;
      case 'c':
        return { text: out, stop: true };
      case '0': {
        let j = i + 1;
        while (j < s.length && j < i + 4 && /[0-7]/.test(s[j]!)) j++;
        out += String.fromCharCode(parseInt(s.slice(i + 1, j) || '0', 8) & 0xff);
        i = j - 1;
        break;
      }
      case 'x': {
        let j = i + 1;
        while (j < s.length && j < i + 3 && /[0-9a-fA-F]/.test(s[j]!)) j++;
        if (j === i + 1) out += '\\x';
        else out += String.fromCharCode(parseInt(s.slice(i + 1, j), 16));
        i = j - 1;
        break;
      }
      default:
        out += `\\${d}`;
    }
  }
  return { text: out, stop: false };
}

export const echo: ShellCommand = {
  name: 'echo',
  usage: 'echo [-neE] [ARG]...',
  summary: 'print arguments (with > FILE: write to a pseudo file, e.g. KHO debugfs)',
  builtin: true,
  run(args, ctx) {
    let newline = true;
    let escapes = false;
    let i = 0;
    for (; i < args.length; i++) {
      const a = args[i]!;
      if (!/^-[neE]+$/.test(a)) break;
      for (const c of a.slice(1)) {
        if (c === 'n') newline = false;
        else if (c === 'e') escapes = true;
        else escapes = false;
      }
    }
    let text = args.slice(i).join(' ');
    if (escapes) {
      const r = echoEscapes(text);
      text = r.text;
      if (r.stop) newline = false;
    }
    // Escapes can produce raw bytes (\xff): write them as latin1, not UTF-8.
    const bytes = escapes
      ? Uint8Array.from(text + (newline ? '\n' : ''), (ch) => ch.charCodeAt(0) & 0xff)
      : null;
    ctx.stdout.write(bytes ?? text + (newline ? '\n' : ''));
    return 0;
  },
};
