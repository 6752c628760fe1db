// Compaction of a compacted topic that holds transactions, seen by a read_uncommitted kafkajs
// consumer: an aborted transaction's records disappear once its segments are compacted (they no
// longer hide the committed value of their key), while a transaction still open when compaction runs
// keeps its records, and counts only once committed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startTestBroker, type TestBroker } from '../../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const properties = {
  'offsets.topic.num.partitions': '1',
  'transaction.state.log.num.partitions': '1',
};
const topic = 'compacted-transactions';
const pad = 'p'.repeat(200);

/** What a read_uncommitted consumer reads from the beginning, up to the record with key `until`. */
async function readUncommitted(
  server: TestBroker,
  groupId: string,
  until: string,
): Promise<{ key: string; value: string }[]> {
  const kafka = new Kafka({ brokers: [server.bootstrap], clientId: groupId, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId, readUncommitted: true, maxWaitTimeInMs: 100 });
  const seen: { key: string; value: string }[] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const key = message.key?.toString() ?? '';
        seen.push({ key, value: message.value?.toString() ?? '' });
        if (key === until) resolveDone();
      },
    });
    const timeout = setTimeout(() => resolveDone(), 20_000);
    await done;
    clearTimeout(timeout);
  } finally {
    await consumer.disconnect();
  }
  assert.ok(
    seen.some((record) => record.key === until),
    `the consumer reached ${until}`,
  );
  return seen;
}

const valuesOf = (records: { key: string; value: string }[], key: string) =>
  records.filter((record) => record.key === key).map((record) => record.value);

// An open transaction is left alone.
test('after compaction a read_uncommitted consumer no longer sees aborted records', async () => {
  const server = await startTestBroker({ properties });
  try {
    const kafka = new Kafka({
      brokers: [server.bootstrap],
      clientId: 'compaction',
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 100 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 1,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.bytes', value: '1000' },
            { name: 'min.compaction.lag.ms', value: '0' },
          ],
        },
      ],
    });
    await admin.disconnect();
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const aborting = kafka.producer({
      transactionalId: 'compaction-aborting',
      maxInFlightRequests: 1,
      idempotent: true,
    });
    const later = kafka.producer({ transactionalId: 'compaction-later', maxInFlightRequests: 1, idempotent: true });
    await Promise.all([plain.connect(), aborting.connect(), later.connect()]);
    const fill = async (prefix: string, count: number) => {
      for (let index = 0; index < count; index += 1)
        await plain.send({ topic, messages: [{ key: `${prefix}-${index}`, value: pad }] });
    };
    try {
      await plain.send({ topic, messages: [{ key: 'k', value: 'committed' }] });
      const transaction = await aborting.transaction();
      for (let index = 0; index < 3; index += 1)
        await transaction.send({ topic, messages: [{ key: 'k', value: `aborted-${index}-${pad}` }] });
      await transaction.send({ topic, messages: [{ key: 'only-aborted', value: 'x' }] });
      await transaction.abort();
      await fill('fill-a', 4);
      // A transaction open while compaction runs: it writes k, then more segments follow it.
      const open = await later.transaction();
      await open.send({ topic, messages: [{ key: 'k', value: 'later' }] });
      await fill('fill-b', 6); // seals the segments holding the ABORT marker and the open transaction's record

      const log = server.broker.partitions.get(topic, 0)!.log;
      assert.ok(log.segmentCount >= 4, `several segments (${log.segmentCount})`);
      const before = await readUncommitted(server, 'before', 'fill-b-5');
      assert.equal(
        valuesOf(before, 'k').filter((value) => value.startsWith('aborted-')).length,
        3,
        'read_uncommitted sees the aborted records before compaction',
      );

      await log.runBackgroundWork();
      const after = await readUncommitted(server, 'after', 'fill-b-5');
      assert.deepEqual(
        valuesOf(after, 'k'),
        ['committed', 'later'],
        'aborted records gone; the open transaction kept; the committed value not hidden',
      );
      assert.deepEqual(valuesOf(after, 'only-aborted'), []);
      assert.equal(after.filter((record) => record.key.startsWith('fill-')).length, 10);

      // Once the open transaction commits (and its marker is sealed), its record is k's latest.
      await open.commit();
      await fill('fill-c', 4);
      await log.runBackgroundWork();
      const final = await readUncommitted(server, 'final', 'fill-c-3');
      assert.deepEqual(valuesOf(final, 'k'), ['later']);
    } finally {
      await Promise.all([plain.disconnect(), aborting.disconnect(), later.disconnect()]);
    }
  } finally {
    await server.close();
  }
});
