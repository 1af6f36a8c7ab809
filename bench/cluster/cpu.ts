// CPU time that the bench's processes spend per record. Records/s alone cannot say what bounds a scenario: the
// client and the servers share this machine's few cores, and a run is slow either because it waits (an fsync, a
// round trip to a follower) or because the cores are full. CPU per record tells the two apart, and with the
// number of cores it gives the most that any run of that cost could do here (its CPU-bound ceiling), for the
// cluster and for the no-op server alike.
import { execFileSync } from 'node:child_process';
import { ProcessReadError, readProcFile } from './proc.js';

/** One process the bench measures: the load generator itself, the no-op server, or a node. */
export interface MeasuredProcess {
  name: string;
  pid: number | undefined;
}

/** A process whose CPU time cannot be read: a figure for it would be a guess, so there is none. */
export class CpuReadError extends ProcessReadError {
  constructor(name: string, pid: number | undefined, reason: string) {
    super('CPU time', name, pid, reason);
    this.name = 'CpuReadError';
  }
}

/**
 * utime + stime, in clock ticks, from the text of /proc/<pid>/stat: the CPU time of all the process's threads
 * (V8's collector and compiler threads and libuv's pool included, which a profile of the main thread misses).
 * The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so fields are counted
 * from the last ')'.
 */
export function parseCpuTicks(stat: string): number {
  const end = stat.lastIndexOf(')');
  if (end < 0) throw new Error('no command name in its stat line');
  // After the name: state (field 3) ... utime (field 14), stime (field 15).
  const fields = stat.slice(end + 2).trim().split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) throw new Error(`its stat line has no CPU times: ${stat.slice(0, 80)}`);
  return utime + stime;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc's CPU times (USER_HZ), as the C library reports it. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`getconf CLK_TCK printed no tick rate`);
    clockTicks = n;
  }
  return clockTicks;
}

/** CPU seconds the process has used since it started. */
export function readCpuSeconds(p: MeasuredProcess): Promise<number> {
  return readProcFile(p.pid, 'stat', (stat) => parseCpuTicks(stat) / ticksPerSecond(), (reason) => new CpuReadError(p.name, p.pid, reason));
}

/** Microseconds of CPU per record, per process and over all of them, for one run. */
export interface CpuPerRecord {
  byProcess: Array<{ name: string; us: number }>;
  totalUs: number;
}

/**
 * Measures the CPU the processes spend while `run` goes, divided by the records it reports. A process that
 * exits or is replaced (another pid) in between cannot be measured and fails the reading.
 */
export async function measureCpu<T>(processes: () => MeasuredProcess[], run: () => Promise<T>, records: (r: T) => number): Promise<{ result: T; cpu: CpuPerRecord }> {
  const before = processes();
  const start = await Promise.all(before.map(readCpuSeconds));
  const result = await run();
  const after = processes();
  const byProcess = await Promise.all(
    before.map(async (p, i) => {
      const now = after.find((q) => q.name === p.name);
      if (now?.pid !== p.pid) throw new CpuReadError(p.name, p.pid, `it was replaced by ${now?.pid === undefined ? 'nothing' : `pid ${now.pid}`} during the run`);
      return { name: p.name, seconds: (await readCpuSeconds(p)) - start[i]! };
    }),
  );
  const n = records(result);
  const us = (seconds: number): number => (n > 0 ? (seconds * 1e6) / n : NaN);
  return {
    result,
    cpu: {
      byProcess: byProcess.map((p) => ({ name: p.name, us: us(p.seconds) })),
      totalUs: us(byProcess.reduce((sum, p) => sum + p.seconds, 0)),
    },
  };
}

/** Records/s that `cores` fully busy cores would give at `usPerRecord` of CPU per record: an upper bound. */
export function cpuBoundCeiling(usPerRecord: number, cores: number): number {
  return usPerRecord > 0 ? (cores * 1e6) / usPerRecord : NaN;
}
