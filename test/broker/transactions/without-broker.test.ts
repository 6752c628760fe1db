// The transaction coordinator runs without a broker: given only what TransactionDependencies lists
// (src/broker/transactions/dependencies.ts) — partitions on real files behind the broker's own
// adapters, the real marker writer, real producer ids, and a group coordinator's transactional offsets
// (the only way it reaches the groups) — plus a clock and timers moved by hand, so a transaction
// timeout takes no real time. Its state comes back from `__transaction_state` when reopened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinator } from '../../../src/broker/groups/coordinator.js';
import { groupSettingsFrom } from '../../../src/broker/groups/limits.js';
import { MemoryLogger } from '../../../src/broker/logger.js';
import { ProducerIdAllocator } from '../../../src/broker/producer-ids.js';
import { TransactionCoordinator, transactionSettingsFrom } from '../../../src/broker/transactions/coordinator.js';
import { ControlRecordType, decodeControlRecord } from '../../../src/protocol/record-batch/control.js';
import { ErrorCode } from '../../../src/protocol/generated/index.js';
import { ManualTimers } from '../../support/manual-timers.js';
import { ServiceHome } from '../../support/service-partitions.js';

const groupSettings = groupSettingsFrom({ 'offsets.topic.num.partitions': '1' });
const transactionSettings = transactionSettingsFrom({
  properties: { 'transaction.state.log.num.partitions': '2' },
  transactionMaxTimeoutMs: 60_000,
});

/** The markers in a partition, in order: [producer id, 'commit' | 'abort']. */
async function markersIn(home: ServiceHome, topic: string, partition = 0): Promise<Array<[number, string]>> {
  return (await home.batches(topic, partition))
    .filter((batch) => batch.isControl)
    .map((batch) => {
      const record = batch.records[0]!;
      const type = decodeControlRecord(record.key, record.value).type;
      return [batch.producerId, type === ControlRecordType.Commit ? 'commit' : 'abort'];
    });
}

test('transactions on partitions alone: offsets in the transaction, a timeout by hand, back on reopen', async () => {
  const home = await ServiceHome.open();
  const timers = new ManualTimers(home.clock);
  const logger = new MemoryLogger();
  const open = async () => {
    const groups = await GroupCoordinator.open({ logger, internalTopics: home.services, groupSettings }, { timers });
    const producerIds = await ProducerIdAllocator.open(home.dataDir, { blockSize: 10 });
    const transactions = await TransactionCoordinator.open(
      {
        logger,
        internalTopics: home.services,
        partitions: home.services,
        markers: home.markers,
        producerIds: { nextProducerId: () => producerIds.next() },
        offsets: groups.transactionalOffsets,
        transactionSettings,
      },
      { clock: home.clock, timers },
    );
    return { groups, transactions };
  };
  try {
    await home.createTopic('payments', 1);
    let { groups, transactions } = await open();

    // A transaction that commits a group's offsets with it.
    const first = await transactions.initProducerId('tx-commit', 30_000, -1, -1);
    assert.equal(first.errorCode, ErrorCode.NONE);
    const added = await transactions.addPartitions('tx-commit', first.producerId, first.producerEpoch, [
      { name: 'payments', partitions: [0] },
      { name: 'nowhere', partitions: [0] },
    ]);
    assert.deepEqual(
      added.map((t) => t.partitions[0]!.errorCode),
      [ErrorCode.OPERATION_NOT_ATTEMPTED, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      'the partition lookup is what decides',
    );
    await transactions.addPartitions('tx-commit', first.producerId, first.producerEpoch, [
      { name: 'payments', partitions: [0] },
    ]);
    assert.equal(
      await transactions.addOffsets('tx-commit', first.producerId, first.producerEpoch, 'billing'),
      ErrorCode.NONE,
    );
    const request = {
      groupId: 'billing',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [{ name: 'payments', partitions: [{ partition: 0, offset: 3, leaderEpoch: -1, metadata: null }] }],
    };
    const committed = await transactions.commitOffsets('tx-commit', first.producerId, first.producerEpoch, request);
    assert.equal(committed[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
    const stable = groups.fetchOffsets('billing', [{ name: 'payments', partitions: [0] }], true);
    assert.equal(stable.topics[0]!.partitions[0]!.errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT);
    const ended = await transactions.endTransaction('tx-commit', first.producerId, first.producerEpoch, true);
    assert.equal(ended.errorCode, ErrorCode.NONE);
    assert.equal(transactions.stateOf('tx-commit'), 'CompleteCommit');
    assert.equal(groups.fetchOffsets('billing', null).topics[0]!.partitions[0]!.offset, 3);
    assert.deepEqual(await markersIn(home, 'payments'), [[first.producerId, 'commit']]);
    assert.deepEqual(await markersIn(home, '__consumer_offsets'), [[first.producerId, 'commit']]);

    // A transaction left open past its timeout is aborted by the periodic check, its producer fenced.
    const second = await transactions.initProducerId('tx-timeout', 5_000, -1, -1);
    await transactions.addPartitions('tx-timeout', second.producerId, second.producerEpoch, [
      { name: 'payments', partitions: [0] },
    ]);
    timers.advance(transactionSettings.timeoutCheckIntervalMs);
    await new Promise((resolve) => setTimeout(resolve, 0));
    for (let i = 0; transactions.stateOf('tx-timeout') !== 'CompleteAbort' && i < 200; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(transactions.stateOf('tx-timeout'), 'CompleteAbort');
    assert.equal(
      (await transactions.endTransaction('tx-timeout', second.producerId, second.producerEpoch, true)).errorCode,
      ErrorCode.PRODUCER_FENCED,
    );
    assert.deepEqual(await markersIn(home, 'payments'), [
      [first.producerId, 'commit'],
      [second.producerId, 'abort'],
    ]);

    transactions.close();
    groups.close();
    await home.close();
    await home.reopen();
    ({ groups, transactions } = await open());
    try {
      assert.equal(transactions.stateOf('tx-commit'), 'CompleteCommit');
      assert.equal(transactions.stateOf('tx-timeout'), 'CompleteAbort');
      assert.equal(transactions.describe('tx-timeout').producerEpoch, second.producerEpoch + 1);
      assert.equal(groups.fetchOffsets('billing', null).topics[0]!.partitions[0]!.offset, 3);
      const next = await transactions.initProducerId('tx-new', 30_000, -1, -1);
      assert.ok(next.producerId > second.producerId, 'producer ids are never handed out twice');
    } finally {
      transactions.close();
      groups.close();
    }
  } finally {
    await home.remove();
  }
});
