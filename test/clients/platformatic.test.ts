// @platformatic/kafka 1.35 (what npm installs on Node 20) against a real in-process broker on loopback:
// keyed messages with headers in every codec the client supports here (none, gzip, snappy, lz4; its
// zstd needs node:zlib's zstd, i.e. Node >= 22.15, and is refused by the client on Node 20), acks
// 0/1/-1, the idempotent producer, consuming by partition and offset through its group-less
// Consumer.fetch, and a consumer group. Admin, list offsets, delete records and configs are in
// platformatic-admin.test.ts. What was stored is read back with our own Fetch decoder
// (readPartition), so a client bug cannot hide a broker bug.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { Consumer, ProduceAcks, stringDeserializers, type CompressionAlgorithmValue } from '@platformatic/kafka';
import { clientOptions, failedWith, newAdmin, newProducer } from '../support/platformatic-clients.js';
import { readPartition } from '../support/read-partition.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;

before(async () => {
  // A lone test consumer need not wait Kafka's 3 s for more members to join.
  server = await startTestBroker({ properties: { 'group.initial.rebalance.delay.ms': '0' } });
});

after(async () => {
  await server.close();
});

// zstd rides on node:zlib's zstdCompressSync, which Node 20 does not have; the client knows it.
const zstdAvailable = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';

test('produce keyed messages with headers in every codec, stored exactly as sent', async () => {
  const admin = newAdmin(server.bootstrap);
  await admin.createTopics({ topics: ['pk-codecs'], partitions: 1, replicas: 1 });
  await admin.close();
  const codecs: CompressionAlgorithmValue[] = [
    'none',
    'gzip',
    'snappy',
    'lz4',
    ...(zstdAvailable ? (['zstd'] as const) : []),
  ];
  const producer = newProducer(server.bootstrap);
  const sent: Array<{ key: string; value: string; headers: Record<string, string> }> = [];
  try {
    for (const compression of codecs) {
      const messages = Array.from({ length: 40 }, (_, i) => ({
        topic: 'pk-codecs',
        partition: 0,
        key: `key-${i % 7}`,
        value: `${compression}-value-${i}-${'x'.repeat(i * 3)}`,
        headers: { codec: compression, n: String(i) },
      }));
      const result = await producer.send({ messages, compression, acks: ProduceAcks.ALL });
      assert.deepEqual(
        result.offsets,
        [{ topic: 'pk-codecs', partition: 0, offset: BigInt(sent.length) }],
        `${compression}: base offset`,
      );
      sent.push(...messages.map(({ key, value, headers }) => ({ key, value, headers })));
    }
    if (!zstdAvailable) {
      await assert.rejects(
        producer.send({ messages: [{ topic: 'pk-codecs', partition: 0, value: 'z' }], compression: 'zstd' }),
        failedWith('PLT_KFK_UNSUPPORTED_COMPRESSION'),
        'zstd refused by the client on this Node',
      );
    }
  } finally {
    await producer.close();
  }
  const stored = await readPartition(server.port, 'pk-codecs', 0, 0, sent.length + 1);
  assert.equal(stored.length, sent.length, 'nothing more, nothing less');
  assert.deepEqual(
    stored.map((r) => r.offset),
    sent.map((_, i) => i),
  );
  assert.deepEqual(
    stored.map(({ key, value, headers }) => ({ key, value, headers })),
    sent,
  );
});

test('acks=0 and acks=1: no answer needed, stored all the same', async () => {
  const producer = newProducer(server.bootstrap);
  try {
    await producer.send({
      messages: Array.from({ length: 5 }, (_, i) => ({ topic: 'pk-acks', partition: 0, value: `none-${i}` })),
      acks: ProduceAcks.NO_RESPONSE,
      autocreateTopics: true,
    });
    const result = await producer.send({
      messages: [{ topic: 'pk-acks', partition: 0, value: 'leader' }],
      acks: ProduceAcks.LEADER,
    });
    assert.deepEqual(
      result.offsets,
      [{ topic: 'pk-acks', partition: 0, offset: 5n }],
      'acks=1 lands after the five acks=0 records on the same connection',
    );
  } finally {
    await producer.close();
  }
  assert.deepEqual(
    (await readPartition(server.port, 'pk-acks', 0)).map((r) => r.value),
    [...Array.from({ length: 5 }, (_, i) => `none-${i}`), 'leader'],
  );
});

