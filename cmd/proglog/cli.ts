// The proglog command: `agent` runs a node; `produce`, `consume` and `servers` talk to a cluster through the
// load-balancing client; `cert` makes development certificates. Exit codes: 0 success, 1 failure at run time,
// 2 bad usage or configuration (one line on stderr says what).
import { runCert } from './cert.js';
import { CLIENT_USAGE, runConsume, runProduce, runServers, type CommandIO } from './client-commands.js';
import { UsageError, oneLine } from './values.js';

const USAGE = `usage: proglog <command> [flags]

commands:
  agent     run a node (proglog agent --help)
  produce   append records (values as arguments, or one per line of stdin)
  consume   print records from an offset; --follow keeps waiting at the head
  servers   list the cluster's servers and its leader
  cert      make development certificates (proglog cert --help)

${CLIENT_USAGE}
`;

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'agent': {
        // Loaded only here: the agent pulls in libp2p and Raft, which client commands never need.
        const { runAgentCommand } = await import('./agent-command.js');
        return await runAgentCommand(rest, io);
      }
      case 'produce':
        return await runProduce(rest, io);
      case 'consume':
        return await runConsume(rest, io);
      case 'servers':
        return await runServers(rest, io);
      case 'cert':
        return await runCert(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.stderr.write(`proglog: unknown command "${command}" (try proglog help)\n`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`proglog ${command}: ${oneLine(err.message)}\n`);
      return 2;
    }
    io.stderr.write(`proglog ${command}: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    return 1;
  }
}
