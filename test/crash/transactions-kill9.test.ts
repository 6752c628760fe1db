// kill -9 the broker between AddPartitionsToTxn and EndTxn (records written, offsets sent, no commit
// yet). After a restart: the open transactions still hide their records from read_committed
// readers; one producer commits its transaction (records and offsets appear), the other is abandoned
// and aborted by its transaction timeout. Nothing aborted or open is ever visible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { freePort, killed, spawnSluice, untilConnected as connected, waitFor } from '../support/sluice-process.js';
import { readCommitted } from '../support/read-committed.js';

const { Kafka, logLevel } = kafkajs;
const overrides = [
  'offsets.topic.num.partitions=2',
  'transaction.state.log.num.partitions=2',
  'transaction.abort.timed.out.transaction.cleanup.interval.ms=200',
];
const startBroker = (port: number, dataDir: string) => spawnSluice(port, dataDir, { overrides });

test(
  'kill -9 between AddPartitions and EndTxn: after restart one transaction commits, the abandoned one times out',
  { timeout: 120_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-txn-kill9-'));
    const port = await freePort();
    let broker = startBroker(port, dataDir);
    try {
      (await connected(port)).close();
      const kafka = new Kafka({
        brokers: [`127.0.0.1:${port}`],
        clientId: 'txn-kill9',
        logLevel: logLevel.NOTHING,
        retry: { retries: 12, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [
          { topic: 'k9-txn', numPartitions: 2 },
          { topic: 'k9-source', numPartitions: 1 },
        ],
      });
      await admin.disconnect();

      const survivor = kafka.producer({
        transactionalId: 'k9-survivor',
        transactionTimeout: 60_000,
        maxInFlightRequests: 1,
        idempotent: true,
      });
      const abandoned = kafka.producer({
        transactionalId: 'k9-abandoned',
        transactionTimeout: 2000,
        maxInFlightRequests: 1,
        idempotent: true,
      });
      await survivor.connect();
      await abandoned.connect();
      let t = await survivor.transaction();
      await t.send({
        topic: 'k9-txn',
        messages: [
          { value: 'before-0', partition: 0 },
          { value: 'before-1', partition: 1 },
        ],
      });
      await t.commit();

      t = await survivor.transaction();
      await t.send({
        topic: 'k9-txn',
        messages: [
          { value: 'open-0', partition: 0 },
          { value: 'open-1', partition: 1 },
        ],
      });
      await t.sendOffsets({
        consumerGroupId: 'k9-group',
        topics: [{ topic: 'k9-source', partitions: [{ partition: 0, offset: '42' }] }],
      });
      const a = await abandoned.transaction();
      await a.send({ topic: 'k9-txn', messages: [{ value: 'abandoned-0', partition: 0 }] });

      await killed(broker);
      broker = startBroker(port, dataDir);
      (await connected(port)).close();

      const p0 = await readCommitted(port, 'k9-txn', 0);
      assert.deepEqual(p0.visible, ['before-0'], 'open transactions stay hidden after the crash');
      assert.equal(p0.lastStableOffset, 2, 'held at the first open record (after before-0 and its marker)');

      await t.commit(); // kafkajs reconnects; the transaction is still Ongoing on the restarted broker
      await waitFor(
        'the abandoned transaction to time out',
        async () =>
          (await readCommitted(port, 'k9-txn', 0)).lastStableOffset ===
          (await readCommitted(port, 'k9-txn', 0)).highWatermark,
      );
      assert.deepEqual((await readCommitted(port, 'k9-txn', 0)).visible, ['before-0', 'open-0']);
      assert.deepEqual((await readCommitted(port, 'k9-txn', 1)).visible, ['before-1', 'open-1']);
      await admin.connect();
      const offsets = await admin.fetchOffsets({ groupId: 'k9-group', topics: ['k9-source'] });
      await admin.disconnect();
      assert.equal(
        offsets[0]!.partitions[0]!.offset,
        '42',
        'the sendOffsets of the committed transaction are committed',
      );
      await assert.rejects(a.commit(), /epoch|fenced|state/i, 'the abandoned producer was fenced by the timeout abort');
      await survivor.disconnect();
      await abandoned.disconnect().catch(() => undefined);
    } finally {
      await killed(broker);
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
