// Command-line parsing for the client tools: positionals, `--name value`, `--name=value`, and
// boolean flags. Flags are checked against what the command declares, so a typo fails loudly.

export class ToolUsageError extends Error {
  override name = 'ToolUsageError';
}

export interface ParsedArguments {
  positionals: string[];
  values: Map<string, string[]>;
  flags: Set<string>;
}

export interface ArgumentSpec {
  /** Flags that take a value (repeatable ones collect every value). */
  values: readonly string[];
  /** Flags without a value. */
  flags: readonly string[];
}

const COMMON_VALUES = ['bootstrap'];
const COMMON_FLAGS = ['help', 'verbose'];

export function parseArguments(argv: readonly string[], spec: ArgumentSpec): ParsedArguments {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  const valueNames = new Set([...spec.values, ...COMMON_VALUES]);
  const flagNames = new Set([...spec.flags, ...COMMON_FLAGS]);
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    if (argument === '-h') {
      flags.add('help');
      continue;
    }
    if (!argument.startsWith('--')) {
      positionals.push(argument);
      continue;
    }
    const equals = argument.indexOf('=');
    const name = argument.slice(2, equals < 0 ? undefined : equals);
    if (flagNames.has(name)) {
      if (equals >= 0) throw new ToolUsageError(`--${name} takes no value`);
      flags.add(name);
    } else if (valueNames.has(name)) {
      const value = equals >= 0 ? argument.slice(equals + 1) : argv[++i];
      if (value === undefined) throw new ToolUsageError(`--${name} needs a value`);
      values.set(name, [...(values.get(name) ?? []), value]);
    } else {
      throw new ToolUsageError(`unknown option --${name}`);
    }
  }
  return { positionals, values, flags };
}

export function value(args: ParsedArguments, name: string): string | undefined {
  const list = args.values.get(name);
  return list?.[list.length - 1];
}

export function integerValue(args: ParsedArguments, name: string, min = 0): number | undefined {
  const text = value(args, name);
  if (text === undefined) return undefined;
  const parsed = Number(text);
  if (!Number.isInteger(parsed) || parsed < min)
    throw new ToolUsageError(`--${name} must be an integer ≥ ${min}, got "${text}"`);
  return parsed;
}

export function bigintValue(args: ParsedArguments, name: string): bigint | undefined {
  const text = value(args, name);
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw new ToolUsageError(`--${name} must be an integer, got "${text}"`);
  return BigInt(text);
}

/** "2024-05-01T10:00:00Z" or milliseconds since the epoch. */
export function timeValue(args: ParsedArguments, name: string): number | undefined {
  const text = value(args, name);
  if (text === undefined) return undefined;
  const parsed = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(parsed))
    throw new ToolUsageError(`--${name} must be an ISO date-time or ms since the epoch, got "${text}"`);
  return parsed;
}

/** "PT1H30M" (ISO 8601) or "90m", "2h", "30s", "1d", "500ms". */
export function durationMs(text: string): number {
  const simple = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (simple)
    return (
      Number(simple[1]) *
      { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[simple[2] as 'ms' | 's' | 'm' | 'h' | 'd']
    );
  const iso = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text);
  if (iso && text !== 'P' && text !== 'PT')
    return (
      ((Number(iso[1] ?? 0) * 24 + Number(iso[2] ?? 0)) * 60 + Number(iso[3] ?? 0)) * 60_000 +
      Number(iso[4] ?? 0) * 1000
    );
  throw new ToolUsageError(`a duration looks like 90m, 2h, 1d or PT1H30M, got "${text}"`);
}

/**
 * A separator as typed on a command line, where the shell hands over `'\t'` as the two characters
 * backslash and t. The escapes are kcat's (`-K`, `-D`), plus `\\`, so that a literal backslash can be
 * written:
 *
 *   written   means
 *   \t        a tab
 *   \n        a newline
 *   \xHH      the character with hex code HH (00-7f: input lines are UTF-8)
 *   \\        one backslash (kcat has no such escape: there `\\` is two backslashes)
 *   \<other>  itself, backslash included (as kcat)
 *
 * A real tab (typed as $'\t' in bash) passes unchanged.
 */
export function unescapeSeparator(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    const next = text[i + 1];
    if (char !== '\\' || next === undefined) {
      out += char;
    } else if (next === 't' || next === 'n' || next === '\\') {
      out += next === 't' ? '\t' : next === 'n' ? '\n' : '\\';
      i += 1;
    } else if (next === 'x') {
      const hex = text.slice(i + 2, i + 4);
      if (!/^[0-7][0-9a-fA-F]$/.test(hex))
        throw new ToolUsageError(`"\\x" takes two hex digits from 00 to 7f, got "${text.slice(i, i + 4)}"`);
      out += String.fromCharCode(parseInt(hex, 16));
      i += 3;
    } else {
      out += char;
    }
  }
  return out;
}
