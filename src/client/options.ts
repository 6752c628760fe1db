// Runtime checks of user options, so a wrong option fails at construction with a message naming it
// (STYLE.md "The public API": options are validated at runtime with clear messages).
import { ClientOptionError } from './errors.js';

export function integerOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ClientOptionError(`option ${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

export function oneOfOption<T extends string | number>(
  name: string,
  value: T | undefined,
  fallback: T,
  allowed: readonly T[],
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value))
    throw new ClientOptionError(
      `option ${name} must be one of ${allowed.map(String).join(', ')}, got ${String(value)}`,
    );
  return value;
}

export function booleanOption(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new ClientOptionError(`option ${name} must be true or false, got ${String(value)}`);
  return value;
}

export function stringOption(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0)
    throw new ClientOptionError(`option ${name} must be a non-empty string, got ${String(value)}`);
  return value;
}

/** "host:port" → parts. Accepts "[::1]:9092" for IPv6. */
export function parseBrokerAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port > 0 && port < 65536))
    throw new ClientOptionError(`broker address must look like host:port, got "${address}"`);
  return { host: match[1]!, port };
}

export function bootstrapOption(value: string | readonly string[] | undefined): Array<{ host: string; port: number }> {
  const list = value === undefined ? ['127.0.0.1:9092'] : typeof value === 'string' ? value.split(',') : [...value];
  const parsed = list.filter((entry) => entry.trim().length > 0).map(parseBrokerAddress);
  if (parsed.length === 0) throw new ClientOptionError('option bootstrap must name at least one broker (host:port)');
  return parsed;
}
