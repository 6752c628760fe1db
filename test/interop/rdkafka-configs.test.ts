// librdkafka's admin API (Debian's librdkafka-dev; kcat has no admin commands) against the broker:
// CreateTopics with ordinary topic configs, AlterConfigs, DescribeConfigs with sources and synonyms,
// and INVALID_CONFIG naming the config for an unknown name or a bad value. Before issue 13 librdkafka's
// CreateTopics with ordinary configs (compression.type=lz4, flush.messages, …) got INVALID_CONFIG.
// test/support/rdkafka-admin.c is compiled here with `cc … -lrdkafka`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { repositoryRoot } from '../../scripts/generate-protocol.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const run = promisify(execFile);
const build = mkdtempSync(join(tmpdir(), 'sluice-rdkafka-admin-'));
const driver = join(build, 'rdkafka-admin');
let server: TestBroker;

before(async () => {
  await run('cc', [
    '-Wall',
    '-O1',
    '-o',
    driver,
    join(repositoryRoot, 'test', 'support', 'rdkafka-admin.c'),
    '-lrdkafka',
  ]);
  // A broker default given in hours, to see librdkafka report it as the topic's value and a synonym.
  server = await startTestBroker({ properties: { 'log.retention.hours': '48' } });
});
after(async () => {
  await server.close();
  rmSync(build, { recursive: true, force: true });
});

async function admin(...args: string[]): Promise<string[]> {
  const { stdout } = await run(driver, [server.bootstrap, ...args], { timeout: 30_000 });
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.trimEnd());
}

interface Described {
  value: string;
  source: string;
  readOnly: boolean;
  synonyms: string[];
}

async function describe(topic: string): Promise<Map<string, Described>> {
  const [result, ...lines] = await admin('describe', topic);
  assert.equal(result, `describe ${topic} NO_ERROR`);
  return new Map(
    lines.map((line) => {
      const [name, value, source, readOnly, synonyms] = line.replace(/^config /, '').split('\t');
      return [
        name!,
        {
          value: value!,
          source: source!,
          readOnly: readOnly === '1',
          synonyms: (synonyms ?? '').split(';').filter(Boolean),
        },
      ];
    }),
  );
}

/** Ordinary configs a Kafka user sets, acted on or only accepted. */
const ordinary = {
  'cleanup.policy': 'compact,delete',
  'compression.type': 'lz4',
  'compression.lz4.level': '6',
  'retention.ms': '3600000',
  'segment.bytes': '1048576',
  'max.message.bytes': '2000000',
  'message.timestamp.type': 'LogAppendTime',
  'min.insync.replicas': '1',
  'min.cleanable.dirty.ratio': '0.3',
  'flush.messages': '10000',
  'unclean.leader.election.enable': 'false',
  preallocate: 'true',
  'message.downconversion.enable': 'false',
  'segment.jitter.ms': '100',
  'max.compaction.lag.ms': '86400000',
};
const asArgs = (configs: Record<string, string>) => Object.entries(configs).map(([name, value]) => `${name}=${value}`);

test('librdkafka CreateTopics with ordinary configs succeeds; DescribeConfigs shows them as overrides', async () => {
  assert.deepEqual(await admin('create', 'rd-ordinary', '2', ...asArgs(ordinary)), ['create rd-ordinary NO_ERROR']);
  const configs = await describe('rd-ordinary');
  for (const [name, value] of Object.entries(ordinary)) {
    assert.deepEqual(
      { value: configs.get(name)?.value, source: configs.get(name)?.source },
      { value, source: 'DYNAMIC_TOPIC_CONFIG' },
      name,
    );
  }
  assert.deepEqual(configs.get('retention.ms')!.synonyms, [
    'retention.ms=3600000/DYNAMIC_TOPIC_CONFIG',
    'log.retention.hours=48/STATIC_BROKER_CONFIG',
    'log.retention.ms=604800000/DEFAULT_CONFIG',
  ]);
  assert.deepEqual(configs.get('flush.ms'), {
    value: '9223372036854775807',
    source: 'DEFAULT_CONFIG',
    readOnly: false,
    synonyms: ['log.flush.interval.ms=9223372036854775807/DEFAULT_CONFIG'],
  });
  assert.equal(configs.size, 36, 'every topic config is described');
  // The acted-on ones took effect: the partition log runs with them.
  const log = server.broker.partitions.get('rd-ordinary', 0)!.log;
  assert.equal(log.config.segmentBytes, 1048576);
  assert.deepEqual(log.config.cleanupPolicy, { compact: true, delete: true });
});

test('librdkafka AlterConfigs replaces the overrides; a config no longer set falls back to the broker', async () => {
  await admin('create', 'rd-alter', '1', 'retention.ms=1000', 'segment.ms=60000');
  assert.deepEqual(
    await admin('alter', 'rd-alter', 'retention.ms=7200000', 'min.compaction.lag.ms=5', 'flush.ms=1000'),
    ['alter rd-alter NO_ERROR'],
  );
  const configs = await describe('rd-alter');
  assert.deepEqual(configs.get('retention.ms')!.value, '7200000');
  assert.deepEqual(configs.get('flush.ms')!.source, 'DYNAMIC_TOPIC_CONFIG');
  assert.deepEqual(
    { value: configs.get('segment.ms')!.value, source: configs.get('segment.ms')!.source },
    { value: '604800000', source: 'DEFAULT_CONFIG' },
    'AlterConfigs is not incremental',
  );
  // Without an override the broker's log.retention.hours=48 holds, converted to ms.
  await admin('alter', 'rd-alter');
  assert.deepEqual(
    {
      value: (await describe('rd-alter')).get('retention.ms')!.value,
      source: (await describe('rd-alter')).get('retention.ms')!.source,
    },
    { value: String(48 * 3600000), source: 'STATIC_BROKER_CONFIG' },
  );
});

test('librdkafka: an unknown name or a bad value is INVALID_CONFIG naming the config, create and alter', async () => {
  await admin('create', 'rd-bad', '1');
  const refused: Array<[string, RegExp]> = [
    ['no.such.config=1', /^Unknown topic config name: no\.such\.config$/],
    ['retention.ms=abc', /^retention\.ms must be an integer >= -1, got "abc"$/],
    ['min.cleanable.dirty.ratio=2', /^min\.cleanable\.dirty\.ratio must be a number in \[0, 1\], got "2"$/],
    ['compression.type=brotli', /^compression\.type must be one of uncompressed, zstd, lz4, snappy, gzip, producer/],
    ['cleanup.policy=shred', /^cleanup\.policy must be a comma-separated list of compact, delete/],
    ['log.retention.ms=1', /^Unknown topic config name: log\.retention\.ms$/],
  ];
  for (const [config, message] of refused) {
    const [created] = await admin('create', `rd-bad-${refused.findIndex(([c]) => c === config)}`, '1', config);
    const [, , code, ...text] = created!.split(' ');
    assert.equal(code, 'INVALID_CONFIG', `create with ${config}`);
    assert.match(text.join(' '), message, `create with ${config}`);
    const [altered] = await admin('alter', 'rd-bad', config);
    const [, , alterCode, ...alterText] = altered!.split(' ');
    assert.equal(alterCode, 'INVALID_CONFIG', `alter with ${config}`);
    assert.match(alterText.join(' '), message, `alter with ${config}`);
  }
  assert.equal(server.broker.topics.get('rd-bad-0'), undefined, 'a refused topic is not created');
});
