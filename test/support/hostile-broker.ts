// The set-up the hostile-input tests share (test/server/hostile-input-*.test.ts): an in-process
// broker with records written before any attack (PRECIOUS, in every codec), a well-behaved client on
// its own connection (the canary) that keeps producing and fetching while an attack runs, and ways to
// attack it and read what the broker logged about each connection.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { beginRequestFrame, finishFrame } from '../../src/protocol/frame.js';
import { apiCodecs, ApiKey } from '../../src/protocol/generated/index.js';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { RawClient } from './raw-client.js';
import { Random, seedFromEnvironment } from './random.js';
import { readPartition, type ReadRecord } from './read-partition.js';
import { startTestBroker, type TestBroker } from './test-broker.js';

/** Written before any attack; must read back unchanged at the end. */
export const PRECIOUS = 'precious';
/** Where mutated Produce requests write, so they can never touch PRECIOUS. */
export const FUZZ = 'fuzz';
export const CANARY = 'canary';
/** Where CRC-repaired mutated batches are produced. */
export const FUZZ_CRC = 'fuzz-crc';

// ---------------------------------------------------------------- helpers

/** One request frame (size prefix included) built with our codecs. */
export function requestFrame(
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

export function withSize(message: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(message.length);
  return Buffer.concat([size, message]);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Runs `work` over `items` with at most `concurrency` at once. */
export async function pool<T, R>(
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

export interface Observation {
  outcome: Outcome;
  /** The attacker's side of the connection, as the broker logs it. */
  peer: string;
  /** Log lines from here on may be about this connection (ports are reused, so not earlier ones). */
  logFrom: number;
  /** The first response frame, when answered. */
  response: Buffer | undefined;
}

/** A broker under attack and its canary. */
export class HostileTarget {
  server!: TestBroker;
  canary!: Canary;
  /** PRECIOUS's records per partition as read before the first attack. */
  readonly preciousBefore: ReadRecord[][] = [];

  static of(server: TestBroker, canary: Canary): HostileTarget {
    const target = new HostileTarget();
    target.server = server;
    target.canary = canary;
    return target;
  }

  /**
   * Opens a connection, writes `bytes`, and watches: the broker closes it, answers something, or does
   * neither within `waitMs`. The connection is closed by us afterwards in every case.
   */
  async attack(bytes: Buffer, waitMs: number): Promise<Observation> {
    const logFrom = this.server.logger.lines.length;
    const client = await RawClient.connect(this.server.port);
    const peer = `127.0.0.1:${client.socket.localPort}`;
    client.sendRaw(bytes);
    await client.waitForFrames(1, waitMs);
    const outcome: Outcome = client.frames.length > 0 ? 'answered' : client.closed ? 'closed' : 'pending';
    client.close();
    return { outcome, peer, logFrom, response: client.frames[0] };
  }

  /** Peers the broker logged a closed connection for since log line `from` (a line naming a peer and "closing"). */
  closedPeers(from: number): Set<string> {
    return new Set(
      this.server.logger.lines
        .slice(from)
        .filter((l) => /clos/i.test(l.message) && typeof l.fields.peer === 'string')
        .map((l) => l.fields.peer as string),
    );
  }

  /** The first log line about `peer` since line `from`. */
  lineAbout(peer: string, from: number) {
    return this.server.logger.lines.slice(from).find((l) => l.fields.peer === peer);
  }

  handlerFailures(): string[] {
    return this.server.logger.lines
      .filter((l) => l.level === 'error')
      .map((l) => `${l.message}: ${JSON.stringify(l.fields)}`);
  }

  /** Runs an attack while the canary works; the canary must complete rounds during it and one after. */
  async whileCanaryWorks(name: string, body: () => Promise<void>): Promise<void> {
    const canary = this.canary;
    const roundsBefore = canary.rounds;
    canary.start();
    try {
      await body();
    } finally {
      await canary.stop();
    }
    assert.deepEqual(canary.failures, [], `${name}: the well-behaved client failed`);
    assert.ok(
      canary.rounds > roundsBefore,
      `${name}: the well-behaved client completed no round trip during the attack`,
    );
    await canary.roundTrip();
    assert.deepEqual(this.handlerFailures(), [], `${name}: a handler threw (logged as "request handler failed")`);
  }

  /** What every hostile-input file checks last: the data written before the attacks is intact. */
  async assertIntactAfterAttacks(): Promise<void> {
    const server = this.server;
    for (const partition of [0, 1]) {
      const now = await readPartition(server.port, PRECIOUS, partition);
      assert.deepEqual(now, this.preciousBefore[partition], `${PRECIOUS}-${partition} unchanged`);
    }
    await this.canary.roundTrip();
    assert.ok(
      await eventually(() => server.listener.connectionCount === 1, 5000),
      `connections other than the canary: ${server.listener.connectionCount - 1}`,
    );
    assert.deepEqual(this.handlerFailures(), []);
  }
}

/**
 * The well-behaved client: on one long-lived connection it produces one record to CANARY (acks=-1)
 * and fetches it back, again and again while an attack runs. Every round must succeed.
 */
export class Canary {
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

/** Seeded randomness for one test; the seed goes into the failure message. */
export async function seeded(
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

/** Valid requests of several APIs and versions, flexible and not, as complete frames. */
export function sampleRequests(): Array<{ name: string; apiKey: number; frame: Buffer }> {
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

/**
 * Registers the file's before and after hooks: a broker with PRECIOUS written in every codec and the
 * canary's first round trip. The returned target is filled in when `before` has run.
 */
export function hostileBroker(): HostileTarget {
  const target = new HostileTarget();
  before(async () => {
    target.server = await startTestBroker();
    for (const [topic, partitions] of [
      [PRECIOUS, 2],
      [FUZZ, 2],
      [CANARY, 1],
      [FUZZ_CRC, 1],
    ] as const) {
      assert.equal((await target.server.broker.createTopic(topic, partitions, {})).errorCode, 0);
    }
    // Batches in every codec, with keys and headers, over the wire like any client.
    const client = await RawClient.connect(target.server.port);
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
      target.preciousBefore[partition] = await readPartition(target.server.port, PRECIOUS, partition);
      assert.equal(target.preciousBefore[partition]!.length, codecs.length * 20);
    }
    target.canary = await Canary.open(target.server.port);
    await target.canary.roundTrip();
  });

  after(async () => {
    target.canary?.close();
    if (!target.server) return;
    await target.server.close();
    // A mutated Fetch may still be parked for up to 2^31-1 ms, and parked fetches outlive both their
    // connection and close() (the long-poll tests of hostile-input-connections). Wake every partition
    // so this process can exit: with the broker closed, a woken fetch ends instead of parking again.
    for (const topic of target.server.broker.topics.all()) {
      for (let partition = 0; partition < topic.partitions; partition++)
        target.server.broker.partitions.wake(topic.name, partition);
    }
  });
  return target;
}
