// For the command tests: stdout and stderr streams whose text the test reads back as it grows.
import { PassThrough } from 'node:stream';

export interface CapturedOutput {
  stdout: PassThrough;
  stderr: PassThrough;
  out(): string;
  err(): string;
}

export function captureOutput(): CapturedOutput {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { stdout, stderr, out: () => out, err: () => err };
}
