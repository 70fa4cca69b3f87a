/**
 * The machine's console for the page: one shell session shared by every connected page (like
 * a serial console), fed line by line with `kho shell`'s semantics: bash's prompt, `> ` for
 * continuation lines, Ctrl-C drops the line ($? = 130), Ctrl-D or `exit` logs out (and, as a
 * getty would, a new login starts). Commands run one at a time; after each the model is told,
 * so every view updates. Output is kept (the last 256 KiB) for pages that connect later.
 */
import type { Machine } from '../kernel/machine.ts';
import { complete } from '../shell/complete.ts';
import { callbackSink } from '../shell/io.ts';
import { createSession, type MachineConfig } from '../shell/machine-setup.ts';
import type { Session } from '../shell/session.ts';
import type { HostDir } from '../util/host-dir.ts';
import { parseNext } from '../shell/parser.ts';
import type { TermClientMessage, TermServerMessage } from './api-types.ts';
import type { ServeModel } from './model.ts';

/** Output kept for late joiners. */
const BACKLOG = 256 * 1024;

/** One connected page. */
export interface TermClient {
  send(msg: TermServerMessage): void;
}

/** The shared console. */
export class Console {
  private readonly machine: Machine;
  private readonly cfg: Pick<MachineConfig, 'cmdline' | 'profile'>;
  private readonly model: ServeModel;
  private readonly home: string | HostDir | null;
  private session: Session;
  private readonly clients = new Set<TermClient>();
  private backlog = '';
  private pending = '';
  private busy = false;
  private readonly queue: TermClientMessage[] = [];
  private readonly decoder = new TextDecoder();

  constructor(
    machine: Machine,
    cfg: Pick<MachineConfig, 'cmdline' | 'profile'>,
    model: ServeModel,
    home: string | HostDir | null,
  ) {
    this.machine = machine;
    this.cfg = cfg;
    this.model = model;
    this.home = home;
    this.session = this.login();
    this.emit(
      `Linux kho ${machine.kernel?.release ?? '?'} (simulated machine; "${cfg.cmdline}")\r\n` +
        "Type 'help' for the commands. The views on the right follow every command.\r\n\r\n",
    );
  }

  private login(): Session {
    const out = callbackSink((b) => {
      this.emit(this.decoder.decode(b, { stream: true }));
    });
    return createSession(this.machine, this.cfg, {
      stdout: out,
      stderr: out,
      home: this.home,
      columns: () => 100,
    });
  }

  private emit(data: string): void {
    if (data === '') return;
    this.backlog = (this.backlog + data).slice(-BACKLOG);
    this.broadcast({ t: 'out', data });
  }

  private broadcast(msg: TermServerMessage): void {
    for (const c of this.clients) c.send(msg);
  }

  private prompt(): string {
    return this.pending === '' ? this.session.prompt() : '> ';
  }

  /** A page connected: replay the output so far and the prompt. */
  attach(c: TermClient): void {
    this.clients.add(c);
    if (this.backlog !== '') c.send({ t: 'out', data: this.backlog });
    c.send(this.busy ? { t: 'busy' } : { t: 'prompt', prompt: this.prompt() });
  }

  detach(c: TermClient): void {
    this.clients.delete(c);
  }

  /** A message from a page. */
  receive(c: TermClient, msg: TermClientMessage): void {
    if (msg.t === 'interrupt') {
      if (this.busy) this.machine.interrupt.raise();
      else this.cancelLine();
      return;
    }
    if (msg.t === 'complete') {
      const [matches, word] = complete(this.session, msg.line);
      c.send({ t: 'complete', id: msg.id, matches, word });
      return;
    }
    if (msg.t === 'resize') return;
    this.queue.push(msg);
    void this.drain();
  }

  private cancelLine(): void {
    this.emit('^C\r\n');
    this.pending = '';
    this.session.status = 130;
    this.broadcast({ t: 'prompt', prompt: this.prompt() });
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (let msg = this.queue.shift(); msg !== undefined; msg = this.queue.shift()) {
        if (msg.t === 'line') await this.line(msg.text);
        else if (msg.t === 'eof') this.logout('\r\nlogout\r\n');
      }
    } finally {
      this.busy = false;
    }
    this.broadcast({ t: 'prompt', prompt: this.prompt() });
  }

  private logout(text: string): void {
    this.emit(text);
    this.pending = '';
    this.session = this.login();
    this.emit('\r\n');
  }

  private async line(input: string): Promise<void> {
    const text = this.pending === '' ? input : `${this.pending}\n${input}`;
    if (parseNext(`${text}\n`, 0, { final: false }).kind === 'incomplete') {
      this.pending = text;
      return;
    }
    this.pending = '';
    if (text.trim() === '') return;
    this.broadcast({ t: 'busy' });
    const ranOn = this.machine.kernel;
    const t0 = performance.now();
    this.machine.interrupt.clear();
    await this.session.runText(text);
    const seconds = (performance.now() - t0) / 1000;
    this.emit(this.decoder.decode());
    if (this.session.exitStatus !== null) this.logout('logout\r\n');
    this.model.changed();
    this.model.generations?.command(text, this.session.status, seconds, ranOn);
    this.broadcast({ t: 'state', version: this.model.version });
  }
}
