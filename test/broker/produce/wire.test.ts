// The produce path over the wire, byte for byte (raw client), for what clients cannot be made to send:
// compacted topics and KIP-467 record errors per version, Produce v3-v13 (flexible, topic ids,
// KIP-890 part 2's implicit add), recompression, and batches whose header maxTimestamp is -1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ApiKey, ErrorCode } from '../../../src/protocol/generated/index.js';
import { Compression, MAX_TIMESTAMP_OFFSET, writeInt64FromNumber } from '../../../src/protocol/record-batch/header.js';
import { crc32c } from '../../../src/protocol/record-batch/crc32c.js';
import { decodeRecordBatches } from '../../../src/protocol/record-batch/record-decoder.js';
import {
  encodeRecordBatchSync,
  type EncodeRecordBatchOptions,
} from '../../../src/protocol/record-batch/record-encoder.js';
import { RawClient } from '../../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../../support/test-broker.js';

let server: TestBroker;
before(async () => {
  server = await startTestBroker();
});
after(async () => server.close());

let correlation = 0;

/** Sends one Produce of `batch` to `topic`-0 at `version` and returns that partition's answer. */
async function produce(version: number, topic: string, batch: Buffer, extra: object = {}): Promise<any> {
  const client = await RawClient.connect(server.port);
  try {
    const topicData =
      version >= 13
        ? [
            {
              topicId: server.broker.topics.get(topic)?.id ?? randomBytes(16),
              partitionData: [{ index: 0, records: batch }],
            },
          ]
        : [{ name: topic, partitionData: [{ index: 0, records: batch }] }];
    client.request(ApiKey.Produce, version, ++correlation, { acks: -1, timeoutMs: 5000, topicData, ...extra });
    const [frame] = await client.waitForFrames(1);
    assert.ok(frame, `Produce v${version} answered`);
    return RawClient.decode(ApiKey.Produce, version, frame).body.responses[0];
  } finally {
    client.close();
  }
}

function batchOf(options: Partial<EncodeRecordBatchOptions> & { keys: Array<string | null> }): Buffer {
  return encodeRecordBatchSync({
    ...options,
    records: options.keys.map((key, i) => ({
      key: key === null ? null : Buffer.from(key),
      value: Buffer.from(`value ${i}`),
      timestamp: options.timestamp,
    })),
  });
}

async function storedBatches(topic: string) {
  const [result] = await server.broker.fetch([{ topic, partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }], {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
  });
  return decodeRecordBatches(result!.records);
}

test('compacted topic, Produce v3-v13: a null key is INVALID_RECORD, with record errors from v8 on', async () => {
  for (let version = 3; version <= 13; version++) {
    const topic = `compacted-v${version}`;
    await server.broker.createTopic(topic, 1, { 'cleanup.policy': 'compact,delete' });
    const log = server.broker.partitions.get(topic, 0)!;
    const answer = await produce(version, topic, batchOf({ keys: ['a', null, 'c', null] }));
    if (version < 13) assert.equal(answer.name, topic);
    else assert.deepEqual(answer.topicId, server.broker.topics.get(topic)!.id);
    const partition = answer.partitionResponses[0];
    assert.equal(partition.errorCode, ErrorCode.INVALID_RECORD, `v${version}`);
    assert.equal(partition.baseOffset, -1n);
    if (version >= 8) {
      const message = `Compacted topic cannot accept message without key in topic partition ${topic}-0.`;
      assert.deepEqual(partition.recordErrors, [
        { batchIndex: 1, batchIndexErrorMessage: message },
        { batchIndex: 3, batchIndexErrorMessage: message },
      ]);
      assert.match(partition.errorMessage, /^One or more records have been rejected due to 2 record errors in total/);
    }
    assert.equal(log.logEndOffset, 0, `v${version}: nothing appended`);
    // Keyed records are taken, at every version.
    const keyed = await produce(version, topic, batchOf({ keys: ['a', 'b'] }));
    assert.equal(keyed.partitionResponses[0].errorCode, ErrorCode.NONE, `v${version}`);
    assert.equal(keyed.partitionResponses[0].baseOffset, 0n);
    assert.equal(log.logEndOffset, 2);
  }
});

test('plain topic: null keys are fine and the batch is stored byte for byte (header-only path)', async () => {
  await server.broker.createTopic('plain', 1, {});
  const batch = batchOf({ keys: [null, 'k', null], compression: Compression.Lz4 });
  const sent = Buffer.from(batch);
  const answer = await produce(9, 'plain', batch);
  assert.equal(answer.partitionResponses[0].errorCode, ErrorCode.NONE);
  const [result] = await server.broker.fetch(
    [{ topic: 'plain', partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }],
    { maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20 },
  );
  // Identical but for the fields the broker assigns outside the CRC (baseOffset, partitionLeaderEpoch).
  assert.deepEqual(result!.records.subarray(16), sent.subarray(16));
});

