// Hostile input against the full broker (listener, handlers, broker, storage) in this process:
// oversize and truncated frames, random bytes, mutated valid requests of several APIs (also with the
// batch CRC repaired), unknown API keys and versions, clients that hang up early, thousands of idle
// connections, long-polls left behind, and one oversized Fetch against a broker in a child process.
// Throughout, a well-behaved client on its own connection (the canary) keeps producing and fetching;
// the process never crashes (an uncaught exception fails the run); the records written before the
// first attack are read back unchanged at the end; every connection the broker closes is logged with
// its peer address.
//
// Randomized cases print their seed (t.diagnostic) and replay with SLUICE_SEED=<seed>.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { beginRequestFrame, finishFrame } from '../../src/protocol/frame.js';
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
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { startBrokerProcess } from '../support/broker-process.js';
import { RawClient } from '../support/raw-client.js';
import { Random, seedFromEnvironment } from '../support/random.js';
import { readPartition, type ReadRecord } from '../support/read-partition.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

/** Written before any attack; must read back unchanged at the end. */
const PRECIOUS = 'precious';
/** Where mutated Produce requests write, so they can never touch PRECIOUS. */
const FUZZ = 'fuzz';
const CANARY = 'canary';
/** Where CRC-repaired mutated batches are produced. */
const FUZZ_CRC = 'fuzz-crc';

let server: TestBroker;
let canary: Canary;
const preciousBefore: ReadRecord[][] = [];

// ---------------------------------------------------------------- helpers

/** One request frame (size prefix included) built with our codecs. */
function requestFrame(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: object,
  clientId: string | null = 'hostile',
): Buffer {
  const frame = beginRequestFrame(apiKey, apiVersion, correlationId, clientId);
  apiCodecs.get(apiKey)!.encodeRequest(apiVersion, body, frame.writer);
  return Buffer.concat(finishFrame(frame));
}

function withSize(message: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(message.length);
  return Buffer.concat([size, message]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Runs `work` over `items` with at most `concurrency` at once. */
async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  });
  await Promise.all(workers);
  return results;
}

type Outcome = 'closed' | 'answered' | 'pending';

interface Observation {
  outcome: Outcome;
  /** The attacker's side of the connection, as the broker logs it. */
  peer: string;
  /** Log lines from here on may be about this connection (ports are reused, so not earlier ones). */
  logFrom: number;
  /** The first response frame, when answered. */
  response: Buffer | undefined;
}

/**
 * Opens a connection, writes `bytes`, and watches: the broker closes it, answers something, or does
 * neither within `waitMs`. The connection is closed by us afterwards in every case.
 */
async function attack(bytes: Buffer, waitMs: number): Promise<Observation> {
  const logFrom = server.logger.lines.length;
  const client = await RawClient.connect(server.port);
  const peer = `127.0.0.1:${client.socket.localPort}`;
  client.sendRaw(bytes);
  await client.waitForFrames(1, waitMs);
  const outcome: Outcome = client.frames.length > 0 ? 'answered' : client.closed ? 'closed' : 'pending';
  client.close();
  return { outcome, peer, logFrom, response: client.frames[0] };
}

/** Peers the broker logged a closed connection for since log line `from` (a line naming a peer and "closing"). */
function closedPeers(from: number): Set<string> {
  return new Set(
    server.logger.lines
      .slice(from)
      .filter((l) => /clos/i.test(l.message) && typeof l.fields.peer === 'string')
      .map((l) => l.fields.peer as string),
  );
}

/** The first log line about `peer` since line `from`. */
function lineAbout(peer: string, from: number) {
  return server.logger.lines.slice(from).find((l) => l.fields.peer === peer);
}

function handlerFailures(): string[] {
  return server.logger.lines.filter((l) => l.level === 'error').map((l) => `${l.message}: ${JSON.stringify(l.fields)}`);
}

/**
 * The well-behaved client: on one long-lived connection it produces one record to CANARY (acks=-1)
 * and fetches it back, again and again while an attack runs. Every round must succeed.
 */
