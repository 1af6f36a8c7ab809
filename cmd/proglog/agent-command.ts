// `proglog agent`: parse flags and config, run the agent until SIGINT or SIGTERM, then shut it down in order.
// A second signal exits at once. Configuration that cannot work (bad values, unreadable certificates or
// policy, a port in use, a data dir of another node or in use by another agent) is one line on stderr and exit
// code 2.
import path from 'node:path';
import { PolicyLoadError } from '../../internal/auth/index.js';
import { Agent } from '../../internal/agent/agent.js';
import { AgentConfigError, type AgentConfig } from '../../internal/agent/config.js';
import { MuxAddressInUseError } from '../../internal/agent/mux.js';
import { realParts } from '../../internal/agent/real-parts.js';
import { DataDirLockedError, TLSConfigError, TLSFileNotFoundError, UnusableDirError, peerCertPair } from '../../internal/config/index.js';
import { MembershipConfigError } from '../../internal/discovery/index.js';
import { DataDirOwnerError } from '../../internal/distributed/node-identity.js';
import { InvalidConfigError } from '../../internal/log/index.js';
import type { CommandIO } from './client-commands.js';
import { AGENT_USAGE, parseAgentArgs } from './agent-options.js';
import { ExternalGarbageBound } from './external-garbage.js';
import { UsageError, oneLine } from './values.js';

const CONFIG_ERRORS = [
  AgentConfigError,
  TLSConfigError,
  PolicyLoadError,
  MembershipConfigError,
  DataDirOwnerError,
  DataDirLockedError,
  UnusableDirError,
  MuxAddressInUseError,
  InvalidConfigError,
];

export async function runAgentCommand(argv: string[], io: CommandIO): Promise<number> {
  const { help, config } = await parseAgentArgs(argv);
  if (help) {
    io.stdout.write(`${AGENT_USAGE}\n`);
    return 0;
  }
  let agent: Agent;
  try {
    agent = await Agent.start(config, { parts: realParts, processMetrics: true });
  } catch (err) {
    if (CONFIG_ERRORS.some((E) => err instanceof E)) throw new UsageError(`${(err as Error).message}${peerCertHint(config, err)}`);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES') throw new UsageError(e.message);
    throw err;
  }
  const garbage = new ExternalGarbageBound();
  if (!garbage.start()) {
    agent.logger.info('started without --expose-gc: dead buffers are left to V8, which lets tens of MB of them accumulate');
  }
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const outcome = await new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      agent.logger.info({ signal }, 'signal received: shutting down (again to exit at once)');
      for (const s of signals) {
        process.off(s, onSignal);
        process.once(s, () => process.exit(signal === 'SIGINT' ? 130 : 143));
      }
      agent.shutdown().then(() => resolve(0), () => resolve(0));
    };
    for (const s of signals) process.on(s, onSignal);
    // A part failing for good (e.g. the disk) ends the process with an error, after an orderly shutdown.
    void agent.failed.then(async (err) => {
      for (const s of signals) process.off(s, onSignal);
      await agent.shutdown();
      io.stderr.write(`proglog agent: ${oneLine(err.message)}\n`);
      resolve(1);
    });
  });
  garbage.stop();
  return outcome;
}

/**
 * The default peer certificate is made by `proglog cert --peer`, not by the plain `proglog cert` most people run
 * first: when it is missing where that command puts it, say how to make it.
 */
function peerCertHint(config: AgentConfig, err: unknown): string {
  if (!(err instanceof TLSFileNotFoundError)) return '';
  const dir = path.dirname(config.peerTls.certFile);
  const made = peerCertPair(dir, config.nodeName);
  if (made.certFile !== config.peerTls.certFile || made.keyFile !== config.peerTls.keyFile) return '';
  if (err.file !== made.certFile && err.file !== made.keyFile) return '';
  return ` (make it with: proglog cert${dir === 'certs' ? '' : ` --dir ${dir}`} --peer ${config.nodeName})`;
}
