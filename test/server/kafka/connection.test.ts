// The connection pump: any number of pipelined requests, of any mix of APIs, answered in order with
// a flat stack; handlers that fail answered with UNKNOWN_SERVER_ERROR on a connection that stays up;
// one busy connection does not starve another; request memory is bounded and given back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLogger } from '../../../src/broker/logger.js';
import { beginRequestFrame, finishFrame } from '../../../src/protocol/frame.js';
import { apiCodecs, ApiKey, ErrorCode } from '../../../src/protocol/generated/index.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/record-encoder.js';
import type { KafkaHandler } from '../../../src/server/handlers/handler.js';
import { KafkaListener } from '../../../src/server/kafka/listener.js';
import { startBrokerProcess } from '../../support/broker-process.js';
import { RawClient } from '../../support/raw-client.js';

function frameBytes(apiKey: number, version: number, correlationId: number, body: object): Buffer {
  const frame = beginRequestFrame(apiKey, version, correlationId, 'pump-test');
  apiCodecs.get(apiKey)!.encodeRequest(version, body, frame.writer);
  return Buffer.concat(finishFrame(frame));
}

function correlationIds(apiKeys: (index: number) => [number, number], frames: Buffer[]): number[] {
  return frames.map((frame, index) => {
    const [apiKey, version] = apiKeys(index);
    return RawClient.decode(apiKey, version, frame).correlationId;
  });
}

async function withListener(
  handlers: KafkaHandler[],
  limits: Record<string, number>,
  run: (listener: KafkaListener, logger: MemoryLogger) => Promise<void>,
): Promise<void> {
  const logger = new MemoryLogger();
  const listener = new KafkaListener({ host: '127.0.0.1', port: 0, handlers, limits, logger });
  await listener.listen();
  try {
    await run(listener, logger);
  } finally {
    await listener.close(100);
  }
}

test('100 000 pipelined ApiVersions v0 in one write are all answered, in order, and the broker stays up', async () => {
  const broker = await startBrokerProcess();
  try {
    const count = 100_000;
    const one = frameBytes(ApiKey.ApiVersions, 0, 0, {});
    const all = Buffer.alloc(one.length * count);
    for (let i = 0; i < count; i++) {
      one.copy(all, i * one.length);
      all.writeInt32BE(i, i * one.length + 8); // correlation id: after size, api key and version
    }
    const client = await RawClient.connect(broker.port);
    client.sendRaw(all);
    const frames = await client.waitForFrames(count, 120_000);
    assert.equal(frames.length, count, `answered ${frames.length} of ${count}`);
    const ids = correlationIds(() => [ApiKey.ApiVersions, 0], frames);
    assert.ok(
      ids.every((id, index) => id === index),
      'in request order',
    );
    assert.equal(RawClient.decode(ApiKey.ApiVersions, 0, frames[count - 1]!).body.errorCode, ErrorCode.NONE);
    client.close();
    assert.equal(broker.exited(), null, `broker alive; stderr: ${broker.stderr()}`);
    const after = await RawClient.connect(broker.port);
    after.request(ApiKey.ApiVersions, 3, 7, { clientSoftwareName: 'after', clientSoftwareVersion: '1' });
    assert.equal((await after.waitForFrames(1)).length, 1, 'a new connection is served');
    after.close();
  } finally {
    await broker.stop();
  }
});

