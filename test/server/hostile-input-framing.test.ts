// Hostile input against the full broker (listener, handlers, broker, storage) in this process, at
// the framing level: size prefixes out of bounds, frames that never complete or whose body is cut
// short, requests dribbled a byte at a time or split at odd places, unknown API keys and versions.
// The other hostile inputs are in hostile-input-garbage.test.ts and hostile-input-connections.test.ts.
// Throughout, a well-behaved client on its own connection (the canary, test/support/hostile-broker.ts)
// keeps producing and fetching; the process never crashes (an uncaught exception fails the run); the
// records written before the first attack are read back unchanged at the end; every connection the
// broker closes is logged with its peer address.
//
// Randomized cases print their seed (t.diagnostic) and replay with SLUICE_SEED=<seed>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import {
  eventually,
  FUZZ,
  hostileBroker,
  pool,
  PRECIOUS,
  requestFrame,
  sampleRequests,
  seeded,
  sleep,
  withSize,
} from '../support/hostile-broker.js';
import { RawClient } from '../support/raw-client.js';

const target = hostileBroker();

// ---------------------------------------------------------------- attacks

test('size prefixes out of bounds close the connection unread, logged with the peer', async () => {
  await target.whileCanaryWorks('bad sizes', async () => {
    const sizes = [100 * 1024 * 1024 + 1, 0x7fffffff, -1, -(2 ** 31), 0, 1, 9];
    for (const size of sizes) {
      const prefix = Buffer.alloc(8, 0);
      prefix.writeInt32BE(size);
      const { outcome, peer, logFrom } = await target.attack(prefix, 3000);
      assert.equal(outcome, 'closed', `size ${size}`);
      const line = target.lineAbout(peer, logFrom);
      assert.ok(line, `size ${size}: a log line names the peer ${peer}`);
      assert.match(line.message, /request size/);
      assert.equal(line.level, 'warn');
    }
  });
});

test('truncated frames: a frame that never completes holds nothing, and hanging up mid-frame is harmless', async () => {
  await target.whileCanaryWorks('truncated frames', async () => {
    const metadata = requestFrame(ApiKey.Metadata, 9, 1, {
      topics: [{ name: PRECIOUS }],
      allowAutoTopicCreation: false,
    });
    const idle: RawClient[] = [];
    // Every proper prefix of a valid request: the broker waits for the rest and answers nothing.
    for (let cut = 1; cut < metadata.length; cut++) {
      const client = await RawClient.connect(target.server.port);
      client.sendRaw(metadata.subarray(0, cut));
      idle.push(client);
    }
    // A frame that announces 50 MiB (under socket.request.max.bytes) and delivers 1 MiB.
    const big = await RawClient.connect(target.server.port);
    const announced = Buffer.alloc(1024 * 1024, 0x41);
    announced.writeInt32BE(50 * 1024 * 1024);
    big.sendRaw(announced);
    idle.push(big);
    await sleep(300);
    assert.ok(
      idle.every((c) => c.frames.length === 0 && !c.closed),
      'incomplete frames are neither answered nor rejected',
    );
    // Half of them hang up politely (FIN), half abruptly (RST-ish destroy).
    idle.forEach((c, i) => (i % 2 === 0 ? c.socket.end() : c.close()));
    assert.ok(
      await eventually(() => target.server.listener.connectionCount === 1, 5000),
      `connections left: ${target.server.listener.connectionCount}`,
    );
  });
});

