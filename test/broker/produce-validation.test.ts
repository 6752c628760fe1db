// Every row of the table in src/broker/produce-validation.ts, over the wire: one Produce request
// with a bad batch for one partition and a good one for another; the good one is appended.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { ControlRecordType, encodeControlBatch } from '../../src/protocol/record-batch/control.js';
import { CRC_OFFSET, MAGIC_OFFSET } from '../../src/protocol/record-batch/header.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;
before(async () => {
  server = await startTestBroker({ properties: { 'message.max.bytes': '2000' } });
  const created = await server.broker.createTopic('valid', 2, {});
  assert.equal(created.errorCode, 0);
});
after(async () => server.close());

async function good(): Promise<Buffer> {
  return encodeRecordBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('v') }] });
}

const cases: Array<[string, () => Promise<Buffer | null>, number]> = [
  ['missing records', async () => null, ErrorCode.CORRUPT_MESSAGE],
  ['shorter than a header', async () => (await good()).subarray(0, 40), ErrorCode.CORRUPT_MESSAGE],
  [
    'magic 1',
    async () => {
      const b = Buffer.from(await good());
      b[MAGIC_OFFSET] = 1;
      return b;
    },
    ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
  ],
  ['truncated batch', async () => (await good()).subarray(0, 65), ErrorCode.CORRUPT_MESSAGE],
  ['two batches', async () => Buffer.concat([await good(), await good()]), ErrorCode.INVALID_RECORD],
  [
    'over max.message.bytes',
    async () => encodeRecordBatch({ records: [{ value: Buffer.alloc(3000, 1) }] }),
    ErrorCode.MESSAGE_TOO_LARGE,
  ],
  [
    'bad CRC',
    async () => {
      const b = Buffer.from(await good());
      b.writeUInt32BE((b.readUInt32BE(CRC_OFFSET) + 1) >>> 0, CRC_OFFSET);
      return b;
    },
    ErrorCode.CORRUPT_MESSAGE,
  ],
  [
    'lastOffsetDelta ≠ recordCount − 1',
    async () => encodeRecordBatch({ records: [{ value: Buffer.from('a') }], lastOffsetDelta: 3 }),
    ErrorCode.INVALID_RECORD,
  ],
  [
    'control batch from a client',
    async () =>
      encodeControlBatch({ producerId: 1, producerEpoch: 0, coordinatorEpoch: 0, type: ControlRecordType.Commit }),
    ErrorCode.INVALID_RECORD,
  ],
];

for (const [name, make, expected] of cases) {
  test(`produce with ${name}: that partition answers ${expected}, the other partition is appended`, async () => {
    const client = await RawClient.connect(server.port);
    const before = server.broker.partitions.get('valid', 1)!.logEndOffset;
    client.request(ApiKey.Produce, 7, 1, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: 'valid',
          partitionData: [
            { index: 0, records: await make() },
            { index: 1, records: await good() },
          ],
        },
      ],
    });
    const [frame] = await client.waitForFrames(1);
    const partitions = RawClient.decode(ApiKey.Produce, 7, frame!).body.responses[0].partitionResponses;
    assert.equal(partitions[0].errorCode, expected, name);
    assert.equal(partitions[0].baseOffset, -1n);
    assert.equal(partitions[1].errorCode, 0);
    assert.equal(partitions[1].baseOffset, BigInt(before));
    client.close();
  });
}

test('unknown topic, unknown partition, internal topic and bad acks get their codes', async () => {
  const client = await RawClient.connect(server.port);
  const batch = await good();
  client.request(ApiKey.Produce, 7, 1, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [
      { name: 'nope', partitionData: [{ index: 0, records: batch }] },
      { name: 'valid', partitionData: [{ index: 9, records: batch }] },
      { name: '__consumer_offsets', partitionData: [{ index: 0, records: batch }] },
    ],
  });
  client.request(ApiKey.Produce, 7, 2, {
    acks: 2,
    timeoutMs: 5000,
    topicData: [{ name: 'valid', partitionData: [{ index: 0, records: batch }] }],
  });
  const frames = await client.waitForFrames(2);
  const first = RawClient.decode(ApiKey.Produce, 7, frames[0]!).body.responses;
  assert.deepEqual(
    first.map((t: { partitionResponses: Array<{ errorCode: number }> }) => t.partitionResponses[0]!.errorCode),
    [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_TOPIC_EXCEPTION],
  );
  assert.equal(
    RawClient.decode(ApiKey.Produce, 7, frames[1]!).body.responses[0].partitionResponses[0].errorCode,
    ErrorCode.INVALID_REQUIRED_ACKS,
  );
  client.close();
});

test('acks=0 sends no response; the next request is still answered in order', async () => {
  const client = await RawClient.connect(server.port);
  client.request(ApiKey.Produce, 7, 1, {
    acks: 0,
    timeoutMs: 5000,
    topicData: [{ name: 'valid', partitionData: [{ index: 0, records: await good() }] }],
  });
  client.request(ApiKey.Metadata, 4, 2, { topics: [{ name: 'valid' }], allowAutoTopicCreation: false });
  const [frame] = await client.waitForFrames(1);
  assert.equal(RawClient.decode(ApiKey.Metadata, 4, frame!).correlationId, 2);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(client.frames.length, 1);
  client.close();
});

test('LogAppendTime topics stamp the broker time into the batch and the response', async () => {
  await server.broker.createTopic('stamped', 1, { 'message.timestamp.type': 'LogAppendTime' });
  const client = await RawClient.connect(server.port);
  const beforeMs = Date.now();
  client.request(ApiKey.Produce, 7, 1, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [
      {
        name: 'stamped',
        partitionData: [
          { index: 0, records: await encodeRecordBatch({ timestamp: 1000, records: [{ value: Buffer.from('x') }] }) },
        ],
      },
    ],
  });
  const [frame] = await client.waitForFrames(1);
  const response = RawClient.decode(ApiKey.Produce, 7, frame!).body.responses[0].partitionResponses[0];
  assert.equal(response.errorCode, 0);
  assert.ok(response.logAppendTimeMs >= BigInt(beforeMs));
  const read = await server.broker.partitions.get('stamped', 0)!.read(0, 1 << 20);
  const { RecordBatchHeader } = await import('../../src/protocol/record-batch/header.js');
  const header = new RecordBatchHeader(read.records);
  assert.equal(header.timestampType, 1);
  assert.equal(header.maxTimestamp, Number(response.logAppendTimeMs));
  assert.ok(header.isCrcValid());
  client.close();
});
