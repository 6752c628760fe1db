// The aborted list of a partition comes back from its `.txnindex` files after a restart: a
// read_committed Fetch from every batch offset lists exactly the same aborted transactions before
// and after, whether the files are intact, missing (data written before `.txnindex` existed: rebuilt
// once by reading those segments) or lost in the tail of a crash (transactions begun in an earlier
// segment traced back to their first offset).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { decodeRecordBatches } from '../../../src/protocol/record-batch/record-decoder.js';
import { startTestBroker, type TestBroker } from '../../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const properties = {
  'offsets.topic.num.partitions': '1',
  'transaction.state.log.num.partitions': '1',
  'log.segment.bytes': '900',
};
const topic = 'aborted-index';

interface FetchView {
  fetchOffset: number;
  lastStableOffset: number;
  aborted: { producerId: number; firstOffset: number; lastOffset?: number }[];
}

/** A read_committed Fetch from every batch's base offset up to the last stable offset, and the values
 *  a read_committed client keeps (reading segment by segment from 0). */
async function snapshot(server: TestBroker): Promise<{ fetches: FetchView[]; visible: string[] }> {
  const fetches: FetchView[] = [];
  const visible: string[] = [];
  const fetch = async (fetchOffset: number, partitionMaxBytes: number) => {
    const [result] = await server.broker.fetch([{ topic, partition: 0, fetchOffset, partitionMaxBytes }], {
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 1,
    });
    assert.equal(result!.errorCode, 0);
    return result!;
  };
  // The whole partition as a client reads it.
  const dropping = new Set<number>();
  const pending: { producerId: number; firstOffset: number }[] = [];
  const batchOffsets: number[] = [];
  for (let offset = 0; ;) {
    const result = await fetch(offset, 1 << 20);
    if (result.records.length === 0) break;
    pending.push(
      ...(result.abortedTransactions ?? []).filter(
        (a) => !pending.some((p) => p.producerId === a.producerId && p.firstOffset === a.firstOffset),
      ),
    );
    pending.sort((x, y) => x.firstOffset - y.firstOffset);
    let next = offset;
    for (const batch of await decodeRecordBatches(result.records)) {
      batchOffsets.push(batch.baseOffset);
      const last = batch.baseOffset + batch.lastOffsetDelta;
      while (pending.length > 0 && pending[0]!.firstOffset <= last) dropping.add(pending.shift()!.producerId);
      next = last + 1;
      if (batch.isControl) {
        dropping.delete(batch.producerId);
        continue;
      }
      if (batch.isTransactional && dropping.has(batch.producerId)) continue;
      for (const record of batch.records) visible.push(record.value?.toString() ?? '');
    }
    offset = next;
  }
  for (const fetchOffset of batchOffsets) {
    const result = await fetch(fetchOffset, 1);
    fetches.push({ fetchOffset, lastStableOffset: result.lastStableOffset, aborted: result.abortedTransactions ?? [] });
  }
  return { fetches, visible };
}

/** Two transactional producers whose transactions interleave and cross segments; some aborted. */
async function produce(server: TestBroker): Promise<string[]> {
  const kafka = new Kafka({
    brokers: [server.bootstrap],
    clientId: 'aborted-index',
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const a = kafka.producer({ transactionalId: 'index-a', maxInFlightRequests: 1, idempotent: true });
  const b = kafka.producer({ transactionalId: 'index-b', maxInFlightRequests: 1, idempotent: true });
  await a.connect();
  await b.connect();
  const committed: string[] = [];
  const pad = 'x'.repeat(150);
  try {
    for (let round = 0; round < 6; round += 1) {
      const ta = await a.transaction();
      const tb = await b.transaction();
      const sentA: string[] = [];
      const sentB: string[] = [];
      for (let step = 0; step < 3; step += 1) {
        sentA.push(`a${round}.${step}.${pad}`);
        await ta.send({ topic, messages: [{ value: sentA.at(-1)! }] });
        sentB.push(`b${round}.${step}.${pad}`);
        await tb.send({ topic, messages: [{ value: sentB.at(-1)! }] });
      }
      if (round % 2 === 0) await ta.abort();
      else {
        await ta.commit();
        committed.push(...sentA);
      }
      if (round % 3 === 0) await tb.abort();
      else {
        await tb.commit();
        committed.push(...sentB);
      }
    }
  } finally {
    await a.disconnect();
    await b.disconnect();
  }
  return committed;
}

function partitionDirectory(server: TestBroker): string {
  return join(server.dataDir, `${topic}-0`);
}

function txnindexFiles(directory: string): string[] {
  return readdirSync(directory)
    .filter((name) => name.endsWith('.txnindex'))
    .sort();
}

// Whether the .txnindex files are intact, missing, or lost in a crash.
test('read_committed lists the same aborted transactions after a restart', async () => {
  let server = await startTestBroker({ properties });
  try {
    const committed = await produce(server);
    const before = await snapshot(server);
    assert.ok(
      before.fetches.some((view) => view.aborted.length > 0),
      'aborted transactions are listed',
    );
    assert.deepEqual(
      [...before.visible].sort(),
      [...committed].sort(),
      'read_committed keeps exactly the committed records',
    );
    const directory = partitionDirectory(server);

    // 1. A clean restart: the list comes back from the files, no batch is read for it.
    server = await startTestBroker({ properties, dataDir: (await stop(server)).dataDir, port: server.port });
    const segments = readdirSync(directory)
      .filter((name) => name.endsWith('.log'))
      .sort();
    assert.ok(segments.length >= 4, `transactions cross segments (${segments.length})`);
    assert.deepEqual(
      txnindexFiles(directory).length,
      segments.length,
      'every segment of the transactional partition has its .txnindex',
    );
    assert.deepEqual(await snapshot(server), before);

    // 2. Data from before .txnindex existed: no file at all. Rebuilt once, and written.
    await stop(server);
    for (const name of txnindexFiles(directory)) unlinkSync(join(directory, name));
    server = await startTestBroker({ properties, dataDir: server.dataDir, port: server.port });
    assert.deepEqual(await snapshot(server), before);
    assert.equal(txnindexFiles(directory).length, segments.length, 'the rebuilt indexes are written');

    // 3. A crash that lost the tail's indexes: the recovery point in an early segment, the files of
    //    the segments above it gone. Transactions begun below the rescanned part are traced back.
    await stop(server);
    const bases = segments.map((name) => Number(name.slice(0, 20)));
    const recoveryPoint = bases[2]! + 1;
    for (const base of bases.slice(2)) unlinkSync(join(directory, `${String(base).padStart(20, '0')}.txnindex`));
    writeFileSync(join(directory, 'recovery-point-offset-checkpoint'), `0\n1\n${topic} 0 ${recoveryPoint}\n`);
    server = await startTestBroker({ properties, dataDir: server.dataDir, port: server.port });
    assert.deepEqual(await snapshot(server), before);
    for (const base of bases)
      assert.ok(
        existsSync(join(directory, `${String(base).padStart(20, '0')}.txnindex`)),
        `.txnindex of ${base} rebuilt`,
      );

    // And once more, cleanly, from what the rebuilds wrote.
    server = await startTestBroker({ properties, dataDir: (await stop(server)).dataDir, port: server.port });
    assert.deepEqual(await snapshot(server), before);
  } finally {
    await server.close();
  }
});

async function stop(server: TestBroker): Promise<TestBroker> {
  await server.stop();
  return server;
}
