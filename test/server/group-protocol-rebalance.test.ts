// The group APIs over the wire with raw frames (our codecs), one connection per member: join, sync
// and heartbeat with the KIP-394 MEMBER_ID_REQUIRED round-trip, rebalances on join, on session expiry
// and after the rebalance timeout, generation fencing, and group.initial.rebalance.delay.ms.
// Membership and limits are in group-protocol-membership.test.ts, offsets in group-protocol-offsets.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { Conn, groupProperties, join, joinDynamic, waitFor } from '../support/group-members.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

let server: TestBroker;

before(async () => {
  server = await startTestBroker({ properties: groupProperties });
  await server.broker.createTopic('orders', 4, {});
});
after(async () => {
  await server.close();
});

test('join, sync, heartbeat; a second member triggers a rebalance; generation fencing', async () => {
  const a = await Conn.open(server.port);
  const b = await Conn.open(server.port);
  try {
    const joinedA = await joinDynamic(a, 'g1');
    assert.equal(joinedA.errorCode, ErrorCode.NONE);
    assert.equal(joinedA.generationId, 1);
    assert.equal(joinedA.leader, joinedA.memberId);
    assert.equal(joinedA.protocolName, 'range');
    assert.equal(joinedA.members.length, 1);
    const assignmentA = Buffer.from('all-of-it');
    const syncedA = await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'g1',
      generationId: 1,
      memberId: joinedA.memberId,
      assignments: [{ memberId: joinedA.memberId, assignment: assignmentA }],
    });
    assert.equal(syncedA.errorCode, ErrorCode.NONE);
    assert.deepEqual(syncedA.assignment, assignmentA);
    assert.equal(server.broker.groups.groupState('g1'), 'Stable');

    const heartbeat = (conn: Conn, memberId: string, generationId: number) =>
      conn.call(ApiKey.Heartbeat, 3, { groupId: 'g1', generationId, memberId }).then((r) => r.errorCode);
    assert.equal(await heartbeat(a, joinedA.memberId, 1), ErrorCode.NONE);
    assert.equal(await heartbeat(a, joinedA.memberId, 0), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(await heartbeat(a, 'nobody', 1), ErrorCode.UNKNOWN_MEMBER_ID);

    // B's join parks until A rejoins.
    const first = await b.call(ApiKey.JoinGroup, 5, join('g1', ''));
    assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    const joiningB = b.call(ApiKey.JoinGroup, 5, join('g1', first.memberId));
    await waitFor('rebalance', () => server.broker.groups.groupState('g1') === 'PreparingRebalance');
    assert.equal(await heartbeat(a, joinedA.memberId, 1), ErrorCode.REBALANCE_IN_PROGRESS);
    const commitDuringRebalance = await a.call(ApiKey.OffsetCommit, 7, {
      groupId: 'g1',
      generationIdOrMemberEpoch: 1,
      memberId: joinedA.memberId,
      topics: [
        {
          name: 'orders',
          partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: 0, committedMetadata: 'm' }],
        },
      ],
    });
    assert.equal(
      commitDuringRebalance.topics[0].partitions[0].errorCode,
      ErrorCode.NONE,
      'commits are still accepted while preparing',
    );
    const rejoinedA = await a.call(ApiKey.JoinGroup, 5, join('g1', joinedA.memberId));
    const joinedB = await joiningB;
    assert.equal(rejoinedA.generationId, 2);
    assert.equal(joinedB.generationId, 2);
    assert.equal(rejoinedA.leader, joinedA.memberId, 'the leader stays');
    assert.equal(rejoinedA.members.length, 2);
    assert.equal(joinedB.members.length, 0, 'only the leader gets the member list');

    // Old generation is fenced everywhere.
    assert.equal(await heartbeat(a, joinedA.memberId, 1), ErrorCode.ILLEGAL_GENERATION);
    const staleCommit = await a.call(ApiKey.OffsetCommit, 7, {
      groupId: 'g1',
      generationIdOrMemberEpoch: 1,
      memberId: joinedA.memberId,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 6n }] }],
    });
    assert.equal(staleCommit.topics[0].partitions[0].errorCode, ErrorCode.ILLEGAL_GENERATION);
    const commitBeforeSync = await a.call(ApiKey.OffsetCommit, 7, {
      groupId: 'g1',
      generationIdOrMemberEpoch: 2,
      memberId: joinedA.memberId,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 6n }] }],
    });
    assert.equal(commitBeforeSync.topics[0].partitions[0].errorCode, ErrorCode.REBALANCE_IN_PROGRESS);

    // The follower's SyncGroup waits for the leader's.
    const syncingB = b.call(ApiKey.SyncGroup, 3, {
      groupId: 'g1',
      generationId: 2,
      memberId: joinedB.memberId,
      assignments: [],
    });
    await new Promise((r) => setTimeout(r, 50));
    const syncedLeader = await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'g1',
      generationId: 2,
      memberId: joinedA.memberId,
      assignments: [
        { memberId: joinedA.memberId, assignment: Buffer.from('A') },
        { memberId: joinedB.memberId, assignment: Buffer.from('B') },
      ],
    });
    assert.deepEqual(syncedLeader.assignment, Buffer.from('A'));
    assert.deepEqual((await syncingB).assignment, Buffer.from('B'));
    assert.equal(await heartbeat(b, joinedB.memberId, 2), ErrorCode.NONE);
    const staleSync = await b.call(ApiKey.SyncGroup, 3, {
      groupId: 'g1',
      generationId: 1,
      memberId: joinedB.memberId,
      assignments: [],
    });
    assert.equal(staleSync.errorCode, ErrorCode.ILLEGAL_GENERATION);
    // SyncGroup v4 (flexible) in a Stable group hands back the stored assignment.
    assert.deepEqual(
      (
        await b.call(ApiKey.SyncGroup, 4, {
          groupId: 'g1',
          generationId: 2,
          memberId: joinedB.memberId,
          assignments: [],
        })
      ).assignment,
      Buffer.from('B'),
    );
    // JoinGroup v6 (flexible) of a follower with unchanged metadata: the current generation, no rebalance.
    const sameAgain = await b.call(ApiKey.JoinGroup, 6, join('g1', joinedB.memberId));
    assert.deepEqual([sameAgain.errorCode, sameAgain.generationId], [ErrorCode.NONE, 2]);
    assert.equal(server.broker.groups.groupState('g1'), 'Stable');

    const described = await a.call(ApiKey.DescribeGroups, 5, {
      groups: ['g1', 'unknown-group'],
      includeAuthorizedOperations: true,
    });
    const [g1, unknown] = described.groups;
    assert.equal(g1.groupState, 'Stable');
    assert.equal(g1.protocolType, 'consumer');
    assert.equal(g1.protocolData, 'range');
    assert.equal(g1.members.length, 2);
    assert.equal(g1.members[0].clientId, 'raw-client');
    assert.equal(g1.members[0].clientHost, '/127.0.0.1');
    assert.deepEqual(g1.members.map((m: any) => m.memberAssignment.toString()).sort(), ['A', 'B']);
    assert.notEqual(g1.authorizedOperations, -2147483648);
    assert.deepEqual([unknown.errorCode, unknown.groupState], [ErrorCode.NONE, 'Dead']);

    // LeaveGroup v0 (one member, top-level error) and v3 (batched).
    assert.equal(
      (await b.call(ApiKey.LeaveGroup, 0, { groupId: 'g1', memberId: 'nobody' })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    const left = await b.call(ApiKey.LeaveGroup, 3, {
      groupId: 'g1',
      members: [
        { memberId: joinedB.memberId, groupInstanceId: null },
        { memberId: 'ghost', groupInstanceId: null },
      ],
    });
    assert.equal(left.errorCode, ErrorCode.NONE);
    assert.deepEqual(
      left.members.map((m: any) => m.errorCode),
      [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID],
    );
    assert.equal(await heartbeat(a, joinedA.memberId, 2), ErrorCode.REBALANCE_IN_PROGRESS);
    const alone = await a.call(ApiKey.JoinGroup, 5, join('g1', joinedA.memberId));
    assert.equal(alone.generationId, 3);
    assert.equal(alone.members.length, 1);
  } finally {
    a.close();
    b.close();
  }
});

