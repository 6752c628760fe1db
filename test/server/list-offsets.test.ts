// ListOffsets over the wire, every version 1-11, against a real in-process broker on loopback: each
// special timestamp from the version that defines it (UNSUPPORTED_VERSION before), record-exact
// answers by time in multi-record batches, leader epochs from v4, hostile input (any int64 timestamp,
// unknown partitions, a partition named twice, any timeout_ms) and a damaged batch on disk.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { SpecialTimestamp } from '../../src/broker/offset-lookup.js';
import { ErrorCode } from '../../src/protocol/generated/error-codes.js';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { specialTimestampFirstVersion } from '../../src/server/handlers/list-offsets.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;
let client: RawClient;
let correlationId = 0;

before(async () => {
  server = await startTestBroker();
  client = await RawClient.connect(server.port);
});
after(async () => {
  client.close();
  await server.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(apiKey: number, version: number, body: object): Promise<any> {
  correlationId += 1;
  client.request(apiKey, version, correlationId, body);
  const frames = await client.waitForFrames(correlationId, 10_000);
  assert.equal(frames.length, correlationId, 'the broker answered (and kept the connection)');
  return RawClient.decode(apiKey, version, frames[correlationId - 1]!).body;
}

async function produce(topic: string, timestamps: number[], compression = Compression.None): Promise<void> {
  const records = timestamps.map((timestamp, index) => ({ value: Buffer.from(`r${index}`), timestamp }));
  const body = await call(ApiKey.Produce, 7, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [
      { name: topic, partitionData: [{ index: 0, records: await encodeRecordBatch({ compression, records }) }] },
    ],
  });
  assert.equal(body.responses[0].partitionResponses[0].errorCode, 0);
}

async function createTopic(topic: string): Promise<void> {
  await call(ApiKey.Metadata, 9, { topics: [{ name: topic }], allowAutoTopicCreation: true });
}

interface Answer {
  errorCode: number;
  offset: bigint;
  timestamp: bigint;
  leaderEpoch: number;
}

async function listOffset(version: number, topic: string, timestamp: bigint, extra: object = {}): Promise<Answer> {
  const body = await call(ApiKey.ListOffsets, version, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp, currentLeaderEpoch: -1 }] }],
    ...extra,
  });
  assert.equal(body.topics.length, 1);
  assert.equal(body.topics[0].partitions.length, 1);
  return body.topics[0].partitions[0];
}

const int64Max = 2n ** 63n - 1n;
const int64Min = -(2n ** 63n);

test('the table of first versions names every special timestamp the broker answers', () => {
  assert.deepEqual([...specialTimestampFirstVersion.keys()].sort(), Object.values(SpecialTimestamp).sort());
});

test('v1-11: special timestamps from their version on, record-exact times, epochs from v4', async () => {
  const topic = 'lo-versions';
  await createTopic(topic);
  await produce(topic, [1000, 5000, 3000]); // offsets 0-2
  await produce(topic, [2000, 9000, 9000], Compression.Lz4); // 3-5
  for (let version = 1; version <= 11; version += 1) {
    const epoch = (found: boolean) => (version >= 4 && found ? 0 : -1);
    const expect = (timestamp: bigint, answer: [number, number, number] | 'unsupported') =>
      [timestamp, answer === 'unsupported' ? 'unsupported' : answer] as const;
    const rows = [
      expect(-2n, [0, -1, epoch(true)]),
      expect(-1n, [6, -1, epoch(true)]),
      expect(-3n, version >= 7 ? [4, 9000, epoch(true)] : 'unsupported'),
      expect(-4n, version >= 8 ? [0, -1, epoch(true)] : 'unsupported'),
      expect(-5n, version >= 9 ? [-1, -1, -1] : 'unsupported'),
      expect(-6n, version >= 11 ? [-1, -1, -1] : 'unsupported'),
      expect(-7n, 'unsupported'),
      expect(int64Min, 'unsupported'),
      expect(0n, [0, 1000, epoch(true)]),
      expect(1000n, [0, 1000, epoch(true)]),
      expect(1001n, [1, 5000, epoch(true)]),
      expect(4000n, [1, 5000, epoch(true)]),
      expect(5001n, [4, 9000, epoch(true)]),
      expect(9000n, [4, 9000, epoch(true)]),
      expect(9001n, [-1, -1, -1]),
      expect(2n ** 53n + 1n, [-1, -1, -1]),
      expect(int64Max, [-1, -1, -1]),
    ];
    for (const [timestamp, expected] of rows) {
      const got = await listOffset(version, topic, timestamp);
      const what = `v${version} timestamp ${timestamp}`;
      if (expected === 'unsupported') {
        assert.equal(got.errorCode, ErrorCode.UNSUPPORTED_VERSION, what);
        assert.deepEqual([got.offset, got.timestamp], [-1n, -1n], what);
        continue;
      }
      assert.equal(got.errorCode, 0, what);
      assert.deepEqual(
        [Number(got.offset), Number(got.timestamp), got.leaderEpoch],
        [expected[0], expected[1], version >= 4 ? expected[2] : -1],
        what,
      );
    }
  }
});

