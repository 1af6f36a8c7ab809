// Deterministic simulation of 3-node clusters, seeds 251..500: a quarter of the 1,000 CI seeds, so
// that jest's workers share them. Safety is checked after every step, liveness after healing.
import { checkSeeds } from './ci-seeds.js';

test('3-node clusters stay safe under faults and recover after healing (seeds 251..500)', () => {
  const report = checkSeeds(251, 250, 3);
  expect(report.failures).toEqual([]);
  expect(report.unexercised).toEqual([]);
}, 180_000); // a few seconds on an idle core; the margin is for a CI machine busy with other suites