test('a member that stops heartbeating is removed after its session timeout and the group rebalances', async () => {
  const a = await Conn.open(server.port);
  const b = await Conn.open(server.port);
  try {
    const joinedA = await joinDynamic(a, 'g-expiry', { sessionTimeoutMs: 600 });
    await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'g-expiry',
      generationId: 1,
      memberId: joinedA.memberId,
      assignments: [],
    });
    const joiningB = joinDynamic(b, 'g-expiry', { sessionTimeoutMs: 600 });
    await waitFor('rebalance', () => server.broker.groups.groupState('g-expiry') === 'PreparingRebalance');
    await a.call(ApiKey.JoinGroup, 5, join('g-expiry', joinedA.memberId, { sessionTimeoutMs: 600 }));
    const joinedB = await joiningB;
    await Promise.all([
      a.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-expiry',
        generationId: 2,
        memberId: joinedA.memberId,
        assignments: [],
      }),
      b.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-expiry',
        generationId: 2,
        memberId: joinedB.memberId,
        assignments: [],
      }),
    ]);
    // A keeps heartbeating; B goes silent (as after kill -9).
    const started = Date.now();
    let code: number = ErrorCode.NONE;
    while (code === ErrorCode.NONE && Date.now() - started < 5000) {
      await new Promise((r) => setTimeout(r, 100));
      code = (await a.call(ApiKey.Heartbeat, 3, { groupId: 'g-expiry', generationId: 2, memberId: joinedA.memberId }))
        .errorCode;
    }
    assert.equal(code, ErrorCode.REBALANCE_IN_PROGRESS);
    assert.ok(Date.now() - started >= 500, 'not before the session timeout');
    const rejoined = await a.call(ApiKey.JoinGroup, 5, join('g-expiry', joinedA.memberId, { sessionTimeoutMs: 600 }));
    assert.deepEqual([rejoined.generationId, rejoined.members.length], [3, 1]);
    assert.equal(
      (await b.call(ApiKey.Heartbeat, 3, { groupId: 'g-expiry', generationId: 2, memberId: joinedB.memberId }))
        .errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  } finally {
    a.close();
    b.close();
  }
});

