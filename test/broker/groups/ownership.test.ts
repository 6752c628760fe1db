// The coordinators answer only for the partitions of their topic this broker leads, and move with them
// (src/broker/partition-ownership.ts): real partitions on files, whose role is switched the way the
// cluster's replica manager switches it (becomeFollower / becomeLeader at a new epoch). The cluster
// suite does the same with real brokers killed (test/cluster/coordinators.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinator } from '../../../src/broker/groups/coordinator.js';
import { groupSettingsFrom } from '../../../src/broker/groups/limits.js';
import { OFFSETS_TOPIC } from '../../../src/broker/groups/offsets-store.js';
import { MemoryLogger } from '../../../src/broker/logger.js';
import { TransactionCoordinator, transactionSettingsFrom } from '../../../src/broker/transactions/coordinator.js';
import { TRANSACTION_STATE_TOPIC } from '../../../src/broker/transactions/state-store.js';
import { encodeMessage as encodeSubscription } from '../../../src/protocol/generated/consumer-protocol-subscription.js';
import { ErrorCode } from '../../../src/protocol/generated/index.js';
import { ManualTimers } from '../../support/manual-timers.js';
import { ServiceHome } from '../../support/service-partitions.js';

const settings = groupSettingsFrom({ 'offsets.topic.num.partitions': '1', 'group.initial.rebalance.delay.ms': '0' });

const join = (groups: GroupCoordinator, memberId = '') =>
  groups.join({
    groupId: 'billing',
    memberId,
    groupInstanceId: null,
    requireKnownMemberId: false,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    rebalanceTimeoutMs: 30_000,
    sessionTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [
      {
        name: 'range',
        metadata: Buffer.concat([
          Buffer.alloc(2),
          encodeSubscription(0, { topics: ['orders'], userData: null }).toBuffer(),
        ]),
      },
    ],
  });

test('a group coordinator drops a partition it stops leading, and loads it when it leads it again', async () => {
  const home = await ServiceHome.open();
  const timers = new ManualTimers(home.clock);
  const logger = new MemoryLogger();
  try {
    await home.createTopic('orders', 1);
    const groups = await GroupCoordinator.open(
      { logger, internalTopics: home.services, groupSettings: settings },
      { clock: home.clock, timers },
    );
    assert.equal(await groups.ensureReady(), true);
    const commit = (offset: number) =>
      groups.commitOffsets(
        {
          groupId: 'simple',
          generationId: -1,
          memberId: '',
          groupInstanceId: null,
          retentionTimeMs: -1,
          topics: [{ name: 'orders', partitions: [{ partition: 0, offset, leaderEpoch: -1, metadata: null }] }],
        },
        () => true,
      );
    assert.equal((await commit(7))[0]!.partitions[0]!.errorCode, ErrorCode.NONE);

    // A member parked in JoinGroup (a second one is expected to rejoin) when the partition moves away.
    const first = await join(groups);
    assert.equal(first.errorCode, ErrorCode.NONE);
    const second = join(groups); // waits for the first member to join again

    const offsets = home.partitions.get(OFFSETS_TOPIC, 0)!;
    offsets.becomeFollower(1);
    groups.leadershipChanged();
    assert.equal((await second).errorCode, ErrorCode.NOT_COORDINATOR, 'parked join answered at once');
    assert.equal((await join(groups, first.memberId)).errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal(groups.fetchOffsets('simple', null).errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal((await commit(8))[0]!.partitions[0]!.errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal(groups.counts.groups, 0, 'nothing of the partition is held');
    assert.equal(timers.pending > 0, true, 'offset expiry keeps running');

    // Leader again, at a newer epoch: loading first, then what was committed before is back.
    await offsets.becomeLeader(2);
    assert.equal(groups.fetchOffsets('simple', null).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    await groups.settle();
    const fetched = groups.fetchOffsets('simple', null);
    assert.equal(fetched.errorCode, ErrorCode.NONE);
    assert.equal(fetched.topics[0]!.partitions[0]!.offset, 7);
    assert.ok(logger.lines.some((l) => l.message === 'partition unloaded'));
    groups.close();
  } finally {
    await home.remove();
  }
});

test('a transaction coordinator refuses ids of a partition it does not lead; loads them when it does', async () => {
  const home = await ServiceHome.open();
  const timers = new ManualTimers(home.clock);
  const logger = new MemoryLogger();
  let nextProducerId = 1000;
  try {
    await home.createTopic('orders', 1);
    const groups = await GroupCoordinator.open(
      { logger, internalTopics: home.services, groupSettings: settings },
      { clock: home.clock, timers },
    );
    const transactions = await TransactionCoordinator.open(
      {
        logger,
        internalTopics: home.services,
        partitions: home.services,
        markers: home.markers,
        producerIds: { nextProducerId: async () => nextProducerId++ },
        offsets: groups.transactionalOffsets,
        transactionSettings: transactionSettingsFrom({
          properties: { 'transaction.state.log.num.partitions': '1' },
          transactionMaxTimeoutMs: 900_000,
        }),
      },
      { clock: home.clock, timers },
    );
    const init = await transactions.initProducerId('tx', 60_000, -1, -1);
    assert.equal(init.errorCode, ErrorCode.NONE);
    const added = await transactions.addPartitions('tx', init.producerId, init.producerEpoch, [
      { name: 'orders', partitions: [0] },
    ]);
    assert.equal(added[0]!.partitions[0]!.errorCode, ErrorCode.NONE);

    const state = home.partitions.get(TRANSACTION_STATE_TOPIC, 0)!;
    state.becomeFollower(1);
    transactions.leadershipChanged();
    const ended = await transactions.endTransaction('tx', init.producerId, init.producerEpoch, true);
    assert.equal(ended.errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal(transactions.describe('tx').errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal(transactions.stateOf('tx'), undefined, 'dropped');

    await state.becomeLeader(2);
    const loading = await transactions.endTransaction('tx', init.producerId, init.producerEpoch, true);
    assert.equal(loading.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    await transactions.settle();
    assert.equal(transactions.stateOf('tx'), 'Ongoing', 'loaded from __transaction_state');
    const committed = await transactions.endTransaction('tx', init.producerId, init.producerEpoch, true);
    assert.equal(committed.errorCode, ErrorCode.NONE);
    assert.equal(transactions.stateOf('tx'), 'CompleteCommit');
    transactions.close();
    groups.close();
  } finally {
    await home.remove();
  }
});
