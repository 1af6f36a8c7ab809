import { parseFaults, parseSeeds, UsageError } from './campaign-args.js';

describe('campaign arguments', () => {
  it('a number N means seeds 1..N', () => {
    expect(parseSeeds('3')).toEqual([1, 2, 3]);
  });

  it('A-B is an inclusive range and A,B,... a list', () => {
    expect(parseSeeds('7-9')).toEqual([7, 8, 9]);
    expect(parseSeeds('13,42')).toEqual([13, 42]);
  });

  it('anything else is a usage error naming the flag', () => {
    expect(() => parseSeeds('9-7')).toThrow(UsageError);
    expect(() => parseSeeds('abc')).toThrow('--seeds abc');
  });

  it('fault kinds are checked against the known ones', () => {
    expect(parseFaults('kill,pause')).toEqual(['kill', 'pause']);
    expect(() => parseFaults('kill,flood')).toThrow('unknown fault kind "flood"');
  });
});