class Canary {
  private consumed = 0;
  private correlationId = 0;
  rounds = 0;
  readonly failures: string[] = [];
  private loop: Promise<void> | null = null;
  private stopping = false;

  private constructor(private readonly client: RawClient) {}

  static async open(port: number): Promise<Canary> {
    return new Canary(await RawClient.connect(port));
  }

  private async answer(apiKey: number, apiVersion: number, correlationId: number): Promise<any> {
    const frames = await this.client.waitForFrames(this.consumed + 1, 5000);
    const frame = frames[this.consumed];
    if (!frame) throw new Error(this.client.closed ? 'the canary connection was closed' : 'no answer within 5 s');
    this.consumed++;
    const decoded = RawClient.decode(apiKey, apiVersion, frame);
    if (decoded.correlationId !== correlationId)
      throw new Error(`answer for correlation id ${decoded.correlationId}, expected ${correlationId}`);
    return decoded.body;
  }

  /** One produce + fetch round trip; throws on any deviation. */
  async roundTrip(): Promise<void> {
    const offset = this.rounds;
    const value = `canary-${offset}`;
    const produceId = ++this.correlationId;
    const records = encodeRecordBatchSync({ records: [{ key: Buffer.from('canary'), value: Buffer.from(value) }] });
    this.client.request(ApiKey.Produce, 7, produceId, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: CANARY, partitionData: [{ index: 0, records }] }],
    });
    const produced = (await this.answer(ApiKey.Produce, 7, produceId)).responses[0].partitionResponses[0];
    if (produced.errorCode !== 0 || produced.baseOffset !== BigInt(offset))
      throw new Error(
        `produce answered error ${produced.errorCode} at offset ${produced.baseOffset}, expected offset ${offset}`,
      );
    const fetchId = ++this.correlationId;
    this.client.request(ApiKey.Fetch, 11, fetchId, {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [
        { topic: CANARY, partitions: [{ partition: 0, fetchOffset: BigInt(offset), partitionMaxBytes: 1 << 20 }] },
      ],
    });
    const fetched = (await this.answer(ApiKey.Fetch, 11, fetchId)).responses[0].partitions[0];
    if (fetched.errorCode !== 0) throw new Error(`fetch answered error ${fetched.errorCode}`);
    const batches = await decodeRecordBatches(fetched.records);
    const record = batches.flatMap((b) => b.records).find((r) => r.offset === offset);
    if (record?.value?.toString() !== value)
      throw new Error(`fetch at ${offset} returned ${record?.value?.toString() ?? 'nothing'}, expected ${value}`);
    this.rounds++;
  }

  start(): void {
    this.stopping = false;
    this.loop = (async () => {
      // Bounded: one round at least every few ms, and an attack lasts seconds.
      for (let i = 0; i < 100_000 && !this.stopping; i++) {
        try {
          await this.roundTrip();
        } catch (error) {
          this.failures.push((error as Error).message);
          return;
        }
        await sleep(5);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    this.loop = null;
  }

  close(): void {
    this.client.close();
  }
}

/** Runs an attack while the canary works; the canary must complete rounds during it and one after. */
async function whileCanaryWorks(name: string, body: () => Promise<void>): Promise<void> {
  const roundsBefore = canary.rounds;
  canary.start();
  try {
    await body();
  } finally {
    await canary.stop();
  }
  assert.deepEqual(canary.failures, [], `${name}: the well-behaved client failed`);
  assert.ok(canary.rounds > roundsBefore, `${name}: the well-behaved client completed no round trip during the attack`);
  await canary.roundTrip();
  assert.deepEqual(handlerFailures(), [], `${name}: a handler threw (logged as "request handler failed")`);
}

/** Seeded randomness for one test; the seed goes into the failure message. */
async function seeded(
  t: { diagnostic(message: string): void },
  name: string,
  body: (random: Random) => Promise<void>,
): Promise<void> {
  const seed = seedFromEnvironment();
  t.diagnostic(`${name}: SLUICE_SEED=${seed}`);
  try {
    await body(new Random(seed));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${name} failed with SLUICE_SEED=${seed}: ${message}`, { cause: error });
  }
}

// ---------------------------------------------------------------- set-up: data that must survive

before(async () => {
  server = await startTestBroker();
  for (const [topic, partitions] of [
    [PRECIOUS, 2],
    [FUZZ, 2],
    [CANARY, 1],
    [FUZZ_CRC, 1],
  ] as const) {
    assert.equal((await server.broker.createTopic(topic, partitions, {})).errorCode, 0);
  }
  // Batches in every codec, with keys and headers, over the wire like any client.
  const client = await RawClient.connect(server.port);
  const codecs = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];
  let correlationId = 0;
  for (const [i, compression] of codecs.entries()) {
    for (const partition of [0, 1]) {
      const records = Array.from({ length: 20 }, (_, n) => ({
        key: Buffer.from(`key-${n % 3}`),
        value: Buffer.from(`precious-${partition}-${i}-${n}-${'v'.repeat(n)}`),
        headers: [{ key: 'codec', value: Buffer.from(String(compression)) }],
      }));
      client.request(ApiKey.Produce, 7, ++correlationId, {
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          {
            name: PRECIOUS,
            partitionData: [{ index: partition, records: encodeRecordBatchSync({ records, compression }) }],
          },
        ],
      });
    }
  }
  const frames = await client.waitForFrames(correlationId, 10_000);
  assert.equal(frames.length, correlationId);
  for (const frame of frames)
    assert.equal(RawClient.decode(ApiKey.Produce, 7, frame).body.responses[0].partitionResponses[0].errorCode, 0);
  client.close();
  for (const partition of [0, 1]) {
    preciousBefore[partition] = await readPartition(server.port, PRECIOUS, partition);
    assert.equal(preciousBefore[partition]!.length, codecs.length * 20);
  }
  canary = await Canary.open(server.port);
  await canary.roundTrip();
});

after(async () => {
  canary?.close();
  if (!server) return;
  await server.close();
  // A mutated Fetch may still be parked for up to 2^31-1 ms, and parked fetches outlive both their
  // connection and close() (the two long-poll tests below). Wake every partition so this process can
  // exit: with the broker closed, a woken fetch ends instead of parking again.
  for (const topic of server.broker.topics.all()) {
    for (let partition = 0; partition < topic.partitions; partition++)
      server.broker.partitions.wake(topic.name, partition);
  }
});

// ---------------------------------------------------------------- attacks

test('size prefixes out of bounds close the connection unread, logged with the peer', async () => {
  await whileCanaryWorks('bad sizes', async () => {
    const sizes = [100 * 1024 * 1024 + 1, 0x7fffffff, -1, -(2 ** 31), 0, 1, 9];
    for (const size of sizes) {
      const prefix = Buffer.alloc(8, 0);
      prefix.writeInt32BE(size);
      const { outcome, peer, logFrom } = await attack(prefix, 3000);
      assert.equal(outcome, 'closed', `size ${size}`);
      const line = lineAbout(peer, logFrom);
      assert.ok(line, `size ${size}: a log line names the peer ${peer}`);
      assert.match(line.message, /request size/);
      assert.equal(line.level, 'warn');
    }
  });
});

test('truncated frames: a frame that never completes holds nothing, and hanging up mid-frame is harmless', async () => {
  await whileCanaryWorks('truncated frames', async () => {
    const metadata = requestFrame(ApiKey.Metadata, 9, 1, {
      topics: [{ name: PRECIOUS }],
      allowAutoTopicCreation: false,
    });
    const idle: RawClient[] = [];
    // Every proper prefix of a valid request: the broker waits for the rest and answers nothing.
    for (let cut = 1; cut < metadata.length; cut++) {
      const client = await RawClient.connect(server.port);
      client.sendRaw(metadata.subarray(0, cut));
      idle.push(client);
    }
    // A frame that announces 50 MiB (under socket.request.max.bytes) and delivers 1 MiB.
    const big = await RawClient.connect(server.port);
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
      await eventually(() => server.listener.connectionCount === 1, 5000),
      `connections left: ${server.listener.connectionCount}`,
    );
  });
});

test('requests dribbled a byte at a time, or glued together and split at odd places, are answered in order', async (t) => {
  await seeded(t, 'odd chunking', async (random) => {
    await whileCanaryWorks('odd chunking', async () => {
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
        const client = await RawClient.connect(server.port);
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
  await whileCanaryWorks('truncated bodies', async () => {
    const cases: Array<{ name: string; bytes: Buffer }> = [];
    for (const { name, frame } of samples) {
      const message = frame.subarray(4);
      // Cut after the fixed header (api key, version, correlation id): every shorter body is invalid.
      for (let cut = 8; cut < message.length; cut += Math.max(1, Math.floor(message.length / 40))) {
        cases.push({ name: `${name} cut at ${cut}/${message.length}`, bytes: withSize(message.subarray(0, cut)) });
      }
    }
    const observations = await pool(cases, 32, ({ bytes }) => attack(bytes, 3000));
    const logged = closedPeers(Math.min(...observations.map((o) => o.logFrom)));
    observations.forEach(({ outcome, peer }, i) => {
      assert.equal(outcome, 'closed', cases[i]!.name);
      assert.ok(logged.has(peer), `${cases[i]!.name}: closing logged with peer ${peer}`);
    });
  });
});

test('random bytes: closed or answered, never a crash or a stuck connection', async (t) => {
  await seeded(t, 'random bytes', async (random) => {
    await whileCanaryWorks('random bytes', async () => {
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
      const observations = await pool(cases, 32, ({ bytes }) => attack(bytes, 1500));
      const logged = closedPeers(Math.min(...observations.map((o) => o.logFrom)));
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

/** Valid requests of several APIs and versions, flexible and not, as complete frames. */
function sampleRequests(): Array<{ name: string; apiKey: number; frame: Buffer }> {
  const batch = (compression: Compression) =>
    encodeRecordBatchSync({
      compression,
      records: [
        { key: Buffer.from('k'), value: Buffer.from('fuzz value'), headers: [{ key: 'h', value: Buffer.from('x') }] },
        { value: Buffer.from('second') },
      ],
    });
  const produce = (acks: number, compression: Compression) => ({
    acks,
    timeoutMs: 5000,
    topicData: [{ name: FUZZ, partitionData: [{ index: 0, records: batch(compression) }] }],
  });
  const fetch = {
    maxWaitMs: 20,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    topics: [
      {
        topic: PRECIOUS,
        partitions: [
          { partition: 0, fetchOffset: 3n, partitionMaxBytes: 1 << 16 },
          { partition: 1, fetchOffset: 0n, partitionMaxBytes: 1 << 16 },
        ],
      },
    ],
  };
  const metadata = { topics: [{ name: PRECIOUS }, { name: FUZZ }], allowAutoTopicCreation: false };
  const createTopics = (validateOnly: boolean) => ({
    topics: [
      {
        name: 'fuzz-created',
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: [{ name: 'retention.ms', value: '60000' }],
      },
    ],
    timeoutMs: 1000,
    validateOnly,
  });
  const listOffsets = {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: PRECIOUS,
        partitions: [
          { partitionIndex: 0, timestamp: -1n },
          { partitionIndex: 1, timestamp: -2n },
          { partitionIndex: 0, timestamp: BigInt(Date.now() - 60_000) },
        ],
      },
    ],
  };
  const samples: Array<[string, number, number, object]> = [
    ['Produce v3', ApiKey.Produce, 3, produce(-1, Compression.None)],
    ['Produce v7 acks=1 gzip', ApiKey.Produce, 7, produce(1, Compression.Gzip)],
    ['Produce v7 lz4', ApiKey.Produce, 7, produce(-1, Compression.Lz4)],
    ['Fetch v4', ApiKey.Fetch, 4, fetch],
    ['Fetch v11', ApiKey.Fetch, 11, fetch],
    ['Fetch v12', ApiKey.Fetch, 12, fetch],
    ['Metadata v1', ApiKey.Metadata, 1, { topics: metadata.topics }],
    ['Metadata v9', ApiKey.Metadata, 9, metadata],
    ['CreateTopics v2', ApiKey.CreateTopics, 2, createTopics(true)],
    ['CreateTopics v7', ApiKey.CreateTopics, 7, createTopics(false)],
    [
      'ListOffsets v1',
      ApiKey.ListOffsets,
      1,
      { replicaId: -1, topics: [{ name: PRECIOUS, partitions: [{ partitionIndex: 0, timestamp: -1n }] }] },
    ],
    ['ListOffsets v5', ApiKey.ListOffsets, 5, listOffsets],
    ['ApiVersions v3', ApiKey.ApiVersions, 3, { clientSoftwareName: 'hostile', clientSoftwareVersion: '1.0' }],
  ];
  return samples.map(([name, apiKey, version, body], i) => ({
    name,
    apiKey,
    frame: requestFrame(apiKey, version, 1000 + i, body),
  }));
}

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

test('mutated valid requests (Produce, Fetch, Metadata, CreateTopics, ListOffsets, ApiVersions): closed or answered, nothing corrupt stored', async (t) => {
  const samples = sampleRequests();
  // The unmutated samples are valid: each is answered (checks the fixtures, not the broker's defences).
  for (const sample of samples) {
    const { outcome } = await attack(sample.frame, 3000);
    assert.equal(outcome, 'answered', `${sample.name} unmutated`);
  }
  await seeded(t, 'mutated requests', async (random) => {
    await whileCanaryWorks('mutated requests', async () => {
      const cases = Array.from({ length: 700 }, (_, i) => {
        const sample = samples[i % samples.length]!;
        const { message, how } = mutate(random, sample.frame.subarray(4));
        return { name: `${sample.name}: ${how}`, apiKey: sample.apiKey, bytes: withSize(message) };
      });
      const observations = await pool(cases, 32, ({ bytes }) => attack(bytes, 1500));
      const logged = closedPeers(Math.min(...observations.map((o) => o.logFrom)));
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
    const records = await readPartition(server.port, FUZZ, partition);
    for (const [i, r] of records.entries())
      assert.equal(r.offset, records[0]!.offset + i, `${FUZZ}-${partition}: offsets contiguous`);
  }
});

test('clients that hang up before their answer: nothing breaks, and a delivered produce is appended', async () => {
  await whileCanaryWorks('hang-ups', async () => {
    const before = await readPartition(server.port, FUZZ, 1);
    const values = Array.from({ length: 100 }, (_, i) => `hang-up-${i}`);
    await pool(values, 25, async (value, i) => {
      const client = await RawClient.connect(server.port);
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
      new Set((await readPartition(server.port, FUZZ, 1)).slice(before.length).map((r) => r.value));
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
      await eventually(() => server.listener.connectionCount === 1, 5000),
      `connections left: ${server.listener.connectionCount - 1}`,
    );
  });
});

// A mutation that keeps the CRC right gets past every header check: the broker then has to look at
// the records themselves. Kafka does (LogValidator walks every record of a v2 batch, decompressing
// if needed, and answers CORRUPT_MESSAGE / INVALID_RECORD); a broker that stores such a batch serves
// every consumer of the partition a batch it cannot parse.
// Produce validation reads the batch header and CRC only (DESIGN.md, "The hot path"; see
// src/broker/produce-validation.ts): records that do not parse behind a valid header and CRC are
// the producing client's fault and are stored as sent. What the broker guarantees: an unknown codec
// is refused, and whatever it accepts is served back byte for byte with a valid header and CRC.
test('CRC-repaired mutations of a produced batch: unknown codecs are refused, accepted batches come back byte for byte', async (t) => {
  await seeded(t, 'CRC-repaired batches', async (random) => {
    const client = await RawClient.connect(server.port);
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
      `CRC-repaired batches: ${accepted.length} accepted, refused by error code: ${JSON.stringify(Object.fromEntries(refused))}`,
    );
    // Read each accepted batch back on its own: the bytes sent, with the broker's offset and epoch.
    const reader = await RawClient.connect(server.port);
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

test('unknown API keys and unsupported versions close the connection, logged with the peer; ApiVersions is answered', async () => {
  await whileCanaryWorks('unknown APIs', async () => {
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
      const { outcome, peer, logFrom } = await attack(
        withSize(Buffer.concat([header(apiKey, apiVersion), Buffer.from([0, 1, 2, 3])])),
        3000,
      );
      assert.equal(outcome, 'closed', name);
      const line = lineAbout(peer, logFrom);
      assert.ok(line, `${name}: logged with peer ${peer}`);
      assert.match(line.message, message, name);
      assert.equal(line.fields.apiKey, apiKey);
      assert.equal(line.fields.apiVersion, apiVersion);
    }
    // KIP-511: an ApiVersions newer than ours is answered (v0 body, UNSUPPORTED_VERSION), not closed.
    for (const version of [5, 99, 32767]) {
      const client = await RawClient.connect(server.port);
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
  await whileCanaryWorks('idle connections', async () => {
    const baseline = server.listener.connectionCount;
    const sockets = await openIdleSockets(server.port, 2000);
    try {
      assert.ok(
        await eventually(() => server.listener.connectionCount >= baseline + 2000, 10_000),
        `accepted ${server.listener.connectionCount - baseline} of 2000`,
      );
      const roundsBefore = canary.rounds;
      assert.ok(
        await eventually(() => canary.rounds > roundsBefore + 3, 5000),
        'the canary keeps going with 2000 idle connections open',
      );
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    assert.ok(
      await eventually(() => server.listener.connectionCount === baseline, 10_000),
      `connections left: ${server.listener.connectionCount - baseline}`,
    );
  });
});

test('beyond max.connections new connections are refused at accept and idle ones time out; an existing client keeps working', async () => {
  const limited = await startTestBroker({
    properties: { 'max.connections': '300', 'connections.max.idle.ms': '1000' },
  });
  const saved = { server, canary };
  try {
    server = limited;
    assert.equal((await limited.broker.createTopic(CANARY, 1, {})).errorCode, 0);
    canary = await Canary.open(limited.port);
    await canary.roundTrip();
    await whileCanaryWorks('connection flood', async () => {
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
    canary.close();
    server = saved.server;
    canary = saved.canary;
    await limited.close();
  }
});

// Fetch's max_bytes is the client's to choose (up to 2^31-1) and a request may name the same partition
// any number of times; each entry is read again. A few KiB of request can so ask for more than the
// 2 GiB an int32 frame size can carry. Kafka keys the partitions of a fetch by topic-partition (one
// entry each) and caps the answer at the broker's fetch.max.bytes (55 MiB). The broker runs in a
// child process here (it reads ~2 GiB before anything is sent), so a crash fails this test only.
test('a Fetch that names one partition hundreds of times with max_bytes 2^31-1 does not bring the broker down', async () => {
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
  assert.equal((await server.broker.createTopic('parked', 1, {})).errorCode, 0);
  const baseline = refTimers();
  try {
    const clients = await Promise.all(Array.from({ length: 4 }, () => RawClient.connect(server.port)));
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
    assert.ok(await eventually(() => server.listener.connectionCount === 1, 3000));
    await sleep(200);
    const left = refTimers() - baseline;
    assert.equal(left, 0, `${left} parked fetches (and their timers) outlive the connections that sent them`);
  } finally {
    // Deleting the topic wakes its waiters, which then end: nothing lingers past this test.
    await server.broker.deleteTopic('parked');
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
  for (const partition of [0, 1]) {
    const now = await readPartition(server.port, PRECIOUS, partition);
    assert.deepEqual(now, preciousBefore[partition], `${PRECIOUS}-${partition} unchanged`);
  }
  await canary.roundTrip();
  assert.ok(
    await eventually(() => server.listener.connectionCount === 1, 5000),
    `connections other than the canary: ${server.listener.connectionCount - 1}`,
  );
  assert.deepEqual(handlerFailures(), []);
});
