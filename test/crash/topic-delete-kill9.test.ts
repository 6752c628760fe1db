// kill -9 a real `sluice start` around a topic deletion, then start it again on the same data directory:
//   - after DeleteTopics answered (its directories renamed `-delete`, their removal still waiting out
//     file.delete.delay.ms): the topic stays gone, the `-delete` directories are removed in the
//     background after the restart, and the topic created again is empty;
//   - at a random moment while DeleteTopics runs (seeded; SLUICE_SEED replays): the topic is either
//     still there with every message it had (the deletion never took effect) or gone — never a mix,
//     never old data in a new incarnation — and the data directory ends with no leftovers.
//   SLUICE_BROKER_CRASH_CYCLES=N   cycles of the second case (default 8)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { RawClient } from '../support/raw-client.js';
import { readPartition } from '../support/read-partition.js';
import { Random, seedFromEnvironment } from '../support/random.js';
import { freePort, killed, spawnSluice, untilConnected, waitFor } from '../support/sluice-process.js';

const cycles = Number(process.env.SLUICE_BROKER_CRASH_CYCLES ?? 8);
const PARTITIONS = 3;
const MESSAGES_PER_PARTITION = 20;

let correlation = 0;

async function call(client: RawClient, api: number, version: number, body: object) {
  const id = ++correlation;
  const before = client.frames.length;
  client.request(api, version, id, body);
  const frames = await client.waitForFrames(before + 1, 10_000);
  assert.ok(frames.length > before, `no answer to API ${api} (connection closed)`);
  return RawClient.decode(api, version, frames[before]!).body;
}

/** Creates `topic` and writes MESSAGES_PER_PARTITION messages to each partition, acks=all. */
async function fill(client: RawClient, topic: string, tag: string): Promise<void> {
  const created = await call(client, ApiKey.CreateTopics, 5, {
    topics: [{ name: topic, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE, created.topics[0].errorMessage);
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const values = Array.from({ length: MESSAGES_PER_PARTITION }, (_, i) => `${tag}-${partition}-${i}`);
    const records = await encodeRecordBatch({ records: values.map((v) => ({ value: Buffer.from(v) })) });
    const produced = await call(client, ApiKey.Produce, 7, {
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
    });
    assert.equal(produced.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
  }
}

/** The topic's partition count per Metadata (no auto-creation), or null when it does not exist. */
async function partitionCount(client: RawClient, topic: string): Promise<number | null> {
  const body = await call(client, ApiKey.Metadata, 9, { topics: [{ name: topic }], allowAutoTopicCreation: false });
  if (body.topics[0].errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) return null;
  assert.equal(body.topics[0].errorCode, ErrorCode.NONE);
  return body.topics[0].partitions.length;
}

function leftovers(dataDir: string, topic: string): string[] {
  return readdirSync(dataDir).filter((name) => name.endsWith('-delete') || name.startsWith(`${topic}-`));
}

test('kill -9 after DeleteTopics answered: the topic stays gone, -delete dirs go, a new one is empty', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-delete-kill9-'));
  const port = await freePort();
  // The removal waits 10 minutes: the kill comes between the rename and the removal.
  let broker = spawnSluice(port, dataDir, { overrides: ['log.segment.delete.delay.ms=600000'] });
  try {
    let client = await untilConnected(port);
    await fill(client, 'doomed', 'old');
    const deleted = await call(client, ApiKey.DeleteTopics, 4, { topicNames: ['doomed'], timeoutMs: 10_000 });
    assert.equal(deleted.responses[0].errorCode, ErrorCode.NONE);
    client.close();
    await killed(broker);
    const renamed = readdirSync(dataDir).filter((name) => name.endsWith('-delete'));
    assert.equal(renamed.length, PARTITIONS, 'every partition directory was renamed before the answer');
    for (let partition = 0; partition < PARTITIONS; partition++)
      assert.ok(!existsSync(join(dataDir, `doomed-${partition}`)));

    broker = spawnSluice(port, dataDir);
    client = await untilConnected(port);
    assert.equal(await partitionCount(client, 'doomed'), null, 'the topic stays deleted');
    await waitFor('the -delete directories to be removed', () => leftovers(dataDir, 'doomed').length === 0);
    await fill(client, 'doomed', 'new');
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const values = (await readPartition(port, 'doomed', partition)).map((r) => r.value);
      assert.deepEqual(
        values,
        Array.from({ length: MESSAGES_PER_PARTITION }, (_, i) => `new-${partition}-${i}`),
      );
    }
    client.close();
  } finally {
    await killed(broker);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test(
  `kill -9 at a random moment of DeleteTopics, ${cycles} cycles: the topic is whole or gone, never mixed`,
  { timeout: 300_000 },
  async () => {
    const seed = seedFromEnvironment();
    const random = new Random(seed);
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-delete-kill9-'));
    const port = await freePort();
    const outcomes = { whole: 0, gone: 0, interrupted: 0 };
    try {
      for (let cycle = 0; cycle < cycles; cycle++) {
        const where = `seed ${seed} cycle ${cycle}`;
        const topic = `doomed-${cycle}`;
        let broker = spawnSluice(port, dataDir);
        let client = await untilConnected(port);
        await fill(client, topic, `c${cycle}`);
        const killAfterMs = random.int(0, 12);
        client.request(ApiKey.DeleteTopics, 4, ++correlation, { topicNames: [topic], timeoutMs: 10_000 });
        await new Promise((resolve) => setTimeout(resolve, killAfterMs));
        await killed(broker);
        client.close();
        // Killed after topics.json took the deletion but before every directory was renamed?
        const registry = JSON.parse(readFileSync(join(dataDir, 'topics.json'), 'utf8')) as {
          deleting?: { name: string }[];
        };
        if (registry.deleting?.some((deleted) => deleted.name === topic)) outcomes.interrupted++;

        broker = spawnSluice(port, dataDir);
        try {
          client = await untilConnected(port);
          const count = await partitionCount(client, topic);
          if (count === null) {
            outcomes.gone++;
            await waitFor(`${where}: no directory of ${topic} left`, () => leftovers(dataDir, topic).length === 0);
            // Created again, it is empty.
            await fill(client, topic, `again${cycle}`);
            const first = (await readPartition(port, topic, 0)).map((r) => r.value);
            assert.equal(first[0], `again${cycle}-0-0`, where);
            assert.equal(first.length, MESSAGES_PER_PARTITION, where);
          } else {
            outcomes.whole++;
            assert.equal(count, PARTITIONS, where);
            for (let partition = 0; partition < PARTITIONS; partition++) {
              const values = (await readPartition(port, topic, partition)).map((r) => r.value);
              assert.deepEqual(
                values,
                Array.from({ length: MESSAGES_PER_PARTITION }, (_, i) => `c${cycle}-${partition}-${i}`),
                `${where}: partition ${partition} is whole`,
              );
            }
          }
          client.close();
        } finally {
          await killed(broker);
        }
      }
      console.log(
        `seed ${seed}: after the kill the topic was whole ${outcomes.whole}, gone ${outcomes.gone} times ` +
          `(${outcomes.interrupted} killed inside the deletion)`,
      );
    } catch (error) {
      throw new Error(`failed with SLUICE_SEED=${seed}: ${(error as Error).message}`, { cause: error });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
