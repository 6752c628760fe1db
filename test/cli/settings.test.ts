// How `sluice start` gathers settings (defaults < config file < environment < flags) and names
// SLUICE_* variables; and the readable log line for terminals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatherSettings, parseStartArguments, settingOfVariable, UsageError } from '../../src/cli/settings.js';
import { readableLine } from '../../src/cli/log.js';
import { ConfigError } from '../../src/server/server-config.js';

test('SLUICE_* variables map to Kafka names', () => {
  assert.equal(settingOfVariable('SLUICE_LOG_RETENTION_MS'), 'log.retention.ms');
  assert.equal(settingOfVariable('SLUICE_NUM_PARTITIONS'), 'num.partitions');
  assert.equal(settingOfVariable('SLUICE_NODE_ID'), 'node.id');
  assert.equal(settingOfVariable('SLUICE_LISTEN'), 'listeners');
  assert.equal(settingOfVariable('SLUICE_ADVERTISED_LISTENER'), 'advertised.listeners');
  assert.equal(settingOfVariable('SLUICE_DATA_DIR'), 'log.dirs');
  assert.equal(settingOfVariable('SLUICE_SLUICE_CONNECTION_IN_FLIGHT_MAX'), 'sluice.connection.in.flight.max');
  assert.equal(settingOfVariable('SLUICE_CONFIG'), null, 'names the config file, not a setting');
  assert.equal(settingOfVariable('SLUICE_LOG_LEVEL'), null, 'the log level, not a setting');
  assert.equal(settingOfVariable('SLUICE_'), null);
  assert.equal(settingOfVariable('SLUICE_lower'), null);
  assert.equal(settingOfVariable('PATH'), null);
});

test('each layer overrides the one below, and sources say where a value came from', () => {
  const files: Record<string, string> = {
    '/etc/sluice.properties':
      'listeners=PLAINTEXT://0.0.0.0:9092\nnum.partitions=2\nlog.retention.ms=1000\n' +
      'node.id=1\nlog.dir=/var/lib/sluice\n',
  };
  const readFile = (path: string) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
  const args = parseStartArguments([
    '--config',
    '/etc/sluice.properties',
    '--node-id',
    '3',
    '--override',
    'log.retention.ms=3000',
    '--override',
    'node.id=9',
  ]);
  const gathered = gatherSettings(
    args,
    {
      SLUICE_NUM_PARTITIONS: '4',
      SLUICE_LOG_RETENTION_MS: '2000',
      SLUICE_NODE_ID: '2',
      SLUICE_EMPTY: '',
      HOME: '/root',
    },
    readFile,
  );
  assert.deepEqual(gathered.properties, {
    listeners: 'PLAINTEXT://0.0.0.0:9092',
    'log.dirs': '/var/lib/sluice',
    'num.partitions': '4',
    'log.retention.ms': '3000',
    'node.id': '3',
  });
  assert.deepEqual(gathered.sources, {
    listeners: 'config',
    'log.dirs': 'config',
    'num.partitions': 'environment',
    'log.retention.ms': 'flag',
    'node.id': 'flag',
  });
  assert.equal(gathered.configFile, '/etc/sluice.properties');
  assert.equal(gathered.logLevel, 'info');

  const defaults = gatherSettings(parseStartArguments([]), {}, readFile);
  assert.deepEqual(defaults.properties, { listeners: '127.0.0.1:9092', 'log.dirs': './data' });
  assert.equal(defaults.configFile, null);

  assert.throws(
    () => gatherSettings(parseStartArguments(['--config', '/nowhere']), {}, readFile),
    (error: Error) =>
      error instanceof ConfigError && /cannot read config file \/nowhere: no such file/.test(error.message),
  );
});

test('the log level comes from --log-level or SLUICE_LOG_LEVEL and is checked', () => {
  assert.equal(
    gatherSettings(parseStartArguments(['--log-level', 'debug']), { SLUICE_LOG_LEVEL: 'warn' }).logLevel,
    'debug',
  );
  assert.equal(gatherSettings(parseStartArguments([]), { SLUICE_LOG_LEVEL: 'warn' }).logLevel, 'warn');
  assert.throws(() => gatherSettings(parseStartArguments(['--log-level', 'loud']), {}), UsageError);
});

test('command-line mistakes are UsageErrors', () => {
  assert.throws(() => parseStartArguments(['--bogus']), UsageError);
  assert.throws(() => parseStartArguments(['extra']), UsageError);
  assert.throws(() => parseStartArguments(['--override', 'novalue']), /--override takes name=value/);
  assert.throws(() => parseStartArguments(['--override', '=1']), /--override takes name=value/);
  assert.deepEqual(parseStartArguments(['--override', 'a.b=x=y']).settings, { 'a.b': 'x=y' });
});

test('a terminal gets one readable line per event', () => {
  const line = readableLine(
    JSON.stringify({
      level: 30,
      time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
      pid: 1,
      hostname: 'h',
      msg: 'listening on 127.0.0.1:9092',
      port: 9092,
      dataDir: '/tmp/my data',
    }),
    false,
  );
  assert.equal(line, '03:04:05.006 INFO  listening on 127.0.0.1:9092 port=9092 dataDir="/tmp/my data"\n');
  assert.match(
    readableLine(JSON.stringify({ level: 50, time: 0, msg: 'cannot start: x' }), true),
    /\u001b\[31mERROR\u001b\[0m cannot start: x\n$/,
  );
  assert.equal(readableLine('not json', false), 'not json\n');
});
