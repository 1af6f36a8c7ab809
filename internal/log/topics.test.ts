import fs from 'node:fs';
import path from 'node:path';
import { InvalidTopicError, LogClosedError, TooManyTopicsError, UnknownTopicError } from './errors.js';
import { DEFAULT_TOPIC, TopicLogs, validateTopic } from './topics.js';
import { payload, removeDir, tempDir } from './test-support.js';

let root: string;
beforeEach(async () => {
  root = await tempDir('proglog-topics-');
});
afterEach(async () => {
  await removeDir(root);
});

describe('topics', () => {
  test("valid names: '' or 1-249 of [A-Za-z0-9._-] starting with a letter or digit", () => {
    for (const ok of [DEFAULT_TOPIC, 'orders', 'a', 'A.b_c-9', 'x'.repeat(249)]) expect(() => validateTopic(ok)).not.toThrow();
    for (const bad of ['_default', '.', '..', '-x', 'a/b', 'a b', 'x'.repeat(250), 'é']) {
      expect(() => validateTopic(bad)).toThrow(InvalidTopicError);
    }
  });

  test('each topic is its own log in its own folder, and the default topic works', async () => {
    const topics = await TopicLogs.open(root, { sync: 'never' });
    const orders = await topics.getOrCreate('orders');
    const def = await topics.getOrCreate(DEFAULT_TOPIC);
    expect(await orders.append(payload(1))).toBe(0);
    expect(await orders.append(payload(2))).toBe(1);
    expect(await def.append(payload(3))).toBe(0);
    expect(topics.list()).toEqual(['', 'orders']);
    expect(fs.readdirSync(root).sort()).toEqual(['_default', 'orders']);
    await topics.close();
  });

  test('get of a missing topic is UnknownTopicError, of a bad name InvalidTopicError', async () => {
    const topics = await TopicLogs.open(root, { sync: 'never' });
    expect(() => topics.get('nope')).toThrow(UnknownTopicError);
    expect(() => topics.get('../etc')).toThrow(InvalidTopicError);
    await expect(topics.getOrCreate('../etc')).rejects.toThrow(InvalidTopicError);
    expect(topics.has('nope')).toBe(false);
    await topics.close();
  });

  test('maxTopics refuses a new topic past the limit, counting those being opened, and creates no folder for it', async () => {
    const topics = await TopicLogs.open(root, { sync: 'never' });
    const limits = { maxTopics: 2 };
    await topics.getOrCreate('a', limits);
    // Opened concurrently: both count before either is open, so only one of them fits.
    const results = await Promise.allSettled([topics.getOrCreate('b', limits), topics.getOrCreate('c', limits)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(TooManyTopicsError);
    await expect(topics.getOrCreate('d', limits)).rejects.toThrow('maximum of 2 topics');
    // Existing topics are unaffected, and so is a call without the limit.
    expect(await (await topics.getOrCreate('a', limits)).append(payload(1))).toBe(0);
    await topics.getOrCreate('e');
    expect(topics.list()).toEqual(['a', 'b', 'e']);
    expect(fs.existsSync(path.join(root, 'c'))).toBe(false);
    await topics.close();
  });

  test('concurrent getOrCreate of a new topic opens one log', async () => {
    const topics = await TopicLogs.open(root, { sync: 'never' });
    const logs = await Promise.all(Array.from({ length: 8 }, () => topics.getOrCreate('t')));
    expect(new Set(logs).size).toBe(1);
    await topics.close();
  });

  test('reopen finds existing topics with their records; stray folders are ignored', async () => {
    const a = await TopicLogs.open(root, { sync: 'always' });
    await (await a.getOrCreate('orders')).append(payload(7));
    await (await a.getOrCreate('')).append(payload(8));
    await a.close();
    fs.mkdirSync(path.join(root, '.tmp'));
    const b = await TopicLogs.open(root, { sync: 'never' });
    expect(b.list()).toEqual(['', 'orders']);
    expect(Buffer.from(await b.get('orders').read(0))).toEqual(Buffer.from(payload(7)));
    await b.close();
    expect(() => b.get('orders')).toThrow(LogClosedError);
    await expect(b.getOrCreate('new')).rejects.toThrow(LogClosedError);
  });
});