test('requests dribbled a byte at a time, or glued and split at odd places, are answered in order', async (t) => {
  await seeded(t, 'odd chunking', async (random) => {
    await target.whileCanaryWorks('odd chunking', async () => {
      const frames = [
        requestFrame(ApiKey.Metadata, 9, 1, { topics: [{ name: PRECIOUS }], allowAutoTopicCreation: false }),
        requestFrame(ApiKey.Produce, 7, 2, {
          acks: -1,
          timeoutMs: 5000,
          topicData: [
            {
              name: FUZZ,
              partitionData: [
                { index: 0, records: encodeRecordBatchSync({ records: [{ value: Buffer.from('dribbled') }] }) },
              ],
            },
          ],
        }),
        requestFrame(ApiKey.ListOffsets, 5, 3, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [{ name: PRECIOUS, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
        }),
        requestFrame(ApiKey.ApiVersions, 3, 4, { clientSoftwareName: 'dribble', clientSoftwareVersion: '1' }),
      ];
      const all = Buffer.concat(frames);
      const answersOf = async (write: (client: RawClient) => Promise<void>) => {
        const client = await RawClient.connect(target.server.port);
        client.socket.setNoDelay(true);
        await write(client);
        const answers = await client.waitForFrames(frames.length, 5000);
        client.close();
        return answers.map(
          (frame, i) =>
            RawClient.decode(
              [ApiKey.Metadata, ApiKey.Produce, ApiKey.ListOffsets, ApiKey.ApiVersions][i]!,
              [9, 7, 5, 3][i]!,
              frame,
            ).correlationId,
        );
      };
      // One byte per write, with pauses so each arrives on its own.
      const dribbled = await answersOf(async (client) => {
        for (let i = 0; i < all.length; i++) {
          client.sendRaw(all.subarray(i, i + 1));
          if (i % 16 === 0) await sleep(1);
        }
      });
      assert.deepEqual(dribbled, [1, 2, 3, 4]);
      // Random cut points across frame boundaries.
      const chopped = await answersOf(async (client) => {
        let at = 0;
        while (at < all.length) {
          const next = Math.min(all.length, at + random.int(1, 40));
          client.sendRaw(all.subarray(at, next));
          at = next;
          await sleep(random.int(0, 2));
        }
      });
      assert.deepEqual(chopped, [1, 2, 3, 4]);
    });
  });
});

test('a complete frame whose body is cut short is a decode error: closed and logged', async () => {
  const samples = sampleRequests();
  await target.whileCanaryWorks('truncated bodies', async () => {
    const cases: Array<{ name: string; bytes: Buffer }> = [];
    for (const { name, frame } of samples) {
      const message = frame.subarray(4);
      // Cut after the fixed header (api key, version, correlation id): every shorter body is invalid.
      for (let cut = 8; cut < message.length; cut += Math.max(1, Math.floor(message.length / 40))) {
        cases.push({ name: `${name} cut at ${cut}/${message.length}`, bytes: withSize(message.subarray(0, cut)) });
      }
    }
    const observations = await pool(cases, 32, ({ bytes }) => target.attack(bytes, 3000));
    const logged = target.closedPeers(Math.min(...observations.map((o) => o.logFrom)));
    observations.forEach(({ outcome, peer }, i) => {
      assert.equal(outcome, 'closed', cases[i]!.name);
      assert.ok(logged.has(peer), `${cases[i]!.name}: closing logged with peer ${peer}`);
    });
  });
});

// An ApiVersions newer than ours is answered instead (KIP-511).
test('unknown API keys and unsupported versions close the connection, logged with the peer', async () => {
  await target.whileCanaryWorks('unknown APIs', async () => {
    const header = (apiKey: number, apiVersion: number) => {
      const bytes = Buffer.alloc(14);
      bytes.writeInt16BE(apiKey, 0);
      bytes.writeInt16BE(apiVersion, 2);
      bytes.writeInt32BE(77, 4);
      bytes.writeInt16BE(4, 8);
      bytes.write('evil', 10, 'latin1');
      return bytes;
    };
    const rejected: Array<[string, number, number, RegExp]> = [
      ['key 999', 999, 0, /unsupported API key 999/],
      ['key 32767', 32767, 0, /unsupported API key 32767/],
      ['key -1', -1, 0, /unsupported API key -1/],
      ['WriteTxnMarkers (not served)', 27, 0, /unsupported API key 27/],
      ['key 68 (not served)', 68, 0, /unsupported API key 68/],
      ['Produce v0 (advertised, refused as Kafka does)', ApiKey.Produce, 0, /unsupported version 0 of Produce/],
      ['Produce v14', ApiKey.Produce, 14, /unsupported version 14 of Produce/],
      ['Fetch v3', ApiKey.Fetch, 3, /unsupported version 3 of Fetch/],
      ['Fetch v13', ApiKey.Fetch, 13, /unsupported version 13 of Fetch/],
      ['Metadata v10', ApiKey.Metadata, 10, /unsupported version 10 of Metadata/],
      ['Metadata v-1', ApiKey.Metadata, -1, /unsupported version -1 of Metadata/],
      ['ListOffsets v0', ApiKey.ListOffsets, 0, /unsupported version 0 of ListOffsets/],
      ['CreateTopics v32767', ApiKey.CreateTopics, 32767, /unsupported version 32767 of CreateTopics/],
    ];
    for (const [name, apiKey, apiVersion, message] of rejected) {
      // After the client id: an empty tagged-field section (read only if the header is v2), then junk.
      const { outcome, peer, logFrom } = await target.attack(
        withSize(Buffer.concat([header(apiKey, apiVersion), Buffer.from([0, 1, 2, 3])])),
        3000,
      );
      assert.equal(outcome, 'closed', name);
      const line = target.lineAbout(peer, logFrom);
      assert.ok(line, `${name}: logged with peer ${peer}`);
      assert.match(line.message, message, name);
      assert.equal(line.fields.apiKey, apiKey);
      assert.equal(line.fields.apiVersion, apiVersion);
    }
    // KIP-511: an ApiVersions newer than ours is answered (v0 body, UNSUPPORTED_VERSION), not closed.
    for (const version of [5, 99, 32767]) {
      const client = await RawClient.connect(target.server.port);
      client.sendRaw(withSize(Buffer.concat([header(ApiKey.ApiVersions, version), Buffer.from([0, 1, 2, 3])])));
      const [frame] = await client.waitForFrames(1);
      assert.ok(frame, `ApiVersions v${version} answered`);
      const { correlationId, body } = RawClient.decode(ApiKey.ApiVersions, 0, frame);
      assert.equal(correlationId, 77);
      assert.equal(body.errorCode, ErrorCode.UNSUPPORTED_VERSION);
      assert.ok(!client.closed);
      client.close();
    }
  });
});

// ---------------------------------------------------------------- afterwards

test('data written before the attacks is intact, and every attacking connection is gone', async () => {
  await target.assertIntactAfterAttacks();
});
