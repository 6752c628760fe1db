// Hostile input against the full broker (listener, handlers, broker, storage) in this process, as
// bytes that are wrong: random bytes, mutated valid requests of several APIs, and mutated batches
// whose CRC is repaired so they pass every header check. The other hostile inputs are in
// hostile-input-framing.test.ts and hostile-input-connections.test.ts.
// Throughout, a well-behaved client on its own connection (the canary, test/support/hostile-broker.ts)
// keeps producing and fetching; the process never crashes (an uncaught exception fails the run); the
// records written before the first attack are read back unchanged at the end; every connection the
// broker closes is logged with its peer address.
//
// Randomized cases print their seed (t.diagnostic) and replay with SLUICE_SEED=<seed>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiCodecs, ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { crc32c } from '../../src/protocol/record-batch/crc32c.js';
import {
  ATTRIBUTES_OFFSET,
  Compression,
  CRC_OFFSET,
  CRC_START_OFFSET,
  RECORDS_OFFSET,
  RecordBatchHeader,
} from '../../src/protocol/record-batch/header.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { FUZZ, FUZZ_CRC, hostileBroker, pool, sampleRequests, seeded, withSize } from '../support/hostile-broker.js';
import { RawClient } from '../support/raw-client.js';
import type { Random } from '../support/random.js';
import { readPartition } from '../support/read-partition.js';

const target = hostileBroker();

// ---------------------------------------------------------------- attacks

test('random bytes: closed or answered, never a crash or a stuck connection', async (t) => {
  await seeded(t, 'random bytes', async (random) => {
    await target.whileCanaryWorks('random bytes', async () => {
      const knownKeys = [...apiCodecs.keys()];
      const cases: Array<{ bytes: Buffer; mayWait: boolean }> = [];
      for (let i = 0; i < 300; i++) {
        const kind = i % 3;
        if (kind === 0) {
          // Pure noise, size prefix included.
          cases.push({ bytes: random.bytes(random.int(4, 300)), mayWait: true });
        } else if (kind === 1) {
          // A plausible size prefix, then noise.
          const message = random.bytes(random.int(10, 400));
          const apiKey = message.readInt16BE(0);
          cases.push({ bytes: withSize(message), mayWait: apiKey === ApiKey.Produce || apiKey === ApiKey.Fetch });
        } else {
          // A real API key and version in the header, then noise: reaches the body decoders.
          const apiKey = random.pick(knownKeys);
          const header = Buffer.alloc(10);
          header.writeInt16BE(apiKey, 0);
          header.writeInt16BE(random.int(0, 12), 2);
          header.writeInt32BE(i, 4);
          header.writeInt16BE(-1, 8); // null client id
          // Produce may be acks=0 and Fetch may long-poll: no answer is legitimate for them.
          cases.push({
            bytes: withSize(Buffer.concat([header, random.bytes(random.int(0, 300))])),
            mayWait: apiKey === ApiKey.Produce || apiKey === ApiKey.Fetch,
          });
        }
      }
      const observations = await pool(cases, 32, ({ bytes }) => target.attack(bytes, 1500));
      const logged = target.closedPeers(Math.min(...observations.map((o) => o.logFrom)));
      const counts = { closed: 0, answered: 0, pending: 0 };
      observations.forEach(({ outcome, peer }, i) => {
        counts[outcome]++;
        if (outcome === 'pending')
          assert.ok(
            cases[i]!.mayWait,
            `case ${i} (${cases[i]!.bytes.subarray(0, 16).toString('hex')}…) neither answered nor closed`,
          );
        if (outcome === 'closed') assert.ok(logged.has(peer), `case ${i}: closing logged with peer ${peer}`);
      });
      t.diagnostic(`random bytes: ${JSON.stringify(counts)}`);
      assert.ok(counts.closed > cases.length / 2);
    });
  });
});

