import fs from 'node:fs';
import path from 'node:path';
import type { LogConfig, LogConfigInput } from './config.js';
import { InvalidTopicError, LogClosedError, TooManyTopicsError, UnknownTopicError } from './errors.js';
import { Log, type LogDeps } from './log.js';

/** The log that the book's clients (which know no topics) produce to and consume from. */
export const DEFAULT_TOPIC = '';

const TOPIC_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,248}$/;

// Topic names cannot start with '_', so this folder never collides with a topic's.
const DEFAULT_TOPIC_FOLDER = '_default';

export function validateTopic(topic: string): void {
  if (topic !== DEFAULT_TOPIC && !TOPIC_PATTERN.test(topic)) throw new InvalidTopicError(topic);
}

function folderOf(topic: string): string {
  return topic === DEFAULT_TOPIC ? DEFAULT_TOPIC_FOLDER : topic;
}

function topicOf(folder: string): string | null {
  if (folder === DEFAULT_TOPIC_FOLDER) return DEFAULT_TOPIC;
  return TOPIC_PATTERN.test(folder) ? folder : null;
}

/** Named logs: one Log per topic, each in its own sub-folder of the root directory. */
export class TopicLogs {
  private readonly logs = new Map<string, Log>();
  private readonly opening = new Map<string, Promise<Log>>();
  private closed = false;

  private constructor(
    readonly rootDir: string,
    private readonly config: LogConfigInput | Partial<LogConfig> | undefined,
    private readonly deps: Partial<LogDeps> | undefined,
  ) {}

  /** Opens the root (created if missing) and every topic already in it. */
  static async open(
    rootDir: string,
    config?: LogConfigInput | Partial<LogConfig>,
    deps?: Partial<LogDeps>,
  ): Promise<TopicLogs> {
    await fs.promises.mkdir(rootDir, { recursive: true });
    const topics = new TopicLogs(rootDir, config, deps);
    try {
      for (const entry of await fs.promises.readdir(rootDir, { withFileTypes: true })) {
        const topic = entry.isDirectory() ? topicOf(entry.name) : null;
        if (topic === null) continue;
        topics.logs.set(topic, await Log.open(path.join(rootDir, entry.name), config, deps));
      }
    } catch (err) {
      await topics.close();
      throw err;
    }
    return topics;
  }

  get(topic: string): Log {
    validateTopic(topic);
    if (this.closed) throw new LogClosedError('topic set');
    const log = this.logs.get(topic);
    if (!log) throw new UnknownTopicError(topic);
    return log;
  }

  /**
   * The topic's log, created on first use; concurrent calls for a new topic share one open. With `maxTopics`, a
   * new topic that would make more topics than that (those being opened count) is refused with
   * TooManyTopicsError: each costs open files and memory, and without a bound one client could use them all up.
   */
  async getOrCreate(topic: string, limits: { maxTopics?: number } = {}): Promise<Log> {
    validateTopic(topic);
    if (this.closed) throw new LogClosedError('topic set');
    const existing = this.logs.get(topic);
    if (existing) return existing;
    let pending = this.opening.get(topic);
    if (!pending) {
      const { maxTopics } = limits;
      if (maxTopics !== undefined && this.logs.size + this.opening.size >= maxTopics) throw new TooManyTopicsError(topic, maxTopics);
      pending = Log.open(path.join(this.rootDir, folderOf(topic)), this.config, this.deps);
      this.opening.set(topic, pending);
      try {
        const log = await pending;
        if (this.closed) {
          await log.close();
          throw new LogClosedError('topic set');
        }
        this.logs.set(topic, log);
        return log;
      } finally {
        this.opening.delete(topic);
      }
    }
    return pending;
  }

  has(topic: string): boolean {
    return this.logs.has(topic);
  }

  /** How many topics are open. */
  get size(): number {
    return this.logs.size;
  }

  list(): string[] {
    return [...this.logs.keys()].sort();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.opening.values()]);
    const logs = [...this.logs.values()];
    this.logs.clear();
    const results = await Promise.allSettled(logs.map((l) => l.close()));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  }
}
