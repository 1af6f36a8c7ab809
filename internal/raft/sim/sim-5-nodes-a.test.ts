// Deterministic simulation of 5-node clusters, seeds 1..250: a quarter of the 1,000 CI seeds, so
// that jest's workers share them. Safety is checked after every step, liveness after healing.
import { checkSeeds } from './ci-seeds.js';

test('5-node clusters stay safe under faults and recover after healing (seeds 1..250)', () => {
  const report = checkSeeds(1, 250, 5);
  expect(report.failures).toEqual([]);
  expect(report.unexercised).toEqual([]);
}, 180_000); // a few seconds on an idle core; the margin is for a CI machine busy with other suites
