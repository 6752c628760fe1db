// The Kafka listener with a real TCP socket on loopback: framing, ApiVersions, ordering,
// backpressure limits and hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaListener } from '../../src/server/kafka/listener.js';
import type { KafkaHandler } from '../../src/server/handlers/handler.js';
import { MemoryLogger } from '../../src/server/logger.js';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { RawClient } from '../support/raw-client.js';
import { Random, withSeed } from '../support/random.js';

/** A Heartbeat handler whose answer waits for a per-request delay in milliseconds (taken from generationId). */
function delayedHeartbeat(calls: number[] = []): KafkaHandler {
  return {
    apiKey: ApiKey.Heartbeat,
    name: 'Heartbeat',
    versions: { min: 0, max: 4 },
    async handle(request: { generationId: number }) {
      calls.push(request.generationId);
      if (request.generationId < 0) return null; // "no response", like Produce acks=0
      await new Promise((resolve) => setTimeout(resolve, request.generationId));
      return { errorCode: request.generationId % 100 };
    },
  };
}

async function withListener(
  options: Partial<ConstructorParameters<typeof KafkaListener>[0]>,
  body: (listener: KafkaListener, logger: MemoryLogger) => Promise<void>,
): Promise<void> {
  const logger = new MemoryLogger();
  const listener = new KafkaListener({
    host: '127.0.0.1',
    port: 0,
    handlers: [delayedHeartbeat()],
    logger,
    ...options,
  });
  await listener.listen();
  try {
    await body(listener, logger);
  } finally {
    await listener.close(100);
  }
}

test('ApiVersions answers every version 0-4 with the table derived from the handlers', async () => {
  await withListener({}, async (listener) => {
    const client = await RawClient.connect(listener.port);
    for (let version = 0; version <= 4; version++) {
      client.request(
        ApiKey.ApiVersions,
        version,
        100 + version,
        version >= 3 ? { clientSoftwareName: 'raw', clientSoftwareVersion: '1' } : {},
      );
    }
    const frames = await client.waitForFrames(5);
    assert.equal(frames.length, 5);
    frames.forEach((frame, version) => {
      const { correlationId, body } = RawClient.decode(ApiKey.ApiVersions, version, frame);
      assert.equal(correlationId, 100 + version);
      assert.equal(body.errorCode, 0);
      assert.deepEqual(
        body.apiKeys.map((k: { apiKey: number; minVersion: number; maxVersion: number }) => [
          k.apiKey,
          k.minVersion,
          k.maxVersion,
        ]),
        [
          [12, 0, 4],
          [18, 0, 4],
        ],
      );
    });
    client.close();
  });
});

