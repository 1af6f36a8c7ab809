// One-server-at-a-time membership changes.
import { applyConfChange, decodeConfChange, encodeConfChange, validateConfChange } from './confchange.js';
import { InvalidConfChangeError } from './errors.js';
import type { ConfChange, ConfState } from './types.js';

const cs: ConfState = { voters: ['a', 'b', 'c'], learners: ['l'] };
const cc = (type: ConfChange['type'], nodeId: string): ConfChange => ({ type, nodeId, context: '' });

describe('conf changes', () => {
  test('a change survives encoding into an entry', () => {
    const c: ConfChange = { type: 'addLearner', nodeId: 'n9', context: '10.0.0.9:8400' };
    expect(decodeConfChange(encodeConfChange(c))).toEqual(c);
  });

  test('garbage in a conf change entry is an InvalidConfChangeError', () => {
    expect(() => decodeConfChange(new TextEncoder().encode('{nope'))).toThrow(InvalidConfChangeError);
    expect(() => decodeConfChange(new TextEncoder().encode('{"t":"explode","n":"a"}'))).toThrow(InvalidConfChangeError);
    expect(() => decodeConfChange(new TextEncoder().encode('{"t":"addVoter","n":""}'))).toThrow(InvalidConfChangeError);
  });

  test('addVoter adds a voter, or promotes a learner', () => {
    expect(applyConfChange(cs, cc('addVoter', 'd'))).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: ['l'] });
    expect(applyConfChange(cs, cc('addVoter', 'l'))).toEqual({ voters: ['a', 'b', 'c', 'l'], learners: [] });
  });

  test('addLearner adds a non-voter; removeNode removes voters and learners alike', () => {
    expect(applyConfChange(cs, cc('addLearner', 'm'))).toEqual({ voters: ['a', 'b', 'c'], learners: ['l', 'm'] });
    expect(applyConfChange(cs, cc('removeNode', 'b'))).toEqual({ voters: ['a', 'c'], learners: ['l'] });
    expect(applyConfChange(cs, cc('removeNode', 'l'))).toEqual({ voters: ['a', 'b', 'c'], learners: [] });
  });

  test('nonsense changes are refused when proposed, and are no-ops if they reach the log anyway', () => {
    for (const bad of [cc('addVoter', 'a'), cc('addLearner', 'a'), cc('addLearner', 'l'), cc('removeNode', 'z')]) {
      expect(() => validateConfChange(cs, bad)).toThrow(InvalidConfChangeError);
      expect(applyConfChange(cs, bad)).toEqual(cs);
    }
    expect(() => validateConfChange({ voters: ['a'], learners: [] }, cc('removeNode', 'a'))).toThrow(/last voter/);
  });

  test('applying never modifies the given membership', () => {
    const before = JSON.stringify(cs);
    applyConfChange(cs, cc('removeNode', 'a'));
    expect(JSON.stringify(cs)).toBe(before);
  });
});
