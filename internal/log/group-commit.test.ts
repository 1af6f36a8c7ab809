import fs from 'node:fs';
import { LogIOError } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { Log } from './log.js';
import { payload, removeDir, tempDir } from './test-support.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets the event loop go round `n` times (a round the previous one's end scheduled has started by then). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('GroupCommit', () => {
  test('requests made while a round runs all share the next round', async () => {
    const gates: Array<ReturnType<typeof deferred>> = [];
    const started: Array<() => void> = [];
    const gc = new GroupCommit(() => {
      const g = deferred();
      gates.push(g);
      started.shift()?.();
      return g.promise;
    });
    const roundStarted = (): Promise<void> => new Promise((r) => started.push(r));
    let s = roundStarted();
    const first = gc.request();
    await s;
    expect(gc.rounds).toBe(1);
    const resolved: number[] = [];
    const later = Array.from({ length: 10 }, (_, i) => gc.request().then(() => resolved.push(i)));
    s = roundStarted();
    gates[0]!.resolve();
    await first;
    await s;
    expect(gc.rounds).toBe(2);
    expect(resolved).toEqual([]);
    gates[1]!.resolve();
    await Promise.all(later);
    expect(resolved.length).toBe(10);
    expect(gc.rounds).toBe(2);
    await gc.drain();
  });

  test('an exclusive section runs between rounds and holds new rounds back while it runs', async () => {
    let inRound = false;
    const gc = new GroupCommit(async () => {
      inRound = true;
      await new Promise((r) => setTimeout(r, 1));
      inRound = false;
    });
    let stop = false;
    const load = (async () => {
      while (!stop) await gc.request();
    })();
    await gc.request();
    const roundsBefore = gc.rounds;
    const seen = await gc.exclusive(async () => {
      const during = inRound;
      const atStart = gc.rounds;
      await new Promise((r) => setTimeout(r, 5));
      return { during, startedWhileHeld: gc.rounds - atStart };
    });
    expect(seen).toEqual({ during: false, startedWhileHeld: 0 });
    stop = true;
    await load;
    await gc.drain();
    expect(gc.rounds).toBeGreaterThan(roundsBefore);
  });

  test('a request "at once" starts a round before it returns when none is running, and otherwise waits its turn', async () => {
    const gates: Array<ReturnType<typeof deferred>> = [];
    const gc = new GroupCommit(() => {
      const g = deferred();
      gates.push(g);
      return g.promise;
    });
    const first = gc.request(true);
    // No turn of the event loop has passed: the round began inside request().
    expect(gc.rounds).toBe(1);
    const second = gc.request(true);
    expect(gc.rounds).toBe(1);
    gates[0]!.resolve();
    await first;
    await turns(2);
    expect(gc.rounds).toBe(2);
    gates[1]!.resolve();
    await second;
    // A plain request still waits a turn, so that others can join.
    const third = gc.request();
    expect(gc.rounds).toBe(2);
    await turns(2);
    expect(gc.rounds).toBe(3);
    gates[2]!.resolve();
    await third;
    // Held back by an exclusive section, "at once" waits too.
    const held = deferred();
    const section = gc.exclusive(() => held.promise);
    await turns(2);
    const fourth = gc.request(true);
    expect(gc.rounds).toBe(3);
    held.resolve();
    await section;
    await turns(2);
    expect(gc.rounds).toBe(4);
    gates[3]!.resolve();
    await fourth;
    await gc.drain();
  });

  test('a failed round rejects exactly the requests it covered', async () => {
    let calls = 0;
    const gc = new GroupCommit(async () => {
      if (++calls === 1) throw new Error('disk on fire');
    });
    await expect(gc.request()).rejects.toThrow('disk on fire');
    await expect(gc.request()).resolves.toBeUndefined();
  });
});

