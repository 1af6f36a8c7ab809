import { InvalidConfigError } from './errors.js';
import { requireMaxRecordFitsSegment, resolveConfig } from './config.js';

const TIMER_MAX_MS = 2 ** 31 - 1;

describe('log config', () => {
  test.each([
    ['syncIntervalMs', { syncIntervalMs: TIMER_MAX_MS + 1 }],
    ['syncIntervalMs', { syncIntervalMs: 30 * 24 * 3600 * 1000 }],
    ['retention.checkIntervalMs', { retention: { maxLogBytes: 1, checkIntervalMs: TIMER_MAX_MS + 1 } }],
  ])('%s above the longest timer Node runs (Node would fire it every millisecond) is refused', (field, input) => {
    expect(() => resolveConfig(input)).toThrow(InvalidConfigError);
    expect(() => resolveConfig(input)).toThrow(new RegExp(`${field.replace('.', '\\.')}: .*at most ${TIMER_MAX_MS}`));
  });

  test('intervals up to the longest timer are accepted', () => {
    const c = resolveConfig({ syncIntervalMs: TIMER_MAX_MS, retention: { checkIntervalMs: TIMER_MAX_MS } });
    expect([c.syncIntervalMs, c.retention.checkIntervalMs]).toEqual([TIMER_MAX_MS, TIMER_MAX_MS]);
  });

  test('a segment must hold a record of maxRecordBytes plus its header where every record must fit', () => {
    expect(() => requireMaxRecordFitsSegment(resolveConfig({ segment: { maxStoreBytes: 1031 }, maxRecordBytes: 1024 }))).toThrow(
      /segment\.maxStoreBytes: 1031 cannot hold a record of maxRecordBytes \(1024\).*at least 1032/,
    );
    expect(() => requireMaxRecordFitsSegment(resolveConfig({ segment: { maxStoreBytes: 1032 }, maxRecordBytes: 1024 }))).not.toThrow();
  });
});
