/**
 * The generations timeline: every kernel that ran on the machine since `kho serve` started,
 * cold boots and kexecs, with what each handed over, received, restored and lost, the
 * sanitizer's findings and the jump's phase times. It watches from outside the machine (a jump
 * listener and a look after each command), as a logic analyser would: the model never reads it.
 */
import type { Kernel } from '../kernel/kernel.ts';
import type { Machine } from '../kernel/machine.ts';
import { addJumpListener, type JumpEvent } from '../kexec/execute.ts';
import type { GenerationJson } from './api-types.ts';
import { incomingOf } from './snapshot.ts';

interface Entry {
  json: GenerationJson;
  kernel: Kernel;
  jump: JumpEvent | null;
}

/** Most commands remembered per generation. */
const MAX_COMMANDS = 200;

/** Records generations of one machine. */
export class GenerationLog {
  private readonly machine: Machine;
  private readonly entries: Entry[] = [];
  /** The jump that started the running kernel (null after a cold boot). */
  lastJump: JumpEvent | null = null;

  constructor(machine: Machine) {
    this.machine = machine;
    addJumpListener(machine, (e) => {
      this.onJump(e);
    });
    this.observe();
  }

  private current(): Entry | undefined {
    return this.entries[this.entries.length - 1];
  }

  private start(k: Kernel, jump: JumpEvent | null): void {
    const prev = this.current();
    if (prev !== undefined) prev.json.current = false;
    const r = jump?.result.report;
    this.entries.push({
      kernel: k,
      jump,
      json: {
        index: this.entries.length,
        kind: jump === null ? 'cold' : 'kexec',
        release: k.release,
        cmdline: k.cmdline.raw,
        kexecCount: k.generation,
        current: true,
        preserved: { blocks: 0, bytes: 0 },
        incoming:
          jump?.map === null || jump === null ? null : { blocks: jump.map.count, bytes: jump.map.bytes },
        restored: null,
        lost: null,
        findings: (r?.findings ?? []).map((f) => ({
          severity: f.severity,
          kind: f.kind,
          message: f.message,
        })),
        timings: jump === null ? null : { ...jump.result.timings },
        poisonedPages: r?.poisonedPages ?? 0,
        unpreservedReads: 0,
        commands: [],
      },
    });
  }

  /** Freeze what a generation handed over and what it did with what it received. */
  private settle(e: Entry, outgoing: { blocks: number; bytes: number } | null): void {
    if (outgoing !== null) e.json.preserved = outgoing;
    if (e.jump !== null) {
      const inc = incomingOf(e.kernel, e.jump);
      if (inc !== null) {
        const overwritten = e.jump.result.report.findings
          .filter((f) => f.kind === 'segment-on-preserved')
          .reduce((s, f) => s + Number(/overwrites (\d+) preserved page/.exec(f.message)?.[1] ?? 0), 0);
        e.json.restored = { blocks: inc.restoredBlocks, bytes: inc.restoredBytes };
        e.json.lost = {
          blocks: inc.blocks - inc.restoredBlocks,
          bytes: inc.bytes - inc.restoredBytes,
          overwrittenPages: overwritten,
        };
      }
      e.json.unpreservedReads = e.jump.result.report.unpreservedReads;
      e.json.findings = e.jump.result.report.findings.map((f) => ({
        severity: f.severity,
        kind: f.kind,
        message: f.message,
      }));
    }
  }

  private onJump(e: JumpEvent): void {
    const cur = this.current();
    if (cur?.kernel === e.from) {
      this.settle(cur, { blocks: e.map?.count ?? 0, bytes: e.map?.bytes ?? 0 });
      cur.json.current = false;
    }
    this.lastJump = e;
    this.start(e.result.successor, e);
  }

  /** Look at the machine (after each command): a new kernel without a jump is a cold boot. */
  observe(preserved?: { blocks: number; bytes: number }): void {
    const k = this.machine.kernel;
    const cur = this.current();
    if (k !== null && cur?.kernel !== k) {
      if (cur !== undefined) cur.json.current = false;
      this.lastJump = null;
      this.start(k, null);
    }
    const now = this.current();
    if (now !== undefined && now.kernel === k) this.settle(now, preserved ?? null);
  }

  /** Remember a command typed while the current generation ran. */
  command(text: string, status: number, seconds: number, ranOn: Kernel | null): void {
    const e = this.entries.find((x) => x.kernel === ranOn) ?? this.current();
    if (e === undefined || e.json.commands.length >= MAX_COMMANDS) return;
    e.json.commands.push({ text, status, seconds });
  }

  /** The timeline, oldest first. */
  list(): GenerationJson[] {
    return this.entries.map((e) => e.json);
  }
}
