// The settings registry: the table is complete and consistent (every Kafka 4.x topic config, one
// entry per name, defaults that pass their own checks, inert settings documented as such), and its
// validation, synonyms and effective values behave as Kafka's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  brokerSetting,
  brokerValue,
  checkBrokerSettings,
  ConfigError,
  effectiveTopicSetting,
  effectiveTopicSettings,
  readInteger,
  settingNamed,
  settings,
  topicOverridesProblem,
  topicSetting,
  valueProblem,
} from '../../src/runtime/settings.js';

/** The topic configs of Apache Kafka 4.x (TopicConfig, LogConfig.CONFIG and QuotaConfig's throttled
 *  replicas), written out independently of the registry; message.downconversion.enable is a
 *  deprecated no-op there but still defined. */
const kafka4TopicConfigs = [
  'cleanup.policy',
  'compression.gzip.level',
  'compression.lz4.level',
  'compression.type',
  'compression.zstd.level',
  'delete.retention.ms',
  'file.delete.delay.ms',
  'flush.messages',
  'flush.ms',
  'follower.replication.throttled.replicas',
  'index.interval.bytes',
  'leader.replication.throttled.replicas',
  'local.retention.bytes',
  'local.retention.ms',
  'max.compaction.lag.ms',
  'max.message.bytes',
  'message.downconversion.enable',
  'message.timestamp.after.max.ms',
  'message.timestamp.before.max.ms',
  'message.timestamp.type',
  'min.cleanable.dirty.ratio',
  'min.compaction.lag.ms',
  'min.insync.replicas',
  'preallocate',
  'remote.log.copy.disable',
  'remote.log.delete.on.disable',
  'remote.storage.enable',
  'retention.bytes',
  'retention.ms',
  'segment.bytes',
  'segment.index.bytes',
  'segment.jitter.ms',
  'segment.ms',
  'unclean.leader.election.enable',
];
/** Removed in Kafka 4.0, still sent by 3.x tools (and MirrorMaker's config sync): accepted. */
const kafka3Only = ['message.format.version', 'message.timestamp.difference.max.ms'];

test('the registry has every Kafka 4.x topic config, and the two 3.x ones, and nothing else per topic', () => {
  const topicNames = settings.filter((s) => s.scope === 'topic').map((s) => s.name);
  assert.deepEqual([...topicNames].sort(), [...kafka4TopicConfigs, ...kafka3Only].sort());
});

test('each name, broker name and synonym is declared once', () => {
  const seen = new Map<string, string>();
  const claim = (name: string, by: string) => {
    assert.equal(seen.get(name), undefined, `${name} claimed by ${seen.get(name)} and ${by}`);
    seen.set(name, by);
  };
  for (const s of settings) {
    if (s.scope === 'topic') claim(`topic:${s.name}`, s.name);
    if (s.brokerName !== null) claim(`broker:${s.brokerName}`, s.name);
    for (const synonym of s.synonyms ?? []) claim(`broker:${synonym.name}`, s.name);
    if (s.scope === 'broker') assert.equal(s.brokerName, s.name, `${s.name}: a broker setting's broker name`);
  }
});

test('every default passes its own check, and every entry is documented as what it is', () => {
  for (const s of settings) {
    if (s.defaultValue !== null) assert.equal(valueProblem(s, s.defaultValue), null, `${s.name} default`);
    assert.ok(s.doc.length > 0 && s.doc.length <= 200, `${s.name}: one doc line`);
    const saysInert = /accepted[^.]*not acted on/i.test(s.doc);
    assert.equal(saysInert, s.effect === 'inert', `${s.name}: the doc line says "accepted, not acted on" iff inert`);
    if (s.min !== undefined && s.max !== undefined) assert.ok(s.min <= s.max, `${s.name}: min <= max`);
  }
});

test('the main settings have distinct places 1..n', () => {
  const places = settings.flatMap((s) => (s.main === undefined ? [] : [s.main])).sort((a, b) => a - b);
  assert.deepEqual(
    places,
    places.map((_, index) => index + 1),
  );
});

test('values are checked as Kafka checks them, and the message names the config', () => {
  const cases: Array<[string, string, boolean]> = [
    ['retention.ms', '3600000', true],
    ['retention.ms', '-1', true],
    ['retention.ms', '-2', false],
    ['retention.ms', 'abc', false],
    ['retention.ms', '9223372036854775807', true], // Long.MAX_VALUE: "forever", as Kafka takes it
    ['retention.ms', '9223372036854775808', false], // past a long
    ['retention.ms', ' 60000 ', true], // Kafka trims
    ['retention.bytes', '-5', true], // no validator in Kafka: any negative is "no limit"
    ['segment.bytes', '14', true],
    ['segment.bytes', '13', false],
    ['segment.bytes', '2147483648', false], // an int
    ['max.message.bytes', '0', true],
    ['max.message.bytes', '1.5', false],
    ['min.cleanable.dirty.ratio', '0.1', true],
    ['min.cleanable.dirty.ratio', '1', true],
    ['min.cleanable.dirty.ratio', '2', false],
    ['min.cleanable.dirty.ratio', 'half', false],
    ['cleanup.policy', 'compact,delete', true],
    ['cleanup.policy', 'delete, compact', true],
    ['cleanup.policy', '', true], // Kafka 4.2: keep everything
    ['cleanup.policy', 'shred', false],
    ['compression.type', 'zstd', true],
    ['compression.type', 'uncompressed', true],
    ['compression.type', 'brotli', false],
    ['compression.type', 'GZIP', false], // Kafka's enumeration is case-sensitive
    ['compression.gzip.level', '-1', true],
    ['compression.gzip.level', '0', false],
    ['compression.gzip.level', '9', true],
    ['compression.lz4.level', '17', true],
    ['compression.lz4.level', '18', false],
    ['compression.zstd.level', '-131072', true],
    ['compression.zstd.level', '23', false],
    ['message.timestamp.type', 'LogAppendTime', true],
    ['message.timestamp.type', 'logappendtime', false],
    ['unclean.leader.election.enable', 'TRUE', true],
    ['unclean.leader.election.enable', 'yes', false],
    ['remote.storage.enable', 'false', true],
    ['remote.storage.enable', 'true', false], // no tiered storage, as Kafka without it
    ['leader.replication.throttled.replicas', '0:1,1:1', true],
    ['leader.replication.throttled.replicas', '*', true],
    ['leader.replication.throttled.replicas', '0-1', false],
    ['message.format.version', '2.8', true],
    ['message.format.version', '3.0-IV1', true],
    ['message.format.version', 'new', false],
    ['file.delete.delay.ms', '2147483647', true],
    ['file.delete.delay.ms', '2147483648', false], // a Node timer
    ['local.retention.ms', '-2', true],
    ['local.retention.ms', '-3', false],
    ['flush.messages', '0', false],
    ['segment.index.bytes', '15', false],
  ];
  for (const [name, value, valid] of cases) {
    const problem = valueProblem(topicSetting(name)!, value);
    if (valid) assert.equal(problem, null, `${name}=${value}`);
    else assert.match(problem ?? '', new RegExp(`^${name.replaceAll('.', '\\.')} must be .*got "`), `${name}=${value}`);
  }
});

