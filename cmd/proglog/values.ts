// Typed values for command-line flags and YAML keys: sizes ("64MiB"), durations ("500ms", "24h"), integers,
// booleans and lists. A value that does not parse is a UsageError naming the key, for one clear line on stderr.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * An error message as the one line on stderr the commands promise: messages from libraries may span lines of
 * advice or carry a nested error's stack frames, which say nothing to the person at the terminal.
 */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^at\s/.test(line))
    .join(' ');
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

const DURATION_UNITS: Record<string, number> = {
  '': 1,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

function scaled(key: string, raw: unknown, units: Record<string, number>, what: string): number {
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw) || raw < 0) throw new UsageError(`${key}: ${what} must be a whole number >= 0, got ${raw}`);
    return raw;
  }
  const text = String(raw).trim();
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text);
  const unit = m ? units[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${key}: "${text}" is not a ${what} (e.g. ${Object.keys(units).filter(Boolean).slice(0, 3).map((u) => `10${u}`).join(', ')})`);
  }
  const value = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(value)) throw new UsageError(`${key}: ${text} is too large`);
  return value;
}

export function parseBytes(key: string, raw: unknown): number {
  return scaled(key, raw, BYTE_UNITS, 'size');
}

/** A duration in milliseconds; a bare number is milliseconds. */
export function parseDuration(key: string, raw: unknown): number {
  return scaled(key, raw, DURATION_UNITS, 'duration');
}

export function parseInteger(key: string, raw: unknown, min: number, max: number): number {
  const value = typeof raw === 'number' ? raw : /^-?\d+$/.test(String(raw).trim()) ? Number(String(raw).trim()) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${key}: expected a whole number from ${min} to ${max}, got "${String(raw)}"`);
  }
  return value;
}

export function parseBoolean(key: string, raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim().toLowerCase();
  if (['true', 'yes', '1', 'on'].includes(text)) return true;
  if (['false', 'no', '0', 'off'].includes(text)) return false;
  throw new UsageError(`${key}: expected true or false, got "${String(raw)}"`);
}

/** A YAML list, or a comma-separated string (the book's flag syntax); repeated flags arrive as an array. */
export function parseList(key: string, raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw : [raw];
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string' && typeof item !== 'number') {
      throw new UsageError(`${key}: expected a list of strings`);
    }
    for (const part of String(item).split(',')) {
      const t = part.trim();
      if (t !== '') out.push(t);
    }
  }
  return out;
}

export function parseString(key: string, raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number') return String(raw);
  throw new UsageError(`${key}: expected a string`);
}

export function parseChoice<T extends string>(key: string, raw: unknown, choices: readonly T[]): T {
  const text = parseString(key, raw);
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`${key}: expected one of ${choices.join(', ')}, got "${text}"`);
  }
  return text as T;
}