test('Produce v13: unknown topic ids answer UNKNOWN_TOPIC_ID, known ids are produced to and echoed', async () => {
  await server.broker.createTopic('by-id', 1, {});
  const unknown = await produce(13, 'no-such-topic', batchOf({ keys: ['k'] }));
  assert.equal(unknown.partitionResponses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  assert.equal(unknown.topicId.length, 16);
  const known = await produce(13, 'by-id', batchOf({ keys: ['k'] }));
  assert.deepEqual(known.topicId, server.broker.topics.get('by-id')!.id);
  assert.equal(known.partitionResponses[0].errorCode, ErrorCode.NONE);
  assert.equal((await storedBatches('by-id')).length, 1);
});

test('Produce v12: a transactional batch adds its partition to the transaction (v11: AddPartitionsToTxn)', async () => {
  await server.broker.createTopic('txn', 2, {});
  const { producerId, producerEpoch, errorCode } = await server.broker.initProducerId('implicit', 60_000, -1, -1);
  assert.equal(errorCode, ErrorCode.NONE);
  const transactional = (sequence: number) =>
    batchOf({ keys: ['k'], producerId, producerEpoch, baseSequence: sequence, transactional: true });
  const v11 = await produce(11, 'txn', transactional(0), { transactionalId: 'implicit' });
  assert.equal(v11.partitionResponses[0].errorCode, ErrorCode.INVALID_TXN_STATE);
  const noId = await produce(12, 'txn', transactional(0));
  assert.equal(noId.partitionResponses[0].errorCode, ErrorCode.INVALID_TXN_STATE);
  // Two pipelined v12 requests for a partition not yet in the transaction: both added, in order.
  const client = await RawClient.connect(server.port);
  for (const sequence of [0, 1])
    client.request(ApiKey.Produce, 12, 100 + sequence, {
      transactionalId: 'implicit',
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: 'txn', partitionData: [{ index: 0, records: transactional(sequence) }] }],
    });
  const frames = await client.waitForFrames(2);
  client.close();
  const answers = frames.map(
    (frame) => RawClient.decode(ApiKey.Produce, 12, frame).body.responses[0].partitionResponses[0],
  );
  assert.deepEqual(
    answers.map((a: any) => [a.errorCode, a.baseOffset]),
    [
      [ErrorCode.NONE, 0n],
      [ErrorCode.NONE, 1n],
    ],
  );
  assert.equal(server.broker.transactions.describe('implicit').state, 'Ongoing');
  // Not visible to read_committed until the commit, then visible.
  const committedEnd = () => server.broker.partitions.get('txn', 0)!.lastStableOffset;
  assert.equal(committedEnd(), 0);
  const ended = await server.broker.transactions.endTransaction('implicit', producerId, producerEpoch, true);
  assert.equal(ended.errorCode, ErrorCode.NONE);
  assert.equal(committedEnd(), 3, 'two records and the COMMIT marker');
  // A fenced epoch is refused by the coordinator, not added.
  const fenced = await produce(
    12,
    'txn',
    batchOf({ keys: ['k'], producerId, producerEpoch: producerEpoch + 5, baseSequence: 0, transactional: true }),
    {
      transactionalId: 'implicit',
    },
  );
  assert.notEqual(fenced.partitionResponses[0].errorCode, ErrorCode.NONE);
});

test('recompression: a gzip batch to a zstd topic is stored as zstd, records and producer fields kept', async () => {
  await server.broker.createTopic('to-zstd', 1, { 'compression.type': 'zstd' });
  const { producerId } = await server.broker.initProducerId(null, 0, -1, -1);
  const batch = batchOf({
    keys: ['a', null, 'c'],
    compression: Compression.Gzip,
    producerId,
    producerEpoch: 0,
    baseSequence: 0,
  });
  const answer = await produce(7, 'to-zstd', batch);
  assert.equal(answer.partitionResponses[0].errorCode, ErrorCode.NONE);
  const [stored] = await storedBatches('to-zstd');
  assert.equal(stored!.compression, Compression.Zstd);
  assert.equal(stored!.producerId, producerId);
  assert.equal(stored!.baseSequence, 0);
  assert.deepEqual(
    stored!.records.map((r) => [r.key?.toString() ?? null, r.value?.toString()]),
    [
      ['a', 'value 0'],
      [null, 'value 1'],
      ['c', 'value 2'],
    ],
  );
  // The retry of the same batch is a duplicate of the recompressed one: same offset, nothing appended.
  const retry = await produce(
    7,
    'to-zstd',
    batchOf({ keys: ['a', null, 'c'], compression: Compression.Gzip, producerId, producerEpoch: 0, baseSequence: 0 }),
  );
  assert.equal(retry.partitionResponses[0].baseOffset, 0n);
  assert.equal((await storedBatches('to-zstd')).length, 1);
});

test('recompression with LogAppendTime: stored as the topic codec and stamped with the broker time', async () => {
  await server.broker.createTopic('stamped-gzip', 1, {
    'compression.type': 'gzip',
    'message.timestamp.type': 'LogAppendTime',
  });
  const before = Date.now();
  const answer = await produce(
    9,
    'stamped-gzip',
    batchOf({ keys: ['k'], timestamp: 5, compression: Compression.Snappy }),
  );
  const partition = answer.partitionResponses[0];
  assert.equal(partition.errorCode, ErrorCode.NONE);
  assert.ok(partition.logAppendTimeMs >= BigInt(before));
  const [stored] = await storedBatches('stamped-gzip');
  assert.equal(stored!.compression, Compression.Gzip);
  assert.equal(stored!.timestampType, 1);
  assert.equal(stored!.maxTimestamp, Number(partition.logAppendTimeMs));
});

