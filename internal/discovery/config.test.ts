import { defaultTimings, parseHostPort, resolveTimings } from './config.js';
import { MembershipConfigError } from './errors.js';

describe('configuration', () => {
  test('host:port parses, including IPv6 in brackets', () => {
    expect(parseHostPort('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseHostPort('[::1]:8401')).toEqual({ host: '::1', port: 8401 });
  });

  test.each(['', 'host', ':80', 'h:', 'h:99999', 'h:8x'])('%j is not an address', (addr) => {
    expect(() => parseHostPort(addr)).toThrow(MembershipConfigError);
  });

  test('timings default to the LAN profile and take overrides', () => {
    expect(resolveTimings()).toEqual(defaultTimings);
    expect(resolveTimings({ probeIntervalMs: 300, probeTimeoutMs: 100 }).probeIntervalMs).toBe(300);
  });

  test('nonsensical timings are refused', () => {
    expect(() => resolveTimings({ probeIntervalMs: 0 })).toThrow(MembershipConfigError);
    expect(() => resolveTimings({ suspicionTimeoutMs: 1.5 })).toThrow(MembershipConfigError);
    expect(() => resolveTimings({ probeIntervalMs: 100, probeTimeoutMs: 100 })).toThrow(MembershipConfigError);
    expect(() => resolveTimings({ indirectProbes: -1 })).toThrow(MembershipConfigError);
    expect(resolveTimings({ indirectProbes: 0 }).indirectProbes).toBe(0);
  });
});