test('timeout_ms (v10+) only matters for tiered storage: any value is answered at once', async () => {
  const topic = 'lo-timeout';
  await createTopic(topic);
  await produce(topic, [100, 200]);
  for (const timeoutMs of [-1, 0, 1, 2 ** 31 - 1, -(2 ** 31)]) {
    for (const version of [10, 11]) {
      const started = Date.now();
      const got = await listOffset(version, topic, 150n, { timeoutMs });
      assert.deepEqual([got.errorCode, got.offset, got.timestamp], [0, 1n, 200n]);
      assert.ok(Date.now() - started < 2000);
    }
  }
});

test('an empty partition: no record answers -3 or any time; earliest and latest are 0', async () => {
  const topic = 'lo-empty';
  await createTopic(topic);
  for (const [timestamp, offset] of [
    [-3n, -1n],
    [0n, -1n],
    [-2n, 0n],
    [-1n, 0n],
  ] as const) {
    const got = await listOffset(11, topic, timestamp);
    assert.deepEqual([got.errorCode, got.offset, got.timestamp], [0, offset, -1n], `timestamp ${timestamp}`);
  }
});

test('unknown topics and partitions, and a partition named twice', async () => {
  const topic = 'lo-named';
  await createTopic(topic);
  await produce(topic, [100]);
  const body = await call(ApiKey.ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: topic,
        partitions: [
          { partitionIndex: 0, timestamp: -1n },
          { partitionIndex: 7, timestamp: -1n },
        ],
      },
      { name: 'lo-no-such-topic', partitions: [{ partitionIndex: 0, timestamp: -1n }] },
      {
        name: topic,
        partitions: [
          { partitionIndex: -1, timestamp: -3n },
          { partitionIndex: 0, timestamp: -2n },
        ],
      },
    ],
  });
  const answers = body.topics.map(
    (t: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }) => [
      t.name,
      t.partitions.map((p) => [p.partitionIndex, p.errorCode]),
    ],
  );
  assert.deepEqual(answers, [
    [
      topic,
      [
        [0, ErrorCode.INVALID_REQUEST], // named twice (offset -1 and -2): one answer, as Kafka
        [7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        [-1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ],
    ],
    ['lo-no-such-topic', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
  ]);
});

test('any replica id is answered (a replica sees up to the log end: kafkajs-list-offsets.test.ts)', async () => {
  const topic = 'lo-replica';
  await createTopic(topic);
  await produce(topic, [100, 200, 300]);
  for (const replicaId of [-1, -2, 0, 5]) {
    const got = await listOffset(7, topic, -1n, { replicaId });
    assert.deepEqual([got.errorCode, got.offset], [0, 3n], `replica ${replicaId}`);
  }
});

test('a damaged batch where the lookup looks: KAFKA_STORAGE_ERROR; the broker serves on', async () => {
  const topic = 'lo-damaged';
  await createTopic(topic);
  await produce(topic, [1000, 1100]); // 0-1
  await produce(topic, [2000, 2100], Compression.Gzip); // 2-3
  await produce(topic, [3000]); // 4
  client.close();
  await server.stop();
  const file = `${server.dataDir}/${topic}-0/00000000000000000000.log`;
  const bytes = readFileSync(file);
  const second = bytes.readInt32BE(8) + 12;
  bytes[second + 70] ^= 0xff; // inside the compressed records of offsets 2-3: the CRC no longer matches
  writeFileSync(file, bytes);
  server = await startTestBroker({ dataDir: server.dataDir });
  client = await RawClient.connect(server.port);
  correlationId = 0;
  const damaged = await listOffset(11, topic, 1500n);
  assert.deepEqual([damaged.errorCode, damaged.offset, damaged.timestamp], [ErrorCode.KAFKA_STORAGE_ERROR, -1n, -1n]);
  assert.equal((await listOffset(11, topic, 900n)).offset, 0n, 'a time answered before the damage');
  assert.equal((await listOffset(11, topic, 2500n)).offset, 4n, 'a time answered after it');
  assert.ok(
    server.logger.lines.some((line) => line.message === 'damaged-batch' && line.level === 'error'),
    'the damage is logged',
  );
  await produce(topic, [4000]);
  assert.equal((await listOffset(11, topic, -1n)).offset, 6n, 'the partition still takes writes');
});
