// The history of a run: every operation a client invoked and how it completed, in the order the test saw them.
// It is the checker's evidence and, saved as JSON lines, the replay of a failing run.
import { promises as fs } from 'node:fs';

export type OpKind = 'produce' | 'read';

/**
 * - invoke: a client sent the operation (one event per attempt: a retry is a new invoke of the same value).
 * - ok: the attempt was acknowledged (produce: the offset given; read: the value seen at that offset).
 * - fail: the attempt definitely did not take effect (rejected before reaching the log, or refused by a node
 *   that is not the leader).
 * - timeout: the outcome is unknown (deadline, connection lost): the value may or may not be in the log.
 * - nemesis: a fault began or ended (for the reader; the checker uses the last HEAL_ALL, to check that the
 *   cluster took writes again, and FAULT_WITHOUT_EFFECT events).
 */
/** The nemesis event that ends every fault: from then on the cluster must serve again. */
export const HEAL_ALL = 'heal all';

/**
 * Starts the nemesis event of a fault that cut the leader off from a majority for long enough that the majority
 * had to elect another, and none did: the fault never took effect (a partition that let traffic through), or the
 * cluster could not elect. Either way the run did not test what it claims.
 */
export const FAULT_WITHOUT_EFFECT = 'fault without effect';

export type EventType = 'invoke' | 'ok' | 'fail' | 'timeout' | 'nemesis';

export interface HistoryEvent {
  /** Milliseconds since the start of the run. */
  time: number;
  type: EventType;
  /** Which client (or 'nemesis') did it. */
  process: string;
  op?: OpKind;
  /** The value produced or read, as text (values are unique per produce). */
  value?: string;
  offset?: number;
  /** The node that answered, when known. */
  node?: string;
  /** Error text for fail/timeout; the fault for nemesis events. */
  info?: string;
}

export class History {
  readonly events: HistoryEvent[] = [];
  private readonly start: number;

  constructor(start = Date.now()) {
    this.start = start;
  }

  add(e: Omit<HistoryEvent, 'time'> & { time?: number }): HistoryEvent {
    const event = { ...e, time: e.time ?? Date.now() - this.start } as HistoryEvent;
    this.events.push(event);
    return event;
  }

  invoke(process: string, op: OpKind, fields: Partial<HistoryEvent> = {}): HistoryEvent {
    return this.add({ ...fields, type: 'invoke', process, op });
  }

  ok(process: string, op: OpKind, fields: Partial<HistoryEvent> = {}): HistoryEvent {
    return this.add({ ...fields, type: 'ok', process, op });
  }

  fail(process: string, op: OpKind, fields: Partial<HistoryEvent> = {}): HistoryEvent {
    return this.add({ ...fields, type: 'fail', process, op });
  }

  timeout(process: string, op: OpKind, fields: Partial<HistoryEvent> = {}): HistoryEvent {
    return this.add({ ...fields, type: 'timeout', process, op });
  }

  nemesis(info: string, fields: Partial<HistoryEvent> = {}): HistoryEvent {
    return this.add({ ...fields, type: 'nemesis', process: 'nemesis', info });
  }

  /** Writes one JSON object per line, so a huge history can be streamed, grepped and replayed. */
  async save(path: string): Promise<void> {
    await fs.writeFile(path, this.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  }

  static async load(path: string): Promise<History> {
    const h = new History(0);
    const text = await fs.readFile(path, 'utf8');
    let line = 0;
    for (const raw of text.split('\n')) {
      line++;
      if (raw.trim() === '') continue;
      let e: unknown;
      try {
        e = JSON.parse(raw);
      } catch {
        throw new HistoryFormatError(path, line, 'not JSON');
      }
      if (!isEvent(e)) throw new HistoryFormatError(path, line, 'not a history event');
      h.events.push(e);
    }
    return h;
  }
}

export class HistoryFormatError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    reason: string,
  ) {
    super(`${path}:${line}: ${reason}`);
    this.name = 'HistoryFormatError';
  }
}

const EVENT_TYPES = new Set(['invoke', 'ok', 'fail', 'timeout', 'nemesis']);

function isEvent(e: unknown): e is HistoryEvent {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.time === 'number' && typeof o.type === 'string' && EVENT_TYPES.has(o.type) && typeof o.process === 'string';
}
