// The group coordinator and its offsets store run without a broker: given only what GroupDependencies
// lists (src/broker/groups/dependencies.ts) — partitions on real files behind the broker's own adapters,
// a logger and its settings — plus a clock and timers moved by hand, so a session timeout takes no
// real time. What they write to `__consumer_offsets` comes back when everything is opened again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinator } from '../../../src/broker/groups/coordinator.js';
import { groupSettingsFrom } from '../../../src/broker/groups/limits.js';
import { Group } from '../../../src/broker/groups/group.js';
import { OFFSETS_TOPIC, OffsetsStore } from '../../../src/broker/groups/offsets-store.js';
import { MemoryLogger } from '../../../src/broker/logger.js';
import { encodeMessage as encodeSubscription } from '../../../src/protocol/generated/consumer-protocol-subscription.js';
import { ErrorCode } from '../../../src/protocol/generated/index.js';
import { ManualTimers } from '../../support/manual-timers.js';
import { ServiceHome } from '../../support/service-partitions.js';

const settings = groupSettingsFrom({ 'offsets.topic.num.partitions': '3', 'group.initial.rebalance.delay.ms': '0' });

function subscription(...topics: string[]): Buffer {
  return Buffer.concat([Buffer.alloc(2), encodeSubscription(0, { topics, userData: null }).toBuffer()]);
}

const offset = (value: number, commitTimestamp: number) => ({
  offset: value,
  leaderEpoch: -1,
  metadata: 'm',
  commitTimestamp,
  expireTimestamp: null,
});

test('the offsets store writes to __consumer_offsets on files and loads back the last record per key', async () => {
  const home = await ServiceHome.open();
  try {
    const logger = new MemoryLogger();
    const store = new OffsetsStore(home.services, logger, settings.offsetsTopicPartitions);
    assert.equal(store.partitionCount, null, 'created on first use, not before');
    await store.writeOffsets('g1', [{ topic: 't', partition: 0, value: offset(5, 100) }], 100);
    await store.writeOffsets('g1', [{ topic: 't', partition: 1, value: offset(7, 101) }], 101);
    await store.writeOffsets('g1', [{ topic: 't', partition: 0, value: offset(6, 102) }], 102);
    await store.writeTombstones('g1', [['t', 1]], 103);
    const group = new Group('g2', 104);
    group.protocolType = 'consumer';
    await store.writeGroup(group, null, 104);
    assert.equal(group.stored, true);
    // A transactional commit of producer 42: pending until a marker decides it.
    await store.writeOffsets('g3', [{ topic: 't', partition: 0, value: offset(9, 105) }], 105, {
      producerId: 42,
      producerEpoch: 0,
    });
    await store.writeOffsets('g4', [{ topic: 't', partition: 0, value: offset(11, 106) }], 106, {
      producerId: 43,
      producerEpoch: 0,
    });
    await home.markers.writeTransactionMarker(OFFSETS_TOPIC, await store.partitionOf('g4'), 43, 0, true);
    await home.close();

    await home.reopen();
    const reopened = new OffsetsStore(home.services, logger, settings.offsetsTopicPartitions);
    assert.equal(reopened.partitionCount, 3);
    const merged = await Promise.all([0, 1, 2].map((partition) => reopened.load(partition)));
    const loaded = {
      groups: new Map(merged.flatMap((m) => [...m.groups])),
      pending: merged.flatMap((m) => m.pending),
      records: merged.reduce((sum, m) => sum + m.records, 0),
    };
    assert.deepEqual([...loaded.groups.get('g1')!.offsets.get('t')!], [[0, offset(6, 102)]]);
    assert.equal(loaded.groups.get('g2')!.group!.protocolType, 'consumer');
    assert.deepEqual(loaded.groups.get('g4')!.offsets.get('t')!.get(0), offset(11, 106), 'committed by its marker');
    assert.equal(loaded.groups.get('g3'), undefined, 'not committed yet');
    assert.deepEqual(loaded.pending, [
      { producerId: 42, groupId: 'g3', topic: 't', partition: 0, value: offset(9, 105) },
    ]);
    assert.equal(loaded.records, 8, 'six offset batches of one record each, a group record and a marker');
  } finally {
    await home.remove();
  }
});

test('a coordinator on partitions alone: join, sync, commit, session expiry by hand, back on reopen', async () => {
  const home = await ServiceHome.open();
  const timers = new ManualTimers(home.clock);
  const logger = new MemoryLogger();
  const dependencies = () => ({ logger, internalTopics: home.services, groupSettings: settings });
  try {
    await home.createTopic('orders', 2);
    const groups = await GroupCoordinator.open(dependencies(), { clock: home.clock, timers });
    const joined = await groups.join({
      groupId: 'billing',
      memberId: '',
      groupInstanceId: null,
      requireKnownMemberId: false,
      clientId: 'c',
      clientHost: '/127.0.0.1',
      rebalanceTimeoutMs: 30_000,
      sessionTimeoutMs: 10_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription('orders') }],
    });
    assert.equal(joined.errorCode, ErrorCode.NONE);
    assert.equal(joined.leaderId, joined.memberId);
    const synced = await groups.sync({
      groupId: 'billing',
      generationId: joined.generationId,
      memberId: joined.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: joined.memberId, assignment: Buffer.from('both partitions') }],
    });
    assert.equal(synced.assignment.toString(), 'both partitions');
    assert.equal(groups.groupState('billing'), 'Stable');
    const exists = (topic: string, partition: number) => home.services.partition(topic, partition) !== undefined;
    const committed = await groups.commitOffsets(
      {
        groupId: 'billing',
        generationId: joined.generationId,
        memberId: joined.memberId,
        groupInstanceId: null,
        retentionTimeMs: -1,
        topics: [
          {
            name: 'orders',
            partitions: [
              { partition: 0, offset: 12, leaderEpoch: -1, metadata: null },
              { partition: 5, offset: 1, leaderEpoch: -1, metadata: null },
            ],
          },
        ],
      },
      exists,
    );
    assert.deepEqual(
      committed[0]!.partitions.map((p) => p.errorCode),
      [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    );

    // Heartbeats keep the member; without one for a session timeout it is removed and the group empties.
    timers.advance(9_000);
    assert.equal(groups.heartbeat('billing', joined.memberId, null, joined.generationId), ErrorCode.NONE);
    timers.advance(9_000);
    assert.equal(groups.groupState('billing'), 'Stable');
    const offsetsLog = home.partitions.get(OFFSETS_TOPIC, await groups.offsetsPartitionFor('billing'))!;
    const before = offsetsLog.highWatermark;
    timers.advance(1_000);
    assert.equal(groups.groupState('billing'), 'Empty', 'session expired at 10 s after the last heartbeat');
    assert.ok(logger.lines.some((l) => l.message === 'member session expired'));
    // The Empty group's record is written in the background; the reopen below must find it.
    while (offsetsLog.highWatermark === before) await new Promise((resolve) => setTimeout(resolve, 5));
    groups.close();
    assert.equal(timers.pending, 0, 'close() cancels every timer it started');
    await home.close();

    await home.reopen();
    const reopened = await GroupCoordinator.open(dependencies(), { clock: home.clock, timers });
    try {
      assert.equal(reopened.groupState('billing'), 'Empty');
      assert.equal(
        reopened.fetchOffsets('billing', [{ name: 'orders', partitions: [0] }]).topics[0]!.partitions[0]!.offset,
        12,
      );
      assert.deepEqual(reopened.counts, { groups: 1, offsets: 1 });
    } finally {
      reopened.close();
    }
  } finally {
    await home.remove();
  }
});
