// Two in-process brokers, one partition copied from one to the other as a follower's fetch loop does
// (Partition.readForReplica → Partition.appendReplicated → followHighWatermark): the follower that
// takes over answers an idempotent producer's retry as the duplicate it is and goes on with its
// sequence, through the real produce pipeline; transactions written by kafkajs on the leader leave the
// follower with the same last stable offset, aborted list and `.txnindex` files, also after a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Partition } from '../../src/broker/partition/partition.js';
import { ErrorCode } from '../../src/protocol/generated/error-codes.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** A follower's fetch loop, `maxBytes` per read, until it has everything the leader has. A read
 *  returns batches of one segment; `segmentsPerChunk` > 1 joins several reads into one chunk, so
 *  the follower rolls inside a chunk. Returns the number of chunks. */
async function replicate(leader: Partition, follower: Partition, maxBytes: number, segmentsPerChunk = 1) {
  let chunks = 0;
  while (follower.logEndOffset < leader.logEndOffset) {
    const parts: Buffer[] = [];
    for (let next = follower.logEndOffset; parts.length < segmentsPerChunk && next < leader.logEndOffset;) {
      const read = await leader.readForReplica(next, maxBytes);
      parts.push(read.records);
      next = read.nextOffset;
    }
    const chunk = Buffer.concat(parts);
    const taken = await follower.appendReplicated(chunk);
    assert.equal(taken.bytes, chunk.length);
    follower.followHighWatermark(leader.highWatermark);
    chunks += 1;
  }
  return chunks;
}

function filesOf(directory: string, suffix: string): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  for (const name of readdirSync(directory).sort())
    if (name.endsWith(suffix)) found.set(name, readFileSync(join(directory, name)));
  return found;
}

