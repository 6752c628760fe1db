// Which topics are internal: Kafka 4.x's (`__consumer_offsets`, `__transaction_state`,
// `__share_group_state`) and Sluice's own (`__sluice_*`). Metadata marks them `is_internal`, so a
// client that hides internal topics (here @platformatic/kafka's listTopics) hides exactly these; any
// other name, `__`-prefixed or not, is an ordinary topic clients may create, produce to and delete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admin } from '@platformatic/kafka';
import { isInternalTopic } from '../../src/broker/topic-names.js';
import {
  CHECK_TOPIC_PREFIX,
  HALF_ABANDONED_TOPIC,
  HALF_OP_TOPIC,
  HALF_TOPIC,
  checkTopicOf,
} from '../../src/protocol/half-messages.js';
import * as halfMessageNames from '../../src/protocol/half-messages.js';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { TRANSACTION_STATE_TOPIC } from '../../src/broker/transactions/state-store.js';
import { makeBatch } from '../storage/helpers.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker } from '../support/test-broker.js';

test('internal: Kafka 4.x’s three and every Sluice channel topic; nothing else', () => {
  const internal = [
    '__consumer_offsets',
    TRANSACTION_STATE_TOPIC,
    '__share_group_state',
    HALF_TOPIC,
    HALF_OP_TOPIC,
    HALF_ABANDONED_TOPIC,
    checkTopicOf('orders'),
  ];
  for (const name of internal) assert.ok(isInternalTopic(name), name);
  for (const name of ['orders', '__user', '__consumer_offsets2', '_sluice_half', '__sluicehalf', '__cluster_meta'])
    assert.ok(!isInternalTopic(name), name);
  // Every topic name the half-message channel defines is covered (a new one must be internal too).
  const channelNames = Object.values(halfMessageNames as Record<string, unknown>).filter(
    (value): value is string => typeof value === 'string' && value.startsWith('__'),
  );
  assert.deepEqual(channelNames.sort(), [CHECK_TOPIC_PREFIX, HALF_TOPIC, HALF_ABANDONED_TOPIC, HALF_OP_TOPIC].sort());
  for (const name of channelNames) assert.ok(isInternalTopic(name.endsWith('.') ? `${name}g` : name), name);
});

test('Metadata marks internal topics is_internal (v1, v9); platformatic listTopics hides exactly those', async () => {
  const server = await startTestBroker();
  const client = await RawClient.connect(server.port);
  const admin = new Admin({ clientId: 'internal-topics', bootstrapBrokers: [server.bootstrap], retries: 1 });
  try {
    // FindCoordinator creates __consumer_offsets (groups) and __transaction_state (transactions).
    client.request(ApiKey.FindCoordinator, 4, 1, { keyType: 0, coordinatorKeys: ['g'] });
    client.request(ApiKey.FindCoordinator, 4, 2, { keyType: 1, coordinatorKeys: ['t'] });
    await client.waitForFrames(2);
    await server.broker.createTopic('__user', 1, {});
    await server.broker.createTopic('plain', 1, {});
    for (const version of [1, 9]) {
      client.request(
        ApiKey.Metadata,
        version,
        2 + version,
        version >= 4 ? { topics: null, allowAutoTopicCreation: false } : { topics: null },
      );
      const frames = await client.waitForFrames(3 + (version === 9 ? 1 : 0));
      const body = RawClient.decode(ApiKey.Metadata, version, frames[frames.length - 1]!).body;
      const flags = Object.fromEntries(
        body.topics.map((t: { name: string; isInternal: boolean }) => [t.name, t.isInternal]),
      );
      assert.deepEqual(flags, {
        __consumer_offsets: true,
        __transaction_state: true,
        __sluice_half: true,
        __sluice_half_op: true,
        __sluice_half_abandoned: true,
        __user: false,
        plain: false,
      });
    }
    assert.deepEqual(await admin.listTopics(), ['__user', 'plain']);
    assert.deepEqual((await admin.listTopics({ includeInternals: true })).length, 7);
    // A `__` topic of the user's is an ordinary one: produce and delete work.
    const produced = await server.broker.produce('__user', 0, makeBatch([{ key: null, value: Buffer.from('v') }]));
    assert.equal(produced.errorCode, ErrorCode.NONE);
    assert.equal((await server.broker.deleteTopic('__user')).errorCode, ErrorCode.NONE);
    // The broker's own refuse both.
    const refused = await server.broker.produce('__consumer_offsets', 0, makeBatch([{ key: null, value: null }]));
    assert.equal(refused.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.equal((await server.broker.deleteTopic('__transaction_state')).errorCode, ErrorCode.INVALID_REQUEST);
  } finally {
    await admin.close();
    client.close();
    await server.close();
  }
});