test('consume by partition and offset with the group-less Consumer.fetch', async () => {
  const admin = newAdmin(server.bootstrap);
  await admin.createTopics({ topics: ['pk-fetch'], partitions: 2, replicas: 1 });
  await admin.close();
  const producer = newProducer(server.bootstrap);
  try {
    const messages = Array.from({ length: 30 }, (_, i) => ({
      topic: 'pk-fetch',
      partition: i % 2,
      key: `k${i}`,
      value: `v${i}`,
    }));
    await producer.send({ messages, acks: ProduceAcks.LEADER });
  } finally {
    await producer.close();
  }
  const consumer = new Consumer({ ...clientOptions(server.bootstrap), groupId: 'pk-unused-group', maxWaitTime: 100 });
  try {
    const response = await consumer.fetch({
      node: 0,
      maxWaitTime: 100,
      topics: [
        {
          topicId: 'pk-fetch',
          partitions: [
            { partition: 1, fetchOffset: 5n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 },
          ],
        },
      ],
    });
    const partition = response.responses[0]!.partitions[0]!;
    assert.equal(partition.errorCode, 0);
    assert.equal(partition.highWatermark, 15n);
    assert.equal(partition.logStartOffset, 0n);
    const values: string[] = [];
    const offsets: bigint[] = [];
    for (const batch of partition.records ?? []) {
      for (const record of batch.records) {
        const offset = batch.firstOffset + BigInt(record.offsetDelta);
        if (offset < 5n) continue;
        offsets.push(offset);
        values.push(record.value!.toString());
      }
    }
    assert.deepEqual(
      offsets,
      Array.from({ length: 10 }, (_, i) => BigInt(i + 5)),
    );
    assert.deepEqual(
      values,
      Array.from({ length: 10 }, (_, i) => `v${(i + 5) * 2 + 1}`),
    );

    await assert.rejects(
      consumer.fetch({
        node: 0,
        maxWaitTime: 10,
        topics: [
          {
            topicId: 'pk-fetch',
            partitions: [
              {
                partition: 0,
                fetchOffset: 99n,
                partitionMaxBytes: 1 << 20,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              },
            ],
          },
        ],
      }),
      failedWith('OFFSET_OUT_OF_RANGE'),
    );
  } finally {
    await consumer.close();
  }
  assert.deepEqual(
    (await readPartition(server.port, 'pk-fetch', 0)).map((r) => r.value),
    Array.from({ length: 15 }, (_, i) => `v${i * 2}`),
  );
});

test('idempotent producer: sequences accepted, offsets contiguous, stored once', async () => {
  const producer = newProducer(server.bootstrap, { idempotent: true });
  try {
    for (let i = 0; i < 10; i++) {
      const result = await producer.send({
        messages: [
          { topic: 'pk-idempotent', partition: 0, key: 'k', value: `v${i}` },
          { topic: 'pk-idempotent', partition: 0, key: 'k', value: `w${i}` },
        ],
        autocreateTopics: true,
      });
      assert.deepEqual(result.offsets, [{ topic: 'pk-idempotent', partition: 0, offset: BigInt(i * 2) }]);
    }
    assert.equal(typeof producer.producerId, 'bigint');
    assert.ok(producer.producerId! >= 0n);
  } finally {
    await producer.close();
  }
  const stored = await readPartition(server.port, 'pk-idempotent', 0, 0, 100);
  assert.deepEqual(
    stored.map((r) => r.value),
    Array.from({ length: 10 }, (_, i) => [`v${i}`, `w${i}`]).flat(),
  );
});

// @platformatic/kafka 1.35 sends InitProducerId with producer_id 0 and epoch 0 (not -1/-1) when it
// asks for a new idempotent producer id. Kafka ignores both fields when transactional_id is null and
// always allocates a fresh id with epoch 0 (TransactionCoordinator.handleInitProducerId). A broker
// that instead "bumps" producer 0 hands every such client the same id and epoch, so a second
// producer's batches look like duplicates of the first's: acknowledged, never stored.
test('two idempotent producers at once get distinct producer ids; every acknowledged message is stored', async () => {
  const first = newProducer(server.bootstrap, { idempotent: true });
  const second = newProducer(server.bootstrap, { idempotent: true });
  try {
    const acknowledged: Array<{ value: string; offset: bigint }> = [];
    for (let i = 0; i < 3; i++) {
      for (const [name, producer] of [
        ['first', first],
        ['second', second],
      ] as const) {
        const value = `${name}-${i}`;
        const result = await producer.send({
          messages: [{ topic: 'pk-two-idempotent', partition: 0, value }],
          autocreateTopics: true,
        });
        acknowledged.push({ value, offset: result.offsets![0]!.offset });
      }
    }
    assert.notEqual(
      first.producerId,
      second.producerId,
      `both producers were given producer id ${first.producerId} ` +
        `(epochs ${first.producerEpoch}, ${second.producerEpoch})`,
    );
    const stored = await readPartition(server.port, 'pk-two-idempotent', 0, 0, 100);
    const storedByOffset = new Map(stored.map((r) => [BigInt(r.offset), r.value]));
    for (const { value, offset } of acknowledged) {
      assert.equal(
        storedByOffset.get(offset),
        value,
        `"${value}" acknowledged at offset ${offset} but that offset holds "${storedByOffset.get(offset)}"`,
      );
    }
    assert.equal(stored.length, acknowledged.length);
  } finally {
    await first.close();
    await second.close();
  }
});

