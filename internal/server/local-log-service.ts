// The single-node LogService: each topic is a local Log under one root folder. The replicated LogService in
// internal/distributed serves the same interface from a Raft-replicated log.
import { DEFAULT_TOPIC, TopicLogs, type LogRecord, type ReadLimits } from '../log/index.js';
import type { LogService, ReadOptions, ServerInfo } from './log-service.js';

export interface LocalLogServiceOptions {
  /** Most topics there may be, the default log included; a produce creating one more is refused. Default: no limit. */
  maxTopics?: number;
}

export class LocalLogService implements LogService {
  /**
   * Serves `logs`, creating the default log first: the book's clients know no topics and may consume before
   * anyone produced, which must find an empty log (OUT_OF_RANGE, or a stream waiting), not NOT_FOUND.
   */
  static async open(logs: TopicLogs, self?: { id: string; rpcAddr: string }, options: LocalLogServiceOptions = {}): Promise<LocalLogService> {
    await logs.getOrCreate(DEFAULT_TOPIC);
    return new LocalLogService(logs, self, options);
  }

  constructor(
    private readonly logs: TopicLogs,
    private readonly self: { id: string; rpcAddr: string } = { id: 'local', rpcAddr: '' },
    private readonly options: LocalLogServiceOptions = {},
  ) {}

  async produce(topic: string, values: Uint8Array[]): Promise<number> {
    const log = await this.logs.getOrCreate(topic, { maxTopics: this.options.maxTopics });
    return values.length === 1 ? log.append(values[0] as Uint8Array) : log.appendBatch(values);
  }

  // A single node is always up to date with itself, so a linearizable read needs nothing extra.
  async read(topic: string, offset: number, _opts?: ReadOptions): Promise<Uint8Array> {
    return this.logs.get(topic).read(offset);
  }

  async readRange(topic: string, offset: number, limits?: ReadLimits, _opts?: ReadOptions): Promise<LogRecord[]> {
    return this.logs.get(topic).readRange(offset, limits);
  }

  async waitFor(topic: string, offset: number, signal?: AbortSignal): Promise<void> {
    return this.logs.get(topic).waitFor(offset, signal);
  }

  topics(): string[] {
    return this.logs.list();
  }

  async getServers(): Promise<ServerInfo[]> {
    return [{ id: this.self.id, rpcAddr: this.self.rpcAddr, isLeader: true, isLearner: false }];
  }
}
