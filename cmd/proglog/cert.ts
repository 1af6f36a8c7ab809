// `proglog cert`: writes the development certificate set (CA, server, root and nobody clients, any --client, and a
// peer certificate for each --peer node) into a folder, never overwriting existing files unless --force. An
// existing CA is reused, so `proglog cert --client carol` or `--peer node-3` adds to the certificates already
// handed out.
import { parseArgs } from 'node:util';
import {
  DEFAULT_CLIENTS,
  IncompleteCertPairError,
  InvalidIdentityError,
  InvalidPeerNameError,
  MissingCAKeyError,
  UnusableDirError,
  writeDevCerts,
} from '../../internal/config/index.js';

/**
 * What the user asked for cannot be done as asked (a name, the folder, what is already in it): exit 2, as for any
 * bad usage. Anything else (a disk error) is a failure at run time: exit 1.
 */
const USAGE_ERRORS = [InvalidIdentityError, InvalidPeerNameError, UnusableDirError, MissingCAKeyError, IncompleteCertPairError];

const USAGE = `usage: proglog cert [--dir DIR] [--host NAME]... [--client NAME]... [--peer NODE]... [--days N] [--key-bits N] [--force]

Writes a CA and mutual-TLS certificates made with node-forge into DIR (default: certs):
  ca.pem, ca-key.pem                  the certificate authority
  server.pem, server-key.pem          the server (SANs: localhost, 127.0.0.1 and every --host)
  NAME-client.pem, NAME-client-key.pem  a client whose identity (certificate CN) is NAME,
                                      for root, nobody and every --client NAME
  NODE.pem, NODE-key.pem              the peer certificate of the agent named NODE, for every --peer NODE
                                      (CN NODE, the server's SANs; the agent's default peer-tls files)
Existing files are kept (an existing CA signs the new certificates) unless --force replaces them all.

  --dir DIR      output folder (created if missing)
  --host NAME    an extra DNS name or IP address for the server and peer certificates (repeatable)
  --client NAME  an extra client identity (repeatable)
  --peer NODE    a peer certificate for the agent with --node-name NODE (repeatable)
  --days N       validity of the issued certificates in days (default 825; the CA gets 3650)
  --key-bits N   RSA key size (default 2048; 3072 or 4096 for stronger keys)
  --force        replace existing files, starting from a new CA
  -h, --help     show this help

Exit codes: 0 done; 2 bad usage: a flag, a name, a --dir that cannot be a directory, or files in it that
cannot be added to (one line on stderr says which); 1 a failure while writing (e.g. the disk is full).
`;

export interface CertCommandIO {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

const consoleIO: CertCommandIO = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/** Runs `proglog cert` with the arguments after "cert"; resolves with the process exit code. */
export async function runCert(argv: string[], io: CertCommandIO = consoleIO): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        dir: { type: 'string', default: 'certs' },
        host: { type: 'string', multiple: true, default: [] },
        client: { type: 'string', multiple: true, default: [] },
        peer: { type: 'string', multiple: true, default: [] },
        days: { type: 'string' },
        'key-bits': { type: 'string' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    io.stderr(`proglog cert: ${err instanceof Error ? err.message : String(err)}`);
    io.stderr(USAGE);
    return 2;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  let validityDays: number | undefined;
  if (values.days !== undefined) {
    validityDays = Number(values.days);
    if (!Number.isInteger(validityDays) || validityDays < 1) {
      io.stderr(`proglog cert: --days must be a positive whole number of days, not ${JSON.stringify(values.days)}`);
      return 2;
    }
  }

  let keyBits: number | undefined;
  if (values['key-bits'] !== undefined) {
    keyBits = Number(values['key-bits']);
    if (!Number.isInteger(keyBits) || keyBits < 1024 || keyBits > 8192) {
      io.stderr(`proglog cert: --key-bits must be a whole number from 1024 to 8192, not ${JSON.stringify(values['key-bits'])}`);
      return 2;
    }
  }

  try {
    const result = await writeDevCerts(values.dir, {
      hosts: values.host,
      clients: [...DEFAULT_CLIENTS, ...values.client],
      peers: values.peer,
      force: values.force,
      validityDays,
      keyBits,
    });
    for (const file of result.written) io.stdout(`wrote ${file}`);
    for (const file of result.kept) io.stdout(`kept  ${file} (exists; --force replaces it)`);
    return 0;
  } catch (err) {
    io.stderr(`proglog cert: ${err instanceof Error ? err.message : String(err)}`);
    return USAGE_ERRORS.some((E) => err instanceof E) ? 2 : 1;
  }
}
