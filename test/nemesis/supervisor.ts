// Agent processes under the nemesis's control: spawn, SIGKILL, SIGSTOP/SIGCONT, restart with the same command
// line (so the same data dir), and a guarantee that nothing outlives the run.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr of every incarnation are appended here. */
  logFile: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ProcessStateError extends Error {
  constructor(name: string, what: string) {
    super(`${name}: ${what}`);
    this.name = 'ProcessStateError';
  }
}

export class SupervisedProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<ExitInfo> | undefined;
  private stopped = false;
  /** How many times it was started (1 after the first start). */
  incarnation = 0;
  /** Exits nobody asked for (crashes), for the run's report. */
  readonly unexpectedExits: Array<ExitInfo & { incarnation: number }> = [];
  private expectingExit = false;

  constructor(readonly spec: ProcessSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get paused(): boolean {
    return this.stopped;
  }

  start(): void {
    if (this.running) throw new ProcessStateError(this.name, 'already running');
    const out = fs.openSync(this.spec.logFile, 'a');
    this.incarnation++;
    const incarnation = this.incarnation;
    try {
      this.child = spawn(this.spec.command, this.spec.args, {
        env: this.spec.env ?? process.env,
        stdio: ['ignore', out, out],
      });
    } finally {
      fs.closeSync(out);
    }
    this.stopped = false;
    this.expectingExit = false;
    const child = this.child;
    this.exit = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        const info = { code, signal };
        if (!this.expectingExit) this.unexpectedExits.push({ ...info, incarnation });
        resolve(info);
      });
      child.once('error', () => resolve({ code: null, signal: null }));
    });
  }

  /** SIGKILL: no chance to flush or say goodbye, as a power cut. Resolves once it is gone. */
  async kill(): Promise<ExitInfo> {
    return this.signalAndWait('SIGKILL');
  }

  /** Freezes the process; its sockets stay open but nothing answers. */
  pause(): void {
    if (!this.running) throw new ProcessStateError(this.name, 'cannot pause: not running');
    this.child!.kill('SIGSTOP');
    this.stopped = true;
  }

  resume(): void {
    if (!this.running) throw new ProcessStateError(this.name, 'cannot resume: not running');
    this.child!.kill('SIGCONT');
    this.stopped = false;
  }

  /** Kills the current incarnation if any and starts a new one with the same command line. */
  async restart(): Promise<void> {
    if (this.running) await this.kill();
    this.start();
  }

  /** SIGTERM (the orderly shutdown), then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<ExitInfo | undefined> {
    if (!this.running) return undefined;
    this.expectingExit = true;
    const child = this.child!;
    child.kill('SIGTERM');
    if (this.stopped) this.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await this.exit!;
    } finally {
      clearTimeout(timer);
    }
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<ExitInfo> {
    if (!this.running) throw new ProcessStateError(this.name, `cannot send ${signal}: not running`);
    this.expectingExit = true;
    this.child!.kill(signal);
    const info = await this.exit!;
    this.stopped = false;
    return info;
  }
}

/** The set of processes of one run; `pids()` feeds the proxies' source identification. */
export class Supervisor {
  private readonly procs = new Map<string, SupervisedProcess>();
  private readonly onExit = (): void => this.killAllNow();

  constructor() {
    // If the run itself dies, its agents must not linger and hold ports and data dirs.
    process.on('exit', this.onExit);
  }

  add(spec: ProcessSpec): SupervisedProcess {
    if (this.procs.has(spec.name)) throw new ProcessStateError(spec.name, 'a process with this name exists');
    const p = new SupervisedProcess(spec);
    this.procs.set(spec.name, p);
    return p;
  }

  get(name: string): SupervisedProcess {
    const p = this.procs.get(name);
    if (!p) throw new ProcessStateError(name, 'no such process');
    return p;
  }

  all(): SupervisedProcess[] {
    return [...this.procs.values()];
  }

  pids(): Map<number, string> {
    const m = new Map<number, string>();
    for (const p of this.procs.values()) if (p.pid !== undefined) m.set(p.pid, p.name);
    return m;
  }

  async stopAll(graceMs = 10_000): Promise<void> {
    await Promise.all(this.all().map((p) => p.stop(graceMs)));
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all().filter((p) => p.running).map((p) => p.kill()));
  }

  dispose(): void {
    process.off('exit', this.onExit);
  }

  private killAllNow(): void {
    for (const p of this.procs.values()) {
      const pid = p.pid;
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  }
}

/** The kernel's state letter for a process (R, S, T for stopped, Z, ...), or undefined when it is gone. */
export async function processState(pid: number): Promise<string | undefined> {
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces; the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used, from /proc, or undefined when it is gone. */
export async function processCpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the state (field 3), utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
