/**
 * The JSON API of `kho serve` over one source: a live machine (rebuilt lazily after every
 * command) or a decoded `kho inspect` report (fixed). `handle(path, query)` answers every
 * `/api/…` route with a status and a JSON body; the HTTP server and the tests both call it.
 */
import type { Machine } from '../kernel/machine.ts';
import type { SummaryJson } from './api-types.ts';
import { fdtView } from './fdt-view.ts';
import { GenerationLog } from './generations.ts';
import { MapRequestError, mapView, parseAddr } from './map.ts';
import { pageInfo } from './page-info.ts';
import { radixKey, radixView } from './radix-view.ts';
import { luoView } from './luo-view.ts';
import { machineSnapshot, quietly, type Snapshot } from './snapshot.ts';
import { inspectHandover } from '../inspect/inspect.ts';
import type { LuoReport } from '../inspect/luo.ts';

/** An API answer. */
export interface ApiResult {
  status: number;
  body: unknown;
}

/** The views' data source. */
export class ServeModel {
  readonly mode: 'machine' | 'inspect';
  readonly machine: Machine | null;
  readonly generations: GenerationLog | null;
  private snap: Snapshot | null;
  private ver = 1;
  private inLuo: { version: number; report: LuoReport | null } | null = null;

  private constructor(machine: Machine | null, snap: Snapshot | null) {
    this.machine = machine;
    this.mode = machine === null ? 'inspect' : 'machine';
    this.generations = machine === null ? null : new GenerationLog(machine);
    this.snap = snap;
  }

  /** A model over a live machine. */
  static ofMachine(machine: Machine): ServeModel {
    return new ServeModel(machine, null);
  }

  /** A model over fixed data (`--inspect`). */
  static ofSnapshot(snap: Snapshot): ServeModel {
    return new ServeModel(null, snap);
  }

  /** Bumped by {@link changed}; views compare it. */
  get version(): number {
    return this.ver;
  }

  /** The machine changed (a command ran): drop the snapshot, note new kernels. */
  changed(): void {
    this.ver++;
    if (this.machine === null) return;
    this.snap = null;
    const s = this.snapshot();
    const blocks = s.report?.memoryMap?.blocks ?? 0;
    this.generations?.observe({ blocks, bytes: s.report?.memoryMap?.bytes ?? 0 });
  }

  /** The current snapshot (built on first use after a change). */
  snapshot(): Snapshot {
    if (this.snap === null) {
      if (this.machine === null) throw new Error('inspect model without data');
      this.snap = machineSnapshot(this.machine, this.generations?.lastJump ?? null);
    }
    return this.snap;
  }

  /**
   * The previous kernel's LUO hand-over decoded from memory, as `kho inspect` of the incoming
   * FDT would (machine mode; cached per state).
   */
  private incomingLuo(): LuoReport | null {
    const s = this.snapshot();
    const k = s.kernel;
    const fdtPhys = k?.kho.ctx.incoming?.fdtPhys ?? null;
    if (k === null || s.image === null || fdtPhys === null) return null;
    if (this.inLuo?.version === this.ver) return this.inLuo.report;
    const image = s.image;
    const report = quietly(k.machine.mem, () =>
      inspectHandover({ image: { image, kind: 'memory', source: 'machine' }, fdtPhys }),
    ).luo;
    this.inLuo = { version: this.ver, report };
    return report;
  }

  summary(): SummaryJson {
    const s = this.snapshot();
    const k = s.kernel;
    const mm = s.report?.memoryMap ?? null;
    return {
      mode: this.mode,
      version: this.ver,
      title: s.title,
      kernel:
        k === null
          ? null
          : {
              release: k.release,
              profile: k.profile.name,
              cmdline: k.cmdline.raw,
              generation: k.generation,
              khoEnabled: k.kho.isEnabled(),
              khoBoot: k.kho.isKhoBoot(),
            },
      halted: this.mode === 'machine' && k === null,
      span: s.span,
      nodes: s.nodes.map((n) => ({ nid: n.nid, bytes: n.bytes, ranges: n.ranges })),
      owners: s.owners.map((o) => ({ id: o.id, name: o.name, kind: o.kind, bytes: o.cov.bytes })),
      orders: mm?.byOrder ?? [],
      preserved: mm === null ? null : { blocks: mm.blocks, bytes: mm.bytes, complete: mm.complete },
      findings: (s.report?.findings ?? []).map((f) => ({ ...f })),
      luo: k !== null ? k.fs.device('liveupdate') !== undefined : (s.report?.luo ?? null) !== null,
    };
  }

  /** Answer `GET /api/<route>?<query>`. Bad parameters are 400 with one message. */
  handle(route: string, query: URLSearchParams): ApiResult {
    try {
      switch (route) {
        case 'summary':
          return { status: 200, body: this.summary() };
        case 'map': {
          const s = this.snapshot();
          const start = query.has('start') ? parseAddr(query.get('start'), 'start') : s.span.start;
          const end = query.has('end') ? parseAddr(query.get('end'), 'end') : s.span.end;
          const bins = query.has('bins') ? parseAddr(query.get('bins'), 'bins') : 4096;
          return { status: 200, body: mapView(s, this.ver, start, end, bins) };
        }
        case 'page':
          return { status: 200, body: pageInfo(this.snapshot(), parseAddr(query.get('addr'), 'addr')) };
        case 'radix':
          return { status: 200, body: radixView(this.snapshot(), this.ver) };
        case 'radix/key':
          return {
            status: 200,
            body: radixKey(
              this.snapshot(),
              parseAddr(query.get('addr'), 'addr'),
              query.has('order') ? parseAddr(query.get('order'), 'order') : 0,
            ),
          };
        case 'fdt':
          return { status: 200, body: fdtView(this.snapshot(), this.ver) };
        case 'generations':
          return {
            status: 200,
            body: { version: this.ver, generations: this.generations?.list() ?? [] },
          };
        case 'luo':
          return { status: 200, body: luoView(this.snapshot(), this.ver, () => this.incomingLuo()) };
        default:
          return { status: 404, body: { error: `no API route /api/${route}` } };
      }
    } catch (err) {
      if (err instanceof MapRequestError) return { status: 400, body: { error: err.message } };
      if (err instanceof Error && err.name === 'KhoRadixError')
        return { status: 400, body: { error: err.message } };
      throw err;
    }
  }
}