test('10 000 mixed Produce, Metadata, Fetch, long-poll Fetch frames in one write are answered in order', async () => {
  const broker = await startBrokerProcess();
  try {
    const topic = 'pump-mixed';
    const setup = await RawClient.connect(broker.port);
    setup.request(ApiKey.Metadata, 9, 1, { topics: [{ name: topic }], allowAutoTopicCreation: true });
    const [created] = await setup.waitForFrames(1, 10_000);
    assert.equal(RawClient.decode(ApiKey.Metadata, 9, created!).body.topics[0].errorCode, ErrorCode.NONE);
    setup.close();

    const count = 10_000;
    const kinds: Array<[number, number]> = [];
    const parts: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const kind = i % 4;
      if (kind === 0) {
        const batch = encodeRecordBatchSync({ records: [{ key: null, value: Buffer.from(`message ${i}`) }] });
        const partitionData = [{ index: 0, records: batch }];
        parts.push(
          frameBytes(ApiKey.Produce, 7, i, {
            acks: -1,
            timeoutMs: 30_000,
            topicData: [{ name: topic, partitionData }],
          }),
        );
        kinds.push([ApiKey.Produce, 7]);
      } else if (kind === 1) {
        parts.push(frameBytes(ApiKey.Metadata, 9, i, { topics: [{ name: topic }], allowAutoTopicCreation: false }));
        kinds.push([ApiKey.Metadata, 9]);
      } else {
        // Every 100th fetch long-polls: it asks past the log end and waits up to 20 ms for data.
        const longPoll = kind === 3 && i % 100 === 3;
        const partitions = [{ partition: 0, fetchOffset: longPoll ? BigInt(i) : 0n, partitionMaxBytes: 1024 }];
        parts.push(
          frameBytes(ApiKey.Fetch, 11, i, {
            replicaId: -1,
            maxWaitMs: longPoll ? 20 : 0,
            minBytes: longPoll ? 1_000_000 : 1,
            maxBytes: 4096,
            isolationLevel: 0,
            topics: [{ topic, partitions }],
          }),
        );
        kinds.push([ApiKey.Fetch, 11]);
      }
    }
    const client = await RawClient.connect(broker.port);
    client.sendRaw(Buffer.concat(parts));
    const frames = await client.waitForFrames(count, 120_000);
    assert.equal(frames.length, count, `answered ${frames.length} of ${count}`);
    const ids = correlationIds((index) => kinds[index]!, frames);
    assert.ok(
      ids.every((id, index) => id === index),
      'in request order',
    );
    let lastOffset = -1n;
    frames.forEach((frame, index) => {
      const [apiKey, version] = kinds[index]!;
      const { body } = RawClient.decode(apiKey, version, frame);
      if (apiKey === ApiKey.Produce) {
        const partition = body.responses[0].partitionResponses[0];
        assert.equal(partition.errorCode, ErrorCode.NONE, `produce ${index}`);
        assert.ok(partition.baseOffset > lastOffset, 'offsets grow in request order');
        lastOffset = partition.baseOffset;
      } else if (apiKey === ApiKey.Metadata) {
        assert.equal(body.topics[0].errorCode, ErrorCode.NONE, `metadata ${index}`);
      } else {
        const partition = body.responses[0].partitions[0];
        assert.ok(
          partition.errorCode === ErrorCode.NONE || partition.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE,
          `fetch ${index}: error ${partition.errorCode}`,
        );
      }
    });
    assert.equal(lastOffset, BigInt(count / 4 - 1));
    client.close();
    assert.equal(broker.exited(), null, `broker alive; stderr: ${broker.stderr()}`);
  } finally {
    await broker.stop();
  }
});

