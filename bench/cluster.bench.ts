// `make bench` (cluster part): node dist/bench/cluster.bench.js [--short] [--json] [--volume-mb N]
// A three-node cluster of agent processes against the no-op ceiling server, figure by figure; see
// bench/cluster/suite.ts. --json prints one JSON object per figure (as BENCH_JSON=1 does).
import '../internal/polyfills.js';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    // How much to write before reading the nodes' resident memory (default 1024, or 64 with --short).
    'volume-mb': { type: 'string' },
  },
  strict: true,
});
// A closed stdout (e.g. piped into `head`) ends the run; exiting runs the supervisor's hook that kills the agents.
process.stdout.on('error', () => process.exit(1));
// The reporter reads BENCH_JSON when it loads, so it is set before the suite (and the reporter) are imported.
if (values.json) process.env.BENCH_JSON = '1';
const { runClusterBench } = await import('./cluster/suite.js');
const volumeMB = values['volume-mb'] === undefined ? undefined : Number(values['volume-mb']);
if (volumeMB !== undefined && !(volumeMB > 0)) {
  console.error(`cluster.bench: --volume-mb ${values['volume-mb']}: expected a number of MB > 0`);
  process.exit(2);
}
runClusterBench({
  short: values.short,
  json: values.json || process.env.BENCH_JSON === '1',
  ...(volumeMB !== undefined ? { volumeBytes: volumeMB * 2 ** 20 } : {}),
}).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
