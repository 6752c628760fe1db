// Connection and Cluster against the real in-process broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startTestBroker } from '../support/test-broker.js';
import { Connection, FrameReader } from '../../src/client/connection.js';
import { Cluster } from '../../src/client/cluster.js';
import { ConnectionError, KafkaError, RequestTimeoutError } from '../../src/client/errors.js';
import { ApiKey } from '../../src/protocol/generated/index.js';
import type { MetadataResponse } from '../../src/protocol/generated/metadata.js';
import type { FetchResponse } from '../../src/protocol/generated/fetch.js';
import { Producer } from '../../src/client/producer.js';
import { Random, withSeed } from '../support/random.js';
import { startProxy, type Proxy } from '../support/proxy.js';

test('connection negotiates versions and pipelines requests', async () => {
  const broker = await startTestBroker();
  try {
    const connection = await Connection.connect({ host: '127.0.0.1', port: broker.port, maxInFlightRequests: 4 });
    // The test broker serves Metadata 0-9 and Fetch 4-12: the highest common versions are used.
    assert.equal(
      connection.versionFor(ApiKey.Metadata),
      Math.min(connection.brokerVersions.get(ApiKey.Metadata)!.max, 13),
    );
    assert.equal(connection.versionFor(ApiKey.Fetch), Math.min(connection.brokerVersions.get(ApiKey.Fetch)!.max, 12));
    // 50 requests through 4 slots: all answered, each with its own correlation id.
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => connection.request<MetadataResponse>(ApiKey.Metadata, { topics: [] })),
    );
    assert.equal(answers.length, 50);
    for (const answer of answers) assert.equal(answer.brokers.length, 1);
    connection.close();
    await assert.rejects(connection.request(ApiKey.Metadata, { topics: [] }), ConnectionError);
  } finally {
    await broker.close();
  }
});

test('connection reports refused connections and request timeouts', async () => {
  await assert.rejects(Connection.connect({ host: '127.0.0.1', port: 1 }), ConnectionError);
  // A server that accepts and never answers: ApiVersions times out.
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  try {
    await assert.rejects(Connection.connect({ host: '127.0.0.1', port, requestTimeoutMs: 200 }), RequestTimeoutError);
  } finally {
    silent.close();
  }
});

test('cluster bootstraps, finds leaders, auto-creates and reports unknown topics', async () => {
  const broker = await startTestBroker({ properties: { 'num.partitions': '3' } });
  const cluster = new Cluster({
    bootstrap: broker.bootstrap,
    retries: 1,
    retryBackoffMs: 10,
    allowAutoTopicCreation: true,
  });
  try {
    await cluster.connect();
    assert.equal(cluster.brokers.size, 1);
    const topic = await cluster.topic('auto-created');
    assert.equal(topic.partitions.length, 3);
    assert.equal(cluster.leaderOf('auto-created', 2), [...cluster.brokers.keys()][0]);
    const strict = new Cluster({
      bootstrap: [broker.bootstrap],
      retries: 1,
      retryBackoffMs: 10,
      allowAutoTopicCreation: false,
    });
    await strict.connect();
    await assert.rejects(
      strict.topic('missing-topic'),
      (error: unknown) => error instanceof KafkaError && error.type === 'UNKNOWN_TOPIC_OR_PARTITION',
    );
    await strict.close();
  } finally {
    await cluster.close();
    await broker.close();
  }
});

/**
 * A proxy that re-cuts the broker's byte stream: pieces of 1, 2 and 3 bytes, pieces that end inside
 * a size prefix, and big pieces holding several frames, written with event-loop turns between them.
 */
function rechunkingProxy(brokerPort: number, random: () => number): Promise<Proxy> {
  return startProxy(brokerPort, (client) => {
    let pending = Buffer.alloc(0);
    let writing = false;
    const drain = async (): Promise<void> => {
      writing = true;
      while (pending.length > 0) {
        const choice = random();
        const size =
          choice < 0.3
            ? 1 + Math.floor(random() * 3)
            : choice < 0.6
              ? 1 + Math.floor(random() * 100)
              : 1 + Math.floor(random() * 300_000);
        const piece = pending.subarray(0, size);
        pending = pending.subarray(piece.length);
        client.write(piece);
        await new Promise((resolve) => setImmediate(resolve));
      }
      writing = false;
    };
    return (data) => {
      pending = Buffer.concat([pending, data]);
      if (!writing) void drain();
    };
  });
}

