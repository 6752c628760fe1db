// What `sluice --help` and `sluice start --help` print. The README's "Configuration" section says the same at more length.
import { namedFlags } from './settings.js';

export const usage = `Usage: sluice <command> [flags]

Commands:
  start      run a broker (see sluice start --help)
  topics     create, list, describe, alter, delete topics
  produce    send stdin lines to a topic
  consume    print messages of a topic (group or partitions)
  groups     list, describe, delete consumer groups; reset their offsets
  bench      produce/consume/end-to-end load with a summary

Each command takes --help and --bootstrap (default 127.0.0.1:9092).

Flags:
  -h, --help     show this help
  -v, --version  print the version`;

const row = (left: string, right: string) => `  ${left.padEnd(35)}${right}`;
const flagLines = [
  ...namedFlags.map(({ flag, value, description }) => row(`--${flag} <${value}>`, description)),
  row('--config <file>', 'Kafka .properties file (also SLUICE_CONFIG)'),
  row('--override <name=value>', 'any setting by its Kafka name; repeatable'),
  row('--log-level <level>', 'trace, debug, info (default), warn, error, fatal, silent (also SLUICE_LOG_LEVEL)'),
  row('-h, --help', 'show this help'),
  row('-v, --version', 'print the version'),
].join('\n');
const mainSettingLines = [
  row('num.partitions=1', 'partitions of a new topic when not given'),
  row('auto.create.topics.enable=true', 'create unknown topics on Metadata/Produce'),
  row('log.retention.ms=604800000', 'delete segments older than this (-1: keep them)'),
  row('log.retention.bytes=-1', 'delete the oldest segments above this size per partition'),
  row('log.segment.bytes=1073741824', 'roll segment files at this size'),
  row('message.max.bytes=1048588', 'largest batch accepted'),
  row('log.flush.policy=sync', 'sync: answer after fsync | interval:<ms> | os (see README)'),
  row('socket.request.max.bytes=104857600', 'largest request'),
  row('max.connections=4096', 'open client connections'),
  row('connections.max.idle.ms=600000', 'close connections idle this long'),
  row('transaction.check.delay.ms=6000', 'check back a half message undecided this long'),
  row('transaction.check.max=15', 'checks before an undecided half message is abandoned'),
].join('\n');
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

Main settings:
${mainSettingLines}

Logs are JSON lines when stdout is not a terminal. SIGTERM/SIGINT stop the broker cleanly.`;