test('an idempotent producer after another one closed: its messages are stored, not taken for duplicates', async () => {
  const acknowledged: Array<{ value: string; offset: bigint }> = [];
  for (const run of ['before-restart', 'after-restart']) {
    const producer = newProducer(server.bootstrap, { idempotent: true });
    try {
      for (let i = 0; i < 3; i++) {
        const value = `${run}-${i}`;
        const result = await producer.send({
          messages: [{ topic: 'pk-restart', partition: 0, value }],
          autocreateTopics: true,
        });
        acknowledged.push({ value, offset: result.offsets![0]!.offset });
      }
    } finally {
      await producer.close();
    }
  }
  const stored = await readPartition(server.port, 'pk-restart', 0, 0, 100);
  assert.deepEqual(
    stored.map((r) => r.value),
    acknowledged.map((a) => a.value),
    `acknowledged at offsets ${acknowledged.map((a) => a.offset).join(', ')}`,
  );
});

// Consumer groups (issue 6): join, sync, fetch, commit; a later member of the group resumes from the
// committed offsets.
test('consumer group: consume every message, commit, and resume from the committed offsets', async () => {
  const admin = newAdmin(server.bootstrap);
  const producer = newProducer(server.bootstrap);
  const consumerOptions = {
    ...clientOptions(server.bootstrap),
    groupId: 'pk-group',
    deserializers: stringDeserializers,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTime: 100,
  };
  const consumeUntil = async (
    consumer: Consumer<string, string, string, string>,
    mode: 'earliest' | 'committed',
    count: number,
  ): Promise<string[]> => {
    const stream = await consumer.consume({ topics: ['pk-group'], mode, fallbackMode: 'earliest', autocommit: false });
    const seen: string[] = [];
    const deadline = setTimeout(() => void stream.close(), 10_000);
    try {
      for await (const message of stream) {
        seen.push(message.value!);
        await message.commit();
        if (seen.length >= count) break;
      }
    } finally {
      clearTimeout(deadline);
      await stream.close();
    }
    return seen;
  };
  try {
    await admin.createTopics({ topics: ['pk-group'], partitions: 3, replicas: 1 });
    await producer.send({
      messages: Array.from({ length: 30 }, (_, i) => ({ topic: 'pk-group', key: `k${i}`, value: `first-${i}` })),
    });
    const first = new Consumer(consumerOptions);
    try {
      const seen = await consumeUntil(first, 'earliest', 30);
      assert.deepEqual(
        [...seen].sort(),
        Array.from({ length: 30 }, (_, i) => `first-${i}`).sort(),
        'every message once',
      );
    } finally {
      await first.close();
    }
    const [committed] = await admin.listConsumerGroupOffsets({ groups: ['pk-group'] });
    const byPartition = committed!.topics[0]!.partitions.map((p) => p.committedOffset);
    assert.equal(
      byPartition.reduce((sum, offset) => sum + offset, 0n),
      30n,
      'committed offsets (next to read) add up to the 30 messages',
    );

    await producer.send({
      messages: Array.from({ length: 6 }, (_, i) => ({ topic: 'pk-group', key: `k${i}`, value: `second-${i}` })),
    });
    const second = new Consumer(consumerOptions);
    try {
      const seen = await consumeUntil(second, 'committed', 6);
      assert.deepEqual(
        [...seen].sort(),
        Array.from({ length: 6 }, (_, i) => `second-${i}`).sort(),
        'only what came after the commits',
      );
    } finally {
      await second.close();
    }
  } finally {
    await producer.close();
    await admin.close();
  }
});
