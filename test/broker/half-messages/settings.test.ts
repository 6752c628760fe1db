// The half-message settings: defaults, how they are given (properties, SLUICE_* variables), bad values
// refused with ConfigError before the broker starts, the backoff formula, and the pending limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerConfigFrom, ConfigError } from '../../../src/broker/config.js';
import { waitAfterCheckMs, type HalfMessageSettings } from '../../../src/broker/half-messages/service.js';
import { gatherSettings, parseStartArguments, settingOfVariable } from '../../../src/cli/settings.js';
import { startBroker } from '../../../src/server/start-broker.js';
import type { ReadRecord } from '../../support/read-partition.js';
import { ChannelProducer, read, startHalfBroker, waitFor } from './channel.js';

const advertised = { host: '127.0.0.1', port: 9092 };

test('defaults as docs/half-messages.md lists them; given values are read', () => {
  const defaults = brokerConfigFrom({}, advertised);
  assert.equal(defaults.transactionCheckDelayMs, 6000);
  assert.equal(defaults.transactionCheckMax, 15);
  assert.equal(defaults.transactionCheckBackoffMaxMs, 60000);
  assert.equal(defaults.halfLogPartitions, 4);
  assert.equal(defaults.halfPendingMax, 100_000);
  const given = brokerConfigFrom(
    {
      'transaction.check.delay.ms': '250',
      'transaction.check.max': '2',
      'sluice.transaction.check.backoff.max.ms': '1000',
      'sluice.half.log.num.partitions': '8',
      'sluice.half.pending.max': '10',
    },
    advertised,
  );
  assert.deepEqual(
    [
      given.transactionCheckDelayMs,
      given.transactionCheckMax,
      given.transactionCheckBackoffMaxMs,
      given.halfLogPartitions,
      given.halfPendingMax,
    ],
    [250, 2, 1000, 8, 10],
  );
});

test('SLUICE_* variables name the settings', () => {
  assert.equal(settingOfVariable('SLUICE_TRANSACTION_CHECK_DELAY_MS'), 'transaction.check.delay.ms');
  assert.equal(settingOfVariable('SLUICE_TRANSACTION_CHECK_MAX'), 'transaction.check.max');
  assert.equal(
    settingOfVariable('SLUICE_SLUICE_TRANSACTION_CHECK_BACKOFF_MAX_MS'),
    'sluice.transaction.check.backoff.max.ms',
  );
  assert.equal(settingOfVariable('SLUICE_SLUICE_HALF_LOG_NUM_PARTITIONS'), 'sluice.half.log.num.partitions');
  assert.equal(settingOfVariable('SLUICE_SLUICE_HALF_PENDING_MAX'), 'sluice.half.pending.max');
});

test('a --config file, SLUICE_* variables and --override flags reach the broker config, flags winning', () => {
  const file = 'transaction.check.delay.ms=1000\ntransaction.check.max=5\nsluice.half.pending.max=50\n';
  const gathered = gatherSettings(
    parseStartArguments(['--config', 'broker.properties', '--override', 'transaction.check.max=7']),
    { SLUICE_TRANSACTION_CHECK_DELAY_MS: '2000', SLUICE_SLUICE_TRANSACTION_CHECK_BACKOFF_MAX_MS: '9000' },
    () => file,
  );
  const config = brokerConfigFrom(gathered.properties, advertised);
  assert.equal(config.transactionCheckDelayMs, 2000, 'the environment over the file');
  assert.equal(config.transactionCheckMax, 7, 'the flag over the file');
  assert.equal(config.transactionCheckBackoffMaxMs, 9000);
  assert.equal(config.halfPendingMax, 50, 'from the file');
  assert.equal(gathered.sources['transaction.check.max'], 'flag');
});

test('bad values are refused with ConfigError, also by startBroker before anything touches the disk', async () => {
  const bad: Array<[string, string]> = [
    ['transaction.check.delay.ms', '0'],
    ['transaction.check.delay.ms', '-5'],
    ['transaction.check.delay.ms', 'soon'],
    ['transaction.check.delay.ms', '2147483648'],
    ['transaction.check.max', '0'],
    ['transaction.check.max', '1.5'],
    ['transaction.check.max', ''],
    ['sluice.transaction.check.backoff.max.ms', '0'],
    ['sluice.half.log.num.partitions', '0'],
    ['sluice.half.log.num.partitions', '100000'],
    ['sluice.half.pending.max', '0'],
    ['sluice.half.pending.max', 'lots'],
  ];
  for (const [name, value] of bad) {
    assert.throws(
      () => brokerConfigFrom({ [name]: value }, advertised),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(name),
      `${name}=${value}`,
    );
  }
  await assert.rejects(startBroker({ properties: { 'transaction.check.max': 'never' } }), ConfigError);
});

test('the wait after check n is min(delay × 2^(n−1), backoff max)', () => {
  const settings: HalfMessageSettings = {
    checkDelayMs: 6000,
    checkMax: 15,
    checkBackoffMaxMs: 60000,
    logPartitions: 4,
    pendingMax: 100_000,
  };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 15, 1000].map((n) => waitAfterCheckMs(settings, n)),
    [6000, 12000, 24000, 48000, 60000, 60000, 60000, 60000],
  );
});

test('sluice.half.log.num.partitions sets the channel partitions when they are created', async () => {
  const server = await startHalfBroker({ properties: { 'sluice.half.log.num.partitions': '3' } });
  try {
    assert.equal(server.broker.topics.get('__sluice_half')?.partitions, 3);
    assert.equal(server.broker.topics.get('__sluice_half_op')?.partitions, 3);
  } finally {
    await server.close();
  }
});

test('past sluice.half.pending.max a new half message is abandoned at once, with a warning', async () => {
  const server = await startHalfBroker({
    properties: { 'sluice.half.pending.max': '2', 'transaction.check.delay.ms': '60000' },
  });
  try {
    await server.broker.createTopic('bounded', 1, {});
    const producer = await ChannelProducer.connect(server);
    const kept = [
      await producer.sendHalf({ topic: 'bounded', partition: 0, group: 'g', value: '1' }),
      await producer.sendHalf({ topic: 'bounded', partition: 0, group: 'g', value: '2' }),
    ];
    await waitFor('two pending', () => server.broker.halfMessages.pendingCount === 2);
    const refused = await producer.sendHalf({ topic: 'bounded', partition: 0, group: 'g', value: '3' });
    const copyOf = async (id: string): Promise<ReadRecord | undefined> =>
      (await read(server, '__sluice_half_abandoned')).find((r) => r.headers['sluice.half.id'] === id);
    await waitFor('the third abandoned', async () => (await copyOf(refused)) !== undefined);
    assert.match(
      (await copyOf(refused))!.headers['sluice.half.reason']!,
      /too many pending half messages \(sluice\.half\.pending\.max=2\)/,
    );
    assert.ok(
      server.logger.lines.some(
        (line) => line.level === 'warn' && line.message.startsWith('too many pending half messages'),
      ),
    );
    assert.equal(server.broker.halfMessages.pendingCount, 2);
    // Room again once one is decided.
    await producer.commit(kept[0]!);
    await waitFor('the commit', () => server.broker.halfMessages.pendingCount === 1);
    const accepted = await producer.sendHalf({ topic: 'bounded', partition: 0, group: 'g', value: '4' });
    await producer.commit(accepted);
    await waitFor('the fourth committed', async () => (await read(server, 'bounded')).some((r) => r.value === '4'));
    await producer.close();
  } finally {
    await server.close();
  }
});
