// Majority arithmetic.
import { committedIndex, hasQuorum, majority, voteResult } from './quorum.js';

describe('quorum', () => {
  test('a majority of n is floor(n/2) + 1', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  test('the committed index is the highest index a majority has acknowledged', () => {
    const match: Record<string, number> = { a: 5, b: 3, c: 9, d: 1, e: 7 };
    expect(committedIndex(['a', 'b', 'c', 'd', 'e'], (id) => match[id]!)).toBe(5);
    expect(committedIndex(['a', 'b', 'c', 'd'], (id) => match[id]!)).toBe(3);
    expect(committedIndex(['a'], (id) => match[id]!)).toBe(5);
    expect(committedIndex(['a', 'x', 'y'], (id) => match[id] ?? 0)).toBe(0);
    expect(committedIndex([], () => 0)).toBe(Infinity);
  });

  test('an election is won with a majority of grants, lost once a majority is out of reach, pending otherwise', () => {
    const voters = ['a', 'b', 'c', 'd', 'e'];
    const v = (entries: [string, boolean][]) => voteResult(voters, new Map(entries));
    expect(v([['a', true], ['b', true], ['c', true]])).toBe('won');
    expect(v([['a', true], ['b', false], ['c', false]])).toBe('pending');
    expect(v([['a', true], ['b', false], ['c', false], ['d', false]])).toBe('lost');
    expect(v([['x', true], ['y', true], ['z', true]])).toBe('pending');
  });

  test('a quorum is active when a majority of voters is', () => {
    expect(hasQuorum(['a', 'b', 'c'], (id) => id !== 'c')).toBe(true);
    expect(hasQuorum(['a', 'b', 'c'], (id) => id === 'a')).toBe(false);
  });
});