/** A batch whose records carry `timestamps` but whose header says maxTimestamp -1 (sarama 1.22). */
function minusOneHeader(timestamps: number[], compression = Compression.None): Buffer {
  const batch = encodeRecordBatchSync({
    records: timestamps.map((timestamp, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from('v'), timestamp })),
    compression,
  });
  writeInt64FromNumber(batch, -1, MAX_TIMESTAMP_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

test('maxTimestamp -1 in the header: ListOffsets by time answers as for a well-formed batch', async () => {
  for (const [topic, make] of [
    ['ts-minus-one', minusOneHeader],
    [
      'ts-well-formed',
      (timestamps: number[], compression = Compression.None) =>
        encodeRecordBatchSync({
          records: timestamps.map((timestamp, i) => ({
            key: Buffer.from(`k${i}`),
            value: Buffer.from('v'),
            timestamp,
          })),
          compression,
        }),
    ],
  ] as const) {
    await server.broker.createTopic(topic, 1, {});
    for (const [timestamps, codec] of [
      [[1_000], Compression.None],
      [[2_000, 2_500], Compression.Lz4],
      [[3_000], Compression.None],
    ] as const) {
      const answer = await produce(7, topic, make([...timestamps], codec));
      assert.equal(answer.partitionResponses[0].errorCode, ErrorCode.NONE);
    }
    const lookUp = (timestamp: number) => server.broker.listOffset(topic, 0, BigInt(timestamp), 'high-watermark');
    const offsetAt = async (timestamp: number) => (await lookUp(timestamp)).offset;
    assert.equal(await offsetAt(500), 0, topic);
    assert.equal(await offsetAt(1_500), 1, topic);
    assert.equal(await offsetAt(2_200), 2, topic); // record-exact: the second record of the lz4 batch
    assert.equal(await offsetAt(2_600), 3, topic);
    assert.equal(await offsetAt(3_001), -1, topic);
    const max = await lookUp(-3); // MAX_TIMESTAMP
    assert.deepEqual([max.errorCode, max.offset, max.timestamp], [0, 3, 3_000], topic);
    const stored = await storedBatches(topic);
    assert.deepEqual(
      stored.map((b) => b.maxTimestamp),
      [1_000, 2_500, 3_000],
    );
  }
});

test('maxTimestamp -1 in the header: time-based retention deletes old records and keeps recent ones', async () => {
  const day = 24 * 60 * 60 * 1000;
  const cases: Array<[string, Buffer, number]> = [
    ['old, header -1', minusOneHeader([Date.now() - 3 * day, Date.now() - 2 * day]), 1],
    [
      'old, well-formed',
      encodeRecordBatchSync({ records: [{ value: Buffer.from('v'), timestamp: Date.now() - 2 * day }] }),
      1,
    ],
    ['recent, header -1', minusOneHeader([Date.now() - 3 * day, Date.now()]), 0],
  ];
  for (const [index, [name, batch, deleted]] of cases.entries()) {
    const topic = `retention-${index}`;
    await server.broker.createTopic(topic, 1, { 'retention.ms': String(day) });
    assert.equal((await produce(7, topic, batch)).partitionResponses[0].errorCode, ErrorCode.NONE);
    const log = server.broker.partitions.get(topic, 0)!.log;
    assert.equal(await log.applyRetention(), deleted, name);
    assert.equal(log.logStartOffset, deleted === 1 ? log.logEndOffset : 0, name);
  }
});

test('damaged records to a compacted topic: an error answer, nothing appended, the broker serves on', async () => {
  await server.broker.createTopic('compacted-hostile', 1, { 'cleanup.policy': 'compact' });
  const log = server.broker.partitions.get('compacted-hostile', 0)!;
  const good = batchOf({ keys: ['a', 'b', 'c'], compression: Compression.Snappy });
  for (let i = 0; i < 200; i++) {
    const bad = Buffer.from(good);
    const at = 61 + ((i * 37) % (bad.length - 61));
    bad[at] = bad[at]! ^ (1 + (i % 255));
    bad.writeUInt32BE(crc32c(bad.subarray(21)), 17);
    const answer = await produce(9, 'compacted-hostile', bad);
    const code = answer.partitionResponses[0].errorCode;
    if (code === ErrorCode.NONE) continue; // a flip inside a value is still a valid batch
    assert.ok([ErrorCode.CORRUPT_MESSAGE, ErrorCode.INVALID_RECORD].includes(code), `flip ${i}: ${code}`);
  }
  const accepted = (await storedBatches('compacted-hostile')).length;
  assert.equal(log.logEndOffset, accepted * 3);
  assert.equal((await produce(9, 'compacted-hostile', batchOf({ keys: ['z'] }))).partitionResponses[0].errorCode, 0);
});