/** One seeded mutation of a request message (the bytes after the size prefix); returns the new message. */
function mutate(random: Random, message: Buffer): { message: Buffer; how: string } {
  const out = Buffer.from(message);
  const position = () => random.int(0, out.length - 1);
  switch (random.int(0, 6)) {
    case 0: {
      const at = position();
      const bit = random.int(0, 7);
      out[at]! ^= 1 << bit;
      return { message: out, how: `flip bit ${bit} of byte ${at}` };
    }
    case 1: {
      const at = position();
      const value = random.pick([0x00, 0xff, 0x7f, 0x80, 0x01, random.int(0, 255)]);
      out[at] = value;
      return { message: out, how: `byte ${at} = 0x${value.toString(16)}` };
    }
    case 2: {
      const at = random.int(0, Math.max(0, out.length - 4));
      const value = random.pick([0x7fffffff, -0x80000000, -1, 0, 0x10000, 1_000_000_000]);
      if (at + 4 <= out.length) out.writeInt32BE(value, at);
      return { message: out, how: `int32 at ${at} = ${value}` };
    }
    case 3: {
      const count = random.int(2, 8);
      for (let i = 0; i < count; i++) out[position()] = random.int(0, 255);
      return { message: out, how: `${count} random bytes` };
    }
    case 4: {
      const cut = random.int(8, out.length - 1);
      return { message: out.subarray(0, cut), how: `truncated at ${cut}` };
    }
    case 5: {
      const at = random.int(8, out.length);
      const inserted = random.bytes(random.int(1, 16));
      return {
        message: Buffer.concat([out.subarray(0, at), inserted, out.subarray(at)]),
        how: `${inserted.length} bytes inserted at ${at}`,
      };
    }
    default: {
      const from = random.int(8, out.length - 1);
      const length = random.int(1, Math.min(32, out.length - from));
      const at = random.int(8, out.length);
      return {
        message: Buffer.concat([out.subarray(0, at), out.subarray(from, from + length), out.subarray(at)]),
        how: `${length} bytes from ${from} repeated at ${at}`,
      };
    }
  }
}

// The requests: Produce, Fetch, Metadata, CreateTopics, ListOffsets and ApiVersions.
test('mutated valid requests: closed or answered, nothing corrupt stored', async (t) => {
  const samples = sampleRequests();
  // The unmutated samples are valid: each is answered (checks the fixtures, not the broker's defences).
  for (const sample of samples) {
    const { outcome } = await target.attack(sample.frame, 3000);
    assert.equal(outcome, 'answered', `${sample.name} unmutated`);
  }
  await seeded(t, 'mutated requests', async (random) => {
    await target.whileCanaryWorks('mutated requests', async () => {
      const cases = Array.from({ length: 700 }, (_, i) => {
        const sample = samples[i % samples.length]!;
        const { message, how } = mutate(random, sample.frame.subarray(4));
        return { name: `${sample.name}: ${how}`, apiKey: sample.apiKey, bytes: withSize(message) };
      });
      const observations = await pool(cases, 32, ({ bytes }) => target.attack(bytes, 1500));
      const logged = target.closedPeers(Math.min(...observations.map((o) => o.logFrom)));
      const counts = { closed: 0, answered: 0, pending: 0 };
      observations.forEach(({ outcome, peer }, i) => {
        counts[outcome]++;
        const { name, apiKey, bytes } = cases[i]!;
        // Produce may have become acks=0 and Fetch may long-poll for the mutated max_wait_ms.
        if (outcome === 'pending')
          assert.ok(
            apiKey === ApiKey.Produce || apiKey === ApiKey.Fetch,
            `${name} (${bytes.toString('hex')}): neither answered nor closed`,
          );
        if (outcome === 'closed') assert.ok(logged.has(peer), `${name}: closing logged with peer ${peer}`);
        if (outcome === 'answered') {
          // The answer is well-formed for the API, version and correlation id the (mutated) header names.
          const message = bytes.subarray(4);
          const [answeredKey, answeredVersion, correlationId] = [
            message.readInt16BE(0),
            message.readInt16BE(2),
            message.readInt32BE(4),
          ];
          const bodyVersion = answeredKey === ApiKey.ApiVersions && answeredVersion > 4 ? 0 : answeredVersion;
          let decoded;
          try {
            decoded = RawClient.decode(answeredKey, bodyVersion, observations[i]!.response!);
          } catch (error) {
            assert.fail(
              `${name}: the answer does not decode as ${answeredKey} v${bodyVersion}: ${(error as Error).message}`,
            );
          }
          assert.equal(decoded.correlationId, correlationId, `${name}: answer's correlation id`);
        }
      });
      t.diagnostic(`mutated requests: ${JSON.stringify(counts)} of ${cases.length}`);
    });
  });
  // Whatever the mutated Produce requests got appended decodes cleanly (CRC, lengths, records).
  for (const partition of [0, 1]) {
    const records = await readPartition(target.server.port, FUZZ, partition);
    for (const [i, r] of records.entries())
      assert.equal(r.offset, records[0]!.offset + i, `${FUZZ}-${partition}: offsets contiguous`);
  }
});