test('overrides: unknown names in Kafka’s words, invalid values naming the config, null deletes', () => {
  assert.equal(topicOverridesProblem({ 'retention.ms': '1000', 'cleanup.policy': null }), null);
  assert.equal(topicOverridesProblem({ 'retention.millis': '1000' }), 'Unknown topic config name: retention.millis');
  assert.match(topicOverridesProblem({ 'segment.ms': '0' })!, /^segment\.ms must be an integer >= 1, got "0"$/);
  // A broker-level name is not a topic config (Kafka refuses it too).
  assert.equal(topicOverridesProblem({ 'log.retention.ms': '1' }), 'Unknown topic config name: log.retention.ms');
});

test('broker values: the name, then synonyms scaled to the unit, then the default', () => {
  const retention = settingNamed('log.retention.ms');
  assert.deepEqual(brokerValue({}, retention), { value: '604800000', givenAs: null });
  assert.deepEqual(brokerValue({ 'log.retention.hours': '2' }, retention), {
    value: '7200000',
    givenAs: 'log.retention.hours',
  });
  assert.equal(readInteger({ 'log.retention.minutes': '3', 'log.retention.hours': '2' }, 'log.retention.ms'), 180_000);
  assert.equal(readInteger({ 'log.retention.ms': '5', 'log.retention.minutes': '3' }, 'log.retention.ms'), 5);
  assert.equal(readInteger({ 'log.retention.hours': '-1' }, 'log.retention.ms'), -1, 'negative hours: no limit');
  assert.equal(readInteger({ 'log.roll.hours': '1' }, 'log.roll.ms'), 3_600_000);
  assert.equal(brokerSetting('log.dir'), settingNamed('log.dirs'));
  assert.equal(brokerValue({ 'log.dir': '/d' }, settingNamed('log.dirs')).value, '/d');
  assert.throws(
    () => readInteger({ 'log.retention.hours': 'soon' }, 'log.retention.ms'),
    /^ConfigError: log\.retention\.hours/,
  );
});

test('start-up check: every known name given is checked, unknown names are ignored', () => {
  checkBrokerSettings({ 'log.retention.ms': '1000', 'zookeeper.connect': 'anything', 'num.partitions': '3' });
  for (const [name, value] of [
    ['num.partitions', '0'],
    ['log.cleaner.min.cleanable.ratio', '1.5'],
    ['compression.type', 'brotli'],
    ['log.roll.hours', 'x'],
    ['log.flush.policy', 'sometimes'],
    ['log.flush.policy', 'interval:2147483648'],
    ['connections.max.idle.ms', '2147483648'],
  ] as const) {
    assert.throws(
      () => checkBrokerSettings({ [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(`${name} must be`),
      `${name}=${value}`,
    );
  }
});

test('a topic setting’s value: override, else broker setting, else default, with every synonym', () => {
  const retention = topicSetting('retention.ms')!;
  assert.deepEqual(effectiveTopicSetting(retention, {}, {}), {
    name: 'retention.ms',
    value: '604800000',
    source: 'default',
    definition: retention,
    synonyms: [{ name: 'log.retention.ms', value: '604800000', source: 'default' }],
  });
  const broker = { 'log.retention.hours': '1' };
  const fromBroker = effectiveTopicSetting(retention, {}, broker);
  assert.equal(fromBroker.value, '3600000');
  assert.equal(fromBroker.source, 'broker');
  const fromTopic = effectiveTopicSetting(retention, { 'retention.ms': '5' }, broker);
  assert.deepEqual(
    fromTopic.synonyms.map((s) => `${s.name}=${s.value}/${s.source}`),
    ['retention.ms=5/topic', 'log.retention.hours=1/broker', 'log.retention.ms=604800000/default'],
  );
  // No broker default in Kafka: the default is listed under the topic name.
  const remote = effectiveTopicSetting(topicSetting('remote.storage.enable')!, {}, {});
  assert.deepEqual(remote.synonyms, [{ name: 'remote.storage.enable', value: 'false', source: 'default' }]);
  assert.equal(effectiveTopicSettings({}, {}).length, kafka4TopicConfigs.length + kafka3Only.length);
});

test('a name the code reads but the registry lacks is a programming error, not a silent default', () => {
  assert.throws(() => settingNamed('no.such.setting'), /not in the settings registry/);
});
