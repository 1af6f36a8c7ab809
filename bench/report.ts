// One place that prints benchmark figures, so every bench reports the same way:
// a human line with the figure beside its in-run baseline (and their ratio), or with BENCH_JSON=1
// one JSON object per figure per line for scripts.

export interface Figure {
  bench: string;
  figure: string;
  value: number;
  unit: string;
  baseline: string;
  baselineValue: number;
  /** Optional target the figure should reach, for the human line only (e.g. ">= 1000000"). */
  target?: string;
}

const json = process.env.BENCH_JSON === '1';

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toPrecision(4);
}

export function report(f: Figure): void {
  if (json) {
    process.stdout.write(
      JSON.stringify({
        bench: f.bench,
        figure: f.figure,
        value: f.value,
        unit: f.unit,
        baseline: f.baseline,
        baseline_value: f.baselineValue,
      }) + '\n',
    );
    return;
  }
  // A ratio to nothing (a count of failures against a baseline that had none) is left out, not shown as NaN.
  const ratio = f.baselineValue === 0 ? '' : ` (x${fmt(f.value / f.baselineValue)})`;
  const target = f.target ? `  target ${f.target}` : '';
  process.stdout.write(
    `${f.bench.padEnd(12)} ${f.figure.padEnd(40)} ${fmt(f.value).padStart(14)} ${f.unit.padEnd(10)}` +
      ` | ${f.baseline} ${fmt(f.baselineValue)}${ratio}${target}\n`,
  );
}

/** Progress goes to stderr so that BENCH_JSON output on stdout stays machine-readable. */
export function progress(msg: string): void {
  process.stderr.write(`# ${msg}\n`);
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

/** Runs fn `repeats` times and returns the median of what it returns (e.g. a rate). */
export async function medianOf(repeats: number, fn: () => Promise<number> | number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < repeats; i++) xs.push(await fn());
  return median(xs);
}
