// Hostile input against the full broker (listener, handlers, broker, storage) in this process, as
// connections that misbehave: clients that hang up before their answer, thousands of idle
// connections, more than max.connections, long-polls left behind, and one oversized Fetch against a
// broker in a child process. The other hostile inputs are in hostile-input-framing.test.ts and
// hostile-input-garbage.test.ts.
// Throughout, a well-behaved client on its own connection (the canary, test/support/hostile-broker.ts)
// keeps producing and fetching; the process never crashes (an uncaught exception fails the run); the
// records written before the first attack are read back unchanged at the end; every connection the
// broker closes is logged with its peer address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { startBrokerProcess } from '../support/broker-process.js';
import {
  Canary,
  CANARY,
  eventually,
  FUZZ,
  HostileTarget,
  hostileBroker,
  pool,
  requestFrame,
  sleep,
} from '../support/hostile-broker.js';
import { RawClient } from '../support/raw-client.js';
import { readPartition } from '../support/read-partition.js';
import { startTestBroker } from '../support/test-broker.js';

const target = hostileBroker();

// ---------------------------------------------------------------- attacks

test('clients that hang up before their answer: nothing breaks, and a delivered produce is appended', async () => {
  await target.whileCanaryWorks('hang-ups', async () => {
    const before = await readPartition(target.server.port, FUZZ, 1);
    const values = Array.from({ length: 100 }, (_, i) => `hang-up-${i}`);
    await pool(values, 25, async (value, i) => {
      const client = await RawClient.connect(target.server.port);
      const records = encodeRecordBatchSync({ records: [{ value: Buffer.from(value) }] });
      client.sendRaw(
        requestFrame(ApiKey.Produce, 7, 1, {
          acks: -1,
          timeoutMs: 5000,
          topicData: [{ name: FUZZ, partitionData: [{ index: 1, records }] }],
        }),
      );
      client.sendRaw(
        requestFrame(ApiKey.Fetch, 11, 2, {
          maxWaitMs: 500,
          minBytes: 1 << 20,
          maxBytes: 1 << 20,
          isolationLevel: 0,
          topics: [{ topic: FUZZ, partitions: [{ partition: 1, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
        }),
      );
      client.sendRaw(requestFrame(ApiKey.Metadata, 9, 3, { topics: null, allowAutoTopicCreation: false }));
      // Half of them close politely after writing (FIN: every byte is delivered first), half at once.
      if (i % 2 === 0) client.socket.end();
      else client.close();
    });
    // The politely closed ones delivered their produce request whole: as in Kafka, it is appended
    // even though nobody is left to read the answer.
    const delivered = values.filter((_, i) => i % 2 === 0);
    const landed = async () =>
      new Set((await readPartition(target.server.port, FUZZ, 1)).slice(before.length).map((r) => r.value));
    let seen = await landed();
    for (let i = 0; i < 50 && !delivered.every((v) => seen.has(v)); i++) {
      await sleep(100);
      seen = await landed();
    }
    assert.deepEqual(
      delivered.filter((v) => !seen.has(v)),
      [],
      'delivered produce requests that were not appended',
    );
    assert.ok(
      await eventually(() => target.server.listener.connectionCount === 1, 5000),
      `connections left: ${target.server.listener.connectionCount - 1}`,
    );
  });
});

/** Opens `count` plain sockets (in waves, so the accept queue keeps up) and leaves them idle. */
async function openIdleSockets(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let wave = 0; wave < count; wave += 200) {
    const opened = await Promise.all(
      Array.from(
        { length: Math.min(200, count - wave) },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect({ port, host: '127.0.0.1' });
            socket.on('error', () => undefined);
            socket.once('connect', () => resolve(socket));
            socket.once('error', reject);
          }),
      ),
    );
    sockets.push(...opened);
  }
  return sockets;
}

test('two thousand idle connections: all accepted, the canary unaffected, all released', async () => {
  // Two file descriptors per connection here (both ends live in this process).
  await target.whileCanaryWorks('idle connections', async () => {
    const baseline = target.server.listener.connectionCount;
    const sockets = await openIdleSockets(target.server.port, 2000);
    try {
      assert.ok(
        await eventually(() => target.server.listener.connectionCount >= baseline + 2000, 10_000),
        `accepted ${target.server.listener.connectionCount - baseline} of 2000`,
      );
      const roundsBefore = target.canary.rounds;
      assert.ok(
        await eventually(() => target.canary.rounds > roundsBefore + 3, 5000),
        'the canary keeps going with 2000 idle connections open',
      );
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    assert.ok(
      await eventually(() => target.server.listener.connectionCount === baseline, 10_000),
      `connections left: ${target.server.listener.connectionCount - baseline}`,
    );
  });
});

// An existing client keeps working throughout.
test('beyond max.connections new connections are refused at accept, idle ones time out', async () => {
  const limited = await startTestBroker({
    properties: { 'max.connections': '300', 'connections.max.idle.ms': '1000' },
  });
  // This broker has a canary of its own; the file's broker is left alone.
  let flooded: HostileTarget | undefined;
  try {
    assert.equal((await limited.broker.createTopic(CANARY, 1, {})).errorCode, 0);
    flooded = HostileTarget.of(limited, await Canary.open(limited.port));
    await flooded.canary.roundTrip();
    await flooded.whileCanaryWorks('connection flood', async () => {
      const sockets = await openIdleSockets(limited.port, 400);
      const closedByBroker = new Set<Socket>();
      for (const socket of sockets) socket.once('close', () => closedByBroker.add(socket));
      try {
        assert.ok(
          await eventually(() => closedByBroker.size >= 101, 5000),
          `refused ${closedByBroker.size} of the 101 over the limit`,
        );
        assert.ok(limited.listener.connectionCount <= 300);
        const refusals = limited.logger.lines.filter((l) => /max\.connections/.test(l.message));
        assert.ok(refusals.length >= 101);
        assert.ok(
          refusals.every(
            (l) => typeof l.fields.peer === 'string' && /^127\.0\.0\.1:\d+$/.test(l.fields.peer as string),
          ),
        );
        // connections.max.idle.ms closes the rest; the canary is never idle long enough.
        assert.ok(
          await eventually(() => closedByBroker.size === sockets.length, 5000),
          `idle connections still open: ${sockets.length - closedByBroker.size}`,
        );
        const idleLines = limited.logger.lines.filter((l) => /idle/.test(l.message));
        assert.ok(idleLines.length >= sockets.length - 101 - 1);
        assert.ok(idleLines.every((l) => typeof l.fields.peer === 'string'));
        // Room again: a new client connects and is served.
        const late = await RawClient.connect(limited.port);
        late.request(ApiKey.ApiVersions, 3, 5, { clientSoftwareName: 'late', clientSoftwareVersion: '1' });
        assert.equal((await late.waitForFrames(1)).length, 1, 'a new connection is served once idle ones are gone');
        late.close();
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    });
  } finally {
    flooded?.canary.close();
    await limited.close();
  }
});

// Fetch's max_bytes is the client's to choose (up to 2^31-1) and a request may name the same partition
// any number of times; each entry is read again. A few KiB of request can so ask for more than the
// 2 GiB an int32 frame size can carry. Kafka keys the partitions of a fetch by topic-partition (one
// entry each) and caps the answer at the broker's fetch.max.bytes (55 MiB). The broker runs in a
// child process here (it reads ~2 GiB before anything is sent), so a crash fails this test only.
test('a Fetch naming one partition hundreds of times with max_bytes 2^31-1 leaves the broker up', async () => {
  const child = await startBrokerProcess();
  try {
    const setup = await RawClient.connect(child.port);
    setup.request(ApiKey.CreateTopics, 7, 1, {
      topics: [{ name: 'big', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 5000,
      validateOnly: false,
    });
    await setup.waitForFrames(1, 5000);
    for (let i = 0; i < 8; i++) {
      const records = encodeRecordBatchSync({ records: [{ value: Buffer.alloc(1_000_000, i) }] });
      setup.request(ApiKey.Produce, 7, 2 + i, {
        acks: 1,
        timeoutMs: 5000,
        topicData: [{ name: 'big', partitionData: [{ index: 0, records }] }],
      });
    }
    const frames = await setup.waitForFrames(9, 20_000);
    assert.equal(frames.length, 9);
    assert.equal(RawClient.decode(ApiKey.CreateTopics, 7, frames[0]!).body.topics[0].errorCode, 0, 'topic created');
    for (const frame of frames.slice(1))
      assert.equal(
        RawClient.decode(ApiKey.Produce, 7, frame).body.responses[0].partitionResponses[0].errorCode,
        0,
        '1 MB produced',
      );
    setup.close();

    // 300 entries of 8 MB: 2.4 GB asked for with a 5 KB request. Bytes are counted, not buffered.
    const attacker = connect({ port: child.port, host: '127.0.0.1' });
    await new Promise((resolve) => attacker.once('connect', resolve));
    let received = 0;
    let declared = -1;
    let closed = false;
    attacker.on('data', (data: Buffer) => {
      if (declared < 0 && data.length >= 4) declared = data.readInt32BE(0);
      received += data.length;
    });
    attacker.on('close', () => (closed = true));
    attacker.on('error', () => undefined);
    attacker.write(
      requestFrame(ApiKey.Fetch, 11, 1, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 2 ** 31 - 1,
        isolationLevel: 0,
        topics: [
          {
            topic: 'big',
            partitions: Array.from({ length: 300 }, () => ({
              partition: 0,
              fetchOffset: 0n,
              partitionMaxBytes: 2 ** 31 - 1,
            })),
          },
        ],
      }),
    );
    await eventually(() => closed || child.exited() !== null || (declared >= 0 && received >= declared + 4), 60_000);
    attacker.destroy();
    await sleep(200);
    assert.equal(
      child.exited(),
      null,
      `the broker process exited (${child.exited()}):\n${child.stderr().split('\n').slice(0, 20).join('\n')}`,
    );
    const after = await RawClient.connect(child.port);
    after.request(ApiKey.ApiVersions, 3, 1, { clientSoftwareName: 'after', clientSoftwareVersion: '1' });
    assert.equal((await after.waitForFrames(1)).length, 1, 'still serving');
    after.close();
  } finally {
    await child.stop();
  }
});

// A parked Fetch holds a waiter and a timer until max_wait_ms (client-chosen, up to 24.8 days) and is
// re-run on every append to its partitions. One connection may pipeline up to
// sluice.connection.in.flight.max (64) of them, so a client that connects, parks 64 fetches and hangs
// up, over and over, grows the broker without bound. Their answers can no longer be delivered:
// closing the connection should release them.
test('long-polling fetches of a client that hung up are released with its connection', async () => {
  const refTimers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
  assert.equal((await target.server.broker.createTopic('parked', 1, {})).errorCode, 0);
  const baseline = refTimers();
  try {
    const clients = await Promise.all(Array.from({ length: 4 }, () => RawClient.connect(target.server.port)));
    for (const client of clients) {
      for (let i = 0; i < 64; i++) {
        client.request(ApiKey.Fetch, 11, i, {
          maxWaitMs: 30_000,
          minBytes: 2 ** 31 - 1,
          maxBytes: 1 << 20,
          isolationLevel: 0,
          topics: [{ topic: 'parked', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
        });
      }
    }
    assert.ok(await eventually(() => refTimers() - baseline >= 4 * 64, 3000), `parked: ${refTimers() - baseline}`);
    for (const client of clients) client.close();
    assert.ok(await eventually(() => target.server.listener.connectionCount === 1, 3000));
    await sleep(200);
    const left = refTimers() - baseline;
    assert.equal(left, 0, `${left} parked fetches (and their timers) outlive the connections that sent them`);
  } finally {
    // Deleting the topic wakes its waiters, which then end: nothing lingers past this test.
    await target.server.broker.deleteTopic('parked');
  }
});

// A Fetch may park for max_wait_ms, which the client chooses (up to 2^31-1 ms, 24.8 days). Its timer
// must not outlive the broker: an embedding application or test runner that awaits close() and
// expects the process to exit would otherwise wait for the slowest long-poll any client sent.
test('a long-polling Fetch from a client that hung up does not keep the process alive after close()', async () => {
  const refTimers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
  const baseline = refTimers();
  const quiet = await startTestBroker();
  try {
    assert.equal((await quiet.broker.createTopic('quiet', 1, {})).errorCode, 0);
    for (let i = 0; i < 5; i++) {
      const client = await RawClient.connect(quiet.port);
      client.request(ApiKey.Fetch, 11, 1, {
        maxWaitMs: 60_000,
        minBytes: 2 ** 31 - 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        topics: [{ topic: 'quiet', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
      });
      await sleep(20);
      client.close();
    }
    await sleep(100);
  } finally {
    await quiet.close();
  }
  await sleep(100);
  const left = refTimers() - baseline;
  // Clean-up for this test file only: an append would wake the parked fetches; the broker is closed,
  // so wake them directly, or this process would linger until max_wait_ms runs out.
  quiet.broker.partitions.wake('quiet', 0);
  assert.equal(left, 0, `${left} timer(s) of parked fetches still keep the process alive after close()`);
});

// ---------------------------------------------------------------- afterwards

test('data written before the attacks is intact, and every attacking connection is gone', async () => {
  await target.assertIntactAfterAttacks();
});