test('a handler that throws or answers the unencodable gets UNKNOWN_SERVER_ERROR; the connection stays', async () => {
  const handlers: KafkaHandler[] = [
    {
      apiKey: ApiKey.Metadata,
      name: 'Metadata',
      versions: { min: 0, max: 12 },
      handle: () => {
        throw new Error('metadata exploded');
      },
    },
    {
      apiKey: ApiKey.ListOffsets,
      name: 'ListOffsets',
      versions: { min: 1, max: 5 },
      handle: async () => {
        throw new Error('list offsets exploded later');
      },
    },
    {
      apiKey: ApiKey.Heartbeat,
      name: 'Heartbeat',
      versions: { min: 0, max: 4 },
      handle: () => ({ errorCode: 10n }), // a bigint where an INT16 goes: the encoder throws
    },
    {
      apiKey: ApiKey.Produce,
      name: 'Produce',
      versions: { min: 3, max: 7 },
      handle: () => {
        throw new Error('produce exploded');
      },
    },
  ];
  await withListener(handlers, {}, async (listener, logger) => {
    const client = await RawClient.connect(listener.port);
    client.request(ApiKey.Metadata, 9, 1, { topics: [{ name: 'a' }, { name: 'b' }] });
    client.request(ApiKey.ListOffsets, 5, 2, {
      topics: [{ name: 'a', partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
    });
    client.request(ApiKey.Heartbeat, 3, 3, { groupId: 'g', generationId: 1, memberId: 'm' });
    client.request(ApiKey.Produce, 7, 4, { acks: 1, topicData: [{ name: 'a', partitionData: [{ index: 2 }] }] });
    client.request(ApiKey.ApiVersions, 3, 5, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
    const frames = await client.waitForFrames(5);
    assert.equal(frames.length, 5);
    const metadata = RawClient.decode(ApiKey.Metadata, 9, frames[0]!);
    assert.equal(metadata.correlationId, 1);
    assert.deepEqual(
      metadata.body.topics.map((t: any) => [t.name, t.errorCode]),
      [
        ['a', ErrorCode.UNKNOWN_SERVER_ERROR],
        ['b', ErrorCode.UNKNOWN_SERVER_ERROR],
      ],
    );
    const offsets = RawClient.decode(ApiKey.ListOffsets, 5, frames[1]!).body;
    assert.equal(offsets.topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
    assert.equal(RawClient.decode(ApiKey.Heartbeat, 3, frames[2]!).body.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
    const produced = RawClient.decode(ApiKey.Produce, 7, frames[3]!).body.responses[0].partitionResponses[0];
    assert.deepEqual([produced.index, produced.errorCode], [2, ErrorCode.UNKNOWN_SERVER_ERROR]);
    assert.equal(RawClient.decode(ApiKey.ApiVersions, 3, frames[4]!).body.errorCode, ErrorCode.NONE);
    assert.equal(client.closed, false, 'the connection stays open');
    const failures = logger.lines.filter((line) => line.level === 'error');
    assert.equal(failures.length, 4);
    for (const line of failures) assert.match(String(line.fields.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(String(failures[0]!.fields.error), /metadata exploded/);

    // acks=0 expects no response: a failing handler closes the connection, as Kafka does.
    client.request(ApiKey.Produce, 7, 6, { acks: 0, topicData: [{ name: 'a', partitionData: [{ index: 0 }] }] });
    assert.ok(await client.waitForClose(), 'closed after a failed acks=0 produce');
  });
});

test('a connection with thousands of queued requests does not starve another connection', async () => {
  let busyAnswered = 0;
  const handlers: KafkaHandler[] = [
    {
      apiKey: ApiKey.Heartbeat,
      name: 'Heartbeat',
      versions: { min: 0, max: 4 },
      handle: () => {
        busyAnswered++;
        return { errorCode: 0 };
      },
    },
  ];
  await withListener(handlers, { outputBufferBytesMax: 64 * 1024 * 1024 }, async (listener) => {
    const count = 50_000;
    const busy = await RawClient.connect(listener.port);
    const quiet = await RawClient.connect(listener.port);
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) frames.push(frameBytes(ApiKey.Heartbeat, 3, i, { groupId: 'g', memberId: 'm' }));
    busy.sendRaw(Buffer.concat(frames));
    await new Promise((resolve) => setTimeout(resolve, 5));
    quiet.request(ApiKey.ApiVersions, 3, 1, { clientSoftwareName: 'q', clientSoftwareVersion: '1' });
    await quiet.waitForFrames(1, 30_000);
    const busyWhenQuietAnswered = busyAnswered;
    assert.equal((await busy.waitForFrames(count, 60_000)).length, count);
    assert.ok(busyWhenQuietAnswered < count, `the quiet connection waited for all ${count} busy requests`);
    busy.close();
    quiet.close();
  });
});

test('request memory is bounded across connections, every frame is still served, and all is given back', async () => {
  let peak = 0;
  let listenerRef: KafkaListener | undefined;
  const handlers: KafkaHandler[] = [
    {
      apiKey: ApiKey.Heartbeat,
      name: 'Heartbeat',
      versions: { min: 0, max: 4 },
      handle: async () => {
        peak = Math.max(peak, listenerRef!.requestBytesReserved);
        await new Promise((resolve) => setTimeout(resolve, 1));
        return { errorCode: 0 };
      },
    },
  ];
  const budget = 64 * 1024;
  await withListener(handlers, { queuedRequestBytesMax: budget, requestBytesMax: budget }, async (listener) => {
    listenerRef = listener;
    const connections = 8;
    const perConnection = 100;
    const memberId = 'm'.repeat(5000); // ~5 KB frames: a dozen fill the budget
    const clients = await Promise.all(Array.from({ length: connections }, () => RawClient.connect(listener.port)));
    for (const client of clients) {
      const frames: Buffer[] = [];
      for (let i = 0; i < perConnection; i++)
        frames.push(frameBytes(ApiKey.Heartbeat, 3, i, { groupId: 'g', memberId }));
      client.sendRaw(Buffer.concat(frames));
    }
    const answered = await Promise.all(clients.map((client) => client.waitForFrames(perConnection, 60_000)));
    for (const frames of answered) {
      assert.equal(frames.length, perConnection);
      assert.ok(correlationIds(() => [ApiKey.Heartbeat, 3], frames).every((id, index) => id === index));
    }
    assert.ok(peak <= budget, `peak ${peak} within the budget ${budget}`);
    assert.ok(peak > budget / 2, `the budget was used (peak ${peak})`);

    // A connection that dies in the middle of a frame gives its reservation back.
    const half = await RawClient.connect(listener.port);
    const frame = frameBytes(ApiKey.Heartbeat, 3, 1, { groupId: 'g', memberId });
    half.sendRaw(frame.subarray(0, 100));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(listener.requestBytesReserved, frame.length, 'the whole frame is reserved from its size prefix');
    half.close();
    for (const client of clients) client.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(listener.requestBytesReserved, 0);
  });
});

test('frames cut at every byte and frames many to a write are answered alike', async () => {
  const handlers: KafkaHandler[] = [
    { apiKey: ApiKey.Heartbeat, name: 'Heartbeat', versions: { min: 0, max: 4 }, handle: () => ({ errorCode: 0 }) },
  ];
  await withListener(handlers, {}, async (listener) => {
    const client = await RawClient.connect(listener.port);
    const frames = Array.from({ length: 20 }, (_, i) => frameBytes(ApiKey.Heartbeat, 4, i, { groupId: 'g' }));
    const bytes = Buffer.concat(frames);
    for (let at = 0; at < bytes.length; at++) {
      client.sendRaw(bytes.subarray(at, at + 1));
      if (at % 37 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const answered = await client.waitForFrames(frames.length);
    assert.deepEqual(
      correlationIds(() => [ApiKey.Heartbeat, 4], answered),
      frames.map((_, i) => i),
    );
    client.close();
  });
});

test('size prefixes alone cannot lock out arrived requests; a stalled frame is closed on timeout', async () => {
  const handlers: KafkaHandler[] = [
    { apiKey: ApiKey.Heartbeat, name: 'Heartbeat', versions: { min: 0, max: 4 }, handle: () => ({ errorCode: 0 }) },
  ];
  const budget = 1024 * 1024;
  const limits = { queuedRequestBytesMax: budget, requestBytesMax: budget, requestReceiveTimeoutMs: 400 };
  await withListener(handlers, limits, async (listener, logger) => {
    // Each announces 400 KiB and sends nothing more: together they would hold the whole budget.
    const stalled = await Promise.all(Array.from({ length: 3 }, () => RawClient.connect(listener.port)));
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(400 * 1024);
    for (const client of stalled) client.sendRaw(prefix);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(listener.requestBytesAnnounced <= budget / 2, `announced ${listener.requestBytesAnnounced}`);

    const good = await RawClient.connect(listener.port);
    good.request(ApiKey.Heartbeat, 3, 9, { groupId: 'g', generationId: 1, memberId: 'm' });
    const [answer] = await good.waitForFrames(1, 300);
    assert.ok(answer, 'a request that arrived is answered while announced frames hold their share');
    assert.equal(RawClient.decode(ApiKey.Heartbeat, 3, answer).correlationId, 9);

    for (const client of stalled) assert.ok(await client.waitForClose(3000), 'a stalled frame closes its connection');
    assert.ok(logger.lines.some((line) => /not received within 400 ms/.test(line.message)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(listener.requestBytesReserved, 0);
    good.close();
  });
});

test('many requests parked on one connection do not trip Node’s listener-count warning', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  const handlers: KafkaHandler[] = [
    {
      apiKey: ApiKey.Heartbeat,
      name: 'Heartbeat',
      versions: { min: 0, max: 4 },
      // Parks until the connection closes, as a long-poll Fetch does.
      handle: (_request, context) =>
        new Promise((resolve) => context.signal.addEventListener('abort', () => resolve({ errorCode: 0 }))),
    },
  ];
  try {
    await withListener(handlers, {}, async (listener) => {
      const client = await RawClient.connect(listener.port);
      for (let i = 0; i < 40; i++) client.request(ApiKey.Heartbeat, 3, i, { groupId: 'g', memberId: 'm' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      client.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings, []);
});