test('a follower that takes over answers an idempotent retry as a duplicate, goes on with the sequence', async () => {
  const leaderBroker = await startTestBroker();
  const followerBroker = await startTestBroker();
  try {
    await leaderBroker.broker.createTopic('t', 1, {});
    await followerBroker.broker.createTopic('t', 1, {});
    const leader = leaderBroker.broker.partitions.get('t', 0)!;
    const follower = followerBroker.broker.partitions.get('t', 0)!;
    follower.becomeFollower(0);
    const batch = (values: string[], baseSequence: number) =>
      encodeRecordBatch({
        records: values.map((value) => ({ value: Buffer.from(value) })),
        producerId: 4242,
        producerEpoch: 0,
        baseSequence,
      });
    const offsets: number[] = [];
    for (const [values, sequence] of [
      [['a', 'b'], 0],
      [['c', 'd', 'e'], 2],
      [['f'], 5],
    ] as const) {
      const produced = await leaderBroker.broker.produce('t', 0, await batch([...values], sequence));
      assert.equal(produced.errorCode, ErrorCode.NONE);
      offsets.push(produced.baseOffset);
    }
    assert.deepEqual(offsets, [0, 2, 5]);
    // A follower takes no produce: idempotent or not, nothing is appended and no state recorded.
    for (const refused of [
      await batch(['x'], 6),
      await encodeRecordBatch({ records: [{ value: Buffer.from('y') }] }),
    ]) {
      const answer = await followerBroker.broker.produce('t', 0, refused);
      assert.equal(answer.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    }
    assert.equal(follower.logEndOffset, 0);
    assert.equal(follower.producers.entry(4242), undefined);

    await replicate(leader, follower, 1 << 20);
    assert.equal(follower.highWatermark, 6);
    await follower.becomeLeader(1);

    const retry = await followerBroker.broker.produce('t', 0, await batch(['c', 'd', 'e'], 2));
    assert.equal(retry.errorCode, ErrorCode.NONE);
    assert.equal(retry.baseOffset, 2, 'answered with the offset the old leader gave it');
    assert.equal(follower.logEndOffset, 6, 'nothing appended');
    const next = await followerBroker.broker.produce('t', 0, await batch(['g'], 6));
    assert.equal(next.errorCode, ErrorCode.NONE);
    assert.equal(next.baseOffset, 6);
    const gap = await followerBroker.broker.produce('t', 0, await batch(['i'], 8));
    assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const written = await follower.readForReplica(6, 1 << 20);
    assert.equal(written.records.readInt32BE(12), 1, 'the new leader stamps its epoch');
    assert.deepEqual(follower.log.leaderEpochEntries.at(-1), { epoch: 1, startOffset: 6 });

    // The old leader follows the new one: KIP-101 says nothing of its log diverged; it catches up.
    leader.becomeFollower(1);
    const { endOffset } = follower.endOffsetForEpoch(leader.log.leaderEpochEntries.at(-1)!.epoch);
    assert.equal(endOffset, 6);
    await leader.truncateTo(endOffset);
    await replicate(follower, leader, 1 << 20);
    assert.deepEqual(leader.log.leaderEpochEntries, follower.log.leaderEpochEntries);
    assert.deepEqual(leader.producers.entry(4242)?.batches, follower.producers.entry(4242)?.batches);
  } finally {
    await leaderBroker.close();
    await followerBroker.close();
  }
});

const properties = {
  'offsets.topic.num.partitions': '1',
  'transaction.state.log.num.partitions': '1',
  'log.segment.bytes': '900',
};
const topic = 'replicated-transactions';

/** What read_committed sees of a partition: its last stable offset, aborted list and open transactions. */
function transactionView(partition: Partition) {
  return {
    highWatermark: partition.highWatermark,
    lastStableOffset: partition.lastStableOffset,
    aborted: partition.transactions.abortedOverlapping(0, partition.logEndOffset),
    open: partition.transactions.openTransactionCount,
  };
}

test("replicated transactions: the follower has the leader's last stable offset, aborted list, .txnindex", async () => {
  const leaderBroker = await startTestBroker({ properties });
  let followerBroker = await startTestBroker({ properties });
  const kafka = new Kafka({
    brokers: [leaderBroker.bootstrap],
    clientId: 'replica-transactions',
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  });
  const a = kafka.producer({ transactionalId: 'replica-a', maxInFlightRequests: 1, idempotent: true });
  const b = kafka.producer({ transactionalId: 'replica-b', maxInFlightRequests: 1, idempotent: true });
  try {
    await leaderBroker.broker.createTopic(topic, 1, {});
    await followerBroker.broker.createTopic(topic, 1, {});
    const leader = leaderBroker.broker.partitions.get(topic, 0)!;
    let follower = followerBroker.broker.partitions.get(topic, 0)!;
    follower.becomeFollower(0);
    await a.connect();
    await b.connect();
    const pad = 'x'.repeat(120);
    for (let round = 0; round < 4; round += 1) {
      const ta = await a.transaction();
      const tb = await b.transaction();
      for (let step = 0; step < 2; step += 1) {
        await ta.send({ topic, messages: [{ value: `a${round}.${step}.${pad}` }] });
        await tb.send({ topic, messages: [{ value: `b${round}.${step}.${pad}` }] });
      }
      await (round % 2 === 0 ? ta.abort() : ta.commit());
      await (round % 3 === 0 ? tb.abort() : tb.commit());
    }
    // One transaction stays open: the last stable offset sits at its first offset.
    const open = await b.transaction();
    await open.send({ topic, messages: [{ value: `open.${pad}` }] });

    // Chunks of three segments each: the follower rolls inside them, ABORT markers included.
    const segmentsBefore = leader.log.segmentCount;
    const chunks = await replicate(leader, follower, 1 << 20, 3);
    assert.ok(
      segmentsBefore > 3 && chunks <= Math.ceil(segmentsBefore / 3),
      `${chunks} chunks, ${segmentsBefore} segments`,
    );
    const leaderView = transactionView(leader);
    assert.equal(leaderView.open, 1);
    assert.ok(leaderView.lastStableOffset < leaderView.highWatermark, 'the open transaction holds it back');
    assert.ok(leaderView.aborted.length >= 3);
    assert.deepEqual(transactionView(follower), leaderView);

    await open.abort();
    assert.ok((await replicate(leader, follower, 100)) >= 1); // small fetches: one batch each (KIP-74)
    const settled = transactionView(leader);
    assert.equal(settled.open, 0);
    assert.equal(settled.lastStableOffset, settled.highWatermark);
    assert.deepEqual(transactionView(follower), settled);
    await a.disconnect();
    await b.disconnect();

    await leaderBroker.stop();
    await followerBroker.stop();
    const leaderDirectory = join(leaderBroker.dataDir, `${topic}-0`);
    const followerDirectory = join(followerBroker.dataDir, `${topic}-0`);
    for (const suffix of ['.log', '.txnindex']) {
      const ours = filesOf(followerDirectory, suffix);
      assert.ok(ours.size > 1, `${suffix}: several segments`);
      assert.deepEqual(ours, filesOf(leaderDirectory, suffix), `${suffix} identical`);
    }
    // Restarted, the follower's partition reads its aborted list back from those files.
    followerBroker = await startTestBroker({ properties, dataDir: followerBroker.dataDir });
    follower = followerBroker.broker.partitions.get(topic, 0)!;
    assert.deepEqual(transactionView(follower), settled);
  } finally {
    await a.disconnect().catch(() => undefined);
    await b.disconnect().catch(() => undefined);
    await leaderBroker.close();
    await followerBroker.close();
  }
});