// Split size prefixes, byte-sized pieces, several frames per read, large frames.
test('connection reads frames however the stream is cut', async () => {
  const broker = await startTestBroker();
  const random = new Random(7);
  const proxy = await rechunkingProxy(broker.port, () => random.next() / 2 ** 32);
  const producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 0 });
  try {
    // ≈ 1.5 MB in the partition, so one Fetch answer is many times the reader's 64 KiB scratch buffer.
    const values = Array.from({ length: 1500 }, (_, i) => Buffer.alloc(1000, i % 251));
    await producer.sendBatch(
      'rechunked',
      values.map((value) => ({ value, partition: 0 })),
    );
    const direct = await Connection.connect({ host: '127.0.0.1', port: broker.port });
    const cut = await Connection.connect({ host: '127.0.0.1', port: proxy.port, maxInFlightRequests: 16 });
    const fetch = {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 4 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: 'rechunked', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 4 << 20 }] }],
    };
    const expected = await direct.request<FetchResponse>(ApiKey.Fetch, fetch);
    const expectedRecords = expected.responses[0]!.partitions[0]!.records!;
    assert.ok(expectedRecords.length > 1_400_000);
    // Small and large answers interleaved and pipelined, so pieces hold the ends and starts of several.
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 3 === 0
          ? cut.request<FetchResponse>(ApiKey.Fetch, fetch)
          : cut.request<MetadataResponse>(ApiKey.Metadata, { topics: [] }),
      ),
    );
    for (let i = 0; i < answers.length; i++) {
      if (i % 3 === 0)
        assert.ok(
          (answers[i] as FetchResponse).responses[0]!.partitions[0]!.records!.equals(expectedRecords),
          `fetch answer ${i}`,
        );
      else assert.equal((answers[i] as MetadataResponse).brokers.length, 1);
    }
    direct.close();
    cut.close();
  } finally {
    await producer.close();
    proxy.close();
    await broker.close();
  }
});

test('a frame size outside 4 … maxResponseBytes closes the connection with a clear error', async () => {
  for (const size of [0, 3, -5, 2_000_000]) {
    // A server that answers anything with a bare size prefix.
    const liar = createServer((socket) =>
      socket.once('data', () =>
        socket.write(Buffer.from([size >>> 24, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff])),
      ),
    );
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    const port = (liar.address() as { port: number }).port;
    try {
      await assert.rejects(
        Connection.connect({ host: '127.0.0.1', port, maxResponseBytes: 1_000_000 }),
        (error: unknown) => error instanceof ConnectionError && error.message.includes(`sent a frame of ${size} bytes`),
      );
    } finally {
      liar.close();
    }
  }
});

test('frame reader: any cut of a stream of frames gives back the same frames (seeded)', () => {
  withSeed('frame reader cuts', (random) => {
    for (let round = 0; round < 200; round++) {
      // Frames of 4 bytes up to several times the 64 KiB scratch buffer, back to back.
      const frames = Array.from({ length: random.int(1, 12) }, () =>
        random.bytes(random.pick([4, 5, random.int(4, 200), random.int(60_000, 70_000), random.int(4, 300_000)])),
      );
      const stream = Buffer.concat(
        frames.flatMap((frame) => [
          Buffer.from([
            frame.length >>> 24,
            (frame.length >>> 16) & 0xff,
            (frame.length >>> 8) & 0xff,
            frame.length & 0xff,
          ]),
          frame,
        ]),
      );
      const reader = new FrameReader(1 << 20);
      const got: Buffer[] = [];
      reader.onFrame = (frame) => got.push(frame);
      reader.onBadSize = (size) => assert.fail(`bad size ${size}`);
      // What the socket does: read at most as many bytes as the offered buffer holds.
      for (let at = 0; at < stream.length;) {
        const target = reader.nextReadBuffer();
        assert.ok(target.length > 0, 'the reader always offers room');
        const wanted = random.pick([1, 2, 3, random.int(1, 100), random.int(1, 200_000), stream.length]);
        const bytes = Math.min(wanted, target.length, stream.length - at);
        stream.copy(target, 0, at, at + bytes);
        reader.onRead(bytes);
        at += bytes;
      }
      // Checked after the whole stream: a frame handed out is never written by a later read.
      assert.equal(got.length, frames.length, `round ${round}`);
      for (let i = 0; i < frames.length; i++) assert.ok(got[i]!.equals(frames[i]!), `round ${round} frame ${i}`);
    }
  });
});
