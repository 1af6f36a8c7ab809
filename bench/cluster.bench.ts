// `make bench` (cluster part): node dist/bench/cluster.bench.js [--short] [--json]
// A three-node cluster of agent processes against the no-op ceiling server, figure by figure; see
// bench/cluster/suite.ts. --json prints one JSON object per figure (as BENCH_JSON=1 does).
import '../internal/polyfills.js';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { short: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
  strict: true,
});
// The reporter reads BENCH_JSON when it loads, so it is set before the suite (and the reporter) are imported.
if (values.json) process.env.BENCH_JSON = '1';
const { runClusterBench } = await import('./cluster/suite.js');
runClusterBench({ short: values.short, json: values.json || process.env.BENCH_JSON === '1' }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
