import { jest } from '@jest/globals';
import { median, percentile, report } from './report.js';

describe('bench report helpers', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
  });
  it('percentile picks the nearest-rank value', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
  });
  it('prints a figure beside its baseline with their ratio, and no ratio against a baseline of zero', () => {
    const lines: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      report({ bench: 'b', figure: 'records/s', value: 50, unit: 'rec/s', baseline: 'noop', baselineValue: 100 });
      report({ bench: 'b', figure: 'failed requests', value: 3, unit: 'requests', baseline: 'noop failed', baselineValue: 0 });
    } finally {
      write.mockRestore();
    }
    expect(lines[0]).toContain('| noop 100 (x0.5000)');
    expect(lines[1]).toMatch(/\| noop failed 0\.000+\n$/);
    expect(lines.join('')).not.toContain('NaN');
  });
});

