/**
 * bash's builtin `printf [-v VAR] FORMAT [ARG]...`: the format's backslash escapes and
 * conversions `%d %i %u %o %x %X %c %s %b %q %f %e %g %%` with flags, width and precision
 * (`*` takes them from the arguments); the format is reused while arguments remain; a missing
 * argument is 0 or empty; a bad number prints `printf: X: invalid number` and returns 1.
 */
import type { ShellCommand } from '../command.ts';
import { echoEscapes } from './echo.ts';
import { ansiEscape } from '../ansi-escape.ts';

/** `%q`: quote for reuse as shell input. */
function shellQuote(s: string): string {
  if (s === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return s.replace(/[^A-Za-z0-9_@%+=:,./-]/g, (c) => `\\${c}`);
}

function pad(s: string, width: number, left: boolean, zero: boolean): string {
  if (s.length >= width) return s;
  if (left) return s.padEnd(width);
  if (zero) {
    const sign = /^[-+ ]/.test(s) ? s[0]! : '';
    const prefix = /^[-+ ]?0[xX]/.test(s) ? s.slice(sign.length, sign.length + 2) : '';
    const body = s.slice(sign.length + prefix.length);
    return sign + prefix + body.padStart(width - sign.length - prefix.length, '0');
  }
  return s.padStart(width);
}

export const printf: ShellCommand = {
  name: 'printf',
  usage: 'printf [-v VAR] FORMAT [ARG]...',
  summary: 'formatted output (bash builtin: %s %d %x %b %q …, escapes)',
  builtin: true,
  run(args, ctx) {
    const s = ctx.session;
    let a = [...args];
    let toVar: string | null = null;
    if (a[0] === '-v') {
      toVar = a[1] ?? null;
      if (toVar === null) {
        ctx.stderr.write(
          `${s.errorPrefix()}printf: -v: option requires an argument\nprintf: usage: printf [-v var] format [arguments]\n`,
        );
        return 2;
      }
      a = a.slice(2);
    }
    if (a[0] === '--') a = a.slice(1);
    const format = a[0];
    if (format === undefined) {
      ctx.stderr.write('printf: usage: printf [-v var] format [arguments]\n');
      return 2;
    }
    const rest = a.slice(1);
    let ai = 0;
    let status = 0;
    let out = '';
    const nextArg = (): string | undefined => (ai < rest.length ? rest[ai++] : undefined);
    const num = (v: string | undefined): bigint => {
      if (v === undefined || v === '') return 0n;
      const t = v.trim();
      if (/^['"]/.test(t)) return BigInt(t.codePointAt(1) ?? 0);
      const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(t);
      if (m === null || m[0].length !== t.length) {
        ctx.stderr.write(`${s.errorPrefix()}printf: ${v}: invalid number\n`);
        status = 1;
        if (m === null) return 0n;
      }
      const body = m[2]!;
      const mag = /^0[0-7]+$/.test(body) ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
      return m[1] === '-' ? -mag : mag;
    };
    const float = (v: string | undefined): number => {
      if (v === undefined || v === '') return 0;
      const n = Number(v.trim());
      if (Number.isNaN(n)) {
        ctx.stderr.write(`${s.errorPrefix()}printf: ${v}: invalid number\n`);
        status = 1;
        return 0;
      }
      return n;
    };
    let stop = false;
    do {
      const before = ai;
      for (let i = 0; i < format.length && !stop;) {
        const c = format[i]!;
        if (c === '\\') {
          const e = ansiEscape(format, i, { control: false }); // no `\c` in a format
          out += e.text;
          i = e.next;
          continue;
        }
        if (c !== '%') {
          out += c;
          i++;
          continue;
        }
        const m = /^%([-+ 0#]*)(\*|[0-9]+)?(?:\.(\*|[0-9]*))?([diouxXcsbqfeEgG%])/.exec(format.slice(i));
        if (m === null) {
          ctx.stderr.write(`${s.errorPrefix()}printf: \`${format[i + 1] ?? ''}': invalid format character\n`);
          ctx.stdout.write(out);
          return 1;
        }
        i += m[0].length;
        const flags = m[1]!;
        const conv = m[4]!;
        if (conv === '%') {
          out += '%';
          continue;
        }
        let width = m[2] === '*' ? Number(num(nextArg())) : m[2] === undefined ? 0 : Number(m[2]);
        let left = flags.includes('-');
        if (width < 0) {
          left = true;
          width = -width;
        }
        const precText = m[3];
        const prec =
          precText === undefined ? null : precText === '*' ? Number(num(nextArg())) : Number(precText || '0');
        const zero = flags.includes('0') && !left;
        let text: string;
        switch (conv) {
          case 's':
          case 'q': {
            const v = nextArg() ?? '';
            text = conv === 'q' ? shellQuote(v) : v;
            if (prec !== null) text = text.slice(0, prec);
            out += pad(text, width, left, false);
            continue;
          }
          case 'b': {
            const e = echoEscapes(nextArg() ?? '');
            text = prec !== null ? e.text.slice(0, prec) : e.text;
            out += pad(text, width, left, false);
            if (e.stop) stop = true;
            continue;
          }
          case 'c': {
            const v = nextArg() ?? '';
            out += pad(v.slice(0, 1), width, left, false);
            continue;
          }
          case 'f':
          case 'e':
          case 'E':
          case 'g':
          case 'G': {
            const v = float(nextArg());
            const p = prec ?? 6;
            text =
              conv === 'f'
                ? v.toFixed(p)
                : conv === 'e' || conv === 'E'
                  ? v.toExponential(p).replace(/e([+-])(\d)$/, 'e$10$2')
                  : String(Number(v.toPrecision(p || 1)));
            if (conv === 'E' || conv === 'G') text = text.toUpperCase();
            if (v >= 0 && flags.includes('+')) text = `+${text}`;
            else if (v >= 0 && flags.includes(' ')) text = ` ${text}`;
            out += pad(text, width, left, zero);
            continue;
          }
          default: {
            let v = num(nextArg());
            if (conv === 'u' || conv === 'o' || conv === 'x' || conv === 'X') v = BigInt.asUintN(64, v);
            else v = BigInt.asIntN(64, v);
            const neg = v < 0n;
            const mag = neg ? -v : v;
            let digits =
              conv === 'o'
                ? mag.toString(8)
                : conv === 'x'
                  ? mag.toString(16)
                  : conv === 'X'
                    ? mag.toString(16).toUpperCase()
                    : mag.toString();
            if (prec !== null) digits = prec === 0 && mag === 0n ? '' : digits.padStart(prec, '0');
            if (flags.includes('#') && mag !== 0n) {
              if (conv === 'o') digits = `0${digits}`;
              else if (conv === 'x') digits = `0x${digits}`;
              else if (conv === 'X') digits = `0X${digits}`;
            }
            const sign = neg ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '';
            out += pad(sign + digits, width, left, zero && prec === null);
          }
        }
      }
      // Reuse the format while arguments remain (only if it consumed some).
      if (ai === before) break;
    } while (ai < rest.length && !stop);
    if (toVar !== null) s.setVar(toVar, out);
    else ctx.stdout.write(out);
    return status;
  },
};
