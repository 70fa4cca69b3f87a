/**
 * The terminal protocol with the session in a real worker thread: prompts and continuation
 * prompts, Ctrl-C at the prompt and during a busy loop (raised from this thread while the
 * worker spins), Tab completion, `exit`, and a piped script with its transcript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FromWorker, TerminalStart, ToWorker } from '../../src/shell/terminal-protocol.ts';
import { TerminalHost } from '../../src/shell/terminal.ts';

/** A host that records output and lets the test wait for messages. */
function open(mode: TerminalStart['mode']): {
  host: TerminalHost;
  out: () => string;
  next: (t: FromWorker['t']) => Promise<FromWorker>;
  send: (m: ToWorker) => void;
} {
  const dec = new TextDecoder();
  let out = '';
  const inbox: FromWorker[] = [];
  let wake: (() => void) | null = null;
  const host = new TerminalHost(
    { machine: { mem: '2G', nodes: '1' }, hostDir: '/tmp', columns: 80, mode },
    (m) => {
      if (m.t === 'out') {
        out += dec.decode(m.data);
        host.send({ t: 'ack', bytes: m.data.length });
        return;
      }
      inbox.push(m);
      wake?.();
    },
    (e) => {
      throw new Error(e);
    },
  );
  const next = async (t: FromWorker['t']): Promise<FromWorker> => {
    for (;;) {
      const i = inbox.findIndex((m) => m.t === t);
      if (i >= 0) return inbox.splice(i, 1)[0]!;
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  };
  return {
    host,
    out: () => out,
    next,
    send: (m) => {
      host.send(m);
    },
  };
}

test(
  'line mode: prompts, continuation, Ctrl-C at the prompt and in a busy loop, completion, exit',
  { timeout: 120000 },
  async () => {
    const t = open('line');
    try {
      assert.match(((await t.next('ready')) as { banner: string }).banner, /^Linux kho /);
      assert.deepEqual(await t.next('prompt'), { t: 'prompt', text: 'root@kho:~# ', continuation: false });
      t.send({ t: 'line', text: 'echo "a' });
      assert.deepEqual(await t.next('prompt'), { t: 'prompt', text: '> ', continuation: true });
      t.send({ t: 'cancel' });
      assert.deepEqual(await t.next('prompt'), { t: 'prompt', text: 'root@kho:~# ', continuation: false });
      t.send({ t: 'line', text: 'echo $?' });
      await t.next('prompt');
      assert.equal(t.out(), '130\n');
      // The worker spins in a shell loop; this thread is free to raise the flag.
      t.send({ t: 'line', text: 'i=0; while true; do i=$((i+1)); done; echo never' });
      await new Promise((r) => setTimeout(r, 300));
      t.host.raiseInterrupt();
      await t.next('interrupted');
      await t.next('prompt');
      t.send({ t: 'line', text: 'echo status=$? looped=$((i > 0))' });
      await t.next('prompt');
      assert.equal(t.out(), '130\nstatus=130 looped=1\n');
      t.send({ t: 'complete', id: 7, line: 'ls /sys/kernel/debug/kho/out/s' });
      assert.deepEqual(await t.next('completions'), {
        t: 'completions',
        id: 7,
        matches: ['scratch_len', 'scratch_phys', 'sub_fdts/'],
        word: 's',
      });
      t.send({ t: 'line', text: 'exit 4' });
      assert.deepEqual(await t.next('exit'), { t: 'exit', status: 4, logout: true });
    } finally {
      await t.host.close();
    }
  },
);

test(
  'stream mode: commands split across pieces run as bash reading a pipe; the end of input ends the session',
  { timeout: 120000 },
  async () => {
    const t = open('stream');
    try {
      await t.next('ready');
      t.send({ t: 'input', text: 'echo one; fal' });
      t.send({ t: 'input', text: 'se\nfor i in 1 2\ndo echo $i; done\necho last' });
      t.send({ t: 'eof' });
      assert.deepEqual(await t.next('exit'), { t: 'exit', status: 0, logout: false });
      assert.equal(t.out(), 'one\n1\n2\nlast\n');
    } finally {
      await t.host.close();
    }
  },
);
