// Real `proglog` processes for tests, run from the TypeScript sources through tsx so no build is needed:
// agents that can be signalled or killed, and one-shot CLI commands with their exit code and output.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../../cmd/proglog/agent-runtime.js';
import type { AgentConfig } from '../../internal/agent/config.js';
import { agentFlags, REPO_ROOT } from './cluster.js';

const MAIN = path.join(REPO_ROOT, 'cmd/proglog/main.ts');

function proglog(args: string[]): ChildProcess {
  // Agents run as their launchers start them in production.
  const agent = args[0] === 'agent';
  return spawn(process.execPath, [...(agent ? AGENT_NODE_FLAGS : []), '--import', 'tsx', MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...(agent ? AGENT_ENV : {}), NODE_OPTIONS: '', NODE_NO_WARNINGS: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class AgentProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;
  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly rpcAddr: string,
    readonly membershipAddr: string,
    lines: string[],
    exited: Promise<Exit>,
  ) {
    this.lines = lines;
    this.exited = exited;
  }

  /** Starts `proglog agent` and resolves once it logs that it started (with the ports the OS gave it). */
  static async start(config: AgentConfig, timeoutMs = 60_000): Promise<AgentProcess> {
    const child = proglog(['agent', ...agentFlags(config)]);
    const lines: string[] = [];
    const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const rl = readline.createInterface({ input: child.stdout! });
    child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
    const started = new Promise<{ rpcAddr: string; membershipAddr: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${config.nodeName} did not start within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
      rl.on('line', (line) => {
        lines.push(line);
        if (!line.includes('"agent started"')) return;
        clearTimeout(timer);
        const entry = JSON.parse(line) as { rpcAddr: string; membershipAddr: string };
        resolve(entry);
      });
      void exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`${config.nodeName} exited (${e.signal ?? e.code}) before starting:\n${lines.join('\n')}`));
      });
    });
    try {
      const { rpcAddr, membershipAddr } = await started;
      return new AgentProcess(config.nodeName, child, rpcAddr, membershipAddr, lines, exited);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Graceful stop (SIGTERM); kills it if it has not exited within timeoutMs. */
  async stop(timeoutMs = 20_000): Promise<Exit> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs one `proglog` command to completion (killed after timeoutMs). */
export function runCli(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = proglog(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end(options.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes drain before reporting.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    }),
  );
}

/** Starts a long-running CLI command (e.g. consume --follow) that the test reads from and then interrupts. */
export function startCli(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<CliResult> } {
  const child = proglog(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end();
  const exited = new Promise<CliResult>((resolve) =>
    child.once('exit', (code, signal) => setImmediate(() => resolve({ code, signal, stdout, stderr }))),
  );
  return { child, output: () => stdout, exited };
}
