/**
 * The interactive terminal under a real TTY (tmux): prompt, a command, Tab completion (one Tab
 * completes; two Tabs sent in one read list basenames; module names after modprobe; luoctl's
 * verbs), Ctrl-C at the prompt and in a busy shell loop (the machine runs in a worker, the
 * keyboard stays live), cd in the prompt, Ctrl-D logs out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const SOCK = `kho-shell-test-${process.pid}`;

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', SOCK, ...args], { encoding: 'utf8' });
  return r.stdout;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(re: RegExp, ms = 15000): Promise<string> {
  const end = Date.now() + ms;
  let screen = '';
  while (Date.now() < end) {
    screen = tmux('capture-pane', '-p', '-t', 'k');
    if (re.test(screen)) return screen;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${String(re)}; screen:\n${screen}`);
}

test(
  'kho shell in a terminal: prompt, command, Tab completion, Ctrl-C, cd, Ctrl-D',
  { timeout: 90000 },
  async (t) => {
    if (spawnSync('tmux', ['-V']).status !== 0) {
      t.skip('tmux is not installed');
      return;
    }
    const cmd = `${process.execPath} ${MAIN} shell --mem 2G --nodes 1; echo EXITED=$?; sleep 30`;
    tmux('new-session', '-d', '-s', 'k', '-x', '120', '-y', '40', cmd);
    try {
      await waitFor(/root@kho:~#$/m);
      tmux('send-keys', '-t', 'k', 'cat /proc/cmdline', 'Enter');
      await waitFor(/^kho=on$/m);
      // Tab completion of a machine path.
      tmux('send-keys', '-t', 'k', 'ls /sys/kernel/debug/kh');
      await sleep(300);
      tmux('send-keys', '-t', 'k', 'Tab');
      await sleep(300);
      await waitFor(/ls \/sys\/kernel\/debug\/kho\/$/m);
      tmux('send-keys', '-t', 'k', 'o', 'Tab');
      await sleep(300);
      tmux('send-keys', '-t', 'k', 'Enter');
      await waitFor(/^fdt\s+scratch_len\s+scratch_phys\s+sub_fdts$/m);
      // Two Tabs in one read list the candidates as bash does: basenames, directories with `/`.
      tmux('send-keys', '-t', 'k', 'cat /sys/kernel/debug/kho/out/s');
      await sleep(300);
      tmux('send-keys', '-t', 'k', 'Tab', 'Tab');
      await waitFor(/^scratch_len\s+scratch_phys\s+sub_fdts\/\s*$/m);
      tmux('send-keys', '-t', 'k', 'C-u', 'modprobe te');
      await sleep(300);
      tmux('send-keys', '-t', 'k', 'Tab');
      await waitFor(/modprobe test_kho$/m);
      // Programs on PATH and their arguments: luoctl's verbs (test/shell/complete.test.ts has the rest).
      tmux('send-keys', '-t', 'k', 'C-u', 'luoc');
      await sleep(300);
      tmux('send-keys', '-t', 'k', 'Tab');
      await sleep(300);
      tmux('send-keys', '-t', 'k', 'pr');
      await sleep(300);
      tmux('send-keys', '-t', 'k', 'Tab');
      await sleep(300);
      tmux('send-keys', '-t', 'k', 'x');
      await waitFor(/luoctl preserve x$/m);
      tmux('send-keys', '-t', 'k', 'C-u');
      // Ctrl-C stops a busy loop in the shell: ^C, a new prompt, $? = 130.
      tmux('send-keys', '-t', 'k', 'while true; do :; done', 'Enter');
      await sleep(1000);
      tmux('send-keys', '-t', 'k', 'C-c');
      await waitFor(/done\n\^C\nroot@kho:~#$/m);
      tmux('send-keys', '-t', 'k', 'echo status=$?', 'Enter');
      await waitFor(/^status=130$/m);
      // Ctrl-C drops the typed line.
      tmux('send-keys', '-t', 'k', 'echo dropped');
      await sleep(200);
      tmux('send-keys', '-t', 'k', 'C-c');
      await waitFor(/echo dropped\^C$/m);
      tmux('send-keys', '-t', 'k', 'cd /sys/kernel/debug/kho', 'Enter');
      await waitFor(/root@kho:\/sys\/kernel\/debug\/kho#$/m);
      tmux('send-keys', '-t', 'k', 'foo', 'Enter');
      await waitFor(/-bash: foo: command not found/);
      tmux('send-keys', '-t', 'k', 'C-d');
      const screen = await waitFor(/EXITED=/);
      assert.match(screen, /^logout$/m);
      assert.match(screen, /EXITED=127/);
    } finally {
      tmux('kill-server');
    }
  },
);
