#!/usr/bin/env node
// The `proglog` binary: runs the command line in cli.ts with this process's streams and signals.
import '../../internal/polyfills.js';
import { main } from './cli.js';

// Dialling 127.0.0.1 makes Node warn that a TLS server name should not be an IP address; the certificate is
// still checked against the IP, so the warning says nothing a CLI user can act on.
const emitWarning = process.emitWarning.bind(process) as (...a: unknown[]) => void;
process.emitWarning = ((...a: unknown[]) => {
  if (a.some((x) => x === 'DEP0123' || (typeof x === 'object' && x !== null && (x as { code?: unknown }).code === 'DEP0123'))) return;
  emitWarning(...a);
}) as typeof process.emitWarning;

const args = process.argv.slice(2);
// `proglog consume | head` closes the pipe early: that is the reader being done, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const controller = new AbortController();
if (args[0] !== 'agent') {
  // The agent installs its own signal handling; for a client command (e.g. consume --follow) the first Ctrl-C
  // ends it cleanly and a second one at once.
  process.once('SIGINT', () => {
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  });
}
main(args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signal: controller.signal }).then(
  (code) => {
    process.exitCode = code;
    // Values given as arguments leave stdin unread; do not let it keep the process alive.
    if (args[0] !== 'agent') process.stdin.destroy();
  },
  (err: unknown) => {
    process.stderr.write(`proglog: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
