// Runs the no-op ceiling server in its own process, as each agent runs in its own, so the baseline pays the same
// cross-process costs. Prints "listening HOST:PORT" on stdout once ready; exits on SIGTERM or stdin closing.
//   node dist/bench/cluster/noop-server-main.js CA_FILE CERT_FILE KEY_FILE
import { readFileSync } from 'node:fs';
import { startNoopServer } from './noop-server.js';

const [caFile, certFile, keyFile] = process.argv.slice(2);
if (!caFile || !certFile || !keyFile) {
  process.stderr.write('usage: noop-server-main CA_FILE CERT_FILE KEY_FILE\n');
  process.exit(2);
}
const server = await startNoopServer({ ca: readFileSync(caFile), cert: readFileSync(certFile), key: readFileSync(keyFile) });
process.stdout.write(`listening ${server.address}\n`);
const stop = (): void => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