// A mutation that keeps the CRC right gets past every header check: the broker then has to look at
// the records themselves. Kafka does (LogValidator walks every record of a v2 batch, decompressing
// if needed, and answers CORRUPT_MESSAGE / INVALID_RECORD); a broker that stores such a batch serves
// every consumer of the partition a batch it cannot parse.
// Produce validation reads the batch header and CRC only (DESIGN.md, "The hot path"; see
// src/broker/produce-validation.ts): records that do not parse behind a valid header and CRC are
// the producing client's fault and are stored as sent. What the broker guarantees: an unknown codec
// is refused, and whatever it accepts is served back byte for byte with a valid header and CRC.
test('CRC-repaired mutated batches: unknown codecs refused, accepted batches come back byte for byte', async (t) => {
  await seeded(t, 'CRC-repaired batches', async (random) => {
    const client = await RawClient.connect(target.server.port);
    const accepted: Array<{ how: string; offset: bigint; bytes: Buffer }> = [];
    let unknownCodecs = 0;
    const refused = new Map<number, number>();
    try {
      for (let i = 0; i < 200; i++) {
        const compression = random.pick([
          Compression.None,
          Compression.None,
          Compression.Gzip,
          Compression.Snappy,
          Compression.Lz4,
        ]);
        const batch = encodeRecordBatchSync({
          compression,
          records: Array.from({ length: 3 }, (_, n) => ({
            key: Buffer.from(`key-${n}`),
            value: Buffer.from(`value-${n}-${'z'.repeat(n * 5)}`),
            headers: [{ key: 'h', value: Buffer.from(String(n)) }],
          })),
        });
        const mutated = Buffer.from(batch);
        const count = random.int(1, 3);
        const positions: number[] = [];
        for (let k = 0; k < count; k++) {
          // Mostly in the records, sometimes the CRC-covered attributes (codec bits).
          const at = random.chance(0.1) ? ATTRIBUTES_OFFSET + 1 : random.int(RECORDS_OFFSET, mutated.length - 1);
          mutated[at] = random.int(0, 255);
          positions.push(at);
        }
        mutated.writeUInt32BE(crc32c(mutated.subarray(CRC_START_OFFSET)), CRC_OFFSET);
        const how = `codec ${compression}, bytes ${positions.join(', ')} of ${mutated.length} changed`;
        client.request(ApiKey.Produce, 7, i, {
          acks: -1,
          timeoutMs: 5000,
          topicData: [{ name: FUZZ_CRC, partitionData: [{ index: 0, records: mutated }] }],
        });
        const frames = await client.waitForFrames(i + 1, 5000);
        assert.ok(frames[i], `case ${i}: produce answered`);
        const answer = RawClient.decode(ApiKey.Produce, 7, frames[i]).body.responses[0].partitionResponses[0];
        const codecBits = mutated.readInt16BE(ATTRIBUTES_OFFSET) & 0x07;
        if (codecBits > 4) {
          unknownCodecs++;
          assert.equal(answer.errorCode, ErrorCode.CORRUPT_MESSAGE, `case ${i}: codec ${codecBits} refused`);
        }
        if (answer.errorCode === 0) accepted.push({ how, offset: answer.baseOffset, bytes: mutated });
        else refused.set(answer.errorCode, (refused.get(answer.errorCode) ?? 0) + 1);
      }
    } finally {
      client.close();
    }
    t.diagnostic(
      `CRC-repaired batches: ${accepted.length} accepted, ` +
        `refused by error code: ${JSON.stringify(Object.fromEntries(refused))}`,
    );
    // Read each accepted batch back on its own: the bytes sent, with the broker's offset and epoch.
    const reader = await RawClient.connect(target.server.port);
    const changed: string[] = [];
    try {
      for (const [i, { how, offset, bytes }] of accepted.entries()) {
        reader.request(ApiKey.Fetch, 11, i, {
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1,
          isolationLevel: 0,
          topics: [{ topic: FUZZ_CRC, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1 }] }],
        });
        const frames = await reader.waitForFrames(i + 1, 5000);
        assert.ok(frames[i], `fetch at ${offset} answered`);
        const partition = RawClient.decode(ApiKey.Fetch, 11, frames[i]).body.responses[0].partitions[0];
        assert.equal(partition.errorCode, 0);
        const served: Buffer = partition.records;
        const header = new RecordBatchHeader(served);
        if (
          served.length !== bytes.length ||
          !served.subarray(16).equals(bytes.subarray(16)) ||
          header.baseOffset !== Number(offset) ||
          !header.isCrcValid()
        ) {
          changed.push(
            `offset ${offset}: served ${served.length} bytes differ from the ${bytes.length} produced — ${how}`,
          );
        }
      }
    } finally {
      reader.close();
    }
    t.diagnostic(`${unknownCodecs} batches with an unknown codec, all refused`);
    assert.equal(changed.length, 0, changed.slice(0, 3).join('\n'));
  });
});

// ---------------------------------------------------------------- afterwards

test('data written before the attacks is intact, and every attacking connection is gone', async () => {
  await target.assertIntactAfterAttacks();
});