describe('Log with sync "always"', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  test('an append, and a waitFor of its offset, resolve only after an fdatasync that began after its bytes reached the file', async () => {
    const syncs: Array<{ fileSize: number; gate: ReturnType<typeof deferred> }> = [];
    let onSync: (() => void) | null = null;
    const log = await Log.open(
      dir,
      { sync: 'always' },
      {
        datasync: (fd) => {
          const gate = deferred();
          syncs.push({ fileSize: fs.fstatSync(fd).size, gate });
          onSync?.();
          return gate.promise;
        },
      },
    );
    const syncStarted = new Promise<void>((r) => (onSync = r));
    let done = false;
    const appended = log.append(payload(0, 10)).then((o) => {
      done = true;
      return o;
    });
    let waited = false;
    const consumer = log.waitFor(0).then(() => (waited = true));
    await syncStarted;
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    expect(waited).toBe(false);
    expect([log.highestOffset(), log.stableOffset()]).toEqual([0, -1]);
    expect(syncs[0]!.fileSize).toBe(18);
    syncs[0]!.gate.resolve();
    expect(await appended).toBe(0);
    await consumer;
    expect(log.stableOffset()).toBe(0);
    const closing = log.close();
    await new Promise((r) => setImmediate(r));
    syncs.forEach((s) => s.gate.resolve());
    await closing;
  });

  test('64 concurrent appenders get dense, unique offsets that read back equal, sharing fsyncs', async () => {
    const log = await Log.open(dir, { sync: 'always' });
    const APPENDERS = 64;
    const EACH = 20;
    const got = new Map<number, Uint8Array>();
    await Promise.all(
      Array.from({ length: APPENDERS }, async (_, a) => {
        for (let k = 0; k < EACH; k++) {
          const value = payload(a * 1000 + k, 24);
          const offset = await log.append(value);
          expect(got.has(offset)).toBe(false);
          got.set(offset, value);
        }
      }),
    );
    const total = APPENDERS * EACH;
    expect([...got.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i));
    const mismatched = [...got].filter(([offset, value]) => !Buffer.from(value).equals(log.readNow(offset)));
    expect(mismatched).toEqual([]);
    expect(log.stats().syncs).toBeLessThan(total / 8);
    await log.close();
    const again = await Log.open(dir, { sync: 'never' });
    expect(again.highestOffset()).toBe(total - 1);
    await again.close();
  });

  test('truncation and retention get their turn while appenders keep fsyncing', async () => {
    const log = await Log.open(dir, { sync: 'always', segment: { maxStoreBytes: 1000 }, retention: { maxLogBytes: 1 } });
    let stop = false;
    const appenders = Array.from({ length: 16 }, async () => {
      while (!stop) await log.append(payload(1, 40));
    });
    await log.waitFor(100);
    expect(await log.applyRetention()).toBeGreaterThan(0);
    await log.truncatePrefix(log.highestOffset());
    stop = true;
    await Promise.all(appenders);
    expect(log.stats().segments).toBeLessThanOrEqual(2);
    await log.close();
  });

  test('concurrent batches get dense, unique ranges', async () => {
    const log = await Log.open(dir, { sync: 'always', segment: { maxStoreBytes: 2000 } });
    const firsts = await Promise.all(
      Array.from({ length: 16 }, (_, b) => log.appendBatch(Array.from({ length: 10 }, (_, k) => payload(b * 10 + k)))),
    );
    expect([...firsts].sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, i) => i * 10));
    firsts.forEach((first, b) => {
      for (let k = 0; k < 10; k++) expect(Buffer.from(log.readNow(first + k))).toEqual(Buffer.from(payload(b * 10 + k)));
    });
    await log.close();
  });

  test('a failed fdatasync fails the append with LogIOError, the log refuses writes, and a reopen recovers', async () => {
    let fail = false;
    const log = await Log.open(
      dir,
      { sync: 'always' },
      {
        datasync: (fd) =>
          fail ? Promise.reject(new Error('EIO')) : new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res()))),
      },
    );
    expect(await log.append(payload(0))).toBe(0);
    fail = true;
    await expect(log.append(payload(1))).rejects.toThrow(LogIOError);
    await expect(log.append(payload(2))).rejects.toThrow(LogIOError);
    expect(Buffer.from(await log.read(0))).toEqual(Buffer.from(payload(0)));
    await log.close().catch(() => {});
    const again = await Log.open(dir, { sync: 'never' });
    expect(again.highestOffset()).toBeGreaterThanOrEqual(0);
    expect(Buffer.from(await again.read(0))).toEqual(Buffer.from(payload(0)));
    await again.close();
  });
});

describe('Log with sync "interval" and "never"', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  test('"interval" acknowledges before syncing and syncs within the interval', async () => {
    let synced!: () => void;
    const syncedOnce = new Promise<void>((r) => (synced = r));
    const log = await Log.open(
      dir,
      { sync: 'interval', syncIntervalMs: 20 },
      {
        datasync: async () => {
          synced();
        },
      },
    );
    expect(await log.append(payload(0))).toBe(0);
    expect(log.stats().syncs).toBe(0);
    await syncedOnce;
    expect(log.stats().syncs).toBeGreaterThanOrEqual(1);
    await log.close();
  });

  test('"never" writes buffered records to the file on the next turn of the event loop, without fdatasync', async () => {
    let syncs = 0;
    const log = await Log.open(dir, { sync: 'never' }, { datasync: async () => void syncs++ });
    await log.append(payload(0, 10));
    await new Promise((r) => setImmediate(r));
    const store = fs.readdirSync(dir).find((n) => n.endsWith('.store'))!;
    expect(fs.statSync(`${dir}/${store}`).size).toBe(18);
    await log.close();
    expect(syncs).toBe(0);
  });
});
