// What `sluice --help` and `sluice start --help` print. The settings and their defaults come from the
// settings registry, as do the README's and docs/configuration.md's tables.
import { readOptionalString } from '../runtime/settings.js';
import { helpSettingLines } from '../runtime/settings-docs.js';
import { namedFlags } from './settings.js';

export const usage = `Usage: sluice <command> [flags]

Commands:
  start      run a broker (see sluice start --help)
  cluster    cluster up: etcd and N brokers on loopback; cluster status: brokers, controller, unhealthy partitions
  topics     create, list, describe, alter, delete topics
  produce    send stdin lines to a topic
  consume    print messages of a topic (group or partitions)
  groups     list, describe, delete consumer groups; reset their offsets
  bench      produce/consume/end-to-end load with a summary

Each command takes --help and --bootstrap (default 127.0.0.1:9092).

Flags:
  -h, --help     show this help
  -v, --version  print the version`;

const leftWidth = 35;
const row = (left: string, right: string) => `  ${left.padEnd(leftWidth)}${right}`;
/** A named flag's description with the default of the setting it sets (from the registry). */
const withDefault = (description: string, setting: string) => {
  const value = readOptionalString({}, setting);
  if (value === null || value === '') return description;
  return description.endsWith(')')
    ? `${description.slice(0, -1)}; default ${value})`
    : `${description} (default ${value})`;
};
const flagLines = [
  ...namedFlags.map(({ flag, value, description, setting }) =>
    row(`--${flag} <${value}>`, withDefault(description, setting)),
  ),
  row('--config <file>', 'Kafka .properties file (also SLUICE_CONFIG)'),
  row('--override <name=value>', 'any setting by its Kafka name; repeatable'),
  row('--log-level <level>', 'trace, debug, info (default), warn, error, fatal, silent (also SLUICE_LOG_LEVEL)'),
  row('-h, --help', 'show this help'),
  row('-v, --version', 'print the version'),
].join('\n');
/** From the settings registry (src/runtime/settings-docs.ts), like the README's table. */
const mainSettingLines = helpSettingLines(leftWidth, 110);
const variableLines = namedFlags.map(({ environment, setting }) => row(environment, setting)).join('\n');

export const startHelp = `Usage: sluice start [flags]

Runs a Kafka-protocol broker. Settings use Apache Kafka's names (num.partitions, log.retention.ms, ...).

Flags:
${flagLines}

Environment: SLUICE_<NAME> sets the setting <name> with "_" read as "." and lower-cased
(SLUICE_LOG_RETENTION_MS=60000 sets log.retention.ms). These have names of their own:
${variableLines}

Precedence, lowest first: defaults < --config file < SLUICE_* environment < flags
(within the flags, --listen/--advertised-listener/--data-dir/--node-id win over --override).

Main settings (every one: docs/configuration.md; topic configs default to their log.* setting):
${mainSettingLines}

Logs are JSON lines when stdout is not a terminal. SIGTERM/SIGINT stop the broker cleanly.`;
