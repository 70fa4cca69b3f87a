/**
 * The machine's console in the page: xterm.js for the screen, a small line editor here (the
 * server runs complete lines, like a serial console's getty would hand them to bash):
 * left/right, Home/End, history (up/down), Backspace/Delete, Ctrl-A/E/U/K/W/L, Tab completion
 * asked of the server, Ctrl-C (drops the line, or interrupts the running command), Ctrl-D
 * (logout on an empty line). Pasted text runs line by line.
 */
import { Terminal } from '/vendor/xterm.mjs';
import { FitAddon } from '/vendor/addon-fit.mjs';
import type { TermClientMessage, TermServerMessage } from '../src/serve/api-types.ts';

/** Control characters, dropped from pasted text. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f]/g;

/** The console of one page. */
export class WebTerminal {
  readonly term: Terminal;
  private readonly fit: FitAddon;
  private ws: WebSocket | null = null;
  private line = '';
  private cursor = 0;
  private prompt = '';
  private busy = true;
  private readonly history: string[] = [];
  private hpos = 0;
  private completeId = 0;
  /** Lines pasted or typed while a command ran: sent one by one at each prompt. */
  private readonly typeahead: string[] = [];
  /** The partial last line of a paste, put in the editor once the pasted lines ran. */
  private carry = '';
  private readonly onState: (version: number) => void;

  constructor(host: HTMLElement, onState: (version: number) => void) {
    this.onState = onState;
    this.term = new Terminal({
      convertEol: true,
      cursorBlink: true,
      fontSize: 13,
      scrollback: 5000,
      theme: { background: '#000000' },
    });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    this.term.open(host);
    this.fit.fit();
    new ResizeObserver(() => {
      this.fit.fit();
    }).observe(host);
    this.term.onData((d) => {
      this.input(d);
    });
    this.connect();
  }

  private send(m: TermClientMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  private connect(): void {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    this.ws = ws;
    ws.onmessage = (ev) => {
      this.receive(JSON.parse(String(ev.data)) as TermServerMessage);
    };
    ws.onclose = () => {
      this.busy = true;
      this.term.write('\r\n\x1b[31m[connection to kho serve closed]\x1b[0m\r\n');
    };
  }

  private receive(m: TermServerMessage): void {
    switch (m.t) {
      case 'out':
        this.term.write(m.data);
        break;
      case 'busy':
        this.busy = true;
        break;
      case 'prompt': {
        this.busy = false;
        this.prompt = m.prompt;
        this.line = '';
        this.cursor = 0;
        this.hpos = this.history.length;
        this.term.write(m.prompt);
        const next = this.typeahead.shift();
        if (next !== undefined) {
          this.insert(next);
          this.submitCurrent();
        } else if (this.carry !== '') {
          this.insert(this.carry);
          this.carry = '';
        }
        break;
      }
      case 'state':
        this.onState(m.version);
        break;
      case 'complete':
        if (m.id === this.completeId) this.completed(m.matches, m.word);
        break;
    }
  }

  /** Redraw the edited line after the prompt and put the cursor in place. */
  private redraw(): void {
    const back = this.line.length - this.cursor;
    this.term.write(`\r${this.prompt}${this.line}\x1b[K${back > 0 ? `\x1b[${back}D` : ''}`);
  }

  private insert(s: string): void {
    this.line = this.line.slice(0, this.cursor) + s + this.line.slice(this.cursor);
    this.cursor += s.length;
    this.redraw();
  }

  /** Type `text` as the user would (tests use it too). */
  type(text: string): void {
    this.input(text);
  }

  private input(d: string): void {
    if (d === '\x03') {
      if (this.busy) this.send({ t: 'interrupt' });
      else {
        this.send({ t: 'interrupt' });
        this.busy = true;
      }
      this.typeahead.length = 0;
      return;
    }
    if (this.busy) {
      // Keep whole lines typed ahead; partial keystrokes while busy are dropped.
      for (const l of d.split(/\r\n|\r|\n/).slice(0, -1)) this.typeahead.push(l);
      return;
    }
    if (d.length > 1 && !d.startsWith('\x1b')) {
      // A paste: run every complete line, keep the last partial one in the editor.
      const parts = d.split(/\r\n|\r|\n/).map((p) => p.replace(CONTROL, ''));
      const rest = parts.pop() ?? '';
      if (parts.length === 0) {
        this.insert(rest);
        return;
      }
      this.insert(parts[0]!);
      this.typeahead.push(...parts.slice(1));
      this.carry = rest;
      this.submitCurrent();
      return;
    }
    switch (d) {
      case '\r':
        this.submitCurrent();
        return;
      case '\x7f':
      case '\b':
        if (this.cursor > 0) {
          this.line = this.line.slice(0, this.cursor - 1) + this.line.slice(this.cursor);
          this.cursor--;
          this.redraw();
        }
        return;
      case '\x1b[3~':
      case '\x04':
        if (d === '\x04' && this.line === '') {
          this.busy = true;
          this.send({ t: 'eof' });
          return;
        }
        this.line = this.line.slice(0, this.cursor) + this.line.slice(this.cursor + 1);
        this.redraw();
        return;
      case '\x1b[D':
        if (this.cursor > 0) this.cursor--;
        this.redraw();
        return;
      case '\x1b[C':
        if (this.cursor < this.line.length) this.cursor++;
        this.redraw();
        return;
      case '\x1b[H':
      case '\x1bOH':
      case '\x01':
        this.cursor = 0;
        this.redraw();
        return;
      case '\x1b[F':
      case '\x1bOF':
      case '\x05':
        this.cursor = this.line.length;
        this.redraw();
        return;
      case '\x15':
        this.line = this.line.slice(this.cursor);
        this.cursor = 0;
        this.redraw();
        return;
      case '\x0b':
        this.line = this.line.slice(0, this.cursor);
        this.redraw();
        return;
      case '\x17': {
        const before = this.line.slice(0, this.cursor).replace(/\S*\s*$/, '');
        this.line = before + this.line.slice(this.cursor);
        this.cursor = before.length;
        this.redraw();
        return;
      }
      case '\x0c':
        this.term.clear();
        this.redraw();
        return;
      case '\x1b[A':
      case '\x1b[B': {
        const up = d === '\x1b[A';
        const n = this.hpos + (up ? -1 : 1);
        if (n < 0 || n > this.history.length) return;
        this.hpos = n;
        this.line = this.history[n] ?? '';
        this.cursor = this.line.length;
        this.redraw();
        return;
      }
      case '\t':
        this.completeId++;
        this.send({ t: 'complete', id: this.completeId, line: this.line.slice(0, this.cursor) });
        return;
      default:
        if (d.startsWith('\x1b') || d < ' ') return;
        this.insert(d);
    }
  }

  private submitCurrent(): void {
    const text = this.line;
    this.line = '';
    this.cursor = 0;
    this.term.write('\r\n');
    if (text.trim() !== '' && this.history[this.history.length - 1] !== text) this.history.push(text);
    this.busy = true;
    this.send({ t: 'line', text });
  }

  private completed(matches: string[], word: string): void {
    if (matches.length === 0) return;
    let common = matches[0]!;
    for (const m of matches) {
      let i = 0;
      while (i < common.length && i < m.length && common[i] === m[i]) i++;
      common = common.slice(0, i);
    }
    if (common.length > word.length) {
      this.insert(common.slice(word.length));
      return;
    }
    if (matches.length > 1) {
      this.term.write(`\r\n${matches.map((m) => m.trimEnd()).join('  ')}\r\n`);
      this.redraw();
    }
  }

  focus(): void {
    this.term.focus();
  }
}