test('group.initial.rebalance.delay.ms: members arriving within the delay share the first generation', async () => {
  const own = await startTestBroker({ properties: { ...groupProperties, 'group.initial.rebalance.delay.ms': '300' } });
  const [a, b] = [await Conn.open(own.port), await Conn.open(own.port)];
  try {
    const started = Date.now();
    const joiningA = a.call(ApiKey.JoinGroup, 3, join('delayed', ''));
    await new Promise((r) => setTimeout(r, 100));
    const joinedB = await b.call(ApiKey.JoinGroup, 3, join('delayed', ''));
    const joinedA = await joiningA;
    assert.ok(Date.now() - started >= 300, 'waited for the delay');
    assert.deepEqual([joinedA.generationId, joinedB.generationId], [1, 1]);
    assert.equal([joinedA, joinedB].find((j) => j.memberId === j.leader)!.members.length, 2);
  } finally {
    a.close();
    b.close();
    await own.close();
  }
});

test('rebalance timeout: a member that does not rejoin is removed; a leader that never syncs is removed', async () => {
  const [a, b] = [await Conn.open(server.port), await Conn.open(server.port)];
  try {
    const options = { rebalanceTimeoutMs: 600, sessionTimeoutMs: 10_000 };
    const joinedA = await a.call(ApiKey.JoinGroup, 3, join('slow', '', options));
    await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'slow',
      generationId: 1,
      memberId: joinedA.memberId,
      assignments: [],
    });
    // B joins; A (alive, heartbeating within its session) never rejoins.
    const started = Date.now();
    const joinedB = await b.call(ApiKey.JoinGroup, 3, join('slow', '', options));
    assert.ok(Date.now() - started >= 550, 'waited for the rebalance timeout');
    assert.deepEqual([joinedB.generationId, joinedB.members.length, joinedB.leader], [2, 1, joinedB.memberId]);
    assert.equal(
      (await a.call(ApiKey.Heartbeat, 3, { groupId: 'slow', generationId: 1, memberId: joinedA.memberId })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    // B, the leader, never sends SyncGroup: it is removed after the rebalance timeout.
    await waitFor(
      'group emptied',
      () =>
        server.broker.groups.groupState('slow') === 'Empty' || server.broker.groups.groupState('slow') === undefined,
      3000,
    );
  } finally {
    a.close();
    b.close();
  }
});