test('an ApiVersions version newer than ours gets a v0-format UNSUPPORTED_VERSION answer', async () => {
  await withListener({}, async (listener) => {
    const client = await RawClient.connect(listener.port);
    // v99 request: header v2 (flexible), body unknown to us — a few arbitrary bytes.
    const header = Buffer.from([0, 18, 0, 99, 0, 0, 0, 7, 0, 1, 0x78, 0]);
    const body = Buffer.from([1, 2, 3]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(header.length + body.length);
    client.sendRaw(Buffer.concat([size, header, body]));
    const [frame] = await client.waitForFrames(1);
    const { correlationId, body: decoded } = RawClient.decode(ApiKey.ApiVersions, 0, frame!);
    assert.equal(correlationId, 7);
    assert.equal(decoded.errorCode, 35);
    assert.ok(decoded.apiKeys.some((k: { apiKey: number }) => k.apiKey === 18));
    client.close();
  });
});

test('responses go out in request order even when a later request finishes first; null sends nothing', async () => {
  await withListener({}, async (listener) => {
    const client = await RawClient.connect(listener.port);
    const delays = [80, 5, -1, 40, 1];
    delays.forEach((delay, i) =>
      client.request(ApiKey.Heartbeat, 3, i, { groupId: 'g', generationId: delay, memberId: 'm' }),
    );
    const frames = await client.waitForFrames(4);
    assert.deepEqual(
      frames.map((f) => RawClient.decode(ApiKey.Heartbeat, 3, f).correlationId),
      [0, 1, 3, 4],
    );
    assert.deepEqual(
      frames.map((f) => RawClient.decode(ApiKey.Heartbeat, 3, f).body.errorCode),
      [80, 5, 40, 1],
    );
    client.close();
  });
});

test('reading pauses at the in-flight cap', async () => {
  const calls: number[] = [];
  await withListener({ handlers: [delayedHeartbeat(calls)], limits: { inFlightRequestsMax: 3 } }, async (listener) => {
    const client = await RawClient.connect(listener.port);
    for (let i = 0; i < 10; i++)
      client.request(ApiKey.Heartbeat, 3, i, { groupId: 'g', generationId: 200, memberId: 'm' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(calls.length, 3, 'only the capped number of requests is being handled');
    const frames = await client.waitForFrames(10, 5000);
    assert.equal(frames.length, 10, 'all requests are answered once earlier ones complete');
    client.close();
  });
});

test('hostile input closes only the offending connection, logged with the peer address', async () => {
  await withListener({ limits: { requestBytesMax: 1024 } }, async (listener, logger) => {
    const good = await RawClient.connect(listener.port);
    const attacks: Array<[string, Buffer]> = [
      ['oversize frame', Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 18])],
      ['negative size', Buffer.from([0xff, 0xff, 0xff, 0xfe])],
      ['tiny frame', Buffer.from([0, 0, 0, 2, 0, 18])],
      ['unknown api key', Buffer.from([0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff])],
      ['unsupported version', Buffer.from([0, 0, 0, 10, 0, 12, 0, 9, 0, 0, 0, 1, 0xff, 0xff])],
      ['truncated body', Buffer.from([0, 0, 0, 12, 0, 12, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0, 5])],
    ];
    for (const [name, bytes] of attacks) {
      const bad = await RawClient.connect(listener.port);
      bad.sendRaw(bytes);
      assert.ok(await bad.waitForClose(), `${name}: connection closed`);
    }
    withSeed('random frames', (random: Random) => {
      for (let i = 0; i < 20; i++) {
        void RawClient.connect(listener.port).then((bad) => {
          const body = random.bytes(random.int(10, 200));
          const size = Buffer.alloc(4);
          size.writeInt32BE(body.length);
          bad.sendRaw(Buffer.concat([size, body]));
          setTimeout(() => bad.close(), 500).unref();
        });
      }
    });
    good.request(ApiKey.Heartbeat, 3, 42, { groupId: 'g', generationId: 1, memberId: 'm' });
    const [frame] = await good.waitForFrames(1);
    assert.equal(
      RawClient.decode(ApiKey.Heartbeat, 3, frame!).correlationId,
      42,
      'the well-behaved client is still served',
    );
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    assert.ok(warnings.length >= attacks.length);
    assert.ok(
      warnings.every((l) => typeof l.fields.peer === 'string' && /^127\.0\.0\.1:\d+$/.test(l.fields.peer as string)),
    );
    assert.ok(warnings.some((l) => /unsupported API key 999/.test(l.message)));
    good.close();
  });
});

test('connections beyond max.connections are closed at accept', async () => {
  await withListener({ limits: { connectionsMax: 2 } }, async (listener) => {
    const first = await RawClient.connect(listener.port);
    const second = await RawClient.connect(listener.port);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const third = await RawClient.connect(listener.port);
    assert.ok(await third.waitForClose(), 'third connection refused');
    first.request(ApiKey.ApiVersions, 2, 1, {});
    assert.equal((await first.waitForFrames(1)).length, 1);
    first.close();
    second.close();
  });
});

test('an idle connection is closed after connections.max.idle.ms', async () => {
  await withListener({ limits: { idleTimeoutMs: 100 } }, async (listener) => {
    const client = await RawClient.connect(listener.port);
    assert.ok(await client.waitForClose(2000));
  });
});

test('a client that does not read its responses makes the broker stop reading its requests', async () => {
  let calls = 0;
  const big: KafkaHandler = {
    apiKey: ApiKey.SaslAuthenticate,
    name: 'SaslAuthenticate',
    versions: { min: 0, max: 2 },
    handle() {
      calls++;
      return { errorCode: 0, errorMessage: null, authBytes: Buffer.alloc(1024 * 1024, 7) };
    },
  };
  await withListener(
    { handlers: [big], limits: { outputBufferBytesMax: 2 * 1024 * 1024, inFlightRequestsMax: 1000 } },
    async (listener) => {
      const client = await RawClient.connect(listener.port);
      client.socket.pause(); // a slow reader: nothing is read from the socket
      for (let i = 0; i < 200; i++) client.request(ApiKey.SaslAuthenticate, 0, i, { authBytes: Buffer.from('x') });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const whilePaused = calls;
      assert.ok(whilePaused < 40, `${whilePaused} responses of 1 MiB were produced for a client that reads nothing`);
      client.socket.resume();
      const frames = await client.waitForFrames(200, 20_000);
      assert.equal(frames.length, 200, 'everything is answered once the client reads');
      client.close();
    },
  );
});
