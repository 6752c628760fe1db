// Where `sluice start` gets its settings, lowest precedence first:
//
//   1. defaults           listeners=127.0.0.1:9092, log.dirs=./data (the rest: the settings registry's)
//   2. --config <file>    a Kafka .properties file (also SLUICE_CONFIG)
//   3. environment        SLUICE_* variables (SLUICE_LOG_RETENTION_MS -> log.retention.ms)
//   4. flags              --override name=value, then the named flags (--listen, --data-dir, ...)
//
// Everything ends up as one map of Kafka-named settings with string values, which startBroker()
// checks; this module only gathers and records where each value came from.
import { parseArgs } from 'node:util';
import { readConfigFile } from '../runtime/config-file.js';
import { readString } from '../runtime/settings.js';
import { ConfigError, parseProperties } from '../server/server-config.js';

/** A command line that cannot be understood (exit code 2, unlike a bad setting, exit code 1). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What `sluice start` sets when nothing else does (the registry's defaults; startBroker() alone
 *  would pick a free port and a temporary directory). */
export const defaultSettings: Readonly<Record<string, string>> = Object.freeze({
  listeners: readString({}, 'listeners'),
  'log.dirs': readString({}, 'log.dirs'),
});

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** Flags and variables with a name of their own, and the Kafka setting each one sets. */
export const namedFlags = [
  {
    flag: 'listen',
    environment: 'SLUICE_LISTEN',
    setting: 'listeners',
    value: 'host:port',
    description: 'address to listen on (port 0 picks a free one)',
  },
  {
    flag: 'advertised-listener',
    environment: 'SLUICE_ADVERTISED_LISTENER',
    setting: 'advertised.listeners',
    value: 'host:port',
    description: 'address clients are told to connect to (default: the listen address)',
  },
  {
    flag: 'data-dir',
    environment: 'SLUICE_DATA_DIR',
    setting: 'log.dirs',
    value: 'path',
    description: 'data directory',
  },
  {
    flag: 'node-id',
    environment: 'SLUICE_NODE_ID',
    setting: 'node.id',
    value: 'n',
    description: 'broker id shown to clients (fixed at first start)',
  },
  {
    flag: 'cluster-etcd',
    environment: 'SLUICE_CLUSTER_ETCD',
    setting: 'sluice.cluster.etcd',
    value: 'url[,url]',
    description: 'join the cluster whose membership and metadata live in this etcd (none: one node)',
  },
] as const;

/** Sluice variables that are not settings. */
const configFileVariable = 'SLUICE_CONFIG';
const logLevelVariable = 'SLUICE_LOG_LEVEL';

/**
 * The Kafka setting a SLUICE_* variable stands for: a named one from the table above, otherwise the
 * rest of the name lower-cased with `_` read as `.` (SLUICE_NUM_PARTITIONS -> num.partitions).
 * Returns null for variables that are not settings.
 */
export function settingOfVariable(variable: string): string | null {
  if (!variable.startsWith('SLUICE_') || variable === configFileVariable || variable === logLevelVariable) return null;
  const named = namedFlags.find((f) => f.environment === variable);
  if (named) return named.setting;
  const rest = variable.slice('SLUICE_'.length);
  if (!/^[A-Z0-9]+(_[A-Z0-9]+)*$/.test(rest)) return null;
  return rest.toLowerCase().replaceAll('_', '.');
}

export interface StartArguments {
  help: boolean;
  version: boolean;
  config?: string;
  logLevel?: string;
  /** Settings given on the command line, `--override` first and the named flags over them. */
  settings: Record<string, string>;
}

/** Parses the arguments after `start`. Throws UsageError for unknown flags or a malformed --override. */
export function parseStartArguments(args: readonly string[]): StartArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        'advertised-listener': { type: 'string' },
        'data-dir': { type: 'string' },
        'node-id': { type: 'string' },
        'cluster-etcd': { type: 'string' },
        config: { type: 'string', short: 'c' },
        override: { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
  const values = parsed.values;
  const settings: Record<string, string> = {};
  for (const override of values.override ?? []) {
    const at = override.indexOf('=');
    const name = at < 0 ? '' : override.slice(0, at).trim();
    if (name === '')
      throw new UsageError(
        `--override takes name=value (a Kafka setting such as log.retention.ms=60000), got "${override}"`,
      );
    settings[name] = override.slice(at + 1).trim();
  }
  for (const { flag, setting } of namedFlags) {
    const value = values[flag];
    if (value !== undefined) settings[setting] = value;
  }
  return {
    help: values.help ?? false,
    version: values.version ?? false,
    ...(values.config !== undefined ? { config: values.config } : {}),
    ...(values['log-level'] !== undefined ? { logLevel: values['log-level'] } : {}),
    settings,
  };
}

export type SettingSource = 'default' | 'config' | 'environment' | 'flag';

export interface GatheredSettings {
  properties: Record<string, string>;
  /** Where each setting's value came from, for the start-up log line. */
  sources: Record<string, SettingSource>;
  configFile: string | null;
  logLevel: LogLevel;
}

/** The log level from the flag or SLUICE_LOG_LEVEL (flags win); checked here because the logger
 *  must exist before any other setting is read, to report problems with them. */
export function logLevelOf(args: StartArguments, environment: NodeJS.ProcessEnv): LogLevel {
  const raw = args.logLevel ?? environment[logLevelVariable] ?? 'info';
  if (!(logLevels as readonly string[]).includes(raw)) {
    throw new UsageError(`log level must be one of ${logLevels.join(', ')}, got "${raw}"`);
  }
  return raw as LogLevel;
}

/** Merges defaults < config file < environment < flags. Throws ConfigError for an unreadable config file. */
export function gatherSettings(
  args: StartArguments,
  environment: NodeJS.ProcessEnv,
  readFile: (path: string) => string = readConfigFile,
): GatheredSettings {
  const properties: Record<string, string> = {};
  const sources: Record<string, SettingSource> = {};
  const apply = (settings: Record<string, string>, source: SettingSource) => {
    for (const [given, value] of Object.entries(settings)) {
      // Kafka's `log.dir` is the one-directory spelling of `log.dirs`; keep one name so precedence holds.
      const name = given === 'log.dir' ? 'log.dirs' : given;
      properties[name] = value;
      sources[name] = source;
    }
  };
  apply(defaultSettings, 'default');

  const configFile = args.config ?? (environment[configFileVariable] || undefined) ?? null;
  if (configFile !== null) {
    let text: string;
    try {
      text = readFile(configFile);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ConfigError(
        `cannot read config file ${configFile}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
      );
    }
    apply(parseProperties(text), 'config');
  }

  const fromEnvironment: Record<string, string> = {};
  for (const [variable, value] of Object.entries(environment).sort(([a], [b]) => a.localeCompare(b))) {
    const setting = settingOfVariable(variable);
    if (setting !== null && value !== undefined && value !== '') fromEnvironment[setting] = value;
  }
  apply(fromEnvironment, 'environment');
  apply(args.settings, 'flag');
  return { properties, sources, configFile, logLevel: logLevelOf(args, environment) };
}
